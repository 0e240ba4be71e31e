"""Fault injection: rules in the shape of LocalStack's Chaos API, plus faults no API call shows.

A rule matches by `service` (boto3's name: dynamodb, events, sqs, lambda, iot-data, ...),
`region` and `operation`, each omitted for "any", and hits with `probability` (default 1).
The rules of a kind are tried in order; the first that matches and hits applies. There
are four kinds:

- API rules (`error`, `latency`): an API request over HTTP is answered with the AWS error
  `error` ({statusCode, code, message}; LocalStack's default: 503 ServiceUnavailable) in the
  protocol the request used, after `latency` milliseconds; a rule with only `latency`
  delays the request and lets it run.
- Entry rules (`entryError`: {code, message}): PutEvents succeeds, but each entry that
  hits (one draw per entry) comes back with that ErrorCode and no EventId, and is not
  delivered to any target, as when EventBridge fails part of a batch.
- Invocation rules (`invocationError`: error | timeout | crash, scoped by `function` and
  `source`): an invocation the emulator makes fails as the function itself would fail
  (lambda_runner.py), so retries, destinations and event source mappings handle it as a
  real failure.
- Delivery rules (`delivery`: {reorderWindow: ms, duplicate: 0-1}, scoped by `rule`):
  EventBridge guarantees neither order nor exactly-once delivery. Each delivery of a put
  event to a target of a matching rule that hits (one draw per event and target) is held
  for a random delay up to `reorderWindow` (held.py), so later events can overtake it,
  and with probability `duplicate` delivered a second time, a further random delay up to
  `reorderWindow` after the first.

Network effects (`{"latency": ms}`) delay every API request, as LocalStack's do. With a
seed, each rule draws from its own generator, seeded from the seed, its position and its
JSON: unrelated traffic never shifts another rule's draws, so the same calls in the same
order hit the same way on every run. Every injected fault is logged.
"""

from __future__ import annotations

import copy
import json
import random
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone

from moto.core.responses import BaseResponse
from moto.events.models import EventsBackend
from moto.events.models import Rule as EventRule

from . import errors
from .held import held

CONTROL_PREFIX = "/_emulator/chaos/"
SOURCES = ("iot", "events", "esm", "invoke")
# What the failed invocation reports, as Lambda reports each failure.
INVOCATION_ERROR_TYPES = {"error": "Emulator.InjectedError", "timeout": "Sandbox.Timedout", "crash": "Runtime.ExitError"}
INJECTED_FUNCTION_ERROR = {"errorType": INVOCATION_ERROR_TYPES["error"], "errorMessage": "error injected by a fault rule"}
LOG_LIMIT = 10000

_MATCHERS = ("service", "region", "operation")
_KIND_KEYS = {
    "api": {"error", "latency"},
    "entry": {"entryError"},
    "invocation": {"invocationError", "function", "source"},
    "delivery": {"delivery", "rule"},
}
# The field that makes a rule of a kind other than "api", in the order they are looked for.
_KIND_FIELDS = (("invocationError", "invocation"), ("entryError", "entry"), ("delivery", "delivery"))
# Entry, invocation and delivery rules act on one operation only; naming another is a mistake.
_KIND_SCOPE = {"entry": ("events", "PutEvents"), "invocation": ("lambda", "Invoke"), "delivery": ("events", "PutEvents")}


class RuleError(ValueError):
    """A rule or setting the emulator cannot apply (answered with 400)."""


def _number(value, name: str, low: float, high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise RuleError(f"{name} must be a number {bound}, not {value!r}")
    return float(value)


def _string(spec: dict, key: str, default: str | None = None) -> str | None:
    value = spec.get(key)
    if value is None:
        return default
    if not isinstance(value, str):
        raise RuleError(f"{key} must be a string, not {value!r}")
    return value


def _object(spec: dict, key: str, allowed: set[str]) -> dict:
    value = spec.get(key) or {}
    if not isinstance(value, dict) or set(value) - allowed:
        raise RuleError(f"{key} must be an object with only {sorted(allowed)}, not {value!r}")
    return value


@dataclass
class Rule:
    spec: dict  # as given: GET answers it, DELETE compares with it
    kind: str
    service: str | None
    region: str | None
    operation: str | None
    probability: float
    status_code: int = 503
    code: str = "ServiceUnavailable"
    message: str | None = None
    latency_s: float = 0.0
    answers_error: bool = True
    invocation_error: str | None = None
    function: str | None = None
    source: str | None = None
    reorder_window_ms: float = 0.0
    duplicate: float = 0.0
    event_rule: str | None = None  # an EventBridge rule's name or ARN
    rng: random.Random = field(default_factory=random.Random)

    @classmethod
    def parse(cls, spec) -> "Rule":
        if not isinstance(spec, dict):
            raise RuleError(f"a rule is a JSON object, not {spec!r}")
        kind = next((kind for key, kind in _KIND_FIELDS if key in spec), "api")
        misplaced = set(spec) - set(_MATCHERS) - {"probability"} - _KIND_KEYS[kind]
        if misplaced:
            raise RuleError(f"{sorted(misplaced)} not allowed in an {kind} rule: {json.dumps(spec)}")
        rule = cls(
            spec=spec,
            kind=kind,
            service=_string(spec, "service"),
            region=_string(spec, "region"),
            operation=_string(spec, "operation"),
            probability=_number(spec.get("probability", 1), "probability", 0, 1),
        )
        if kind in _KIND_SCOPE:
            service, operation = _KIND_SCOPE[kind]
            if rule.service not in (None, service) or rule.operation not in (None, operation):
                raise RuleError(f"an {kind} rule acts on {service} {operation} only: {json.dumps(spec)}")
        if kind == "api":
            error = _object(spec, "error", {"statusCode", "code", "message"})
            rule.status_code = int(_number(error.get("statusCode", 503), "error.statusCode", 400, 599))
            rule.code = _string(error, "code", "ServiceUnavailable")
            rule.message = _string(error, "message")
            rule.latency_s = _number(spec.get("latency", 0), "latency", 0) / 1000
            # LocalStack's rule without an effect is a 503; one with only a latency delays.
            rule.answers_error = "error" in spec or "latency" not in spec
        elif kind == "entry":
            error = _object(spec, "entryError", {"code", "message"})
            rule.code = _string(error, "code", "InternalFailure")
            rule.message = _string(error, "message")
        elif kind == "delivery":
            delivery = _object(spec, "delivery", {"reorderWindow", "duplicate"})
            rule.reorder_window_ms = _number(delivery.get("reorderWindow", 0), "delivery.reorderWindow", 0)
            rule.duplicate = _number(delivery.get("duplicate", 0), "delivery.duplicate", 0, 1)
            rule.event_rule = _string(spec, "rule")
        else:
            rule.invocation_error = spec["invocationError"]
            if rule.invocation_error not in INVOCATION_ERROR_TYPES:
                raise RuleError(f"invocationError must be one of {sorted(INVOCATION_ERROR_TYPES)}, not {rule.invocation_error!r}")
            rule.code = INVOCATION_ERROR_TYPES[rule.invocation_error]
            rule.function = _string(spec, "function")
            rule.source = _string(spec, "source")
            if rule.source not in (None, *SOURCES):
                raise RuleError(f"source must be one of {list(SOURCES)}, not {rule.source!r}")
        return rule

    def matches(self, service: str, region: str, operation: str | None) -> bool:
        wanted = (self.service, self.region, self.operation)
        return all(want is None or want == got for want, got in zip(wanted, (service, region, operation)))

    def error_message(self) -> str:
        return self.message or f"{self.code}: fault injected by the emulator"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Chaos:
    """The rules, network effects, seed and log of one emulator process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[Rule] = []
        self._latency_ms = 0.0
        self._seed: int | None = None
        self._log: deque[dict] = deque(maxlen=LOG_LIMIT)

    # --- Configuration -----------------------------------------------------------

    def _seeded(self, rule: Rule, position: int) -> None:
        if self._seed is None:
            rule.rng = random.Random()
        else:
            # A string seed is hashed with SHA-512: the same in every process.
            rule.rng = random.Random(f"{self._seed}/{position}/{json.dumps(rule.spec, sort_keys=True)}")

    def replace(self, specs: list) -> None:
        rules = [Rule.parse(spec) for spec in specs]
        with self._lock:
            self._rules = []
            self._append(rules)

    def add(self, specs: list) -> None:
        rules = [Rule.parse(spec) for spec in specs]
        with self._lock:
            self._append(rules)

    def _append(self, rules: list[Rule]) -> None:
        for rule in rules:
            self._seeded(rule, len(self._rules))
            self._rules.append(rule)

    def remove(self, specs: list) -> None:
        """Removes the rules equal to one of `specs` (as LocalStack: exactly as given)."""
        with self._lock:
            self._rules = [rule for rule in self._rules if rule.spec not in specs]

    def rules(self) -> list[dict]:
        with self._lock:
            return [rule.spec for rule in self._rules]

    def set_effects(self, effects) -> None:
        if not isinstance(effects, dict) or set(effects) - {"latency"}:
            raise RuleError(f'effects are {{"latency": milliseconds}}, not {effects!r}')
        self._latency_ms = _number(effects.get("latency", 0), "latency", 0)

    def effects(self) -> dict:
        return {"latency": self._latency_ms}

    def set_seed(self, seed) -> None:
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise RuleError(f"seed must be an integer or null, not {seed!r}")
        with self._lock:
            self._seed = seed
            for position, rule in enumerate(self._rules):
                self._seeded(rule, position)

    @property
    def seed(self) -> int | None:
        return self._seed

    def log(self) -> list[dict]:
        with self._lock:
            return list(self._log)

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()

    # --- Decisions: each draws and logs under the lock, so draws keep their order --

    def _first_hit(self, kind: str, service: str, region: str, operation: str | None, scope=lambda rule: True) -> Rule | None:
        for rule in self._rules:
            if rule.kind == kind and rule.matches(service, region, operation) and scope(rule):
                if rule.rng.random() < rule.probability:
                    return rule
        return None

    def _record(self, kind: str, service: str, region: str, operation: str | None, code: str | None, target: str | None,
                status_code: int | None = None, latency_ms: float | None = None, source: str | None = None,
                event_id: str | None = None, rule: str | None = None) -> None:
        self._log.append({
            "time": _now(),
            "service": service,
            "region": region,
            "operation": operation,
            "kind": kind,
            "code": code,
            "statusCode": status_code,
            "latencyMs": latency_ms,
            "target": target,
            "source": source,
            "eventId": event_id,
            "rule": rule,
        })

    def latency_s(self) -> float:
        return self._latency_ms / 1000

    def api_fault(self, service: str, region: str, operation: str | None, target) -> Rule | None:
        """The API rule that hits this request, logged; `target()` names what it acts on."""
        with self._lock:
            rule = self._first_hit("api", service, region, operation)
            if rule is not None:
                latency_ms = rule.latency_s * 1000 or None
                if rule.answers_error:
                    self._record("api-error", service, region, operation, rule.code, target(), rule.status_code, latency_ms)
                else:
                    self._record("api-latency", service, region, operation, None, target(), latency_ms=latency_ms)
            return rule

    def entry_faults(self, region: str, count: int) -> list[Rule | None]:
        """For each of `count` PutEvents entries, the entry rule that fails it, or None."""
        with self._lock:
            hits = [self._first_hit("entry", "events", region, "PutEvents") for _ in range(count)]
            for index, rule in enumerate(hits):
                if rule is not None:
                    self._record("entry-error", "events", region, "PutEvents", rule.code, f"Entries[{index}]")
            return hits

    def invocation_fault(self, function, source: str) -> str | None:
        """How this invocation of `function` from `source` fails (error, timeout, crash), or None."""

        def scoped(rule: Rule) -> bool:
            named = rule.function in (None, function.function_name, function.function_arn)
            return named and rule.source in (None, source)

        with self._lock:
            rule = self._first_hit("invocation", "lambda", function.region, "Invoke", scoped)
            if rule is None:
                return None
            self._record(f"function-{rule.invocation_error}", "lambda", function.region, "Invoke", rule.code,
                         function.function_arn, source=source)
            return rule.invocation_error

    def delivery_delays(self, rule, target_arn: str, event_id: str) -> list[float] | None:
        """When to deliver this put event to this target of EventBridge rule `rule`: the
        delays (seconds after the put) of the delivery and of its duplicate, if any; None
        when no delivery rule hits (deliver now, as without faults)."""

        def scoped(fault: Rule) -> bool:
            return fault.event_rule in (None, rule.name, rule.arn)

        with self._lock:
            fault = self._first_hit("delivery", "events", rule.region_name, "PutEvents", scoped)
            if fault is None:
                return None
            delays_ms = [round(fault.rng.uniform(0, fault.reorder_window_ms))]
            if fault.rng.random() < fault.duplicate:
                delays_ms.append(delays_ms[0] + round(fault.rng.uniform(0, fault.reorder_window_ms)))
            for copy_number, delay_ms in enumerate(delays_ms):
                if copy_number == 0 and delay_ms == 0:
                    continue  # delivered at once, as without the rule
                kind = "delivery-delayed" if copy_number == 0 else "delivery-duplicated"
                self._record(kind, "events", rule.region_name, "PutEvents", None, target_arn, latency_ms=delay_ms,
                             event_id=event_id, rule=rule.arn)
            return [delay_ms / 1000 for delay_ms in delays_ms]


chaos = Chaos()


# --- The control interface: /_emulator/chaos/... -------------------------------


def _rule_list(document) -> list:
    if not isinstance(document, list):
        raise RuleError("the body must be a JSON array of rules")
    return document


def _seed(document) -> int | None:
    if not isinstance(document, dict) or set(document) != {"seed"}:
        raise RuleError('the body must be {"seed": an integer or null}')
    return document["seed"]


_ANSWERS = {"faults": chaos.rules, "effects": chaos.effects, "seed": lambda: {"seed": chaos.seed}, "log": chaos.log}


def control(method: str, path: str, body: bytes) -> tuple[int, object]:
    """Answers one control request: (HTTP status, JSON document). GET reads a resource;
    the other methods change it and answer what it is now."""
    resource = path[len(CONTROL_PREFIX):].strip("/")
    if resource not in _ANSWERS:
        return 404, {"error": f"no {path}: the resources are {', '.join(_ANSWERS)}"}
    try:
        document = json.loads(body) if body.strip() else None
    except ValueError:
        return 400, {"error": "the body is not JSON"}
    try:
        if (resource, method) == ("faults", "POST"):
            chaos.replace(_rule_list(document))
        elif (resource, method) == ("faults", "PATCH"):
            chaos.add(_rule_list(document))
        elif (resource, method) == ("faults", "DELETE"):
            chaos.remove(_rule_list(document))
        elif (resource, method) == ("effects", "POST"):
            chaos.set_effects(document)
        elif (resource, method) == ("seed", "POST"):
            chaos.set_seed(_seed(document))
        elif (resource, method) == ("log", "DELETE"):
            chaos.clear_log()
        elif method != "GET":
            return 405, {"error": f"{method} is not allowed on {path}"}
    except RuleError as why:
        return 400, {"error": str(why)}
    return 200, _ANSWERS[resource]()


# --- Where faults act ------------------------------------------------------------

# Parameters naming what a request acts on, for the log.
_TARGET_PARAMETERS = (
    "TableName", "QueueUrl", "FunctionName", "EventBusName", "topic", "ruleName", "logGroupName", "RoleName", "thingName",
)


def _target(response: BaseResponse) -> str | None:
    for name in _TARGET_PARAMETERS:
        try:
            value = response._get_param(name)
        except Exception:  # moto left the parameters unparsed (an operation it lacks): no target
            continue
        if isinstance(value, str):
            return value
    return None


def _error_response(response: BaseResponse, rule: Rule, service: str) -> tuple[int, dict, str]:
    """The rule's error as the service answers in the protocol the request used."""
    return errors.answer(response, service, rule.status_code, rule.code, rule.error_message())


def patch() -> None:
    """API faults before moto handles a request; entry faults inside PutEvents; delivery
    faults where a put event reaches a rule's targets (after schedules.patch, so Lambda
    targets are held too). Invocation faults are asked for by lambda_runner.py."""
    original_call_action = BaseResponse.call_action

    def call_action(self: BaseResponse):
        service = self.boto3_service_name
        rule = chaos.api_fault(service, self.region, self._get_action(), lambda: _target(self))
        delay = chaos.latency_s() + (rule.latency_s if rule is not None else 0)
        if delay:
            time.sleep(delay)
        if rule is not None and rule.answers_error:
            return _error_response(self, rule, service)
        return original_call_action(self)

    BaseResponse.call_action = call_action

    original_put_events = EventsBackend.put_events

    def put_events(self: EventsBackend, events: list[dict]) -> list[dict]:
        if len(events) > 10:  # refused whole by moto, as by EventBridge: nothing to fail per entry
            return original_put_events(self, events)
        failures = chaos.entry_faults(self.region_name, len(events))
        delivered = iter(original_put_events(self, [e for e, rule in zip(events, failures) if rule is None]))
        return [
            {"ErrorCode": rule.code, "ErrorMessage": rule.error_message()} if rule is not None else next(delivered)
            for rule in failures
        ]

    EventsBackend.put_events = put_events

    original_send_to_targets = EventRule.send_to_targets

    def send_to_targets(self: EventRule, event: dict, transform_input: bool = True) -> None:
        if self.scheduled_expression or not self.event_pattern.matches_event(event):
            return original_send_to_targets(self, event, transform_input)
        now, later = [], []  # targets delivered now; (delay, target) delivered later
        for target in self.targets:
            delays = chaos.delivery_delays(self, target.get("Arn", ""), event.get("id"))
            if delays is None:
                now.append(target)
                continue
            first, *duplicate = delays
            if first == 0:
                now.append(target)
            else:
                later.append((first, target))
            later.extend((delay, target) for delay in duplicate)
        for delay, target in later:
            # Copies of the rule and the event as they are at the put: the held delivery
            # goes to this one target, whatever happens to either in the meantime.
            rule, held_event = _with_targets(self, [target]), copy.deepcopy(event)
            held.hold(delay, lambda rule=rule, held_event=held_event: original_send_to_targets(rule, held_event, transform_input))
        if len(now) == len(self.targets):
            original_send_to_targets(self, event, transform_input)  # as without delivery rules
        elif now:
            original_send_to_targets(_with_targets(self, now), event, transform_input)

    EventRule.send_to_targets = send_to_targets


def _with_targets(rule: EventRule, targets: list[dict]) -> EventRule:
    narrowed = copy.copy(rule)
    narrowed.targets = targets
    return narrowed
