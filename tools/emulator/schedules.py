"""EventBridge rules with Lambda targets: schedules, and event patterns, as EventBridge runs
them (EventBridge guide: "Creating a rule that runs on a schedule", "Using
resource-based policies for Amazon EventBridge").

moto stores scheduled rules and never runs them; worse, it sends every PutEvents event
to them too (a schedule has no event pattern, which moto reads as "match all") and fails
the PutEvents with a 500 on their Lambda targets. Here a thread fires each enabled
scheduled rule once per period, the first time one period after it was first seen, and
a scheduled rule matches no put event. A Lambda target (of a schedule, or of a pattern
rule matching a put event) is invoked asynchronously with the event (or the target's
constant `Input`), and only when the function's resource policy lets
`events.amazonaws.com` invoke it for the rule's ARN; otherwise the invocation fails, as
EventBridge's FailedInvocations would count it. Other targets stay moto's.

`EMULATOR_SCHEDULE_TIME_SCALE` (default 1) multiplies every period, so that a test can
see `rate(1 minute)` fire every few seconds. Scaled, a firing is skipped while a target
still runs as many invocations of the schedule as the unscaled period allows (the
function's timeout over the period, at least one): the scale shortens the wait between
firings, not the invocations, and without this a one-minute pass of a `rate(1 minute)`
schedule at scale 0.05 would run twenty at once, where AWS runs one or two. A target's
`Input`, `InputPath` or `InputTransformer` is applied as input_transformer.py does. Cron
expressions, target retry policies and dead-letter queues are not emulated.
"""

from __future__ import annotations

import logging
import math
import os
import re
import threading
import time
import uuid
from datetime import datetime, timezone

import copy

from moto.awslambda.models import lambda_backends
from moto.events.models import Rule, events_backends

from . import iam, input_transformer

log = logging.getLogger("emulator.schedules")

_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def period_seconds(expression: str) -> float | None:
    """The period of a `rate(...)` expression in seconds; None for anything else."""
    match = _RATE.match(expression or "")
    if not match:
        return None
    value, unit = int(match.group(1)), match.group(2).rstrip("s")
    return value * _UNIT_SECONDS[unit]


def scheduled_event(rule) -> dict:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": rule.account_id,
        "time": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": rule.region_name,
        "resources": [rule.arn],
        "detail": {},
    }


class Scheduler:
    def __init__(self, invoker, interval_s: float = 0.25) -> None:
        self.invoker = invoker
        self.interval_s = interval_s
        self.scale = float(os.environ.get("EMULATOR_SCHEDULE_TIME_SCALE", "1"))
        self._due: dict[str, float] = {}
        self._running: dict[tuple[str, str], int] = {}
        self._running_lock = threading.Lock()
        self._unsupported: set[str] = set()
        self._stop = threading.Event()
        threading.Thread(target=self._loop, name="schedules", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _rules(self):
        for _account, regions in list(events_backends.items()):
            for _region, backend in list(regions.items()):
                for bus in list(backend.event_buses.values()):
                    for rule in list(bus.rules.values()):
                        if rule.scheduled_expression:
                            yield rule

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.tick(time.monotonic())
            except Exception:
                log.exception("schedules failed in the emulator")

    def tick(self, now: float) -> None:
        seen = set()
        for rule in self._rules():
            seen.add(rule.arn)
            period = period_seconds(rule.scheduled_expression)
            if period is None:
                if rule.arn not in self._unsupported:
                    log.warning("%s: %s is not emulated (only rate expressions run)", rule.arn, rule.scheduled_expression)
                    self._unsupported.add(rule.arn)
                continue
            period *= self.scale
            due = self._due.setdefault(rule.arn, now + period)
            if now < due:
                continue
            self._due[rule.arn] = now + period
            if rule.state == "ENABLED":
                self.fire(rule)
        for arn in set(self._due) - seen:
            del self._due[arn]

    def fire(self, rule) -> None:
        event = scheduled_event(rule)
        for target in list(rule.targets):
            if ":lambda:" in target.get("Arn", ""):
                self.deliver(rule, target, event)
            else:
                log.warning("%s: target %s of a schedule is not emulated (only Lambda targets run)", rule.arn, target.get("Arn"))

    def deliver(self, rule, target: dict, event: dict) -> None:
        """One event to one Lambda target of `rule`, with its input as input_transformer.py builds it."""
        try:
            payload = input_transformer.payload(target, event, rule.arn, rule.name)
        except input_transformer.TransformError as error:
            log.error("%s: FailedInvocations: target %s: %s", rule.arn, target.get("Id"), error)
            return
        why = self._invoke(rule, target, payload.encode())
        if why:
            log.error("%s: FailedInvocations: %s", rule.arn, why)

    def _invoke(self, rule, target: dict, payload: bytes) -> str | None:
        function_arn = target["Arn"]
        region, account = function_arn.split(":")[3], function_arn.split(":")[4]
        try:
            function = lambda_backends[account][region].get_function(function_arn)
        except Exception:
            return f"function {function_arn} does not exist"
        if not iam.lambda_permission_allows(function, "events.amazonaws.com", rule.arn, rule.account_id):
            return f"no resource policy statement of {function_arn} lets events.amazonaws.com invoke it for {rule.arn}"
        on_done = None
        period = period_seconds(rule.scheduled_expression) if rule.scheduled_expression else None
        if period is not None and self.scale != 1:
            key = (rule.arn, target.get("Id", function_arn))
            allowed = max(1, math.ceil(float(getattr(function, "timeout", 3) or 3) / period))
            with self._running_lock:
                if self._running.get(key, 0) >= allowed:
                    log.debug("%s: firing skipped, %d invocation(s) of target %s still run", rule.arn, allowed, key[1])
                    return None
                self._running[key] = self._running.get(key, 0) + 1

            def on_done() -> None:
                with self._running_lock:
                    self._running[key] -= 1

        self.invoker.submit(function, payload, "events", on_done=on_done)
        return None


def patch(scheduler: Scheduler) -> None:
    """Put events reach pattern rules only; their Lambda targets run as above."""
    original = Rule.send_to_targets

    def send_to_targets(self: Rule, event: dict, transform_input: bool = True) -> None:
        if self.scheduled_expression or not self.event_pattern.matches_event(event):
            return
        others = [target for target in self.targets if ":lambda:" not in target.get("Arn", "")]
        for target in self.targets:
            if ":lambda:" in target.get("Arn", ""):
                scheduler.deliver(self, target, event)
        if others:
            rule = copy.copy(self)
            rule.targets = others
            original(rule, event, transform_input)

    Rule.send_to_targets = send_to_targets
