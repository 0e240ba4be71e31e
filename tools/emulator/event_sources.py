"""Event source mappings as Lambda runs them, for DynamoDB streams and SQS queues.

moto invokes a mapping's function inside the write or send that produced the record
(so a function writing back to its own table would deadlock the emulator) and ignores
most of the mapping's settings. Here a poller thread reads each enabled mapping's source
as Lambda's pollers do (Lambda guide: "Using Lambda with DynamoDB", "Using Lambda with
Amazon SQS", "Filtering events"), with the execution role's permissions to read it:

- DynamoDB streams: records in order from `StartingPosition` (LATEST or TRIM_HORIZON),
  `BatchSize` at a time; `FilterCriteria` drop records before invocation. An invocation
  error retries the batch, halved each time with `BisectBatchOnFunctionError`, until
  `MaximumRetryAttempts` (-1: until the record is older than `MaximumRecordAgeInSeconds`);
  then the batch's description goes to the on-failure destination and the shard moves
  on. With `ReportBatchItemFailures`, a response listing failures checkpoints before the
  lowest one and retries from there.
- SQS queues: visible messages, `BatchSize` at a time (delayed ones when their delay has
  passed); a message not matching `FilterCriteria` is deleted. Success deletes the batch,
  or with `ReportBatchItemFailures` all but the failed messages; failed ones become
  visible again after the queue's visibility timeout, and the queue's redrive policy
  moves them to its dead-letter queue after `maxReceiveCount` receives.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from datetime import datetime, timezone

from moto.awslambda.models import LambdaBackend, lambda_backends
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.table import StreamRecord, StreamShard
from moto.events.models import EventPattern
from moto.sqs.models import Queue, sqs_backends

from . import delivery, iam
from .lambda_runner import LambdaRunner, NotRunnable
from .work import tracker

log = logging.getLogger("emulator.esm")

STREAM_READ = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"]
QUEUE_READ = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]


def patch(poller: "EventSourcePoller") -> None:
    """Stream records are appended and nothing else: the poller delivers them. SQS sends
    no longer invoke the mapping's function: the poller receives the messages."""

    def add(self: StreamShard, old, new) -> None:
        view = self.table.stream_specification["StreamViewType"]
        event_name = "INSERT" if old is None else "REMOVE" if new is None else "MODIFY"
        sequence = len(self.items) + self.starting_sequence_number
        self.items.append(StreamRecord(self.table, view, event_name, old, new, sequence))

    StreamShard.add = add

    original_add_message = Queue.add_message

    def add_message(self: Queue, message) -> None:
        mappings, self.lambda_event_source_mappings = self.lambda_event_source_mappings, {}
        try:
            original_add_message(self, message)
        finally:
            self.lambda_event_source_mappings = mappings

    Queue.add_message = add_message

    original_create = LambdaBackend.create_event_source_mapping

    def create_event_source_mapping(self: LambdaBackend, spec):
        esm = original_create(self, spec)
        poller.register(esm)
        return esm

    LambdaBackend.create_event_source_mapping = create_event_source_mapping


def _matches(filter_criteria: dict | None, record: dict) -> bool:
    filters = (filter_criteria or {}).get("Filters") or []
    if not filters:
        return True
    return any(EventPattern(f["Pattern"], json.loads(f["Pattern"])).matches_event(record) for f in filters)


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _StreamState:
    def __init__(self, position: int) -> None:
        self.position = position
        self.attempts = 0
        self.window: int | None = None  # the batch size while bisecting


class EventSourcePoller:
    def __init__(self, runner: LambdaRunner, interval_s: float = 0.1) -> None:
        self.runner = runner
        self.interval_s = interval_s
        self._streams: dict[str, _StreamState] = {}
        self._denied: set[str] = set()
        self._stop = threading.Event()
        tracker.add_probe(self.pending)
        threading.Thread(target=self._loop, name="event-source-poller", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _mappings(self):
        for account, regions in list(lambda_backends.items()):
            for region, backend in list(regions.items()):
                for esm in list(backend._event_source_mappings.values()):
                    if esm.enabled:
                        yield account, region, backend, esm

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            for account, region, backend, esm in self._mappings():
                try:
                    function = backend.get_function(esm.function_arn)
                    if ":dynamodb:" in esm.event_source_arn:
                        self._poll_stream(account, region, esm, function)
                    elif ":sqs:" in esm.event_source_arn:
                        self._poll_queue(account, region, esm, function)
                except Exception:
                    log.exception("event source mapping %s failed in the emulator", esm.uuid)

    def _may_read(self, esm, function, actions: list[str]) -> bool:
        if iam.role_allows(function.role, actions, esm.event_source_arn):
            self._denied.discard(esm.uuid)
            return True
        if esm.uuid not in self._denied:
            log.error("%s: the execution role may not read %s (%s): nothing is delivered",
                      function.function_name, esm.event_source_arn, ", ".join(actions))
            self._denied.add(esm.uuid)
        return False

    # --- DynamoDB streams ------------------------------------------------------

    def _shard(self, account: str, region: str, stream_arn: str) -> StreamShard | None:
        table_name = stream_arn.split(":table/")[1].split("/stream/")[0]
        try:
            table = dynamodb_backends[account][region].get_table(table_name)
        except Exception:
            return None
        return table.stream_shard

    def register(self, esm) -> None:
        """Fixes where a new stream mapping starts, as it is created (LATEST: after the
        records already in the stream)."""
        if ":dynamodb:" not in esm.event_source_arn:
            return
        shard = self._shard(esm.account_id, esm.region, esm.event_source_arn)
        if shard is not None:
            self._state(esm, shard)

    def _state(self, esm, shard: StreamShard) -> _StreamState:
        state = self._streams.get(esm.uuid)
        if state is None:
            start = 0 if esm.starting_position == "TRIM_HORIZON" else len(shard.items)
            state = self._streams[esm.uuid] = _StreamState(start)
        return state

    def _poll_stream(self, account, region, esm, function) -> None:
        shard = self._shard(account, region, esm.event_source_arn)
        if shard is None:
            return
        state = self._state(esm, shard)
        if state.position >= len(shard.items) or not self._may_read(esm, function, STREAM_READ):
            return
        size = state.window or esm.batch_size or 100
        batch = shard.items[state.position : state.position + size]
        records = [self._stream_record(item, esm, region) for item in batch]
        kept = [(index, record) for index, record in enumerate(records) if _matches(esm.filter_criteria, record)]
        if not kept:
            state.position += len(batch)
            return
        result = self._invoke(function, {"Records": [record for _, record in kept]})
        failed_at = self._first_failure(esm, result, [record for _, record in kept])
        if failed_at is None:
            state.position += len(batch)
            state.attempts, state.window = 0, None
            return
        # Checkpoint: the kept records before the failed one are done.
        done = kept[failed_at][0]
        state.position += done
        batch = batch[done:]
        state.attempts += 1
        if self._exhausted(esm, state, batch):
            self._stream_failure(esm, function, shard, batch, state.attempts)
            state.position += len(batch)
            state.attempts, state.window = 0, None
        elif esm.bisect_on_error and (result is None or result.function_error):
            state.window = max(1, len(batch) // 2)

    def _stream_record(self, item: StreamRecord, esm, region: str) -> dict:
        record = json.loads(json.dumps(item.record, default=str))
        created = item.record["dynamodb"].get("ApproximateCreationDateTime")
        if isinstance(created, datetime):
            record["dynamodb"]["ApproximateCreationDateTime"] = created.timestamp()
        record["awsRegion"] = region
        record["eventSourceARN"] = esm.event_source_arn
        return record

    def _exhausted(self, esm, state: _StreamState, batch: list) -> bool:
        retries = esm.max_retry_attempts if esm.max_retry_attempts is not None else -1
        if retries != -1 and state.attempts > retries:
            return True
        max_age = esm.max_record_age if esm.max_record_age not in (None, -1) else 604800
        created = batch[0].record["dynamodb"].get("ApproximateCreationDateTime")
        age = (datetime.now(timezone.utc) - created.replace(tzinfo=timezone.utc)).total_seconds() if isinstance(created, datetime) else 0
        return age > max_age

    def _stream_failure(self, esm, function, shard: StreamShard, batch: list, attempts: int) -> None:
        log.warning("%s: %d stream record(s) from %s given up after %d attempt(s)",
                    function.function_name, len(batch), esm.event_source_arn, attempts)
        destination = ((esm.destination_config or {}).get("OnFailure") or {}).get("Destination")
        if not destination:
            return
        first, last = batch[0].record["dynamodb"], batch[-1].record["dynamodb"]
        record = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": function.function_arn,
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": attempts,
            },
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "version": "1.0",
            "timestamp": _now_iso(),
            "DDBStreamBatchInfo": {
                "shardId": shard.id,
                "startSequenceNumber": first["SequenceNumber"],
                "endSequenceNumber": last["SequenceNumber"],
                "batchSize": len(batch),
                "streamArn": esm.event_source_arn,
            },
        }
        failure = delivery.send(destination, json.dumps(record), function.role)
        if failure:
            log.error("%s: DestinationDeliveryFailures: %s", function.function_name, failure)

    # --- SQS -------------------------------------------------------------------

    def _poll_queue(self, account, region, esm, function) -> None:
        queue = delivery.queue_of(esm.event_source_arn)
        if queue is None or not queue.messages or not self._may_read(esm, function, QUEUE_READ):
            return
        backend = sqs_backends[queue.account_id][queue.region]
        messages = backend.receive_message(queue.name, esm.batch_size or 10, 0, int(queue.visibility_timeout))
        if not messages:
            return
        records, kept = [], []
        for message in messages:
            record = {
                "messageId": message.id,
                "receiptHandle": message.receipt_handle,
                "body": message.body,
                "attributes": {
                    "ApproximateReceiveCount": str(message.approximate_receive_count),
                    "SentTimestamp": str(message.sent_timestamp),
                    "ApproximateFirstReceiveTimestamp": str(int(time.time() * 1000)),
                },
                "messageAttributes": {},
                "md5OfBody": message.body_md5,
                "eventSource": "aws:sqs",
                "eventSourceARN": queue.queue_arn,
                "awsRegion": queue.region,
            }
            try:
                matched = {**record, "body": json.loads(message.body)}
            except ValueError:
                matched = record
            if _matches(esm.filter_criteria, matched):
                records.append(record)
                kept.append(message)
            else:
                backend.delete_message(queue.name, message.receipt_handle)
        if not records:
            return
        result = self._invoke(function, {"Records": records})
        if result is None or result.function_error:
            return  # visible again after the visibility timeout
        failed = self._reported_failures(esm, result)
        for message in kept:
            if message.id not in failed:
                backend.delete_message(queue.name, message.receipt_handle)

    # --- Both ------------------------------------------------------------------

    def _invoke(self, function, event: dict):
        try:
            return self.runner.invoke(function, json.dumps(event).encode(), "esm")
        except NotRunnable as why:
            log.error("%s cannot run here: %s", function.function_name, why)
            return None

    def _reported_failures(self, esm, result) -> set[str]:
        if "ReportBatchItemFailures" not in (esm.function_response_types or []):
            return set()
        try:
            answer = json.loads(result.payload)
        except ValueError:
            return set()
        failures = answer.get("batchItemFailures") if isinstance(answer, dict) else None
        return {str(f.get("itemIdentifier")) for f in failures or [] if isinstance(f, dict)}

    def _first_failure(self, esm, result, records: list[dict]) -> int | None:
        """Index of the first record to retry from, or None when the batch succeeded."""
        if result is None or result.function_error:
            return 0
        failed = self._reported_failures(esm, result)
        for index, record in enumerate(records):
            if record["dynamodb"]["SequenceNumber"] in failed:
                return index
        return None

    def pending(self) -> int:
        """Records and messages the mappings still have to deliver (for draining)."""
        count = 0
        for account, region, _backend, esm in self._mappings():
            if ":dynamodb:" in esm.event_source_arn:
                shard = self._shard(account, region, esm.event_source_arn)
                state = self._streams.get(esm.uuid)
                if shard is not None and state is not None:
                    count += len(shard.items) - state.position
            elif ":sqs:" in esm.event_source_arn:
                queue = delivery.queue_of(esm.event_source_arn)
                if queue is not None:
                    count += len(queue._messages)
        return count
