"""Prints the newest ConnectedDevices value CloudWatch holds for a deployment, beside the
number of Connected items in its table, once the next publication after this call has
landed.

Usage: python tools/connected_devices.py DEPLOYMENT TABLE_NAME [--namespace NS] [--wait SECONDS]

--wait is how long a publication may take (the schedule's period: 60 s on AWS, 3 s on the
emulator as the scripts start it).
"""

from __future__ import annotations

import argparse
import time
from datetime import datetime, timedelta, timezone

import boto3


def connected_items(table: str) -> int:
    client, count, kwargs = boto3.client("dynamodb"), 0, {"ConsistentRead": True}
    while True:
        page = client.scan(TableName=table, FilterExpression="#s = :c", Select="COUNT",
                           ExpressionAttributeNames={"#s": "Status"},
                           ExpressionAttributeValues={":c": {"S": "Connected"}}, **kwargs)
        count += page["Count"]
        if "LastEvaluatedKey" not in page:
            return count
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def newest_value(namespace: str, deployment: str, since: datetime) -> float | None:
    now = datetime.now(timezone.utc)
    points = boto3.client("cloudwatch").get_metric_statistics(
        Namespace=namespace, MetricName="ConnectedDevices",
        Dimensions=[{"Name": "Deployment", "Value": deployment}],
        StartTime=since, EndTime=now + timedelta(seconds=1), Period=1, Statistics=["Maximum"],
    )["Datapoints"]
    return max(points, key=lambda p: p["Timestamp"])["Maximum"] if points else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("deployment")
    parser.add_argument("table")
    parser.add_argument("--namespace", default="IoTDeviceConnectivity")
    parser.add_argument("--wait", type=float, default=4.0)
    args = parser.parse_args()
    since = datetime.now(timezone.utc)
    deadline = time.monotonic() + args.wait * 3
    value = None
    while value is None and time.monotonic() < deadline:
        time.sleep(0.5)
        value = newest_value(args.namespace, args.deployment, since)
    shown = "none published yet" if value is None else f"{value:g}"
    print(f"ConnectedDevices: {shown} (Connected items in {args.table}: {connected_items(args.table)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
