"""Lambda's Invoke API on the emulator's runner: RequestResponse, Event and DryRun.

moto would run code in Docker; here every path that invokes a function (the Invoke API,
the IoT rules engine, moto's event source mappings) reaches `LambdaFunction.invoke`,
which this module routes to the local runner (synchronous) or the asynchronous queue.
"""

from __future__ import annotations

import json

from moto.awslambda.models import LambdaFunction

from .async_invoke import AsyncInvoker
from .lambda_runner import LambdaRunner, NotRunnable


def patch(runner: LambdaRunner, invoker: AsyncInvoker) -> None:
    def invoke(self: LambdaFunction, body, request_headers, response_headers) -> bytes:
        payload = body if isinstance(body, bytes) else (body or "{}").encode()
        headers = {key.lower(): value for key, value in (request_headers or {}).items()}
        invocation_type = headers.get("x-amz-invocation-type", "RequestResponse")
        if invocation_type == "DryRun":
            return b""
        if invocation_type == "Event":
            response_headers["x-amzn-RequestId"] = invoker.submit(self, payload, "invoke")
            return b""
        try:
            result = runner.invoke(self, payload, "invoke")
        except NotRunnable as why:
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorType": "Emulator.NotRunnable", "errorMessage": str(why)}).encode()
        response_headers["x-amz-executed-version"] = "$LATEST"
        if result.function_error:
            response_headers["x-amz-function-error"] = result.function_error
        return result.payload

    LambdaFunction.invoke = invoke
