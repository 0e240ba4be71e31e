"""The emulator process: moto's server on loopback, patched, plus control routes.

`GET /_emulator/drain?timeout=SECONDS` waits until no published message, asynchronous
invocation or stream batch is still in flight (retries included) and answers
{"idle": true|false, "pending": N}: tests and the demo wait on it, not on sleeps.
`/_emulator/chaos/{faults,effects,seed,log}` set and read fault injection (faults.py).
`/_emulator/calls` counts the API requests by service and operation (calls.py).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from http import HTTPStatus
from urllib.parse import parse_qs

from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

from . import calls, faults, patches
from .work import tracker


class _ControlRoutes:
    def __init__(self, app) -> None:
        self.app = app

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/_emulator/drain":
            query = parse_qs(environ.get("QUERY_STRING", ""))
            timeout = float(query.get("timeout", ["60"])[0])
            idle = tracker.wait_idle(timeout)
            return _json(start_response, 200, {"idle": idle, "pending": tracker.pending})
        if path.startswith(faults.CONTROL_PREFIX):
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            status, answer = faults.control(environ["REQUEST_METHOD"], path, body)
            return _json(start_response, status, answer)
        if path == calls.CONTROL_PATH:
            status, answer = calls.control(environ["REQUEST_METHOD"])
            return _json(start_response, status, answer)
        return self.app(environ, start_response)


def _json(start_response, status: int, document) -> list[bytes]:
    body = json.dumps(document).encode()
    reason = HTTPStatus(status).phrase
    start_response(f"{status} {reason}", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


class EmulatorServer(ThreadedMotoServer):
    def _server_entry(self) -> None:
        app = _ControlRoutes(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(self._ip_address, self._port, app, True, request_handler=MotoRequestHandler)
        self._server_ready_event.set()
        self._server.serve_forever()


def main(argv: list[str] | None = None, description: str = "") -> None:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument(
        "--exit-with-parent",
        action="store_true",
        help="stop when the process that started this one exits (for test harnesses)",
    )
    args = parser.parse_args(argv)

    # The address goes to stdout (callers read its first line); what happens, to stderr.
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(name)s: %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    server = EmulatorServer(ip_address=args.host, port=args.port, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    runner = patches.apply_all(endpoint)
    print(f"emulator listening on {endpoint}", flush=True)

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    parent = os.getppid()
    while not stop.wait(0.5):
        if args.exit_with_parent and os.getppid() != parent:
            break
    runner.close()
    server.stop()
