"""Prints the connectivity announcements that reached a queue (an EventBridge rule's target),
one line each, and deletes them. On the emulator it first waits until it has drained.

Usage: python tools/announcements.py QUEUE_URL
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request

import boto3


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    queue_url = sys.argv[1]
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        with urllib.request.urlopen(f"{endpoint}/_emulator/drain?timeout=120") as response:
            json.loads(response.read())
    sqs = boto3.client("sqs")
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return 0
        for message in messages:
            event = json.loads(message["Body"])
            detail = event.get("detail", {})
            extra = ""
            if detail.get("offlineDurationMs") is not None:
                extra = f" after {detail['offlineDurationMs'] / 1000:.0f} s offline"
            elif detail.get("reason"):
                extra = f" ({detail['reason']})"
            elif detail.get("status") == "Disconnected" and detail.get("disconnect"):
                extra = f" ({detail['disconnect'].get('disconnectReason', 'no reason')})"
            print(f"{event.get('detail-type'):20} {detail.get('clientId')}{extra}  sequence {detail.get('sequence')}")
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


if __name__ == "__main__":
    sys.exit(main())
