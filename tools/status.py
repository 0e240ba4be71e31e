"""Prints the connectivity table: one line per client, as an application would read it.

Usage: python tools/status.py TABLE_NAME
"""

from __future__ import annotations

import os
import sys
from datetime import datetime, timezone

import boto3


def stamp(item: dict, attribute: str) -> str:
    if attribute not in item:
        return "-"
    moment = datetime.fromtimestamp(int(item[attribute]) / 1000, tz=timezone.utc)
    return moment.strftime("%H:%M:%S.%f")[:-3]


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    table = boto3.resource("dynamodb", region_name=region).Table(sys.argv[1])
    items, kwargs = [], {"ConsistentRead": True}
    while True:
        page = table.scan(**kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    rows = [("CLIENT", "STATUS", "CONNECT v@time", "DISCONNECT v@time", "REASON", "LAST CONNECT FAILURE")]
    for item in sorted(items, key=lambda i: i["ClientID"]):
        connect = f"v{item['ConnectVersionNum']}@{stamp(item, 'ConnectTime')}" if "ConnectTime" in item else "-"
        disconnect = (
            f"v{item['DisconnectVersionNum']}@{stamp(item, 'DisconnectTime')}" if "DisconnectTime" in item else "-"
        )
        failure = (
            f"{item.get('ConnectFailureReason', '?')}@{stamp(item, 'ConnectFailedTime')}"
            if "ConnectFailedTime" in item
            else "-"
        )
        rows.append(
            (item["ClientID"], item.get("Status", "-"), connect, disconnect, item.get("DisconnectReason", "-"), failure)
        )
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
