"""Re-drives the dead-letter queue through the deployed function, deleting only what it applied.

A message is either the record Lambda's on-failure destination sends (the event is its
`requestPayload`) or the message of the rule's error action (the event is its
`base64OriginalPayload`). Each event is invoked synchronously on the function, so it
takes exactly the handler's code path with the function's own role; the message is
deleted only once the invocation succeeded. Messages that fail again stay in the queue
(hidden for --visibility-timeout seconds) and are counted.

Works against the emulator and AWS alike (standard AWS configuration).
Usage: python tools/redrive.py --queue-url URL --function NAME
Prints {"redriven": n, "failed": m}; exits 1 if anything failed.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys

import boto3


def event_of(body: str) -> dict:
    message = json.loads(body)
    if "requestPayload" in message:
        return message["requestPayload"]
    if "base64OriginalPayload" in message:
        return json.loads(base64.b64decode(message["base64OriginalPayload"]))
    raise ValueError("neither a Lambda destination record nor an IoT error action message")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queue-url", required=True)
    parser.add_argument("--function", required=True, help="name or ARN of the connectivity function")
    parser.add_argument("--visibility-timeout", type=int, default=60)
    args = parser.parse_args()
    sqs, lambda_ = boto3.client("sqs"), boto3.client("lambda")
    redriven = failed = 0
    while True:
        batch = sqs.receive_message(
            QueueUrl=args.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=args.visibility_timeout
        ).get("Messages", [])
        if not batch:
            break
        for message in batch:
            try:
                event = event_of(message["Body"])
            except ValueError as why:
                print(f"redrive: message {message['MessageId']} kept: {why}", file=sys.stderr)
                failed += 1
                continue
            response = lambda_.invoke(FunctionName=args.function, Payload=json.dumps(event).encode())
            if response.get("FunctionError"):
                answer = response["Payload"].read().decode()
                print(f"redrive: message {message['MessageId']} kept: {answer}", file=sys.stderr)
                failed += 1
                continue
            sqs.delete_message(QueueUrl=args.queue_url, ReceiptHandle=message["ReceiptHandle"])
            redriven += 1
    print(json.dumps({"redriven": redriven, "failed": failed}))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
