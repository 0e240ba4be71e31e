"""Patches to moto 5.2.5 (pinned in requirements.txt), and the order they are applied in.

Eleven gaps of moto itself, each with a test in tools/test_emulator.py (the seventh in
tools/test_names.py, the eighth in tools/test_thing_registry.py, the last three in
tools/test_event_targets.py):

1. IoT tagging. ListTagsForResource / TagResource / UntagResource are not implemented,
   and the AWS provider retries the resulting error forever on aws_iot_topic_rule.
   The patch keeps topic rule tags (also those sent with CreateTopicRule in the
   x-amz-tagging header) in a moto TaggingService per backend.
2. Lambda LoggingConfig. moto drops it, so every plan would show a change to
   logging_config. The patch stores it and returns it, with AWS's defaults filled in.
3. Atomic conditional writes. The server is threaded and moto checks a condition and
   writes in separate steps, so two concurrent UpdateItem calls could both pass. DynamoDB
   guarantees a conditional write is atomic; the patch serialises moto's DynamoDB writes
   to give the same guarantee, which the handler's concurrency tests depend on.
4. SQS RedrivePolicy as SQS returns it: compact JSON. moto adds spaces, and the AWS
   provider then plans an update of `redrive_policy` on every plan.
5. A Query on a table's own partition key reads that partition. moto sorts every item of
   the table for each Query, so reading one device's history from a table of millions
   took seconds; DynamoDB reads only the partition. The answer is the same.
6. ListTagsOfResource answers a table's tags in pages of 10, "to make testing easier";
   DynamoDB answers them at once, and the AWS provider reads one page, so a table with
   more than 10 tags planned a change on every plan. The patch answers all of them (a
   table has at most 50).
7. Name limits. moto creates functions, roles, policies, rules, schedules, topic rules
   and alarms under names AWS refuses as too long (or with characters it refuses), so a
   name that fails on AWS passed here. name_limits.py refuses them as AWS does.
8. The thing registry. ListThingGroupsForThing did not page, DeleteThing left the thing
   in its groups and UpdateThing kept version 1; thing_registry.py answers as AWS IoT.
9. Target input. moto ignored Input and InputPath, rendered InputTransformer templates
   wrongly (a PutEvents 500 for `{"id": <id>}`) and accepted any PutTargets;
   input_transformer.py builds and validates a target's input as EventBridge does.
10. SNS targets. A rule with an SNS target failed PutEvents with a 500; event_targets.py
   publishes to the topic when its policy (and its KMS key) lets EventBridge.
11. SNS to SQS. moto delivered raw when RawMessageDelivery was "false" and to any queue;
   sns_delivery.py sends as SNS does, when the queue policy lets SNS.

`apply_all` adds what runs the deployed pipeline: IAM enforcement for execution roles
(iam.py), the Lambda runner and asynchronous invocation (lambda_api.py), the IoT rules
engine (iot_rules.py), event source mappings (event_sources.py), EventBridge
schedules (schedules.py), fault injection (faults.py) and the request counts (calls.py).
"""

from __future__ import annotations

import json
import threading
from urllib.parse import parse_qsl

from moto.awslambda.models import LambdaFunction
from moto.core.responses import ActionResult, EmptyResult
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler
from moto.iot.models import IoTBackend
from moto.iot.responses import IoTResponse
from moto.sqs.models import Queue
from moto.utilities.tagging_service import TaggingService

from . import event_targets, input_transformer, name_limits, sns_delivery, thing_registry


def _iot_tagger(backend: IoTBackend) -> TaggingService:
    if not hasattr(backend, "_emulator_tagger"):
        backend._emulator_tagger = TaggingService(tag_name="tags")
    return backend._emulator_tagger


def _rule_arn(response: IoTResponse, rule_name: str) -> str:
    return f"arn:aws:iot:{response.region}:{response.current_account}:rule/{rule_name}"


def patch_iot_tagging() -> None:
    def list_tags_for_resource(self: IoTResponse) -> ActionResult:
        tagger = _iot_tagger(self.iot_backend)
        return ActionResult(tagger.list_tags_for_resource(self._get_param("resourceArn")))

    def tag_resource(self: IoTResponse) -> ActionResult:
        tagger = _iot_tagger(self.iot_backend)
        tagger.tag_resource(self._get_param("resourceArn"), self._get_param("tags"))
        return EmptyResult()

    def untag_resource(self: IoTResponse) -> ActionResult:
        tagger = _iot_tagger(self.iot_backend)
        tagger.untag_resource_using_names(
            self._get_param("resourceArn"), self._get_param("tagKeys")
        )
        return EmptyResult()

    original_create = IoTResponse.create_topic_rule
    original_delete = IoTResponse.delete_topic_rule

    def create_topic_rule(self: IoTResponse) -> ActionResult:
        result = original_create(self)
        tagging = self.headers.get("x-amz-tagging")
        if tagging:
            tags = [{"Key": k, "Value": v} for k, v in parse_qsl(tagging, keep_blank_values=True)]
            arn = _rule_arn(self, self._get_param("ruleName"))
            _iot_tagger(self.iot_backend).tag_resource(arn, tags)
        return result

    def delete_topic_rule(self: IoTResponse) -> ActionResult:
        result = original_delete(self)
        arn = _rule_arn(self, self._get_param("ruleName"))
        _iot_tagger(self.iot_backend).delete_all_tags_for_resource(arn)
        return result

    IoTResponse.list_tags_for_resource = list_tags_for_resource
    IoTResponse.tag_resource = tag_resource
    IoTResponse.untag_resource = untag_resource
    IoTResponse.create_topic_rule = create_topic_rule
    IoTResponse.delete_topic_rule = delete_topic_rule


def _logging_config(function: LambdaFunction, requested: dict | None) -> dict:
    # What Lambda answers: the log group defaults to /aws/lambda/<name>, the format to
    # Text, and the levels appear only with the JSON format.
    config = {"LogFormat": "Text", "LogGroup": function.logs_group_name}
    config.update(requested or {})
    if config["LogFormat"] == "JSON":
        config.setdefault("ApplicationLogLevel", "INFO")
        config.setdefault("SystemLogLevel", "INFO")
    return config


def patch_lambda_logging_config() -> None:
    original_init = LambdaFunction.__init__
    original_get = LambdaFunction.get_configuration
    original_update = LambdaFunction.update_configuration

    def __init__(self: LambdaFunction, account_id, spec, region, version=1):  # noqa: N807
        original_init(self, account_id, spec, region, version)
        self.emulator_logging_config = _logging_config(self, spec.get("LoggingConfig"))

    def get_configuration(self: LambdaFunction, on_create: bool = False) -> dict:
        config = original_get(self, on_create)
        config["LoggingConfig"] = self.emulator_logging_config
        return config

    def update_configuration(self: LambdaFunction, config_updates: dict) -> dict:
        if "LoggingConfig" in config_updates:
            self.emulator_logging_config = _logging_config(self, config_updates["LoggingConfig"])
        return original_update(self, config_updates)

    LambdaFunction.__init__ = __init__
    LambdaFunction.get_configuration = get_configuration
    LambdaFunction.update_configuration = update_configuration


# Held by every DynamoDB write, and by index queries (see patch_dynamodb_partition_query).
_dynamodb_writes = threading.RLock()


def patch_dynamodb_atomic_writes() -> None:
    def serialised(original):
        def write(*args, **kwargs):
            with _dynamodb_writes:
                return original(*args, **kwargs)

        return write

    for name in ("put_item", "update_item", "delete_item", "transact_write_items"):
        setattr(DynamoDBBackend, name, serialised(getattr(DynamoDBBackend, name)))


_partition_read = threading.local()


def patch_dynamodb_partition_query() -> None:
    original_query = Table.query
    original_all_items = Table.all_items

    def query(self: Table, hash_key, *args, **kwargs):
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
        if index_name is not None:
            # moto selects an index's items, then sorts them by its keys: a write removing an
            # item's index key in between (a sparse index emptying) made the sort raise
            # KeyError, a 500 no DynamoDB query answers. Writes wait for the query instead.
            with _dynamodb_writes:
                return original_query(self, hash_key, *args, **kwargs)
        if hash_key is None:
            return original_query(self, hash_key, *args, **kwargs)
        _partition_read.key = hash_key
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            _partition_read.key = None

    def all_items(self: Table):
        key = getattr(_partition_read, "key", None)
        if key is None:
            return original_all_items(self)
        partition = self.items.get(key)
        if partition is None:
            return []
        if not self.range_key_attr:
            return [partition]
        return sorted(partition.values(), key=lambda item: item.range_key)

    Table.query = query
    Table.all_items = all_items


def patch_dynamodb_tags_in_one_page() -> None:
    def list_tags_of_resource(self: DynamoHandler) -> ActionResult:
        return ActionResult({"Tags": self.dynamodb_backend.list_tags_of_resource(self.body["ResourceArn"])})

    DynamoHandler.list_tags_of_resource = list_tags_of_resource


def patch_sqs_redrive_policy_format() -> None:
    original = Queue.attributes

    @property
    def attributes(self: Queue) -> dict:
        result = original.fget(self)
        if self.redrive_policy:
            result["RedrivePolicy"] = json.dumps(self.redrive_policy, separators=(",", ":"))
        return result

    Queue.attributes = attributes


_applied = False


def apply_patches() -> None:
    """The fixes to moto itself; once per process (a second call changes nothing)."""
    global _applied
    if _applied:
        return
    _applied = True
    patch_iot_tagging()
    patch_lambda_logging_config()
    patch_dynamodb_atomic_writes()
    patch_dynamodb_partition_query()
    patch_dynamodb_tags_in_one_page()
    patch_sqs_redrive_policy_format()
    name_limits.patch()
    thing_registry.patch()
    input_transformer.patch()
    event_targets.patch()  # before schedules.patch, which wraps it
    sns_delivery.patch()


def apply_all(endpoint_url: str):
    """Everything the emulator process needs; returns the runner, to close on exit."""
    from . import calls, event_sources, faults, iam, iot_rules, lambda_api
    from .async_invoke import AsyncInvoker
    from .lambda_runner import LambdaRunner
    from . import schedules

    apply_patches()
    iam.patch_enforcement()
    runner = LambdaRunner(endpoint_url)
    invoker = AsyncInvoker(runner)
    lambda_api.patch(runner, invoker)
    iot_rules.patch(iot_rules.RulesEngine(invoker))
    event_sources.patch(event_sources.EventSourcePoller(runner))
    schedules.patch(schedules.Scheduler(invoker))
    faults.patch()
    calls.patch()  # last: outside fault injection, so requests answered with a fault count
    return runner
