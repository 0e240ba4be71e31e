"""Runs a function's real `bootstrap` locally, under a stand-in for the Lambda Runtime API.

With --function, it takes the configuration the function has in the AWS API it was
deployed to (environment, log settings, timeout). The emulator cannot run Lambda code (that
needs Docker), so this is how the demo and the end-to-end tests invoke the handler the
module built: same binary, same configuration, same AWS endpoint (AWS_ENDPOINT_URL and the
other AWS_* variables are passed through). Without --function it runs any bootstrap with
the --env settings given, as the Rust tests of the binary do.

Usage: python tools/local_lambda.py (--package ZIP | --bootstrap FILE) [--function NAME]
                                    [--env KEY=VALUE ...] [--summary] [EVENTS]
EVENTS is a JSON Lines file of payloads (default: standard input). For each payload one
JSON line is printed: {"payload": ..., "response": ...} or {"payload": ..., "error": ...},
or with --summary one line for people: event type, client, version and the answer.
The function's own log lines go to standard error. Exits non-zero if the runtime fails
to start or dies.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3

API = "/2018-06-01/runtime"


class RuntimeApi(ThreadingHTTPServer):
    """The subset of the Runtime API a custom runtime uses: next, response, error."""

    daemon_threads = True

    def __init__(self, function_arn: str, timeout_s: int) -> None:
        super().__init__(("127.0.0.1", 0), RuntimeApiHandler)
        self.function_arn = function_arn
        self.timeout_s = timeout_s
        self.pending: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.results: queue.Queue[tuple[str, str, object]] = queue.Queue()

    def invoke(self, payload: object, runtime: subprocess.Popen) -> dict:
        request_id = str(uuid.uuid4())
        self.pending.put((request_id, json.dumps(payload).encode()))
        deadline = time.monotonic() + self.timeout_s + 5
        while time.monotonic() < deadline:
            try:
                answered_id, kind, body = self.results.get(timeout=0.1)
            except queue.Empty:
                if runtime.poll() is not None:
                    raise RuntimeFailed(f"bootstrap exited with status {runtime.returncode}")
                continue
            if answered_id == "init":
                raise RuntimeFailed(f"bootstrap failed to initialise: {body}")
            return {"payload": payload, kind: body}
        raise RuntimeFailed(f"no answer within the function's {self.timeout_s} s timeout")


class RuntimeFailed(Exception):
    pass


class RuntimeApiHandler(BaseHTTPRequestHandler):
    server: RuntimeApi

    def log_message(self, *_args) -> None:  # quiet: one line per request is noise here
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
            self.server.results.put(("init", "error", json.loads(body or b"{}")))
            return self._reply(202)
        if len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
            decoded = json.loads(body) if body else None
            self.server.results.put((parts[1], parts[2], decoded))
            return self._reply(202)
        self._reply(404)


def runtime_environment(config: dict, api: RuntimeApi, task_root: str, extra: dict) -> dict:
    logging_config = config.get("LoggingConfig") or {}
    env = {
        # What a Lambda sandbox gives a custom runtime.
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{api.server_address[1]}",
        "AWS_LAMBDA_FUNCTION_NAME": config["FunctionName"],
        "AWS_LAMBDA_FUNCTION_VERSION": config.get("Version", "$LATEST"),
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.get("MemorySize", 128)),
        "AWS_LAMBDA_LOG_GROUP_NAME": logging_config.get("LogGroup", ""),
        "AWS_LAMBDA_LOG_STREAM_NAME": "local",
        "LAMBDA_TASK_ROOT": task_root,
        "_HANDLER": config.get("Handler", "bootstrap"),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    }
    if logging_config.get("LogFormat") == "JSON":
        env["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
        env["AWS_LAMBDA_LOG_LEVEL"] = logging_config.get("ApplicationLogLevel", "INFO")
    # The caller's AWS settings: endpoint, region, credentials.
    env.update({k: v for k, v in os.environ.items() if k.startswith("AWS_") and k not in env})
    env.update((config.get("Environment") or {}).get("Variables") or {})
    env.update(extra)
    return env


def summary(result: dict) -> str:
    payload = result["payload"] if isinstance(result["payload"], dict) else {}
    answer = result.get("response", result.get("error"))
    return "{:14} {:16} v{:<4} -> {}".format(
        str(payload.get("eventType")),
        str(payload.get("clientId")),
        str(payload.get("versionNumber", "-")),
        json.dumps(answer),
    )


def forward(stream, sink) -> None:
    for line in iter(stream.readline, b""):
        sink.write(line.decode(errors="replace"))
        sink.flush()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    code = parser.add_mutually_exclusive_group(required=True)
    code.add_argument("--package", help="the function's deployment zip")
    code.add_argument("--bootstrap", help="a bootstrap executable")
    parser.add_argument("--function", help="take the configuration of this deployed function")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE", help="extra environment")
    parser.add_argument("--summary", action="store_true", help="print a line for people per event")
    parser.add_argument("events", nargs="?", help="JSON Lines of payloads (default: stdin)")
    args = parser.parse_args()

    if args.function:
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        lambda_api = boto3.client("lambda", region_name=region)
        config = lambda_api.get_function_configuration(FunctionName=args.function)
        if not config.get("Runtime", "").startswith("provided"):
            print(f"local_lambda: {args.function} is not a custom runtime function", file=sys.stderr)
            return 2
    else:
        config = {
            "FunctionName": "local",
            "FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:local",
            "Timeout": 30,
            "LoggingConfig": {"LogFormat": "JSON"},
        }
    extra_env = dict(setting.split("=", 1) for setting in args.env)

    lines = open(args.events) if args.events else sys.stdin
    payloads = [json.loads(line) for line in lines if line.strip()]

    with tempfile.TemporaryDirectory() as task_root:
        if args.package:
            with zipfile.ZipFile(args.package) as package:
                package.extractall(task_root)
            bootstrap = os.path.join(task_root, "bootstrap")
            os.chmod(bootstrap, 0o755)
        else:
            bootstrap = os.path.abspath(args.bootstrap)

        api = RuntimeApi(config["FunctionArn"], int(config.get("Timeout", 3)))
        threading.Thread(target=api.serve_forever, daemon=True).start()
        runtime = subprocess.Popen(
            [bootstrap],
            cwd=task_root,
            env=runtime_environment(config, api, task_root, extra_env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        threading.Thread(target=forward, args=(runtime.stdout, sys.stderr), daemon=True).start()
        try:
            for payload in payloads:
                result = api.invoke(payload, runtime)
                print(summary(result) if args.summary else json.dumps(result), flush=True)
        except RuntimeFailed as failure:
            print(f"local_lambda: {failure}", file=sys.stderr)
            return 1
        finally:
            runtime.terminate()
            runtime.wait(timeout=5)
            api.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
