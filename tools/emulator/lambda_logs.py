"""Lambda's log delivery: what reaches CloudWatch Logs from a function's output.

With the JSON log format, Lambda filters application lines by `ApplicationLogLevel` and
its own platform lines (start, report) by `SystemLogLevel`. Per the Lambda guide
("Log-level filtering"): a line whose `level` is missing or invalid is INFO, and so is
a line without a valid RFC 3339 `timestamp`, whatever its level says. Plain-text lines
become INFO records. Delivery needs logs:CreateLogStream and logs:PutLogEvents in the
execution role; without them Lambda drops the logs silently, and so does this.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone

from moto.logs.models import logs_backends
from moto.utilities.utils import get_partition

from . import emf, iam

log = logging.getLogger("emulator.lambda")

APPLICATION_LEVELS = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"]
SYSTEM_LEVELS = ["DEBUG", "INFO", "WARN"]


def _rfc3339(text: object) -> bool:
    if not isinstance(text, str):
        return False
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return "T" in text


def application_level(line: str) -> str:
    """The level Lambda files an application log line under."""
    try:
        record = json.loads(line)
    except ValueError:
        return "INFO"
    if not isinstance(record, dict) or not _rfc3339(record.get("timestamp")):
        return "INFO"
    level = str(record.get("level", "")).upper()
    level = {"WARNING": "WARN", "CRITICAL": "FATAL"}.get(level, level)
    return level if level in APPLICATION_LEVELS else "INFO"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class FunctionLog:
    """One execution environment's log stream."""

    def __init__(self, function, stream_name: str) -> None:
        config = function.emulator_logging_config
        self.function_name = function.function_name
        self.group = config.get("LogGroup") or function.logs_group_name
        self.stream = stream_name
        self.json = config.get("LogFormat") == "JSON"
        self.app_level = config.get("ApplicationLogLevel", "INFO")
        self.system_level = config.get("SystemLogLevel", "INFO")
        self.account = function.account_id
        self.region = function.region
        self.allowed = iam.role_allows(
            function.role,
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            f"arn:{get_partition(self.region)}:logs:{self.region}:{self.account}:log-group:{self.group}:log-stream:{self.stream}",
        )
        if not self.allowed:
            log.warning(
                "%s: the execution role may not write log group %s: its logs are dropped",
                self.function_name,
                self.group,
            )
        self._created = False

    def application(self, line: str, request_id: str | None) -> None:
        log.info("%s | %s", self.function_name, line)
        if not self.json:
            return self._put(line)
        level = application_level(line)
        if APPLICATION_LEVELS.index(level) < APPLICATION_LEVELS.index(self.app_level):
            return
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if not isinstance(record, dict):
            record = {"timestamp": _now(), "level": "INFO", "message": line, "requestId": request_id}
        if self._put(json.dumps(record)):
            emf.extract(record, self.account, self.region)

    def platform(self, kind: str, level: str, record: dict) -> None:
        if self.json:
            if SYSTEM_LEVELS.index(level) < SYSTEM_LEVELS.index(self.system_level):
                return
            self._put(json.dumps({"time": _now(), "type": f"platform.{kind}", "record": record}))
        else:
            self._put(f"{kind.upper()} {json.dumps(record)}")

    def _put(self, message: str) -> bool:
        """Whether the line reached the log group."""
        if not self.allowed:
            return False
        backend = logs_backends[self.account][self.region]
        try:
            if not self._created:
                backend.ensure_log_group(self.group)
                if self.stream not in backend.groups[self.group].streams:
                    backend.create_log_stream(self.group, self.stream)
                self._created = True
            backend.put_log_events(
                self.group,
                self.stream,
                [{"timestamp": int(datetime.now(timezone.utc).timestamp() * 1000), "message": message}],
            )
            return True
        except Exception as err:  # a log failure must never fail the invocation
            log.warning("%s: cannot write log line: %s", self.function_name, err)
            return False
