"""Where a put event reaches a pattern rule's SQS and SNS targets, as EventBridge delivers
(EventBridge User Guide: "Using resource-based policies for Amazon EventBridge", "Amazon
EventBridge targets"; the knowledge-center article "Why isn't my Amazon SNS topic receiving
EventBridge notifications?").

moto 5.2.5 sends a queue its own rendering of the event (see input_transformer.py) and
answers PutEvents with a 500 (NotImplementedError) when a matched rule has an SNS target,
so one SNS target stopped every other target of that put. Here each target gets its input
as input_transformer.py builds it, and:

- an SQS queue gets it as the message body (a FIFO queue needs `SqsParameters.MessageGroupId`
  and content-based deduplication, as moto had it); the queue's policy is not evaluated;
- an SNS topic gets it as the message of a Publish by `events.amazonaws.com`, only when
  the topic policy lets that service `sns:Publish` to the topic for this rule (conditions
  on `aws:SourceArn` and `aws:SourceAccount` are evaluated; an explicit Deny wins). A topic
  encrypted with a KMS key also needs a key EventBridge may use: the AWS managed key
  `alias/aws/sns` never is (its key policy cannot name `events.amazonaws.com`), a customer
  managed key is when it is enabled and its key policy allows `events.amazonaws.com`
  `kms:GenerateDataKey` and `kms:Decrypt`. The topic's subscribers then get the message as
  SNS sends it (sns_delivery.py). A FIFO topic is not emulated.

A delivery that fails (no such queue or topic, a refused input, a denied permission) is
what EventBridge counts as FailedInvocations: the event is dropped for that target, the
others still get it, PutEvents succeeds, and the reason is logged and kept in `failures`.
Lambda targets are schedules.py's; other targets (log groups, buses, API destinations,
archives) stay moto's.
"""

from __future__ import annotations

import collections
import copy
import json
import logging
import threading

from moto.events.models import Rule
from moto.kms.models import kms_backends
from moto.sns.models import sns_backends
from moto.sqs.models import sqs_backends

from . import iam, input_transformer

log = logging.getLogger("emulator.events")

EVENTS = "events.amazonaws.com"
# The last failed deliveries, newest last: {"rule", "target", "reason"}.
failures: collections.deque = collections.deque(maxlen=1000)
_failures_lock = threading.Lock()


def _fail(rule, target: dict, reason: str) -> None:
    log.error("%s: FailedInvocations: target %s (%s): %s", rule.arn, target.get("Id"), target.get("Arn"), reason)
    with _failures_lock:
        failures.append({"rule": rule.arn, "target": target.get("Arn"), "reason": reason})


def principal_matches(principal, service: str) -> bool:
    """A policy statement's Principal names `service` (or everyone)."""
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    if "*" in iam._as_list(principal.get("AWS")):
        return True
    return service in iam._as_list(principal.get("Service"))


def resource_policy_allows(document: dict | None, service: str, action: str, resource: str, context: dict) -> bool:
    """A resource policy lets `service` do `action` on `resource` in `context`: an
    explicit Deny that applies wins, then any Allow that applies."""
    allowed = False
    for statement in iam._as_list((document or {}).get("Statement")):
        if not principal_matches(statement.get("Principal"), service):
            continue
        if "Action" in statement:
            if not iam._matches(statement["Action"], action, case_sensitive=False):
                continue
        elif iam._matches(statement.get("NotAction"), action, case_sensitive=False):
            continue
        if "Resource" in statement and not iam._matches(statement["Resource"], resource):
            continue
        if not iam.conditions_hold(statement.get("Condition"), context):
            continue
        if statement.get("Effect") == "Deny":
            return False
        allowed = allowed or statement.get("Effect") == "Allow"
    return allowed


def key_refusal(key_id: str, account: str, region: str, service: str, context: dict, managed_alias: str) -> str | None:
    """Why `service` may not use a resource's KMS key for it (None: it may)."""
    if key_id in (managed_alias, f"arn:aws:kms:{region}:{account}:{managed_alias}"):
        return f"it is encrypted with the AWS managed key {managed_alias}, whose key policy cannot let {service} use it"
    backend = kms_backends[account][region]
    try:
        key = backend.describe_key(key_id)
    except Exception:
        return f"its KMS key {key_id} does not exist"
    if key.key_state != "Enabled":
        return f"its KMS key {key.arn} is {key.key_state}"
    try:
        policy = json.loads(key.policy)
    except (TypeError, ValueError):
        return f"its KMS key {key.arn} has no readable key policy"
    for action in ("kms:GenerateDataKey", "kms:Decrypt"):
        if not resource_policy_allows(policy, service, action, key.arn, context):
            return f"the key policy of {key.arn} does not allow {service} {action}"
    return None


def _to_queue(rule, target: dict, body: str, event_id: str) -> str | None:
    arn = target["Arn"]
    _, _, _, region, account, name = arn.split(":", 5)
    backend = sqs_backends[account][region]
    try:
        queue = backend.get_queue(name)
    except Exception:
        return f"queue {arn} does not exist"
    group_id = (target.get("SqsParameters") or {}).get("MessageGroupId")
    if queue.fifo_queue:
        if not group_id:
            return f"queue {arn} is a FIFO queue and the target has no SqsParameters.MessageGroupId"
        if not queue.content_based_deduplication:
            return f"queue {arn} is a FIFO queue without content-based deduplication"
    backend.send_message(name, body, group_id=group_id if queue.fifo_queue else None)
    return None


def _to_topic(rule, target: dict, message: str) -> str | None:
    arn = target["Arn"]
    _, _, _, region, account, _ = arn.split(":", 5)
    backend = sns_backends[account][region]
    topic = backend.topics.get(arn)
    if topic is None:
        return f"topic {arn} does not exist"
    if topic.fifo_topic:
        return f"topic {arn} is a FIFO topic, which is not emulated as an EventBridge target"
    context = {"aws:SourceArn": rule.arn, "aws:SourceAccount": rule.account_id}
    if not resource_policy_allows(topic._policy_json, EVENTS, "sns:Publish", arn, context):
        return f"no statement of the topic policy of {arn} lets {EVENTS} sns:Publish to it for {rule.arn}"
    if topic.kms_master_key_id:
        why = key_refusal(topic.kms_master_key_id, account, region, EVENTS, context, "alias/aws/sns")
        if why:
            return f"topic {arn}: {why}"
    try:
        backend.publish(message, arn=arn)
    except Exception as error:  # e.g. a message over SNS's 256 KiB
        return f"Publish to {arn} failed: {error}"
    return None


def deliver(rule, target: dict, event: dict, transform_input: bool = True) -> None:
    """One matched event to one SQS or SNS target of `rule`."""
    try:
        if transform_input:
            body = input_transformer.payload(target, event, rule.arn, rule.name)
        else:
            body = json.dumps(input_transformer.event_document(event), separators=(",", ":"))
    except input_transformer.TransformError as error:
        _fail(rule, target, str(error))
        return
    service = target["Arn"].split(":")[2]
    why = _to_queue(rule, target, body, event.get("id")) if service == "sqs" else _to_topic(rule, target, body)
    if why:
        _fail(rule, target, why)


def _handled(target: dict) -> bool:
    return target.get("Arn", "").split(":")[2:3] in (["sqs"], ["sns"])


def patch() -> None:
    """A matched event reaches SQS and SNS targets as above; other targets stay moto's."""
    original = Rule.send_to_targets

    def send_to_targets(self: Rule, event: dict, transform_input: bool = True) -> None:
        if not self.event_pattern.matches_event(event):
            return
        others = []
        for target in self.targets:
            if _handled(target):
                deliver(self, target, event, transform_input)
            else:
                others.append(target)
        if others:
            rule = copy.copy(self)
            rule.targets = others
            original(rule, event, transform_input)

    Rule.send_to_targets = send_to_targets
