"""Runs a `bootstrap` directly under a stand-in for the Lambda Runtime API, with no AWS API.

The emulator runs deployed functions itself (tools/emulator/); this runs one binary on
its own, as the Rust tests of `bootstrap` do, or to debug a package: --package ZIP or
--bootstrap FILE, the --env settings given and, with --function, the configuration of a
function deployed to the AWS API in AWS_ENDPOINT_URL. AWS_* variables are passed through.

Usage: python tools/local_lambda.py (--package ZIP | --bootstrap FILE) [--function NAME]
                                    [--handler ROLE] [--env KEY=VALUE ...] [EVENTS]
--handler is what the runtime reads as _HANDLER (default: the deployed function's, with
--function); the module's one binary runs the role it names: presence, notifier, counter.
EVENTS is a JSON Lines file of payloads (default: standard input). For each payload one
JSON line is printed: {"payload": ..., "response": ...} or {"payload": ..., "error": ...}.
The function's own log lines go to standard error. Exits non-zero if the runtime fails
to start or dies.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import zipfile

import boto3
from emulator.runtime_api import RuntimeApi, RuntimeFailed

def runtime_environment(config: dict, api: RuntimeApi, task_root: str, extra: dict) -> dict:
    logging_config = config.get("LoggingConfig") or {}
    env = {
        # What a Lambda sandbox gives a custom runtime.
        "AWS_LAMBDA_RUNTIME_API": api.address,
        "AWS_LAMBDA_FUNCTION_NAME": config["FunctionName"],
        "AWS_LAMBDA_FUNCTION_VERSION": config.get("Version", "$LATEST"),
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.get("MemorySize", 128)),
        "AWS_LAMBDA_LOG_GROUP_NAME": logging_config.get("LogGroup", ""),
        "AWS_LAMBDA_LOG_STREAM_NAME": "local",
        "LAMBDA_TASK_ROOT": task_root,
        "_HANDLER": config.get("Handler", ""),
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
    parser.add_argument("--handler", help="the function's handler setting, passed as _HANDLER")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE", help="extra environment")
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
    if args.handler is not None:
        config["Handler"] = args.handler
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

        api = RuntimeApi(config["FunctionArn"], float(config.get("Timeout", 3)))
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
                _, kind, body = api.invoke(json.dumps(payload).encode(), lambda: runtime.poll() is None)
                result = {"payload": payload, kind: body}
                print(json.dumps(result), flush=True)
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
