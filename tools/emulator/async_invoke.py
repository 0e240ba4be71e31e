"""Lambda's asynchronous invocation: the event queue, retries, event age and destinations.

As the Lambda guide ("Asynchronous invocation", "Configuring destinations") describes:
an event whose invocation fails is retried up to `MaximumRetryAttempts` times (default 2)
unless it is older than `MaximumEventAgeInSeconds` (default 6 hours); then it goes to the
on-failure destination with the record Lambda sends (requestContext, requestPayload,
responseContext, responsePayload). Lambda waits about one and then two minutes between
attempts; here the waits are EMULATOR_ASYNC_RETRY_DELAYS seconds ("1,2" by default) so
tests finish. A success goes to the on-success destination, if any. Destinations are
sent with the execution role's permissions; only SQS destinations are emulated.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

from moto.awslambda.models import lambda_backends

from . import delivery
from .lambda_runner import LambdaRunner, NotRunnable
from .work import tracker

log = logging.getLogger("emulator.lambda")

DEFAULT_RETRIES = 2
DEFAULT_MAX_AGE_S = 21600


def _retry_delays() -> list[float]:
    text = os.environ.get("EMULATOR_ASYNC_RETRY_DELAYS", "1,2")
    return [float(part) for part in text.split(",") if part.strip()]


class AsyncInvoker:
    def __init__(self, runner: LambdaRunner, concurrency: int = 16) -> None:
        self.runner = runner
        self.retry_delays = _retry_delays()
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="async-invoke")

    def submit(self, function, payload: bytes, source: str, on_done=None) -> str:
        """Queues the event from `source` (faults.SOURCES); returns the request ID the
        Invoke response carries. `on_done()` runs once the event is finished with
        (succeeded, failed for good, or dropped)."""
        event = {
            "request_id": str(uuid.uuid4()),
            "account": function.account_id,
            "region": function.region,
            "arn": function.function_arn,
            "payload": payload,
            "source": source,
            "queued_at": time.time(),
            "attempts": 0,
            "on_done": on_done,
        }
        tracker.begin()
        self._pool.submit(self._attempt, event)
        return event["request_id"]

    def _attempt(self, event: dict) -> None:
        try:
            self._run(event)
        except Exception:  # never lose track of an event
            log.exception("asynchronous invocation %s failed in the emulator", event["request_id"])
            _done(event)

    def _run(self, event: dict) -> None:
        try:
            function = lambda_backends[event["account"]][event["region"]].get_function(event["arn"])
        except Exception:
            log.warning("function %s is gone; event %s dropped", event["arn"], event["request_id"])
            _done(event)
            return
        config = _invoke_config(function)
        max_age = config.get("MaximumEventAgeInSeconds", DEFAULT_MAX_AGE_S)
        if time.time() - event["queued_at"] > max_age:
            return self._finish(function, event, None, "EventAgeExceeded")
        event["attempts"] += 1
        try:
            result = self.runner.invoke(function, event["payload"], event["source"])
        except NotRunnable as why:
            log.error("%s cannot run here: %s", function.function_name, why)
            result = None
        if result is not None and result.function_error is None:
            return self._finish(function, event, result, None)
        retries = config.get("MaximumRetryAttempts", DEFAULT_RETRIES)
        if event["attempts"] <= retries:
            delay = self.retry_delays[min(event["attempts"] - 1, len(self.retry_delays) - 1)]
            timer = threading.Timer(delay, lambda: self._pool.submit(self._attempt, event))
            timer.daemon = True
            timer.start()
            return
        self._finish(function, event, result, "RetriesExhausted")

    def _finish(self, function, event: dict, result, condition: str | None) -> None:
        try:
            config = _invoke_config(function)
            kind = "OnSuccess" if condition is None else "OnFailure"
            destination = (config.get("DestinationConfig") or {}).get(kind, {}).get("Destination")
            if condition is not None:
                log.warning(
                    "%s: event %s failed (%s) after %d attempt(s)",
                    function.function_name,
                    event["request_id"],
                    condition,
                    event["attempts"],
                )
            if destination:
                self._deliver(function, event, result, condition, destination)
        finally:
            _done(event)

    def _deliver(self, function, event: dict, result, condition: str | None, destination: str) -> None:
        record = {
            "version": "1.0",
            "timestamp": datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "requestContext": {
                "requestId": event["request_id"],
                "functionArn": f"{function.function_arn}:$LATEST",
                "condition": condition or "Success",
                "approximateInvokeCount": event["attempts"],
            },
            "requestPayload": _json(event["payload"]),
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST"},
            "responsePayload": _json(result.payload) if result is not None else None,
        }
        if result is not None and result.function_error:
            record["responseContext"]["functionError"] = result.function_error
        if ":sqs:" not in destination:
            log.error("%s: destination %s is not emulated (only SQS)", function.function_name, destination)
            return
        failure = delivery.send(destination, json.dumps(record), function.role)
        if failure:
            # Lambda only counts these in the DestinationDeliveryFailures metric.
            log.error("%s: DestinationDeliveryFailures: %s", function.function_name, failure)


def _done(event: dict) -> None:
    try:
        if event["on_done"] is not None:
            event["on_done"]()
    finally:
        tracker.end()


def _invoke_config(function) -> dict:
    configs = getattr(function, "event_invoke_config", None) or []
    return configs[0].config if configs else {}


def _json(data: bytes):
    try:
        return json.loads(data)
    except (ValueError, TypeError):
        return data.decode(errors="replace") if isinstance(data, bytes) else data
