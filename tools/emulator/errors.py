"""AWS errors in the protocol of the request, for answers the emulator gives before moto
handles a request (fault rules in faults.py, name limits in name_limits.py).

JSON protocols (DynamoDB, EventBridge, SQS JSON, CloudWatch Logs) and REST-JSON ones
(Lambda, IoT, Scheduler) answer `{"__type": CODE, "message": ...}` with the
`x-amzn-ErrorType` header, plus `x-amzn-query-error` for SQS; query protocols (SQS query,
STS, IAM, CloudWatch) the `<ErrorResponse><Error>...` XML. SDKs read the code and status
from either.
"""

from __future__ import annotations

import json
import uuid
from xml.sax.saxutils import escape

from moto.core.responses import BaseResponse, get_service_model


def answer(response: BaseResponse, service: str, status_code: int, code: str, message: str) -> tuple[int, dict, str]:
    """(status, headers, body) of the error `code` as `service` answers the request."""
    model = get_service_model(service)
    try:
        protocol = response.determine_response_protocol(model)
    except NotImplementedError:  # a protocol moto does not read either (CBOR)
        protocol = model.protocol
    headers = {"x-amzn-RequestId": str(uuid.uuid4())}
    fault = "Sender" if status_code < 500 else "Receiver"
    if protocol in ("query", "ec2", "rest-xml"):
        headers["Content-Type"] = "text/xml"
        body = (
            f"<ErrorResponse><Error><Type>{fault}</Type><Code>{escape(code)}</Code>"
            f"<Message>{escape(message)}</Message></Error><RequestId>{headers['x-amzn-RequestId']}</RequestId></ErrorResponse>"
        )
        return status_code, headers, body
    if protocol == "rest-json":
        headers["Content-Type"] = "application/json"
    else:
        headers["Content-Type"] = f"application/x-amz-json-{model.metadata.get('jsonVersion', '1.0')}"
    headers["x-amzn-ErrorType"] = code
    if "awsQueryCompatible" in model.metadata:
        # SQS: SDKs take the error code from this header when the service sends it.
        headers["x-amzn-query-error"] = f"{code};{fault}"
    return status_code, headers, json.dumps({"__type": code, "message": message})
