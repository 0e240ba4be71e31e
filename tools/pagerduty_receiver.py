"""A local PagerDuty Events API v2 contract receiver, for tests of what pages PagerDuty.

Run: python tools/pagerduty_receiver.py --port 0 [--rate-per-minute 120] [--seed N]
     [--window-seconds 60] [--quiet]
It binds 127.0.0.1 only and prints `pagerduty receiver listening on http://127.0.0.1:PORT`
as its first line on stdout. Point a client's events URL at `http://127.0.0.1:PORT/v2/enqueue`.

What it follows, and where PagerDuty documents it:

- The endpoint, the fields and their limits: routing_key (the 32-character integration key),
  event_action (trigger, acknowledge, resolve), dedup_key (at most 255 characters; required
  unless the action is trigger), payload.summary (at most 1024), payload.source,
  payload.severity (critical, error, warning, info), the optional payload.timestamp,
  component, group, class and custom_details (an object), images (src required) and links
  (href required); the 202 answer {"status": "success", "message": "Event processed",
  "dedup_key": ...} and the 400 answer {"status": "invalid event", "message": "Event object
  is invalid", "errors": [...]} with "Length of 'routing_key' is incorrect (should be 32
  characters)":
  https://developer.pagerduty.com/docs/events-api-v2/trigger-events/ (source:
  github.com/PagerDuty/developer-docs, docs/events-API-v2/02-Trigger-Events.md),
  https://raw.githubusercontent.com/PagerDuty/api-schema/main/reference/events-v2/openapiv3.json
  (the request schema, "Required unless the event_type is trigger", the Success and Error
  responses, the "Event object format is unrecognized" / "JSON parse error" example) and
  https://v2.developer.pagerduty.com/docs/send-an-event-events-api-v2 (the 202 and 400 bodies).
- De-duplication: later events with a dedup_key apply to the open alert with that key; a
  trigger for an open alert is appended to its log, not a new alert; once the alert is
  resolved a trigger opens a new one and acknowledge or resolve events are dropped; events
  sent with another routing_key do not apply to the alert (acknowledge and resolve are
  dropped); a trigger without a dedup_key (or a blank one) gets a generated UUID:
  02-Trigger-Events.md, "Alert De-Duplication" and "Event Action Behavior";
  https://support.pagerduty.com/docs/event-management ("Deduplicate Alerts").
- Codes and retries: 202 accepted, 400 not retried, 429 and 5xx retried; payloads at most
  512 KB: https://developer.pagerduty.com/docs/events-api-v2/overview/ (developer-docs,
  docs/events-API-v2/01-Overview.md, "Response Codes & Retry Logic", "Size Limits").
- The rate: about 120 events a minute per integration key, counted over a 60-second window
  looking back from now; above it `429` and "PagerDuty will not ingest the event":
  developer-docs, docs/events-API-v2/05-Rate-Limits.md.

What PagerDuty does not document, and what the receiver does instead (strict wherever the
documentation is silent, so that a client never depends on leniency PagerDuty may not have):
the exact error sentences other than the routing key's (they are this receiver's own);
whether a summary over 1024 characters is refused or truncated (refused); the status of a
body over 512 KB (400); null where a string or object is expected (refused); a timestamp
that is not ISO 8601 (refused); a payload on acknowledge and resolve (validated when present,
otherwise unused); whether refused calls count toward the rate (only accepted events count);
the order of the checks (validation before the rate); the 429 body (PagerDuty's Events v1
throttle answer, with 429); the format of a generated dedup_key (32 hexadecimal digits of a
version 4 UUID). See tools/PAGERDUTY_RECEIVER.md.

The HTTP API besides /v2/enqueue, all JSON:
  GET    /_receiver/state    alerts, dropped, refused, accepted, max_per_minute
  DELETE /_receiver/state    forgets them all and the rate windows (not the faults)
  GET    /_receiver/faults   the fault rules with what is left of their counts
  POST   /_receiver/faults   a rule or an array of rules, replacing all ([] clears):
         {"status": 500, "probability": 0.3, "count": 4, "routing_key": ..., "event_action": ...}
"""

from __future__ import annotations

import argparse
import json
import random
import re
import signal
import sys
import threading
import time
import uuid
from collections import deque
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

ACTIONS = ("trigger", "acknowledge", "resolve")
SEVERITIES = ("critical", "error", "warning", "info")
ROUTING_KEY_LENGTH = 32
DEDUP_KEY_MAX = 255
SUMMARY_MAX = 1024
BODY_MAX = 512 * 1024
PAYLOAD_STRINGS = ("component", "group", "class")

SUCCESS_MESSAGE = "Event processed"
INVALID = {"status": "invalid event", "message": "Event object is invalid"}
UNRECOGNIZED = {"status": "Unrecognized object", "message": "Event object format is unrecognized"}
THROTTLED = {
    "status": "throttle exceeded",
    "message": "Requests for this service are arriving too quickly.  Please retry later.",
}

# ISO 8601 date-time, as PagerDuty's examples write it ("2015-07-17T08:42:58.315+0000") and
# as RFC 3339 does ("...Z", "+00:00"); a date alone is not a timestamp.
TIMESTAMP = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?"
    r"(Z|[+-](\d{2}):?(\d{2}))?$"
)
UNPARSED = object()
FAULT_FIELDS = {"status", "probability", "count", "routing_key", "event_action"}


def iso(seconds: float) -> str:
    """An epoch time as ISO 8601 UTC with milliseconds."""
    moment = datetime.fromtimestamp(seconds, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def valid_timestamp(text: str) -> bool:
    match = TIMESTAMP.match(text)
    if not match:
        return False
    year, month, day, hour, minute = (int(match.group(i)) for i in range(1, 6))
    second = int(match.group(6) or 0)
    try:
        datetime(year, month, day, hour, minute, min(second, 59))
    except ValueError:
        return False
    if second > 60:
        return False
    if match.group(9) is not None and (int(match.group(9)) > 23 or int(match.group(10)) > 59):
        return False
    return True


def is_string(value: Any) -> bool:
    return isinstance(value, str)


def validate(event: dict) -> list[str]:
    """PagerDuty's field rules; an empty list when the event is valid."""
    errors: list[str] = []
    routing_key = event.get("routing_key")
    if "routing_key" not in event or routing_key == "":
        errors.append("'routing_key' is missing or blank")
    elif not is_string(routing_key):
        errors.append("'routing_key' must be a string")
    elif len(routing_key) != ROUTING_KEY_LENGTH:
        errors.append("Length of 'routing_key' is incorrect (should be 32 characters)")

    action = event.get("event_action")
    if "event_action" not in event or action == "":
        errors.append("'event_action' is missing or blank")
    elif action not in ACTIONS:
        errors.append("'event_action' must be one of trigger, acknowledge or resolve")

    if "dedup_key" in event:
        dedup_key = event["dedup_key"]
        if not is_string(dedup_key):
            errors.append("'dedup_key' must be a string")
        elif len(dedup_key) > DEDUP_KEY_MAX:
            errors.append("'dedup_key' is too long (maximum is 255 characters)")
    if action in ("acknowledge", "resolve") and not (is_string(event.get("dedup_key")) and event["dedup_key"]):
        errors.append(f"'dedup_key' is required for {action} events")

    if "payload" in event or action == "trigger":
        errors.extend(validate_payload(event.get("payload"), "payload" in event))

    for name in ("client", "client_url"):
        if name in event and not is_string(event[name]):
            errors.append(f"'{name}' must be a string")
    errors.extend(validate_context(event, "images", "src", ("href", "alt")))
    errors.extend(validate_context(event, "links", "href", ("text",)))
    return errors


def validate_payload(payload: Any, present: bool) -> list[str]:
    if not present:
        return ["'payload' is required for trigger events"]
    if not isinstance(payload, dict):
        return ["'payload' must be an object"]
    errors: list[str] = []
    summary = payload.get("summary")
    if not is_string(summary) or not summary.strip():
        errors.append("'payload.summary' is missing or blank")
    elif len(summary) > SUMMARY_MAX:
        errors.append("'payload.summary' is too long (maximum is 1024 characters)")
    source = payload.get("source")
    if not is_string(source) or not source.strip():
        errors.append("'payload.source' is missing or blank")
    severity = payload.get("severity")
    if severity is None or severity == "":
        errors.append("'payload.severity' is missing or blank")
    elif severity not in SEVERITIES:
        errors.append("'payload.severity' must be one of critical, error, warning or info")
    if "timestamp" in payload:
        timestamp = payload["timestamp"]
        if not is_string(timestamp) or not valid_timestamp(timestamp):
            errors.append("'payload.timestamp' must be an ISO 8601 date-time")
    for name in PAYLOAD_STRINGS:
        if name in payload and not is_string(payload[name]):
            errors.append(f"'payload.{name}' must be a string")
    if "custom_details" in payload and not isinstance(payload["custom_details"], dict):
        errors.append("'payload.custom_details' must be an object")
    return errors


def validate_context(event: dict, name: str, required: str, optional: tuple[str, ...]) -> list[str]:
    if name not in event:
        return []
    items = event[name]
    if not isinstance(items, list):
        return [f"'{name}' must be an array"]
    errors: list[str] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            errors.append(f"'{name}[{index}]' must be an object")
            continue
        if not is_string(item.get(required)) or not item[required]:
            errors.append(f"'{name}[{index}].{required}' is missing or blank")
        for field in optional:
            if field in item and not is_string(item[field]):
                errors.append(f"'{name}[{index}].{field}' must be a string")
    return errors


class FaultRule:
    def __init__(self, spec: Any, position: int, seed: int | None) -> None:
        if not isinstance(spec, dict):
            raise ValueError("a fault rule is an object")
        unknown = set(spec) - FAULT_FIELDS
        if unknown:
            raise ValueError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
        status = spec.get("status", 500)
        if type(status) is not int or not 400 <= status <= 599:
            raise ValueError("'status' must be an integer from 400 to 599")
        probability = spec.get("probability", 1)
        if type(probability) not in (int, float) or not 0 <= probability <= 1:
            raise ValueError("'probability' must be a number from 0 to 1")
        count = spec.get("count")
        if count is not None and (type(count) is not int or count < 0):
            raise ValueError("'count' must be a non-negative integer")
        for name in ("routing_key", "event_action"):
            if name in spec and not is_string(spec[name]):
                raise ValueError(f"'{name}' must be a string")
        self.spec = dict(spec)
        self.status = status
        self.probability = float(probability)
        self.remaining = count
        # Each rule draws from its own generator: other rules and unmatched requests do
        # not shift its draws, so the same requests in the same order hit the same way.
        canonical = json.dumps(spec, sort_keys=True)
        self.random = random.Random(f"{seed}/{position}/{canonical}") if seed is not None else random.Random()

    def matches(self, routing_key: Any, action: Any) -> bool:
        if self.remaining is not None and self.remaining <= 0:
            return False
        if "routing_key" in self.spec and self.spec["routing_key"] != routing_key:
            return False
        if "event_action" in self.spec and self.spec["event_action"] != action:
            return False
        return True

    def draw(self) -> bool:
        if self.probability < 1 and self.random.random() >= self.probability:
            return False
        if self.remaining is not None:
            self.remaining -= 1
        return True

    def describe(self) -> dict:
        return dict(self.spec, remaining=self.remaining)


def fault_body(status: int) -> dict:
    if status == 429:
        return dict(THROTTLED)
    if status == 400:
        return dict(INVALID, errors=["injected fault"])
    if status >= 500:
        return {"status": "error", "message": "Internal Server Error (injected fault)"}
    return {"status": "error", "message": f"injected fault {status}"}


class Receiver:
    """The receiver's state and rules, thread-safe. `clock` gives epoch seconds."""

    def __init__(
        self,
        rate_per_minute: int = 120,
        seed: int | None = None,
        window_seconds: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.rate_per_minute = rate_per_minute
        self.seed = seed
        self.window_seconds = window_seconds
        self.clock = clock
        self.lock = threading.Lock()
        self.rules: list[FaultRule] = []
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.alerts: list[dict] = []
            self.open: dict[tuple[str, str], dict] = {}
            self.dropped: list[dict] = []
            self.refused: list[dict] = []
            self.accepted = 0
            self.windows: dict[str, deque] = {}
            self.max_per_minute: dict[str, int] = {}
            # Generated dedup keys repeat from run to run with a seed.
            self.keys = random.Random(f"{self.seed}/dedup_key") if self.seed is not None else random.Random()

    def set_faults(self, specs: Any) -> list[dict]:
        if isinstance(specs, dict):
            specs = [specs]
        if not isinstance(specs, list):
            raise ValueError("the body is a fault rule or an array of them")
        rules = [FaultRule(spec, position, self.seed) for position, spec in enumerate(specs)]
        with self.lock:
            self.rules = rules
            return [rule.describe() for rule in rules]

    def faults(self) -> list[dict]:
        with self.lock:
            return [rule.describe() for rule in self.rules]

    def state(self) -> dict:
        with self.lock:
            return json.loads(json.dumps({
                "alerts": self.alerts,
                "dropped": self.dropped,
                "refused": self.refused,
                "accepted": self.accepted,
                "max_per_minute": self.max_per_minute,
            }))

    def enqueue(self, raw: bytes) -> tuple[int, dict]:
        """Answers one POST /v2/enqueue: (status, body)."""
        with self.lock:
            now = self.clock()
            at = iso(now)
            event: Any = UNPARSED
            if len(raw) <= BODY_MAX:
                try:
                    event = json.loads(raw.decode("utf-8"))
                except (UnicodeDecodeError, ValueError):
                    pass
            # An unparsable body is recorded as text, a large one by its first kilobyte.
            recorded = event if event is not UNPARSED else raw[:1024].decode("utf-8", "replace")
            fields = event if isinstance(event, dict) else {}

            for rule in self.rules:
                if rule.matches(fields.get("routing_key"), fields.get("event_action")) and rule.draw():
                    return self.refuse(rule.status, fault_body(rule.status), recorded, at, "fault")

            if len(raw) > BODY_MAX:
                body = dict(INVALID, errors=["Event is too large (the limit is 512 KB)"])
                return self.refuse(400, body, recorded, at, "invalid")
            if event is UNPARSED:
                return self.refuse(400, dict(UNRECOGNIZED, errors=["JSON parse error"]), recorded, at, "invalid")
            if not isinstance(event, dict):
                body = dict(UNRECOGNIZED, errors=["The event is not a JSON object"])
                return self.refuse(400, body, recorded, at, "invalid")
            errors = validate(event)
            if errors:
                return self.refuse(400, dict(INVALID, errors=errors), recorded, at, "invalid")

            routing_key = event["routing_key"]
            window = self.windows.setdefault(routing_key, deque())
            while window and window[0] <= now - self.window_seconds:
                window.popleft()
            if len(window) >= self.rate_per_minute:
                return self.refuse(429, dict(THROTTLED), recorded, at, "rate")
            window.append(now)
            self.max_per_minute[routing_key] = max(self.max_per_minute.get(routing_key, 0), len(window))
            self.accepted += 1
            return 202, self.apply(event, now, at)

    def refuse(self, status: int, body: dict, recorded: Any, at: str, reason: str) -> tuple[int, dict]:
        self.refused.append({"status": status, "reason": reason, "body": recorded, "response": body, "at": at})
        return status, body

    def apply(self, event: dict, now: float, at: str) -> dict:
        routing_key = event["routing_key"]
        action = event["event_action"]
        dedup_key = event.get("dedup_key") or ""
        if action == "trigger" and not dedup_key:
            dedup_key = uuid.UUID(int=self.keys.getrandbits(128), version=4).hex
        entry = {"received_at": at, "event_action": action, "body": event}
        alert = self.open.get((routing_key, dedup_key))
        if action == "trigger":
            if alert is None:
                alert = {
                    "routing_key": routing_key,
                    "dedup_key": dedup_key,
                    "status": "triggered",
                    "opened_at": at,
                    "acknowledged_at": None,
                    "resolved_at": None,
                    "events": [],
                }
                self.alerts.append(alert)
                self.open[(routing_key, dedup_key)] = alert
            alert["events"].append(entry)
        elif alert is None:
            self.dropped.append({
                "at": at,
                "reason": self.drop_reason(routing_key, dedup_key),
                "routing_key": routing_key,
                "dedup_key": dedup_key,
                "event_action": action,
                "body": event,
            })
        else:
            alert["events"].append(entry)
            if action == "acknowledge":
                alert["status"] = "acknowledged"
                alert["acknowledged_at"] = alert["acknowledged_at"] or at
            else:
                alert["status"] = "resolved"
                alert["resolved_at"] = at
                del self.open[(routing_key, dedup_key)]
        return {"status": "success", "message": SUCCESS_MESSAGE, "dedup_key": dedup_key}

    def drop_reason(self, routing_key: str, dedup_key: str) -> str:
        if any(key == dedup_key for _, key in self.open):
            return "no open alert: the open alert with this dedup_key belongs to another routing_key"
        if any(a["routing_key"] == routing_key and a["dedup_key"] == dedup_key for a in self.alerts):
            return "no open alert: the alert with this dedup_key is resolved"
        return "no open alert: no alert was ever triggered with this dedup_key"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "pagerduty-receiver/1"

    @property
    def receiver(self) -> Receiver:
        return self.server.receiver  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        if getattr(self.server, "verbose", False):
            super().log_message(format, *args)

    def read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def answer(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def route(self, method: str) -> None:
        path = self.path.split("?", 1)[0].rstrip("/") or "/"
        raw = self.read_body()
        known = {
            "/v2/enqueue": ("POST",),
            "/_receiver/state": ("GET", "DELETE"),
            "/_receiver/faults": ("GET", "POST"),
        }
        if path not in known:
            self.answer(404, {"status": "not found", "message": f"no such resource: {path}"})
            return
        if method not in known[path]:
            self.answer(405, {"status": "method not allowed", "message": f"{method} {path}"})
            return
        if path == "/v2/enqueue":
            self.answer(*self.receiver.enqueue(raw))
        elif path == "/_receiver/state":
            if method == "DELETE":
                self.receiver.reset()
            self.answer(200, self.receiver.state())
        elif method == "GET":
            self.answer(200, self.receiver.faults())
        else:
            try:
                self.answer(200, self.receiver.set_faults(json.loads(raw.decode("utf-8") or "null")))
            except (ValueError, UnicodeDecodeError) as error:
                self.answer(400, {"error": str(error)})

    def do_GET(self) -> None:  # noqa: N802 - http.server's names
        self.route("GET")

    def do_POST(self) -> None:  # noqa: N802
        self.route("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self.route("DELETE")

    def do_PUT(self) -> None:  # noqa: N802
        self.route("PUT")

    def do_PATCH(self) -> None:  # noqa: N802
        self.route("PATCH")


def make_server(receiver: Receiver, port: int = 0, verbose: bool = False) -> ThreadingHTTPServer:
    """A server on 127.0.0.1:port (0: any free port); call serve_forever() to run it."""
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.receiver = receiver  # type: ignore[attr-defined]
    server.verbose = verbose  # type: ignore[attr-defined]
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A local PagerDuty Events API v2 contract receiver.")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--rate-per-minute", type=int, default=120,
                        help="events accepted per routing_key in any window (default 120)")
    parser.add_argument("--window-seconds", type=float, default=60.0,
                        help="the rate's sliding window in seconds (default 60, PagerDuty's)")
    parser.add_argument("--seed", type=int, default=None,
                        help="seed for fault draws and generated dedup keys (default: random)")
    parser.add_argument("--quiet", action="store_true", help="no request log on stderr")
    args = parser.parse_args(argv)
    if args.rate_per_minute < 1 or args.window_seconds <= 0:
        parser.error("--rate-per-minute must be at least 1 and --window-seconds positive")
    receiver = Receiver(args.rate_per_minute, args.seed, args.window_seconds)
    server = make_server(receiver, args.port, verbose=not args.quiet)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"pagerduty receiver listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
