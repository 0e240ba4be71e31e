"""Publishes lifecycle events as AWS IoT Core does, then waits until they have landed.

Each JSON line on standard input (or in EVENTS) is published with `iot-data` Publish to
`$aws/events/presence/<eventType>/<clientId>` (`$aws/events/subscriptions/...` for
subscription events), where topic rules pick it up. Only the emulator accepts this: AWS
refuses client publishes to `$aws/events`. Then it waits for the emulator to drain
(rules, asynchronous invocations and their retries) and, with --log-group, prints what
the function logged about each event since the first publish.

Usage: python tools/publish.py [--log-group NAME] [EVENTS]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.request

import boto3

SUBSCRIPTION_EVENTS = {"subscribed", "unsubscribed"}


def topic_of(event: dict) -> str:
    kind = str(event.get("eventType", "unknown"))
    family = "subscriptions" if kind in SUBSCRIPTION_EVENTS else "presence"
    return f"$aws/events/{family}/{kind}/{event.get('clientId', 'unknown')}"


def drain(endpoint: str, timeout_s: float = 120) -> None:
    with urllib.request.urlopen(f"{endpoint}/_emulator/drain?timeout={timeout_s}") as response:
        state = json.loads(response.read())
    if not state["idle"]:
        raise SystemExit(f"publish: the emulator still had {state['pending']} item(s) in flight")


def outcomes(log_group: str, since_ms: int) -> list[str]:
    logs = boto3.client("logs")
    lines, kwargs = [], {"logGroupName": log_group, "startTime": since_ms}
    while True:
        page = logs.filter_log_events(**kwargs)
        for event in page["events"]:
            record = json.loads(event["message"])
            if "outcome" not in record:
                continue
            why = record.get("reason") or record.get("error")
            if "eventType" not in record:  # not parsed: show what arrived
                lines.append(f"{record.get('payload')} -> {record['outcome']} ({why})")
                continue
            lines.append(
                "{:14} {:18} v{:<3} -> {}".format(
                    str(record["eventType"]),
                    str(record.get("clientId")),
                    str(record.get("versionNumber", "-")),
                    record["outcome"] + (f" ({why})" if why else ""),
                )
            )
        if "nextToken" not in page:
            return lines
        kwargs["nextToken"] = page["nextToken"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log-group", help="print the function's outcome for each event from this log group")
    parser.add_argument("events", nargs="?", help="JSON Lines of lifecycle events (default: stdin)")
    args = parser.parse_args()
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if not endpoint:
        print("publish: AWS_ENDPOINT_URL must point at the emulator", file=sys.stderr)
        return 2

    lines = open(args.events) if args.events else sys.stdin
    iot_data = boto3.client("iot-data")
    since_ms = int(time.time() * 1000)
    for line in lines:
        if line.strip():
            event = json.loads(line)
            iot_data.publish(topic=topic_of(event), qos=1, payload=line.strip().encode())
    drain(endpoint)
    if args.log_group:
        for line in outcomes(args.log_group, since_ms):
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
