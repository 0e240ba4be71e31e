"""Runs Lambda functions without Docker: a custom runtime's `bootstrap` as a local process.

Each execution environment is one process with its own Runtime API server, started with
what Lambda gives a sandbox: the function's environment variables, the execution role's
credentials (AssumeRole, so IAM is enforced on what the code does), AWS_ENDPOINT_URL
pointing back at the emulator, and the function's timeout, memory and logging settings.
An environment stays warm after an invocation and is reused by the next one; concurrent
invocations get environments of their own. A configuration or code change retires the
warm ones, as a new Lambda version would. Only `provided.*` runtimes run here.

A fault rule (faults.py) can make an invocation fail as the function itself would, the
handler never seeing the event: an error (the environment stays warm), a timeout (the
call waits out the function's timeout, then the environment ends) or a crash (the
process is killed as the invocation starts: Runtime.ExitError, and the environment ends).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass

from . import faults, iam
from .lambda_logs import FunctionLog
from .runtime_api import RuntimeApi, RuntimeFailed

log = logging.getLogger("emulator.lambda")


@dataclass
class Result:
    request_id: str
    payload: bytes
    function_error: str | None  # "Unhandled" when the invocation failed
    duration_ms: float


class NotRunnable(Exception):
    """The function cannot run here (runtime not emulated, no code)."""


# ELF e_machine values of the two Lambda architectures.
_ELF_MACHINES = {62: "x86_64", 183: "arm64"}


def elf_architecture(path: str) -> str | None:
    """The Lambda architecture an ELF executable is built for (None: not ELF, or another)."""
    with open(path, "rb") as file:
        header = file.read(20)
    if len(header) < 20 or header[:4] != b"\x7fELF":
        return None
    byteorder = "little" if header[5] == 1 else "big"
    return _ELF_MACHINES.get(int.from_bytes(header[18:20], byteorder))


def _fingerprint(function) -> str:
    config = {
        "code": function.code_sha_256,
        "env": function.environment_vars,
        "timeout": function.timeout,
        "memory": function.memory_size,
        "role": function.role,
        "logging": getattr(function, "emulator_logging_config", {}),
        "handler": function.handler,
    }
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()


class Sandbox:
    """One execution environment: a warm bootstrap process and its Runtime API."""

    def __init__(self, function, code_dir: str, endpoint_url: str) -> None:
        self.function_name = function.function_name
        self.fingerprint = _fingerprint(function)
        self.timeout_s = float(function.timeout)
        self.memory_mb = int(function.memory_size)
        self.api = RuntimeApi(function.function_arn, self.timeout_s)
        threading.Thread(target=self.api.serve_forever, daemon=True).start()
        stream = f"{time.strftime('%Y/%m/%d')}/[$LATEST]{uuid.uuid4().hex}"
        self.log = FunctionLog(function, stream)
        self.request_id: str | None = None
        credentials = iam.assume_execution_role(function.role, function.region, function.function_name)
        env = {
            "AWS_LAMBDA_RUNTIME_API": self.api.address,
            "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": self.log.group,
            "AWS_LAMBDA_LOG_STREAM_NAME": stream,
            "AWS_REGION": function.region,
            "AWS_DEFAULT_REGION": function.region,
            "AWS_ACCESS_KEY_ID": credentials.access_key_id,
            "AWS_SECRET_ACCESS_KEY": credentials.secret_access_key,
            "AWS_SESSION_TOKEN": credentials.session_token,
            "AWS_ENDPOINT_URL": endpoint_url,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.run_time}",
            "LAMBDA_TASK_ROOT": code_dir,
            "_HANDLER": function.handler or "",
            "TZ": ":UTC",
            "PATH": "/usr/local/bin:/usr/bin:/bin",
        }
        if self.log.json:
            env["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
            env["AWS_LAMBDA_LOG_LEVEL"] = self.log.app_level
        env.update(function.environment_vars or {})
        started = time.monotonic()
        self.process = subprocess.Popen(
            [os.path.join(code_dir, "bootstrap")],
            cwd=code_dir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.init_ms = (time.monotonic() - started) * 1000
        threading.Thread(target=self._forward_output, daemon=True).start()

    def _forward_output(self) -> None:
        for raw in iter(self.process.stdout.readline, b""):
            line = raw.decode(errors="replace").rstrip("\n")
            if line:
                self.log.application(line, self.request_id)

    def alive(self) -> bool:
        return self.process.poll() is None

    def invoke(self, payload: bytes, fault: str | None = None) -> Result:
        """Runs one invocation; `fault` is an injected failure: error, timeout or crash."""
        request_id = str(uuid.uuid4())
        self.request_id = request_id
        self.log.platform("start", "INFO", {"requestId": request_id, "version": "$LATEST"})
        started = time.monotonic()
        try:
            if fault == "error":
                kind, body = "error", faults.INJECTED_FUNCTION_ERROR
            else:
                if fault == "crash":
                    self.process.kill()
                    self.process.wait()
                _, kind, body = self.api.invoke(payload, self.alive, request_id, deliver=fault is None)
            error = "Unhandled" if kind == "error" else None
            data = json.dumps(body).encode() if body is not None else b"null"
        except RuntimeFailed as failure:
            self.close()  # Lambda resets an environment after a crash or a timeout
            error = "Unhandled"
            data = json.dumps({"errorType": failure.error_type, "errorMessage": str(failure)}).encode()
        duration = (time.monotonic() - started) * 1000
        self.log.platform(
            "report",
            "INFO",
            {
                "requestId": request_id,
                "status": "error" if error else "success",
                "metrics": {"durationMs": round(duration, 2), "memorySizeMB": self.memory_mb},
            },
        )
        return Result(request_id, data, error, duration)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self.api.shutdown()
        self.api.server_close()


class LambdaRunner:
    def __init__(self, endpoint_url: str) -> None:
        self.endpoint_url = endpoint_url
        self._root = tempfile.mkdtemp(prefix="emulator-lambda-")
        self._idle: dict[str, list[Sandbox]] = {}
        self._architectures: dict[str, str | None] = {}  # by code digest
        self._lock = threading.Lock()
        self.environments_started = 0

    def _code_dir(self, function) -> str:
        code_dir = os.path.join(self._root, function.code_sha_256.replace("/", "_"))
        with self._lock:
            if not os.path.isdir(code_dir):
                staging = tempfile.mkdtemp(dir=self._root)
                with zipfile.ZipFile(io.BytesIO(function.code_bytes)) as package:
                    package.extractall(staging)
                bootstrap = os.path.join(staging, "bootstrap")
                if not os.path.isfile(bootstrap):
                    shutil.rmtree(staging)
                    raise NotRunnable("the deployment package has no `bootstrap` at its root")
                os.chmod(bootstrap, 0o755)
                os.rename(staging, code_dir)
        return code_dir

    def _acquire(self, function) -> Sandbox:
        runtime = function.run_time or ""
        if not runtime.startswith("provided"):
            raise NotRunnable(f"runtime {runtime!r} is not emulated (only provided.al2023 and provided.al2)")
        if not getattr(function, "code_bytes", b""):
            raise NotRunnable("the function has no deployment package the emulator can read")
        fingerprint = _fingerprint(function)
        retired: list[Sandbox] = []
        sandbox = None
        with self._lock:
            idle = self._idle.setdefault(function.function_arn, [])
            while idle:
                candidate = idle.pop()
                if candidate.fingerprint == fingerprint and candidate.alive():
                    sandbox = candidate
                    break
                retired.append(candidate)
        for old in retired:
            old.close()
        if sandbox is None:
            sandbox = Sandbox(function, self._code_dir(function), self.endpoint_url)
            self.environments_started += 1
        return sandbox

    def invoke(self, function, payload: bytes, source: str) -> Result:
        """Invokes `function`; `source` (faults.SOURCES) says who asks, for fault rules."""
        if not iam.trust_allows(function.role, "lambda.amazonaws.com"):
            message = f"The role defined for the function cannot be assumed by Lambda: {function.role}"
            error = {"errorType": "AccessDeniedException", "errorMessage": message}
            return Result(str(uuid.uuid4()), json.dumps(error).encode(), "Unhandled", 0.0)
        if function.code_sha_256 not in self._architectures:
            bootstrap = os.path.join(self._code_dir(function), "bootstrap")
            self._architectures[function.code_sha_256] = elf_architecture(bootstrap)
        built_for = self._architectures[function.code_sha_256]
        wanted = (function.architectures or ["x86_64"])[0]
        if built_for is not None and built_for != wanted:
            # What Lambda answers when the runtime cannot exec its bootstrap.
            message = f"bootstrap is built for {built_for}, the function runs on {wanted}: exec format error"
            error = {"errorType": "Runtime.InvalidEntrypoint", "errorMessage": message}
            return Result(str(uuid.uuid4()), json.dumps(error).encode(), "Unhandled", 0.0)
        sandbox = self._acquire(function)
        result = sandbox.invoke(payload, faults.chaos.invocation_fault(function, source))
        if sandbox.alive():
            with self._lock:
                self._idle.setdefault(function.function_arn, []).append(sandbox)
        return result

    def close(self) -> None:
        with self._lock:
            sandboxes = [s for idle in self._idle.values() for s in idle]
            self._idle.clear()
        for sandbox in sandboxes:
            sandbox.close()
        shutil.rmtree(self._root, ignore_errors=True)
