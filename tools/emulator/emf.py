"""CloudWatch's extraction of Embedded Metric Format documents from log events.

A log event that is a JSON object with `_aws.CloudWatchMetrics` becomes metric data:
for each directive, each of its metrics under each of its dimension sets, with the
dimension values and the metric value read from the document's top level
("Specification: Embedded metric format"). As CloudWatch does, a document that breaks
the specification publishes nothing (here it is also logged, to make the mistake visible).
Only log lines Lambda delivered are read: a line its level filter dropped yields nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from moto.cloudwatch.models import cloudwatch_backends

log = logging.getLogger("emulator.emf")


class InvalidDocument(ValueError):
    pass


def metric_data(document: dict) -> list[dict]:
    """The metric data of one EMF document, each with its namespace; raises InvalidDocument."""
    meta = document.get("_aws")
    if not isinstance(meta, dict) or not isinstance(meta.get("Timestamp"), int):
        raise InvalidDocument("_aws.Timestamp must be an integer (epoch milliseconds)")
    # Naive UTC, as moto keeps the timestamps of PutMetricData.
    timestamp = datetime.fromtimestamp(meta["Timestamp"] / 1000, tz=timezone.utc).replace(tzinfo=None)
    published = []
    for directive in meta.get("CloudWatchMetrics") or []:
        namespace = directive.get("Namespace")
        if not namespace or namespace.startswith("AWS/"):
            raise InvalidDocument(f"invalid Namespace {namespace!r}")
        for dimension_set in directive.get("Dimensions", []):
            missing = [name for name in dimension_set if not isinstance(document.get(name), str)]
            if missing:
                raise InvalidDocument(f"dimensions {missing} have no string value in the document")
            dimensions = [{"Name": name, "Value": document[name]} for name in dimension_set]
            for metric in directive.get("Metrics", []):
                value = document.get(metric.get("Name"))
                if not isinstance(value, (int, float)) or isinstance(value, bool):
                    raise InvalidDocument(f"metric {metric.get('Name')!r} has no numeric value")
                published.append(
                    {
                        "namespace": namespace,
                        "datum": {
                            "MetricName": metric["Name"],
                            "Value": float(value),
                            "Unit": metric.get("Unit", "None"),
                            "Dimensions": dimensions,
                            "Timestamp": timestamp,
                        },
                    }
                )
    return published


def extract(record: object, account: str, region: str) -> None:
    """Publishes the metrics of a delivered log record, if it is an EMF document."""
    if not isinstance(record, dict) or "_aws" not in record:
        return
    try:
        published = metric_data(record)
    except InvalidDocument as err:
        log.warning("EMF document ignored, as CloudWatch would: %s", err)
        return
    backend = cloudwatch_backends[account][region]
    for entry in published:
        backend.put_metric_data(entry["namespace"], [entry["datum"]])
