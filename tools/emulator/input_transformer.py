"""What a rule's target receives: the event, `Input`, `InputPath` or `InputTransformer`, as
EventBridge builds it (EventBridge User Guide: "Amazon EventBridge input transformation";
API Reference: Target, InputTransformer).

moto 5.2.5 delivers something else. It ignores `Input` and `InputPath` (the target gets the
whole event), and its transformer replaces each `<name>` by the value's text wherever it
stands, leaves a placeholder whose path is missing in the output, and then parses the
result as JSON: `{"id": <id>}` becomes `{"id": abc}` and PutEvents answers 500, a string
template (`"<id> is down"`) fails the same way, and a value with a quote breaks nothing that
would break on AWS. Its default event also lacks `account`. Here:

- PutTargets refuses what the API refuses (ValidationException): more than one of `Input`,
  `InputPath` and `InputTransformer`; an `InputTemplate` outside 1 to 8,192 characters; more
  than 100 `InputPathsMap` entries; a key outside `[A-Za-z0-9_-]{1,256}`; a path that is
  not a JSON path EventBridge evaluates (dot notation, `[index]`, `*`, at most 256
  characters); a placeholder that names neither a key nor a predefined variable; a
  placeholder used as an object key; `Input` that is not JSON.
- Without any of the three, the target gets the event as EventBridge sends it: `version`,
  `id`, `detail-type`, `source`, `account`, `time`, `region`, `resources`, `detail`, minified.
- `Input` is sent as given; `InputPath` sends the value at the path (minified JSON).
- `InputTransformer`: each path is evaluated on the event. In a JSON template (one that
  starts with `{` or `[`), a placeholder outside a string becomes the value as JSON (a
  string is quoted), one inside a string becomes the value's text, not escaped (the guide:
  "EventBridge doesn't escape values extracted by Input Path"); an object or array inside a
  string loses its inner quotes. A path the event lacks creates no variable: its
  placeholders become nothing. The result must parse as JSON, and is sent minified;
  otherwise the delivery fails (EventBridge's FailedInvocations), so a missing value in a
  non-string position, or a quote, backslash or line break inside a string, fails here.
  A template that is a JSON string (`"<a> is <b>"`) sends the string's content; any other
  template sends the text with each placeholder's text.
- The predefined variables `aws.events.rule-arn`, `aws.events.rule-name`,
  `aws.events.event.ingestion-time` (ISO 8601), `aws.events.event` (the event without
  `detail`) and `aws.events.event.json` (the whole event); the last two are JSON, not
  escaped inside a string.

Not emulated: what AWS does where its guide is silent (an unquoted missing value, a JSON
null inside a string: here the delivery fails, and `null`); `aws.events.event`'s exact
field names; target types other than those event_targets.py and schedules.py send to.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone

from moto.events.exceptions import ValidationException
from moto.events.models import EventsBackend

PREDEFINED = frozenset(
    {"aws.events.rule-arn", "aws.events.rule-name", "aws.events.event.ingestion-time", "aws.events.event", "aws.events.event.json"}
)
MAX_PATHS = 100
MAX_TEMPLATE = 8192
MAX_PATH_LENGTH = 256
_KEY = re.compile(r"[A-Za-z0-9_\-]{1,256}")
# Dot notation with dashes, underscores, alphanumerics, forward slashes, array indices and
# wildcards: what the guide says EventBridge evaluates.
_PATH = re.compile(r"\$(?:\.(?:[A-Za-z0-9_\-/]+|\*)|\[(?:\d+|\*)\])*")
_SEGMENT = re.compile(r"\.([A-Za-z0-9_\-/]+|\*)|\[(\d+|\*)\]")
# "The characters < and > cannot be escaped": every <...> is a placeholder.
_PLACEHOLDER = re.compile(r"<([^<>]*)>")
_ENVELOPE = ("version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail")


class TransformError(Exception):
    """Why a target's input could not be built: the delivery fails."""


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING = _Missing()


def _iso(value, millis: bool = False) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    else:
        moment = datetime.fromtimestamp(float(value), tz=timezone.utc)
    moment = moment.astimezone(timezone.utc)
    if millis:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def event_document(event: dict) -> dict:
    """The event as EventBridge delivers it, from moto's (or a schedule's) event message."""
    document = {key: event[key] for key in _ENVELOPE if key in event}
    document.setdefault("version", "0")
    if "time" in document:
        document["time"] = _iso(document["time"])
    if "replay-name" in event:
        document["replay-name"] = event["replay-name"]
    return document


def _compact(value) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def resolve(document, path: str):
    """The value at a JSON path, a list of values for a path with `*`, or MISSING."""
    if not _PATH.fullmatch(path or ""):
        return MISSING
    current, many = [document], False
    for match in _SEGMENT.finditer(path, 1):
        name, index = match.groups()
        following = []
        for item in current:
            if name == "*" or index == "*":
                many = True
                if isinstance(item, dict) and name == "*":
                    following.extend(item.values())
                elif isinstance(item, list):
                    following.extend(item)
            elif name is not None:
                if isinstance(item, dict) and name in item:
                    following.append(item[name])
            elif isinstance(item, list) and int(index) < len(item):
                following.append(item[int(index)])
        current = following
    if many:
        return current if current else MISSING
    return current[0] if current else MISSING


def _placeholders(template: str):
    """(name, start, end, inside a JSON string) of each placeholder of a template."""
    found, in_string, escaped, position = [], False, False, 0
    while position < len(template):
        char = template[position]
        if escaped:
            escaped = False
        elif char == "\\" and in_string:
            escaped = True
        elif char == '"':
            in_string = not in_string
        elif char == "<":
            match = _PLACEHOLDER.match(template, position)
            if match:
                found.append((match.group(1), match.start(), match.end(), in_string))
                position = match.end()
                continue
        position += 1
    return found


def _is_json_template(template: str) -> bool:
    return template.lstrip().startswith(("{", "["))


def validate_target(target: dict) -> str | None:
    """Why PutTargets refuses a target's input settings; None when it accepts them."""
    target_id = target.get("Id")
    given = [key for key in ("Input", "InputPath", "InputTransformer") if key in target and target[key] is not None]
    if len(given) > 1:
        return f"Only one of Input, InputPath, or InputTransformer must be provided for target {target_id}."
    if "Input" in given:
        text = target["Input"]
        if len(text) > MAX_TEMPLATE:
            return f"Input for target {target_id} is longer than {MAX_TEMPLATE} characters."
        try:
            json.loads(text)
        except ValueError:
            return f"Input for target {target_id} is not valid JSON."
    if "InputPath" in given:
        path = target["InputPath"]
        if len(path) > MAX_PATH_LENGTH or not _PATH.fullmatch(path):
            return f"InputPath for target {target_id} is not a valid JSON path."
    if "InputTransformer" in given:
        transformer = target["InputTransformer"] or {}
        template = transformer.get("InputTemplate")
        paths = transformer.get("InputPathsMap") or {}
        if not isinstance(template, str) or not 1 <= len(template) <= MAX_TEMPLATE:
            return f"InputTemplate for target {target_id} must be 1 to {MAX_TEMPLATE} characters."
        if len(paths) > MAX_PATHS:
            return f"InputPathsMap for target {target_id} has {len(paths)} entries; at most {MAX_PATHS} are allowed."
        for key, path in paths.items():
            if not _KEY.fullmatch(key):
                return f"InputPathsMap key {key} of target {target_id} must match [A-Za-z0-9_-]{{1,256}}."
            if not isinstance(path, str) or len(path) > MAX_PATH_LENGTH or not _PATH.fullmatch(path):
                return f"InputPathsMap value {path} of target {target_id} is not a valid JSON path."
        json_template = _is_json_template(template)
        for name, _, end, in_string in _placeholders(template):
            if name not in paths and name not in PREDEFINED:
                return f"InputTemplate for target {target_id} contains invalid placeholder {name}."
            if json_template and not in_string and template[end:].lstrip().startswith(":"):
                return f"InputTemplate for target {target_id} uses placeholder {name} as an object key."
    return None


def _text(value) -> str:
    """A value inside a string: its text, not escaped."""
    if value is MISSING:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return _compact(value).replace('"', "")  # EventBridge removes the inner quotes
    return _compact(value)  # numbers, true, false, null


def _json(value) -> str:
    """A value outside a string: JSON; a missing one, nothing."""
    return "" if value is MISSING else _compact(value)


def _variables(target: dict, document: dict, rule_arn: str, rule_name: str, ingestion_time) -> dict:
    transformer = target["InputTransformer"]
    values = {key: resolve(document, path) for key, path in (transformer.get("InputPathsMap") or {}).items()}
    values.update(
        {
            "aws.events.rule-arn": rule_arn,
            "aws.events.rule-name": rule_name,
            "aws.events.event.ingestion-time": _iso(ingestion_time, millis=True),
        }
    )
    return values


def transform(target: dict, document: dict, rule_arn: str, rule_name: str, ingestion_time) -> str:
    """The InputTransformer's output for one event (a delivered event document)."""
    template = target["InputTransformer"]["InputTemplate"]
    values = _variables(target, document, rule_arn, rule_name, ingestion_time)
    raw = {
        "aws.events.event": _compact({k: v for k, v in document.items() if k != "detail"}),
        "aws.events.event.json": _compact(document),
    }
    json_template = _is_json_template(template)
    pieces, last = [], 0
    for name, start, end, in_string in _placeholders(template):
        pieces.append(template[last:start])
        if name in raw:
            pieces.append(raw[name])  # "its contents are not escaped"
        elif name not in values:
            raise TransformError(f"InputTemplate placeholder <{name}> names no variable")
        elif json_template and not in_string:
            pieces.append(_json(values[name]))
        else:
            pieces.append(_text(values[name]))
        last = end
    text = "".join(pieces) + template[last:]
    if json_template:
        try:
            return _compact(json.loads(text))
        except ValueError as error:
            raise TransformError(f"the InputTemplate made invalid JSON ({error}): {text[:300]}") from None
    try:
        decoded = json.loads(text)
    except ValueError:
        return text
    return decoded if isinstance(decoded, str) else text


def payload(target: dict, event: dict, rule_arn: str, rule_name: str) -> str:
    """What the target receives for a matched event (moto's event message or a delivered document)."""
    document = event_document(event)
    if target.get("Input") is not None:
        return target["Input"]
    if target.get("InputPath") is not None:
        value = resolve(document, target["InputPath"])
        if value is MISSING:
            raise TransformError(f"InputPath {target['InputPath']} matches nothing in the event")
        return _compact(value)
    if target.get("InputTransformer") is not None:
        ingestion = event.get("ingestion-time", event.get("time"))
        if ingestion is None:
            ingestion = datetime.now(timezone.utc)
        return transform(target, document, rule_arn, rule_name, ingestion)
    return _compact(document)


def patch() -> None:
    """PutTargets refuses the input settings the API refuses."""
    original = EventsBackend.put_targets

    def put_targets(self: EventsBackend, name: str, event_bus_arn: str | None, targets: list[dict]) -> None:
        for target in targets:
            why = validate_target(target)
            if why:
                raise ValidationException(why)
        return original(self, name, event_bus_arn, targets)

    EventsBackend.put_targets = put_targets
