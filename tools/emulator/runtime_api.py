"""A stand-in for the Lambda Runtime API, serving one runtime process.

The subset a custom runtime uses: `invocation/next`, `invocation/<id>/response`,
`invocation/<id>/error` and `init/error`. One server per process, as each Lambda
execution environment has its own, so concurrent invocations never share a process.
"""

from __future__ import annotations

import json
import logging
import queue
import sys
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

API = "/2018-06-01/runtime"

log = logging.getLogger("emulator.runtime")


class RuntimeFailed(Exception):
    """The runtime process failed to initialise, exited, or did not answer in time."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


class RuntimeApi(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, function_arn: str, timeout_s: float) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.function_arn = function_arn
        self.timeout_s = timeout_s
        self.pending: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.results: queue.Queue[tuple[str, str, object]] = queue.Queue()

    def handle_error(self, request, client_address) -> None:
        """A runtime ended while talking to us (killed by a crash fault or at shutdown): not
        an error of ours. Anything else, one log line, not socketserver's traceback on
        stderr, which a function's log stream would carry."""
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            return
        log.warning("runtime API request from %s failed: %r", client_address, error)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"

    def invoke(self, payload: bytes, is_alive, request_id: str | None = None, deliver: bool = True) -> tuple[str, str, object]:
        """Hands `payload` to the runtime; returns (request id, "response" | "error", body).

        `is_alive()` says whether the runtime process still runs. With `deliver` false the
        runtime never gets the event (an injected fault): the call ends when the process
        exits, or at the timeout."""
        request_id = request_id or str(uuid.uuid4())
        if deliver:
            self.pending.put((request_id, payload))
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            try:
                answered_id, kind, body = self.results.get(timeout=0.05)
            except queue.Empty:
                if not is_alive():
                    raise RuntimeFailed(
                        "Runtime.ExitError",
                        f"RequestId: {request_id} Error: Runtime exited before completing the request",
                    )
                continue
            if answered_id == "init":
                raise RuntimeFailed("Runtime.InitError", json.dumps(body))
            return request_id, kind, body
        raise RuntimeFailed(
            "Sandbox.Timedout",
            f"RequestId: {request_id} Error: Task timed out after {self.timeout_s:.2f} seconds",
        )


class _Handler(BaseHTTPRequestHandler):
    server: RuntimeApi

    def log_message(self, *_args) -> None:  # one line per request is noise here
        pass

    def _reply(self, status: int, body: bytes = b"{}", headers: dict | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        if self.path != f"{API}/invocation/next":
            return self._reply(404)
        request_id, payload = self.server.pending.get()
        deadline_ms = int((time.time() + self.server.timeout_s) * 1000)
        self._reply(
            200,
            payload,
            {
                "Lambda-Runtime-Aws-Request-Id": request_id,
                "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
                "Lambda-Runtime-Invoked-Function-Arn": self.server.function_arn,
                "Lambda-Runtime-Trace-Id": f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}",
            },
        )

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        parts = self.path[len(API) :].strip("/").split("/")
        if parts == ["init", "error"]:
            result = ("init", "error", _json_or_text(body))
        elif len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
            result = (parts[1], parts[2], _json_or_text(body) if body else None)
        else:
            return self._reply(404)
        # Answered before the invoker sees the result: it may end the runtime at once.
        try:
            self._reply(202)
        finally:
            self.server.results.put(result)


def _json_or_text(body: bytes) -> object:
    try:
        return json.loads(body)
    except ValueError:
        return body.decode(errors="replace")
