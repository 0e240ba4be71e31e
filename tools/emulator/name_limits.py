"""Names past AWS's limits are refused, as AWS refuses them (moto 5.2.5 accepts most).

Each limit below is the one of the service's API reference (the same constraints ship in
botocore's service models, which tools/test_names.py checks this table against). A
request that breaks one is answered before moto sees it, with the error the service
answers, in the protocol of the request, and nothing is created:

| operation | name | limit | error (HTTP 400) |
| --- | --- | --- | --- |
| Lambda CreateFunction | FunctionName | 1-64 characters `[a-zA-Z0-9-_]` (an ARN form: its name part) | ValidationException; over 64 only: InvalidParameterValueException |
| IAM CreateRole | RoleName | 1-64 `[\\w+=,.@-]` | ValidationError |
| IAM CreatePolicy, PutRolePolicy | PolicyName | 1-128 `[\\w+=,.@-]` | ValidationError |
| EventBridge PutRule | Name | 1-64 `[.\\-_A-Za-z0-9]` | ValidationException |
| EventBridge Scheduler CreateSchedule | Name | 1-64 `[0-9a-zA-Z-_.]` | ValidationException |
| SQS CreateQueue | QueueName | 1-80 `[A-Za-z0-9_-]`; a FIFO queue's ends in `.fifo` (counted) | InvalidParameterValue |
| IoT CreateTopicRule | ruleName | 1-128 `[a-zA-Z0-9_]` | InvalidRequestException |
| IoT CreateThing, DescribeThing, UpdateThing, DeleteThing, ListThingGroupsForThing | thingName | 1-128 `[a-zA-Z0-9:_-]` | InvalidRequestException |
| CloudWatch Logs CreateLogGroup | logGroupName | 1-512 `[.\\-_/#A-Za-z0-9]` | InvalidParameterException |
| CloudWatch PutMetricAlarm | AlarmName | 1-255 | ValidationError |

The message is AWS's validation message: "1 validation error detected: Value 'NAME' at
'functionName' failed to satisfy constraint: Member must have length less than or equal
to 64" (one clause per broken constraint, joined with "; "). SQS answers its own
sentences instead.

Lambda's model allows 140 characters, because FunctionName may be an ARN; a bare name,
or the name part of an ARN, may have 64. Lambda reports that limit with
InvalidParameterValueException (and the validation message), the model's own
constraints with ValidationException.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

from moto.core.responses import BaseResponse

from . import errors


@dataclass(frozen=True)
class Limit:
    """One name member of one operation: `low`-`high` characters, all matching `pattern`."""

    service: str  # as boto3 names it
    operation: str
    member: str  # as the API reference names it
    low: int
    high: int
    pattern: str | None  # Java regular expression syntax, matched against the whole name
    code: str  # the error code the service answers when the name breaks a constraint
    read: Callable[[BaseResponse], object] | None = None  # where the request carries it; default _get_param(member)

    @property
    def field(self) -> str:
        """The member as AWS's validation messages name it: lowerCamelCase."""
        return self.member[0].lower() + self.member[1:]

    def value(self, response: BaseResponse):
        return self.read(response) if self.read else response._get_param(self.member)

    def violations(self, name: str) -> list[str]:
        broken = []
        if len(name) > self.high:
            broken.append(f"Member must have length less than or equal to {self.high}")
        if len(name) < self.low:
            broken.append(f"Member must have length greater than or equal to {self.low}")
        # Java's \w is ASCII-only, as re.ASCII makes Python's.
        if self.pattern and name and not re.fullmatch(self.pattern, name, re.ASCII):
            broken.append(f"Member must satisfy regular expression pattern: {self.pattern}")
        return broken


def validation_message(value: str, field: str, constraints: list[str]) -> str:
    count = len(constraints)
    clauses = "; ".join(f"Value '{value}' at '{field}' failed to satisfy constraint: {constraint}" for constraint in constraints)
    return f"{count} validation error{'s' if count > 1 else ''} detected: {clauses}"


def _path_name(response: BaseResponse) -> str:
    """The last segment of the request path: where REST APIs put a resource's name."""
    return unquote(urlparse(response.uri).path.rstrip("/").rsplit("/", 1)[-1])


_IAM_NAME = r"[\w+=,.@-]+"
LIMITS = (
    Limit("iam", "CreateRole", "RoleName", 1, 64, _IAM_NAME, "ValidationError"),
    Limit("iam", "CreatePolicy", "PolicyName", 1, 128, _IAM_NAME, "ValidationError"),
    Limit("iam", "PutRolePolicy", "PolicyName", 1, 128, _IAM_NAME, "ValidationError"),
    Limit("events", "PutRule", "Name", 1, 64, r"[\.\-_A-Za-z0-9]+", "ValidationException"),
    Limit("scheduler", "CreateSchedule", "Name", 1, 64, r"[0-9a-zA-Z-_.]+", "ValidationException", _path_name),
    Limit("iot", "CreateTopicRule", "ruleName", 1, 128, r"^[a-zA-Z0-9_]+$", "InvalidRequestException"),
    # Calls on one IoT thing: AWS refuses a name outside ThingName before looking the thing up.
    *(
        Limit("iot", operation, "thingName", 1, 128, r"[a-zA-Z0-9:_-]+", "InvalidRequestException")
        for operation in ("CreateThing", "DescribeThing", "UpdateThing", "DeleteThing", "ListThingGroupsForThing")
    ),
    Limit("logs", "CreateLogGroup", "logGroupName", 1, 512, r"[\.\-_/#A-Za-z0-9]+", "InvalidParameterException"),
    Limit("cloudwatch", "PutMetricAlarm", "AlarmName", 1, 255, None, "ValidationError"),
    # FunctionName as the model constrains it (a name or an ARN); the name part is checked below.
    Limit(
        "lambda", "CreateFunction", "FunctionName", 1, 140,
        r"(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?"
        r"([a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?",
        "ValidationException",
    ),
)
_BY_OPERATION: dict[tuple[str, str], list[Limit]] = {}
for _limit in LIMITS:
    _BY_OPERATION.setdefault((_limit.service, _limit.operation), []).append(_limit)

LAMBDA_NAME_LIMIT = 64
# arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER] or ACCOUNT:function:NAME[:QUALIFIER]
_FUNCTION_NAME_PART = re.compile(r"(?:.*:)?function:([^:]+)(?::[^:]*)?")


def lambda_name_part(value: str) -> str:
    match = _FUNCTION_NAME_PART.fullmatch(value)
    return match.group(1) if match else value.split(":")[0]


SQS_NAME_LIMIT = 80
_SQS_STANDARD = re.compile(r"[A-Za-z0-9_-]{1,80}")
_SQS_FIFO = re.compile(r"[A-Za-z0-9_-]{1,75}\.fifo")
SQS_STANDARD_MESSAGE = "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"
SQS_FIFO_MESSAGE = (
    "The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, "
    "must end with .fifo suffix and be 1 to 80 in length."
)


def _sqs_refusal(response: BaseResponse) -> tuple[str, str] | None:
    name = response._get_param("QueueName")
    if not isinstance(name, str):
        return None
    attributes = response._get_param("Attributes") or {}
    fifo = str(attributes.get("FifoQueue", "false")).lower() == "true" if isinstance(attributes, dict) else False
    if fifo:
        return None if _SQS_FIFO.fullmatch(name) else ("InvalidParameterValue", SQS_FIFO_MESSAGE)
    # A standard queue may not take the .fifo suffix: "." is outside its characters.
    return None if _SQS_STANDARD.fullmatch(name) else ("InvalidParameterValue", SQS_STANDARD_MESSAGE)


def refusal(response: BaseResponse, service: str, operation: str | None) -> tuple[str, str] | None:
    """(error code, message) when the request names something past its limits, else None."""
    if (service, operation) == ("sqs", "CreateQueue"):
        return _sqs_refusal(response)
    for limit in _BY_OPERATION.get((service, operation or ""), ()):
        name = limit.value(response)
        if not isinstance(name, str):
            continue  # missing or not a string: moto's, or the SDK's, to refuse
        broken = limit.violations(name)
        if broken:
            return limit.code, validation_message(name, limit.field, broken)
        if (service, operation) == ("lambda", "CreateFunction") and len(lambda_name_part(name)) > LAMBDA_NAME_LIMIT:
            constraint = f"Member must have length less than or equal to {LAMBDA_NAME_LIMIT}"
            return "InvalidParameterValueException", validation_message(name, limit.field, [constraint])
    return None


def patch() -> None:
    """Checks names before moto handles the request and answers a refusal (HTTP 400) in
    the protocol of the request."""
    original_call_action = BaseResponse.call_action

    def call_action(self: BaseResponse):
        service = self.boto3_service_name
        refused = refusal(self, service, self._get_action())
        if refused is None:
            return original_call_action(self)
        code, message = refused
        return errors.answer(self, service, 400, code, message)

    BaseResponse.call_action = call_action
