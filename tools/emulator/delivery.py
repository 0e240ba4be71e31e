"""Sending to SQS on a role's behalf, as Lambda destinations and IoT rule actions do.

AWS sends with the role's permissions: Lambda with the function's execution role, IoT
with the action's `roleArn`. So the role needs sqs:SendMessage on the queue and, for a
queue encrypted with a customer managed KMS key, kms:GenerateDataKey and kms:Decrypt on
that key; neither service can send to a FIFO queue without a message group, so a FIFO
queue is a failure too. A failure is returned as a message, never raised.
"""

from __future__ import annotations

import logging

from moto.sqs.models import sqs_backends

from . import iam

log = logging.getLogger("emulator.delivery")


def queue_of(target: str):
    """The moto queue for an SQS ARN or URL, or None."""
    if target.startswith("arn:"):
        _, _, _, region, account, name = target.split(":", 5)
    else:  # https://sqs.REGION.amazonaws.com/ACCOUNT/NAME or http://HOST:PORT/ACCOUNT/NAME
        parts = target.rstrip("/").split("/")
        account, name = parts[-2], parts[-1]
        region = None
        host = parts[2]
        if host.startswith("sqs.") and host.count(".") >= 3:
            region = host.split(".")[1]
        if region is None:
            for candidate in sqs_backends[account]:
                if name in sqs_backends[account][candidate].queues:
                    region = candidate
                    break
    if region is None:
        return None
    try:
        return sqs_backends[account][region].get_queue(name)
    except Exception:
        return None


def _kms_key_arn(queue) -> str | None:
    key = getattr(queue, "kms_master_key_id", None)
    if not key or key == "alias/aws/sqs":
        return None
    if key.startswith("arn:"):
        return key
    return f"arn:aws:kms:{queue.region}:{queue.account_id}:key/{key}"


def send(target: str, body: str, role_arn: str) -> str | None:
    """Sends `body` to the queue as `role_arn` would; None on success, else why not."""
    queue = queue_of(target)
    if queue is None:
        return f"queue {target} does not exist"
    if queue.fifo_queue:
        return f"queue {queue.queue_arn} is a FIFO queue, which this sender does not support"
    if not iam.role_allows(role_arn, ["sqs:SendMessage"], queue.queue_arn):
        return f"{role_arn} is not authorized to perform sqs:SendMessage on {queue.queue_arn}"
    key = _kms_key_arn(queue)
    if key and not iam.role_allows(role_arn, ["kms:GenerateDataKey", "kms:Decrypt"], key):
        return f"{role_arn} is not authorized to use KMS key {key} of {queue.queue_arn}"
    sqs_backends[queue.account_id][queue.region].send_message(queue.name, body)
    return None
