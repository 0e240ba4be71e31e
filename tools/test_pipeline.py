"""Tests of what the emulator runs: Lambda code, asynchronous invocation, IoT rules, IAM.

They start the emulator as users do (`python tools/emulator.py --port 0`) and drive it
through the AWS APIs with boto3; the function is fixture_runtime.py, a real custom runtime.
Run: python -m unittest discover -s tools -p 'test_*.py'  (with .tools/venv's python)
"""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import time
import unittest
import urllib.request
import uuid
import zipfile
from datetime import datetime, timezone

import boto3
from botocore.exceptions import ClientError

HERE = os.path.dirname(os.path.abspath(__file__))
ACCOUNT = "123456789012"
REGION = "us-east-1"


def fixture_package() -> bytes:
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        with open(os.path.join(HERE, "fixture_runtime.py")) as file:
            source = file.read()
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = 0o755 << 16
        archive.writestr(info, f"#!{sys.executable}\n{source}")
    return package.getvalue()


class EmulatorProcessTest(unittest.TestCase):
    """Tests against one emulator process of their own, started with `emulator_env` added to
    the environment; its log goes to .tools/test-<log_name>-emulator.log."""

    emulator_env: dict[str, str] = {}
    log_name = "emulator"

    @classmethod
    def setUpClass(cls) -> None:
        env = dict(os.environ, **cls.emulator_env)
        cls.log = open(os.path.join(HERE, "..", ".tools", f"test-{cls.log_name}-emulator.log"), "w")
        cls.process = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "emulator.py"), "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=cls.log,
            env=env,
            text=True,
        )
        line = cls.process.stdout.readline()
        if "listening on" not in line:
            raise RuntimeError(f"emulator did not start: {line}")
        cls.endpoint = line.split("listening on ")[1].strip()
        cls.session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name=REGION)
        cls.package = fixture_package()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.process.terminate()
        cls.process.wait(timeout=10)
        cls.log.close()

    def queue(self) -> tuple[str, str]:
        sqs = self.client("sqs")
        url = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return url, arn

    def messages(self, url: str) -> list[dict]:
        received = self.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10)
        return [json.loads(message["Body"]) for message in received.get("Messages", [])]


class PipelineTest(EmulatorProcessTest):
    # rate(1 minute) fires every 1.2 s.
    emulator_env = {"EMULATOR_ASYNC_RETRY_DELAYS": "0.2,0.2", "EMULATOR_SCHEDULE_TIME_SCALE": "0.02"}
    log_name = "pipeline"

    def client(self, service: str):
        return self.session.client(service, endpoint_url=self.endpoint)

    def drain(self) -> None:
        with urllib.request.urlopen(f"{self.endpoint}/_emulator/drain?timeout=60") as response:
            self.assertTrue(json.loads(response.read())["idle"], "the emulator did not drain")

    def function(self, policy_statements: list[dict], **config) -> tuple[str, str]:
        """A function running the fixture runtime; returns (name, role ARN)."""
        name = f"fn-{uuid.uuid4().hex[:8]}"
        iam = self.client("iam")
        trust = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
        }
        role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        if policy_statements:
            iam.put_role_policy(
                RoleName=name,
                PolicyName="inline",
                PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": policy_statements}),
            )
        self.client("lambda").create_function(
            FunctionName=name,
            Runtime="provided.al2023",
            Role=role,
            Handler="bootstrap",
            Code={"ZipFile": self.package},
            Timeout=config.pop("Timeout", 5),
            **config,
        )
        return name, role

    def invoke(self, name: str, event: dict) -> tuple[dict, str | None]:
        response = self.client("lambda").invoke(FunctionName=name, Payload=json.dumps(event).encode())
        return json.loads(response["Payload"].read()), response.get("FunctionError")

    # --- Lambda ------------------------------------------------------------------

    def test_invoke_runs_the_bootstrap_warm_with_role_credentials(self) -> None:
        name, _ = self.function([], Environment={"Variables": {"SETTING": "on"}})
        first, error = self.invoke(name, {"echo": 1})
        self.assertIsNone(error)
        second, _ = self.invoke(name, {"echo": 2})
        self.assertEqual((first["echo"], second["echo"]), (1, 2))
        self.assertEqual(first["pid"], second["pid"], "a warm environment is reused")
        self.assertEqual(first["endpoint"], self.endpoint)
        self.assertEqual(first["setting"], "on")
        self.assertTrue(first["access_key"].startswith("ASIA"), "execution-role credentials, not the caller's")

    def test_invocation_error_is_a_function_error(self) -> None:
        name, _ = self.function([])
        body, error = self.invoke(name, {"fail": "boom"})
        self.assertEqual(error, "Unhandled")
        self.assertEqual(body, {"errorType": "Fixture.Failed", "errorMessage": "boom"})

    def test_timeout_ends_the_environment(self) -> None:
        name, _ = self.function([], Timeout=1)
        body, error = self.invoke(name, {"sleep": 3})
        self.assertEqual((error, body["errorType"]), ("Unhandled", "Sandbox.Timedout"))
        after, error = self.invoke(name, {"echo": "again"})
        self.assertIsNone(error)
        self.assertEqual(after["echo"], "again")

    def test_a_bootstrap_for_another_architecture_does_not_start(self) -> None:
        package = io.BytesIO()
        with zipfile.ZipFile(package, "w") as archive:
            # The first 20 bytes of a little-endian ELF executable for AArch64 (e_machine 183).
            header = b"\x7fELF\x02\x01\x01" + bytes(9) + (2).to_bytes(2, "little") + (183).to_bytes(2, "little")
            archive.writestr(zipfile.ZipInfo("bootstrap"), header)
        name, _ = self.function([], Architectures=["x86_64"])
        self.client("lambda").update_function_code(FunctionName=name, ZipFile=package.getvalue())
        body, error = self.invoke(name, {"echo": 1})
        self.assertEqual((error, body["errorType"]), ("Unhandled", "Runtime.InvalidEntrypoint"))

    def test_application_logs_are_filtered_by_level(self) -> None:
        name, _ = self.function(
            [{"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": "*"}],
            LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "WARN"},
        )
        now = "2026-11-26T10:00:00.000Z"
        for line in (
            {"level": "ERROR", "timestamp": now, "message": "kept"},
            {"level": "ERROR", "message": "no timestamp: INFO, dropped"},
            {"level": "INFO", "timestamp": now, "message": "dropped"},
        ):
            self.invoke(name, {"log": json.dumps(line)})
        events = self.client("logs").filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
        messages = [json.loads(e["message"]).get("message") for e in events if '"message"' in e["message"]]
        self.assertEqual(messages, ["kept"])

    def test_embedded_metric_format_lines_become_metrics(self) -> None:
        name, _ = self.function(
            [{"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": "*"}],
            LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "INFO"},
        )
        namespace = f"Test/{name}"
        now_ms = int(time.time() * 1000)

        def document(outcome: str, value: float, namespace: str = namespace) -> str:
            return json.dumps({
                "_aws": {"Timestamp": now_ms, "CloudWatchMetrics": [
                    {"Namespace": namespace, "Dimensions": [["Outcome"]], "Metrics": [{"Name": "Events", "Unit": "Count"}]}
                ]},
                "Outcome": outcome, "Events": value,
            })

        self.invoke(name, {"log": document("applied", 1)})
        self.invoke(name, {"log": document("applied", 2)})
        self.invoke(name, {"log": document("stale", 1)})
        # Broken documents publish nothing: no value for the metric, a reserved namespace.
        self.invoke(name, {"log": json.dumps({"_aws": {"Timestamp": now_ms, "CloudWatchMetrics": [
            {"Namespace": namespace, "Dimensions": [["Outcome"]], "Metrics": [{"Name": "Events"}]}]}, "Outcome": "broken"})})
        self.invoke(name, {"log": document("reserved", 1, namespace="AWS/Lambda")})

        cloudwatch = self.client("cloudwatch")
        start, end = datetime.fromtimestamp(now_ms / 1000 - 600, timezone.utc), datetime.fromtimestamp(now_ms / 1000 + 600, timezone.utc)

        def total(outcome: str, namespace: str = namespace) -> float:
            points = cloudwatch.get_metric_statistics(
                Namespace=namespace, MetricName="Events", Dimensions=[{"Name": "Outcome", "Value": outcome}],
                StartTime=start, EndTime=end, Period=3600, Statistics=["Sum"],
            )["Datapoints"]
            return sum(point["Sum"] for point in points)

        self.assertEqual((total("applied"), total("stale"), total("broken")), (3.0, 1.0, 0.0))
        self.assertEqual(total("reserved", "AWS/Lambda"), 0.0)

    def test_event_invoke_retries_then_sends_to_the_failure_destination(self) -> None:
        url, arn = self.queue()
        name, _ = self.function([{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": arn}])
        lambda_ = self.client("lambda")
        lambda_.put_function_event_invoke_config(
            FunctionName=name, MaximumRetryAttempts=1, DestinationConfig={"OnFailure": {"Destination": arn}}
        )
        response = lambda_.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"fail": "always"}')
        self.assertEqual(response["StatusCode"], 202)
        self.drain()
        [record] = self.messages(url)
        self.assertEqual(record["requestContext"]["condition"], "RetriesExhausted")
        self.assertEqual(record["requestContext"]["approximateInvokeCount"], 2)
        self.assertEqual(record["requestPayload"], {"fail": "always"})
        self.assertEqual(record["responseContext"]["functionError"], "Unhandled")
        self.assertEqual(record["responsePayload"]["errorMessage"], "always")

    def test_failure_destination_needs_the_execution_role_permission(self) -> None:
        url, arn = self.queue()
        name, _ = self.function([])
        self.client("lambda").put_function_event_invoke_config(
            FunctionName=name, MaximumRetryAttempts=0, DestinationConfig={"OnFailure": {"Destination": arn}}
        )
        self.client("lambda").invoke(FunctionName=name, InvocationType="Event", Payload=b'{"fail": "x"}')
        self.drain()
        self.assertEqual(self.messages(url), [], "Lambda sends destinations with the execution role")

    # --- IAM ---------------------------------------------------------------------

    def test_function_requests_are_authorised_by_the_execution_role(self) -> None:
        dynamodb = self.client("dynamodb")
        table = f"t-{uuid.uuid4().hex[:8]}"
        dynamodb.create_table(
            TableName=table,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        )
        table_arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{table}"
        allowed, role = self.function([{"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": table_arn}])
        other, _ = self.function([{"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": f"{table_arn}-other"}])
        put = {"put": {"table": table, "item": {"id": {"S": "a"}}}}
        _, error = self.invoke(allowed, put)
        self.assertIsNone(error)
        body, error = self.invoke(other, put)
        self.assertEqual(error, "Unhandled")
        self.assertIn("AccessDenied", body["errorMessage"])
        # The documented dummy credentials stay an administrator.
        dynamodb.put_item(TableName=table, Item={"id": {"S": "b"}})

    def test_transactions_are_authorised_per_item_on_each_table(self) -> None:
        dynamodb = self.client("dynamodb")
        tables = [f"t-{uuid.uuid4().hex[:8]}" for _ in range(2)]
        for table in tables:
            dynamodb.create_table(
                TableName=table,
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            )
        arns = [f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{table}" for table in tables]
        transaction = {"transact": [
            {"Put": {"TableName": tables[0], "Item": {"id": {"S": "a"}}}},
            {"Update": {"TableName": tables[1], "Key": {"id": {"S": "n"}}, "UpdateExpression": "ADD c :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}}}},
        ]}
        allowed, _ = self.function([
            {"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": arns[0]},
            {"Effect": "Allow", "Action": "dynamodb:UpdateItem", "Resource": arns[1]},
        ])
        _, error = self.invoke(allowed, transaction)
        self.assertIsNone(error)
        half, _ = self.function([{"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": arns[0]}])
        body, error = self.invoke(half, transaction)
        self.assertEqual(error, "Unhandled")
        self.assertIn(f"dynamodb:UpdateItem on resource: {arns[1]}", body["errorMessage"])

    # --- EventBridge schedules ----------------------------------------------------------

    def scheduled_function(self, permit: bool) -> tuple[str, str]:
        """A function behind a rate(1 minute) rule; (rule ARN, sink URL)."""
        sink_url, sink_arn = self.queue()
        name, _ = self.function(
            [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": sink_arn}],
            Environment={"Variables": {"SINK_QUEUE_URL": sink_url}},
        )
        events = self.client("events")
        rule_arn = events.put_rule(Name=f"every-minute-{name}", ScheduleExpression="rate(1 minute)")["RuleArn"]
        function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
        events.put_targets(Rule=f"every-minute-{name}", Targets=[{"Id": "fn", "Arn": function_arn}])
        if permit:
            self.client("lambda").add_permission(
                FunctionName=name, StatementId="events", Action="lambda:InvokeFunction",
                Principal="events.amazonaws.com", SourceArn=rule_arn,
            )
        return rule_arn, sink_url

    def test_a_schedule_invokes_its_lambda_target_once_a_period(self) -> None:
        rule_arn, sink_url = self.scheduled_function(permit=True)
        received = []
        deadline = time.monotonic() + 15
        while len(received) < 2 and time.monotonic() < deadline:
            received += self.messages(sink_url)
            time.sleep(0.3)
        self.assertGreaterEqual(len(received), 2, "rate(1 minute), scaled to 1.2 s, fired twice")
        self.assertEqual(received[0]["detail-type"], "Scheduled Event")
        self.assertEqual(received[0]["resources"], [rule_arn])

    def test_put_events_reach_pattern_rules_and_never_schedules(self) -> None:
        _, schedule_sink = self.scheduled_function(permit=True)
        sink_url, sink_arn = self.queue()
        name, _ = self.function(
            [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": sink_arn}],
            Environment={"Variables": {"SINK_QUEUE_URL": sink_url}},
        )
        events = self.client("events")
        source = f"test.{name}"
        rule_arn = events.put_rule(Name=f"pattern-{name}", EventPattern=json.dumps({"source": [source]}))["RuleArn"]
        events.put_targets(Rule=f"pattern-{name}", Targets=[{"Id": "fn", "Arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"}])
        self.client("lambda").add_permission(
            FunctionName=name, StatementId="events", Action="lambda:InvokeFunction",
            Principal="events.amazonaws.com", SourceArn=rule_arn,
        )
        answer = events.put_events(Entries=[{"Source": source, "DetailType": "Device Connected", "Detail": "{}"}])
        self.assertEqual(answer["FailedEntryCount"], 0)
        self.drain()
        delivered = self.messages(sink_url)
        self.assertEqual([(e["source"], e["detail-type"]) for e in delivered], [(source, "Device Connected")])
        scheduled = self.messages(schedule_sink)
        self.assertTrue(all(e["detail-type"] == "Scheduled Event" for e in scheduled), "a schedule matches no put event")

    def test_a_scaled_schedule_runs_no_more_passes_at_once_than_aws_would(self) -> None:
        # Each invocation takes 2 s; the schedule fires every 1.2 s. With a 5 s timeout and
        # a one-minute period AWS runs one at a time: each starts after the last ended.
        sink_url, sink_arn = self.queue()
        name, _ = self.function(
            [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": sink_arn}],
            Environment={"Variables": {"SINK_QUEUE_URL": sink_url}},
        )
        events = self.client("events")
        rule_arn = events.put_rule(Name=f"slow-{name}", ScheduleExpression="rate(1 minute)")["RuleArn"]
        constant = json.dumps({"sleep": 2, "detail-type": "Scheduled Event", "resources": [rule_arn]})
        events.put_targets(
            Rule=f"slow-{name}",
            Targets=[{"Id": "fn", "Arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}", "Input": constant}],
        )
        self.client("lambda").add_permission(
            FunctionName=name, StatementId="events", Action="lambda:InvokeFunction",
            Principal="events.amazonaws.com", SourceArn=rule_arn,
        )
        sent = []
        deadline = time.monotonic() + 20
        sqs = self.client("sqs")
        while len(sent) < 4 and time.monotonic() < deadline:
            answer = sqs.receive_message(QueueUrl=sink_url, MaxNumberOfMessages=10, AttributeNames=["SentTimestamp"])
            for message in answer.get("Messages", []):
                sent.append(int(message["Attributes"]["SentTimestamp"]))
                sqs.delete_message(QueueUrl=sink_url, ReceiptHandle=message["ReceiptHandle"])
            time.sleep(0.2)
        events.remove_targets(Rule=f"slow-{name}", Ids=["fn"])
        self.assertGreaterEqual(len(sent), 4, "the schedule kept firing")
        sent.sort()
        gaps = [later - earlier for earlier, later in zip(sent, sent[1:])]
        self.assertGreaterEqual(min(gaps), 1900, f"one invocation at a time: ms between ends {gaps}")

    def test_a_schedule_needs_the_functions_permission(self) -> None:
        _, sink_url = self.scheduled_function(permit=False)
        time.sleep(4)  # three periods
        self.drain()
        self.assertEqual(self.messages(sink_url), [])

    # --- Event source mappings -------------------------------------------------------

    def esm_function(self, source_arn: str, read_actions: list[str]) -> tuple[str, str, str]:
        """A function that forwards each record it gets to a sink queue; (name, sink URL, DLQ ARN)."""
        sink_url, sink_arn = self.queue()
        dlq_url, dlq_arn = self.queue()
        name, _ = self.function(
            [
                {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": [sink_arn, dlq_arn]},
                {"Effect": "Allow", "Action": read_actions, "Resource": source_arn},
            ],
            Environment={"Variables": {"SINK_QUEUE_URL": sink_url}},
        )
        return name, sink_url, dlq_url

    def mapping(self, **settings) -> None:
        """An event source mapping, deleted after the test: its undelivered work would
        otherwise keep the emulator from draining for the tests after it."""
        lambda_ = self.client("lambda")
        uuid_ = lambda_.create_event_source_mapping(**settings)["UUID"]
        self.addCleanup(lambda_.delete_event_source_mapping, UUID=uuid_)

    def table_with_stream(self) -> tuple[str, str]:
        dynamodb = self.client("dynamodb")
        table = f"t-{uuid.uuid4().hex[:8]}"
        description = dynamodb.create_table(
            TableName=table,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        return table, description["TableDescription"]["LatestStreamArn"]

    def test_stream_records_arrive_in_order_filtered(self) -> None:
        table, stream = self.table_with_stream()
        name, sink, _ = self.esm_function(stream, ["dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:DescribeStream", "dynamodb:ListStreams"])
        self.mapping(
            FunctionName=name,
            EventSourceArn=stream,
            StartingPosition="LATEST",
            BatchSize=2,
            FilterCriteria={"Filters": [{"Pattern": json.dumps({"dynamodb": {"NewImage": {"kind": {"S": ["keep"]}}}})}]},
        )
        dynamodb = self.client("dynamodb")
        for n in range(6):
            kind = "keep" if n % 2 == 0 else "drop"
            dynamodb.put_item(TableName=table, Item={"id": {"S": f"i{n}"}, "kind": {"S": kind}})
        self.drain()
        seen = [record["dynamodb"]["Keys"]["id"]["S"] for record in self.messages(sink)]
        self.assertEqual(seen, ["i0", "i2", "i4"])

    def test_stream_batch_failures_checkpoint_and_exhausted_batches_go_to_the_destination(self) -> None:
        table, stream = self.table_with_stream()
        name, sink, dlq = self.esm_function(stream, ["dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:DescribeStream", "dynamodb:ListStreams"])
        dlq_arn = self.client("sqs").get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.mapping(
            FunctionName=name,
            EventSourceArn=stream,
            StartingPosition="LATEST",
            BatchSize=10,
            MaximumRetryAttempts=2,
            BisectBatchOnFunctionError=True,
            FunctionResponseTypes=["ReportBatchItemFailures"],
            DestinationConfig={"OnFailure": {"Destination": dlq_arn}},
        )
        dynamodb = self.client("dynamodb")
        for key in ("a", "b", "fail", "c"):
            dynamodb.put_item(TableName=table, Item={"id": {"S": key}})
        self.drain()
        # a and b once (checkpointed before the failure); the batch retried from "fail"
        # (with c) is given up after the retries and described to the destination.
        seen = [record["dynamodb"]["Keys"]["id"]["S"] for record in self.messages(sink)]
        self.assertEqual(seen, ["a", "b"])
        [failure] = self.messages(dlq)
        self.assertEqual(failure["requestContext"]["condition"], "RetryAttemptsExhausted")
        self.assertEqual(failure["requestContext"]["approximateInvokeCount"], 3)
        self.assertEqual(failure["DDBStreamBatchInfo"]["batchSize"], 2)
        self.assertEqual(failure["DDBStreamBatchInfo"]["streamArn"], stream)

    def test_queue_messages_wait_for_their_delay_and_only_failures_stay(self) -> None:
        source_url, source_arn = self.queue()
        name, sink, _ = self.esm_function(source_arn, ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"])
        sqs = self.client("sqs")
        sqs.set_queue_attributes(QueueUrl=source_url, Attributes={"VisibilityTimeout": "30"})
        self.mapping(FunctionName=name, EventSourceArn=source_arn, BatchSize=10, FunctionResponseTypes=["ReportBatchItemFailures"])
        sqs.send_message(QueueUrl=source_url, MessageBody='{"n": 1}', DelaySeconds=2)
        sqs.send_message(QueueUrl=source_url, MessageBody='{"n": 2, "please": "fail"}')
        time.sleep(1)
        self.assertEqual(self.messages(sink), [], "the delayed message waits; the failed one is not forwarded")
        forwarded: list[dict] = []
        deadline = time.monotonic() + 15
        while not forwarded and time.monotonic() < deadline:
            forwarded = self.messages(sink)
            time.sleep(0.2)
        [record] = forwarded
        self.assertEqual(json.loads(record["body"]), {"n": 1})
        attributes = sqs.get_queue_attributes(
            QueueUrl=source_url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]
        self.assertEqual(
            (attributes["ApproximateNumberOfMessages"], attributes["ApproximateNumberOfMessagesNotVisible"]),
            ("0", "1"),
            "only the failed message stays, invisible until its visibility timeout",
        )

    def test_a_mapping_the_role_may_not_read_delivers_nothing(self) -> None:
        source_url, source_arn = self.queue()
        name, sink, _ = self.esm_function(source_arn, ["sqs:GetQueueAttributes"])
        self.mapping(FunctionName=name, EventSourceArn=source_arn, BatchSize=10)
        self.client("sqs").send_message(QueueUrl=source_url, MessageBody='{"n": 1}')
        time.sleep(1)
        self.assertEqual(self.messages(sink), [])

    # --- IoT rules -----------------------------------------------------------------

    def rule(self, sql: str, function: str, dlq_arn: str, dlq_url: str, permit: bool = True) -> str:
        iam, iot = self.client("iam"), self.client("iot")
        rule_name = f"r_{uuid.uuid4().hex[:8]}"
        trust = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": "iot.amazonaws.com"}, "Action": "sts:AssumeRole"}],
        }
        role = iam.create_role(RoleName=rule_name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        iam.put_role_policy(
            RoleName=rule_name,
            PolicyName="dlq",
            PolicyDocument=json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": dlq_arn}]}
            ),
        )
        function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function}"
        iot.create_topic_rule(
            ruleName=rule_name,
            topicRulePayload={
                "sql": sql,
                "ruleDisabled": False,
                "awsIotSqlVersion": "2016-03-23",
                "actions": [{"lambda": {"functionArn": function_arn}}],
                "errorAction": {"sqs": {"queueUrl": dlq_url, "roleArn": role, "useBase64": False}},
            },
        )
        if permit:
            self.client("lambda").add_permission(
                FunctionName=function,
                StatementId="iot",
                Action="lambda:InvokeFunction",
                Principal="iot.amazonaws.com",
                SourceArn=f"arn:aws:iot:{REGION}:{ACCOUNT}:rule/{rule_name}",
                SourceAccount=ACCOUNT,
            )
        return rule_name

    def published_echoes(self, sql: str, topics: list[str]) -> list:
        """Publishes {"echo": topic} to each topic; returns what the function saw."""
        url, arn = self.queue()
        name, _ = self.function([{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": arn}])
        self.client("lambda").put_function_event_invoke_config(
            FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": arn}}
        )
        dlq_url, dlq_arn = self.queue()
        self.rule(sql, name, dlq_arn, dlq_url)
        for topic in topics:
            self.client("iot-data").publish(topic=topic, payload=json.dumps({"echo": topic, "n": 3}).encode())
        self.drain()
        return sorted(record["responsePayload"]["echo"] for record in self.messages(url))

    def test_rule_topic_filters_follow_mqtt_wildcards(self) -> None:
        topics = [
            "$aws/events/presence/connected/gw-1",
            "$aws/events/presence/connected/site-3/gw-1",
            "$aws/events/subscriptions/subscribed/gw-1",
        ]
        self.assertEqual(
            self.published_echoes("SELECT * FROM '$aws/events/presence/+/+'", topics),
            ["$aws/events/presence/connected/gw-1"],
        )
        self.assertEqual(
            self.published_echoes("SELECT * FROM '$aws/events/presence/#'", topics),
            ["$aws/events/presence/connected/gw-1", "$aws/events/presence/connected/site-3/gw-1"],
        )
        self.assertEqual(self.published_echoes("SELECT * FROM '#'", topics), [], "wildcards skip $ topics")

    def test_rule_where_clause(self) -> None:
        sql = (
            "SELECT * FROM '$aws/events/#' WHERE (startswith(topic(), '$aws/events/presence/') "
            "OR topic(3) = 'subscriptions') AND NOT n <> 3"
        )
        topics = ["$aws/events/presence/connected/a", "$aws/events/subscriptions/subscribed/a", "$aws/events/thing/x/created"]
        self.assertEqual(self.published_echoes(sql, topics[:2] + topics[2:]), sorted(topics[:2]))

    def test_unsupported_sql_is_refused(self) -> None:
        for sql in ("SELECT clientId FROM 'a'", "SELECT * FROM 'a/#/b'", "SELECT * FROM 'a' WHERE get_thing_shadow(x) = 1"):
            with self.assertRaises(ClientError, msg=sql) as raised:
                self.client("iot").create_topic_rule(
                    ruleName=f"r_{uuid.uuid4().hex[:8]}", topicRulePayload={"sql": sql, "actions": []}
                )
            self.assertEqual(raised.exception.response["Error"]["Code"], "InvalidRequestException")

    def test_without_lambda_permission_the_error_action_gets_the_message(self) -> None:
        name, _ = self.function([])
        dlq_url, dlq_arn = self.queue()
        rule_name = self.rule("SELECT * FROM 'devices/+'", name, dlq_arn, dlq_url, permit=False)
        self.client("iot-data").publish(topic="devices/a", payload=b'{"echo": 1}')
        self.drain()
        [message] = self.messages(dlq_url)
        self.assertEqual(message["ruleName"], rule_name)
        self.assertEqual(message["topic"], "devices/a")
        self.assertEqual(json.loads(base64.b64decode(message["base64OriginalPayload"])), {"echo": 1})
        self.assertEqual(message["failures"][0]["failedAction"], "LambdaAction")
        self.assertIn("403", message["failures"][0]["errorMessage"])


if __name__ == "__main__":
    unittest.main()
