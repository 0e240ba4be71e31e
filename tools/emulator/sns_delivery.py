"""SNS messages to SQS subscribers, as SNS sends them (SNS Developer Guide: "Fanout to
Amazon SQS queues", "Amazon SNS raw message delivery", "Encryption at rest").

moto 5.2.5 reads a subscription's `RawMessageDelivery` as Python truth, so "false" (what
SetSubscriptionAttributes and Terraform send) delivers raw; it sends the envelope sorted
and indented its own way with an unsubscribe URL of another subscription, and it delivers
to any queue. Here a message reaches a subscribed queue:

- only when the queue policy lets `sns.amazonaws.com` `sqs:SendMessage` to the queue for
  the topic (`aws:SourceArn` is the topic's ARN, `aws:SourceAccount` its account; an
  explicit Deny wins), and, for a queue encrypted with a KMS key, when SNS may use the key:
  never the AWS managed `alias/aws/sqs`, a customer managed key when it is enabled and its
  key policy allows `sns.amazonaws.com` `kms:GenerateDataKey` and `kms:Decrypt`
  (SQS-managed encryption needs nothing);
- with raw message delivery ("true"), as the message itself, its attributes as message
  attributes;
- otherwise as SNS's JSON envelope: `Type`, `MessageId`, `TopicArn`, `Subject` (when given),
  `Message`, `Timestamp`, `SignatureVersion`, `Signature`, `SigningCertURL`,
  `UnsubscribeURL` (of this subscription) and `MessageAttributes` (when given), indented as
  SNS writes it.

Filter policies are moto's. A refused delivery is dropped (SNS retries a denied queue and
then drops it, or sends it to the subscription's dead-letter queue, neither emulated) and
logged. Other protocols stay moto's.
"""

from __future__ import annotations

import json
import logging

from moto.sns.models import Subscription

from . import delivery, event_targets

log = logging.getLogger("emulator.sns")

SNS = "sns.amazonaws.com"
_ORDER = (
    "Type", "MessageId", "TopicArn", "Subject", "Message", "Timestamp", "SignatureVersion",
    "Signature", "SigningCertURL", "UnsubscribeURL", "MessageAttributes",
)


def is_raw(subscription: Subscription) -> bool:
    return str(subscription.attributes.get("RawMessageDelivery", "false")).lower() == "true"


def refusal(subscription: Subscription, queue) -> str | None:
    """Why SNS may not send to `queue` for the subscription's topic (None: it may)."""
    topic_arn = subscription.topic.arn
    context = {"aws:SourceArn": topic_arn, "aws:SourceAccount": subscription.topic.account_id}
    if not event_targets.resource_policy_allows(queue._policy_json, SNS, "sqs:SendMessage", queue.queue_arn, context):
        return f"no statement of the queue policy of {queue.queue_arn} lets {SNS} sqs:SendMessage to it for {topic_arn}"
    key = getattr(queue, "kms_master_key_id", None)
    if key:
        why = event_targets.key_refusal(key, queue.account_id, queue.region, SNS, context, "alias/aws/sqs")
        if why:
            return f"queue {queue.queue_arn}: {why}"
    return None


def envelope(subscription: Subscription, message: str, message_id: str, subject, message_attributes) -> str:
    data = subscription.get_post_data(message, message_id, subject, message_attributes=message_attributes)
    region = subscription.topic.sns_backend.region_name
    data["UnsubscribeURL"] = f"https://sns.{region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={subscription.arn}"
    ordered = {key: data[key] for key in _ORDER if key in data}
    return json.dumps(ordered, indent=2, separators=(",", " : "), ensure_ascii=False)


def patch() -> None:
    original = Subscription.publish

    def publish(self: Subscription, message: str, message_id: str, subject=None, message_attributes=None,
                group_id=None, deduplication_id=None, message_structure=None) -> None:
        if self.protocol != "sqs":
            return original(self, message, message_id, subject=subject, message_attributes=message_attributes,
                            group_id=group_id, deduplication_id=deduplication_id, message_structure=message_structure)
        if self._filter_policy_matcher is not None and not self._filter_policy_matcher.matches(message_attributes, message):
            return None
        if message_structure == "json":
            message = self._parse_message_structure(message, self.protocol)
        queue = delivery.queue_of(self.endpoint)
        if queue is None:
            log.error("%s: queue %s does not exist; the message is dropped", self.arn, self.endpoint)
            return None
        why = refusal(self, queue)
        if why:
            log.error("%s: the message is dropped: %s", self.arn, why)
            return None
        backend = delivery.sqs_backends[queue.account_id][queue.region]
        fifo = {"group_id": group_id, "deduplication_id": deduplication_id} if queue.fifo_queue else {}
        if is_raw(self):
            attributes = {}
            for key, value in (message_attributes or {}).items():
                kind = "BinaryValue" if value["Type"].startswith("Binary") else "StringValue"
                attributes[key] = {"DataType": value["Type"], kind: str(value["Value"]) if kind == "StringValue" else value["Value"]}
            backend.send_message(queue.name, message, message_attributes=attributes, **fifo)
        else:
            backend.send_message(queue.name, envelope(self, message, message_id, subject, message_attributes), **fifo)
        return None

    Subscription.publish = publish
