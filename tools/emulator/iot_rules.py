"""An AWS IoT rules engine for `iot-data` Publish.

A message published to a topic runs every enabled topic rule of the account and region
whose SQL matches it, as IoT Core does:
- SQL: `SELECT * FROM '<topic filter>' [WHERE <condition>]`. The filter takes MQTT
  wildcards (`+` one level, `#` the rest; a filter starting with a wildcard does not match
  `$` topics). The condition takes `topic()`, `topic(n)`, `clientid()`, `startswith`,
  `endswith`, payload fields (dotted), string, number and boolean literals, comparisons
  and AND / OR / NOT. Anything else is refused when the rule is created, never matched
  as "everything".
- Actions: `lambda` is an asynchronous invoke that IoT may make only when a statement of
  the function's resource policy lets iot.amazonaws.com invoke it for this rule's ARN (and
  account); `sqs` sends as the action's role. When an action fails, the rule's error
  action runs with IoT's error message (ruleName, topic, clientId,
  base64OriginalPayload, failures). Other action types fail as "not emulated".

Lifecycle events enter as IoT Core publishes them: Publish to
`$aws/events/presence/<eventType>/<clientId>` (AWS refuses that to clients; here the
emulator stands in for the broker).
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import uuid
from dataclasses import dataclass

from moto.awslambda.models import lambda_backends
from moto.iot.exceptions import InvalidRequestException
from moto.iot.models import IoTBackend, iot_backends
from moto.iotdata.models import IoTDataPlaneBackend

from . import delivery, iam
from .work import tracker

log = logging.getLogger("emulator.iot")

# --- SQL ---------------------------------------------------------------------

_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<number>-?\d+(?:\.\d+)?)"
    r"|(?P<op><>|!=|<=|>=|=|<|>|\(|\)|,|\*)|(?P<word>[A-Za-z_][A-Za-z0-9_.]*))"
)


class SqlError(ValueError):
    pass


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise SqlError(f"cannot read the SQL at {text[position:]!r}")
        kind = match.lastgroup
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


@dataclass
class Sql:
    topic_filter: str
    where: tuple | None

    def matches(self, topic: str, payload, client_id: str) -> bool:
        if not topic_matches(self.topic_filter, topic):
            return False
        if self.where is None:
            return True
        return _evaluate(self.where, topic, payload, client_id) is True


def parse_sql(text: str) -> Sql:
    tokens = _tokens(text)
    words = [value.upper() if kind == "word" else value for kind, value in tokens]
    if words[:3] != ["SELECT", "*", "FROM"]:
        raise SqlError("only SELECT * FROM '<topic filter>' is emulated")
    if len(tokens) < 4 or tokens[3][0] != "string":
        raise SqlError("FROM takes a quoted topic filter")
    topic_filter = tokens[3][1][1:-1].replace("''", "'")
    _check_filter(topic_filter)
    rest = tokens[4:]
    if not rest:
        return Sql(topic_filter, None)
    if words[4] != "WHERE":
        raise SqlError(f"unexpected {tokens[4][1]!r} after the topic filter")
    parser = _Parser(rest[1:])
    where = parser.expression()
    if parser.position != len(parser.tokens):
        raise SqlError(f"unexpected {parser.tokens[parser.position][1]!r} in WHERE")
    return Sql(topic_filter, where)


def _check_filter(topic_filter: str) -> None:
    levels = topic_filter.split("/")
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != len(levels) - 1):
            raise SqlError(f"'#' must be a whole, last level in {topic_filter!r}")
        if "+" in level and level != "+":
            raise SqlError(f"'+' must be a whole level in {topic_filter!r}")


def topic_matches(topic_filter: str, topic: str) -> bool:
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False
    filter_levels, topic_levels = topic_filter.split("/"), topic.split("/")
    for index, level in enumerate(filter_levels):
        if level == "#":
            return True
        if index >= len(topic_levels):
            return False
        if level != "+" and level != topic_levels[index]:
            return False
    return len(filter_levels) == len(topic_levels)


_FUNCTIONS = {"topic", "clientid", "startswith", "endswith"}
_COMPARISONS = {"=", "<>", "!=", "<", "<=", ">", ">="}


class _Parser:
    """Recursive descent over: or := and (OR and)*; and := not (AND not)*;
    not := NOT not | comparison; comparison := operand (op operand)?"""

    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.position = 0

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def _keyword(self, word: str) -> bool:
        token = self._peek()
        if token and token[0] == "word" and token[1].upper() == word:
            self.position += 1
            return True
        return False

    def _expect(self, value: str) -> None:
        token = self._peek()
        if not token or token[1] != value:
            raise SqlError(f"expected {value!r}")
        self.position += 1

    def expression(self) -> tuple:
        node = self._and()
        while self._keyword("OR"):
            node = ("or", node, self._and())
        return node

    def _and(self) -> tuple:
        node = self._not()
        while self._keyword("AND"):
            node = ("and", node, self._not())
        return node

    def _not(self) -> tuple:
        if self._keyword("NOT"):
            return ("not", self._not())
        return self._comparison()

    def _comparison(self) -> tuple:
        left = self._operand()
        token = self._peek()
        if token and token[0] == "op" and token[1] in _COMPARISONS:
            self.position += 1
            return ("cmp", token[1], left, self._operand())
        return left

    def _operand(self) -> tuple:
        token = self._peek()
        if token is None:
            raise SqlError("the WHERE clause ends early")
        kind, value = token
        self.position += 1
        if kind == "string":
            return ("lit", value[1:-1].replace("''", "'"))
        if kind == "number":
            return ("lit", float(value) if "." in value else int(value))
        if kind == "op" and value == "(":
            node = self.expression()
            self._expect(")")
            return node
        if kind == "word":
            lowered = value.lower()
            if lowered in ("true", "false"):
                return ("lit", lowered == "true")
            if self._peek() == ("op", "("):
                if lowered not in _FUNCTIONS:
                    raise SqlError(f"function {value}() is not emulated")
                self.position += 1
                args = []
                if self._peek() != ("op", ")"):
                    args.append(self.expression())
                    while self._peek() == ("op", ","):
                        self.position += 1
                        args.append(self.expression())
                self._expect(")")
                return ("call", lowered, args)
            if value.upper() in ("AND", "OR", "NOT", "SELECT", "FROM", "WHERE"):
                raise SqlError(f"unexpected {value}")
            return ("field", value)
        raise SqlError(f"unexpected {value!r}")


def _evaluate(node: tuple, topic: str, payload, client_id: str):
    kind = node[0]
    if kind == "lit":
        return node[1]
    if kind == "field":
        value = payload
        for part in node[1].split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return value
    if kind == "not":
        value = _evaluate(node[1], topic, payload, client_id)
        return (not value) if isinstance(value, bool) else None
    if kind in ("and", "or"):
        left = _evaluate(node[1], topic, payload, client_id)
        right = _evaluate(node[2], topic, payload, client_id)
        return (left is True and right is True) if kind == "and" else (left is True or right is True)
    if kind == "cmp":
        left = _evaluate(node[2], topic, payload, client_id)
        right = _evaluate(node[3], topic, payload, client_id)
        if left is None or right is None:
            return None
        try:
            return {
                "=": left == right,
                "<>": left != right,
                "!=": left != right,
                "<": left < right,
                "<=": left <= right,
                ">": left > right,
                ">=": left >= right,
            }[node[1]]
        except TypeError:
            return None
    if kind == "call":
        args = [_evaluate(arg, topic, payload, client_id) for arg in node[2]]
        name = node[1]
        if name == "topic":
            if not args:
                return topic
            levels = topic.split("/")
            index = args[0]
            return levels[index - 1] if isinstance(index, int) and 1 <= index <= len(levels) else None
        if name == "clientid":
            return client_id
        if len(args) != 2 or not all(isinstance(arg, str) for arg in args):
            return None
        return args[0].startswith(args[1]) if name == "startswith" else args[0].endswith(args[1])
    raise SqlError(f"unknown node {kind}")


# --- Rules -------------------------------------------------------------------


class RulesEngine:
    def __init__(self, invoker) -> None:
        self.invoker = invoker

    def publish(self, account: str, region: str, topic: str, payload: bytes) -> None:
        backend: IoTBackend = iot_backends[account][region]
        try:
            document = json.loads(payload)
        except ValueError:
            document = None
        client_id = "N/A"  # published by the emulator on behalf of IoT Core
        for rule in list(backend.rules.values()):
            if rule.rule_disabled:
                continue
            sql = parse_sql(rule.sql)
            if sql.matches(topic, document, client_id):
                tracker.begin()
                threading.Thread(
                    target=self._run_rule,
                    args=(account, region, rule, topic, payload, client_id),
                    daemon=True,
                ).start()

    def _run_rule(self, account, region, rule, topic, payload: bytes, client_id: str) -> None:
        try:
            failures = []
            for action in rule.actions:
                failure = self._run_action(account, region, rule, action, payload)
                if failure:
                    failures.append(failure)
            if failures:
                log.warning("rule %s on %s: %s", rule.rule_name, topic, failures)
                self._run_error_action(account, region, rule, topic, payload, client_id, failures)
        except Exception:
            log.exception("rule %s failed in the emulator", rule.rule_name)
        finally:
            tracker.end()

    def _run_action(self, account, region, rule, action: dict, payload: bytes) -> dict | None:
        if "lambda" in action:
            arn = action["lambda"]["functionArn"]
            why = self._invoke(account, region, rule, arn, payload)
            return None if why is None else {"failedAction": "LambdaAction", "failedResource": arn, "errorMessage": why}
        if "sqs" in action:
            sqs = action["sqs"]
            body = base64.b64encode(payload).decode() if sqs.get("useBase64") else payload.decode(errors="replace")
            # IoT assumes the action's role, passing the rule's ARN and account.
            context = {"aws:SourceArn": rule.arn, "aws:SourceAccount": account}
            if not iam.trust_allows(sqs["roleArn"], "iot.amazonaws.com", context):
                why = f"IoT cannot assume {sqs['roleArn']} for {rule.arn}"
            else:
                why = delivery.send(sqs["queueUrl"], body, sqs["roleArn"])
            return None if why is None else {"failedAction": "SqsAction", "failedResource": sqs["queueUrl"], "errorMessage": why}
        kind = next(iter(action), "unknown")
        return {"failedAction": kind, "failedResource": "", "errorMessage": f"action {kind} is not emulated"}

    def _invoke(self, account, region, rule, function_arn: str, payload: bytes) -> str | None:
        fn_region, fn_account = function_arn.split(":")[3], function_arn.split(":")[4]
        try:
            function = lambda_backends[fn_account][fn_region].get_function(function_arn)
        except Exception:
            return f"Failed to invoke lambda function. Function {function_arn} does not exist."
        if not iam.lambda_permission_allows(function, "iot.amazonaws.com", rule.arn, account):
            return (
                "Failed to invoke lambda function. Received Server error from Lambda. The error code is 403"
                f" (no resource policy statement lets iot.amazonaws.com invoke it for {rule.arn})"
            )
        self.invoker.submit(function, payload, "iot")
        return None

    def _run_error_action(self, account, region, rule, topic, payload: bytes, client_id, failures) -> None:
        error_action = rule.error_action or {}
        if not error_action:
            return
        message = {
            "ruleName": rule.rule_name,
            "topic": topic,
            "cloudwatchTraceId": str(uuid.uuid4()),
            "clientId": client_id,
            "base64OriginalPayload": base64.b64encode(payload).decode(),
            "failures": failures,
        }
        failure = self._run_action(account, region, rule, error_action, json.dumps(message).encode())
        if failure:
            log.error("rule %s: the error action failed too: %s", rule.rule_name, failure["errorMessage"])


def patch(engine: RulesEngine) -> None:
    original_publish = IoTDataPlaneBackend.publish

    def publish(self: IoTDataPlaneBackend, topic: str, payload: bytes) -> None:
        original_publish(self, topic, payload)
        data = payload if isinstance(payload, bytes) else str(payload).encode()
        engine.publish(self.account_id, self.region_name, topic, data)

    IoTDataPlaneBackend.publish = publish

    # Refuse SQL the engine cannot run, when the rule is created or replaced.
    for name in ("create_topic_rule", "replace_topic_rule"):
        original = getattr(IoTBackend, name)

        def checked(self, *args, _original=original, **kwargs):
            sql = kwargs.get("sql")
            if sql is None:
                sql = next((a.get("sql") for a in args if isinstance(a, dict) and "sql" in a), None)
            if sql is not None:
                try:
                    parse_sql(sql)
                except SqlError as why:
                    raise InvalidRequestException(f"SQL not supported by the emulator: {why}: {sql}")
            return _original(self, *args, **kwargs)

        setattr(IoTBackend, name, checked)
