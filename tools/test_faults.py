"""Tests of fault injection (tools/emulator/faults.py), as a client of the emulator sees it.

They start the emulator as users do (`python tools/emulator.py --port 0`), set faults over
its control routes (/_emulator/chaos/...) and observe them through boto3 with retries off,
the function (fixture_runtime.py) and its queues.
Run: python -m unittest discover -s tools -p 'test_*.py'  (with .tools/venv's python)
"""

from __future__ import annotations

import json
import os
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
import uuid

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from test_pipeline import EmulatorProcessTest

HERE = os.path.dirname(os.path.abspath(__file__))
ACCOUNT = "123456789012"
REGION = "us-east-1"
NO_RETRIES = Config(retries={"total_max_attempts": 1})


class FaultsTest(EmulatorProcessTest):
    emulator_env = {"EMULATOR_ASYNC_RETRY_DELAYS": "0.2,0.2"}
    log_name = "faults"

    def setUp(self) -> None:
        self.addCleanup(self.reset)

    def reset(self) -> None:
        self.chaos("POST", "faults", [])
        self.chaos("POST", "effects", {})
        self.chaos("POST", "seed", {"seed": None})
        self.drain()
        self.chaos("DELETE", "log")

    # --- Helpers -----------------------------------------------------------------

    def chaos(self, method: str, resource: str, document=None) -> tuple[int, object]:
        data = None if document is None else json.dumps(document).encode()
        request = urllib.request.Request(f"{self.endpoint}/_emulator/chaos/{resource}", data=data, method=method)
        try:
            with urllib.request.urlopen(request) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def faults(self, rules: list[dict], seed: int | None = None) -> None:
        if seed is not None:
            self.assertEqual(self.chaos("POST", "seed", {"seed": seed})[0], 200)
        status, answer = self.chaos("POST", "faults", rules)
        self.assertEqual((status, answer), (200, rules))

    def fault_log(self) -> list[dict]:
        return self.chaos("GET", "log")[1]

    def client(self, service: str, region: str = REGION):
        return self.session.client(service, endpoint_url=self.endpoint, region_name=region, config=NO_RETRIES)

    def drain(self) -> None:
        with urllib.request.urlopen(f"{self.endpoint}/_emulator/drain?timeout=60") as response:
            self.assertTrue(json.loads(response.read())["idle"], "the emulator did not drain")

    def error_of(self, call) -> tuple[str, int]:
        with self.assertRaises(ClientError) as raised:
            call()
        response = raised.exception.response
        return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]

    def table(self) -> str:
        name = f"t-{uuid.uuid4().hex[:8]}"
        self.client("dynamodb").create_table(
            TableName=name,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        )
        return name

    def function(self, statements: list[dict], **config) -> str:
        """A function running the fixture runtime, its role allowed `statements`."""
        name = f"fn-{uuid.uuid4().hex[:8]}"
        trust = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
        }
        iam = self.client("iam")
        role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        if statements:
            policy = {"Version": "2012-10-17", "Statement": statements}
            iam.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=json.dumps(policy))
        self.client("lambda").create_function(
            FunctionName=name,
            Runtime="provided.al2023",
            Role=role,
            Handler="bootstrap",
            Code={"ZipFile": self.package},
            Timeout=config.pop("Timeout", 5),
            **config,
        )
        return name

    def forwarding_function(self, extra: list[dict] | None = None) -> tuple[str, str]:
        """A function that forwards EventBridge events and batch records to a sink queue;
        (name, sink URL)."""
        sink_url, sink_arn = self.queue()
        statements = [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": sink_arn}] + (extra or [])
        name = self.function(statements, Environment={"Variables": {"SINK_QUEUE_URL": sink_url}})
        return name, sink_url

    def failure_destination(self, name: str, retries: int) -> str:
        """Sends `name`'s failed asynchronous events to a new queue; returns its URL."""
        url, arn = self.queue()
        role = self.client("lambda").get_function_configuration(FunctionName=name)["Role"]
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": arn}]}
        self.client("iam").put_role_policy(RoleName=role.split("/")[-1], PolicyName="destination", PolicyDocument=json.dumps(policy))
        self.client("lambda").put_function_event_invoke_config(
            FunctionName=name, MaximumRetryAttempts=retries, DestinationConfig={"OnFailure": {"Destination": arn}}
        )
        return url

    def invoke(self, name: str, event: dict) -> tuple[dict, str | None]:
        response = self.client("lambda").invoke(FunctionName=name, Payload=json.dumps(event).encode())
        return json.loads(response["Payload"].read()), response.get("FunctionError")

    def event_rule(self, function: str) -> str:
        """An EventBridge rule sending events of a new source to `function`; returns the source."""
        source = f"test.{function}"
        events = self.client("events")
        rule_arn = events.put_rule(Name=f"pattern-{function}", EventPattern=json.dumps({"source": [source]}))["RuleArn"]
        function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function}"
        events.put_targets(Rule=f"pattern-{function}", Targets=[{"Id": "fn", "Arn": function_arn}])
        self.client("lambda").add_permission(
            FunctionName=function, StatementId="events", Action="lambda:InvokeFunction",
            Principal="events.amazonaws.com", SourceArn=rule_arn,
        )
        return source

    # --- API faults ----------------------------------------------------------------

    def test_an_api_error_comes_in_the_protocol_of_the_request(self) -> None:
        table = self.table()
        queue_url, _ = self.queue()
        self.faults([
            {"service": "dynamodb", "operation": "UpdateItem",
             "error": {"statusCode": 400, "code": "ProvisionedThroughputExceededException"}},
            {"service": "sqs", "operation": "SendMessage", "error": {"statusCode": 400, "code": "RequestThrottled"}},
            {"service": "lambda", "operation": "ListFunctions", "error": {"statusCode": 429, "code": "TooManyRequestsException"}},
        ])
        dynamodb = self.client("dynamodb")
        update = lambda: dynamodb.update_item(  # noqa: E731
            TableName=table, Key={"id": {"S": "a"}}, UpdateExpression="SET n = :n", ExpressionAttributeValues={":n": {"N": "1"}}
        )
        self.assertEqual(self.error_of(update), ("ProvisionedThroughputExceededException", 400))
        dynamodb.put_item(TableName=table, Item={"id": {"S": "a"}})  # another operation runs
        sqs = self.client("sqs")  # JSON protocol
        self.assertEqual(self.error_of(lambda: sqs.send_message(QueueUrl=queue_url, MessageBody="x")), ("RequestThrottled", 400))
        self.assertEqual(self.error_of(lambda: self.client("lambda").list_functions()), ("TooManyRequestsException", 429))

        # The same SQS operation in the query protocol gets the query protocol's XML error.
        body = urllib.parse.urlencode({"Action": "SendMessage", "QueueUrl": queue_url, "MessageBody": "x", "Version": "2012-11-05"})
        request = AWSRequest(method="POST", url=f"{self.endpoint}/", data=body,
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
        SigV4Auth(Credentials("test", "test"), "sqs", REGION).add_auth(request)
        with self.assertRaises(urllib.error.HTTPError) as raised:
            urllib.request.urlopen(urllib.request.Request(request.url, data=body.encode(), headers=dict(request.headers)))
        answer = raised.exception.read().decode()
        self.assertEqual(raised.exception.code, 400)
        self.assertIn("<Code>RequestThrottled</Code>", answer)
        self.assertIn("<Type>Sender</Type>", answer)

    def test_a_rule_without_an_error_answers_503_in_its_region_only(self) -> None:
        self.faults([{"service": "events", "region": "eu-west-1"}])
        self.client("events").list_rules()
        error = self.error_of(lambda: self.client("events", region="eu-west-1").list_rules())
        self.assertEqual(error, ("ServiceUnavailable", 503))

    def test_probability_zero_injects_nothing(self) -> None:
        table = self.table()
        self.faults([{"service": "dynamodb", "operation": "GetItem", "probability": 0}])
        dynamodb = self.client("dynamodb")
        for _ in range(20):
            dynamodb.get_item(TableName=table, Key={"id": {"S": "a"}})
        self.assertEqual(self.fault_log(), [])

    def test_a_seed_makes_the_draws_repeatable(self) -> None:
        table = self.table()
        dynamodb = self.client("dynamodb")

        def run() -> list[bool]:
            self.faults([{"service": "dynamodb", "operation": "GetItem", "probability": 0.5}], seed=42)
            failed = []
            for _ in range(30):
                try:
                    dynamodb.get_item(TableName=table, Key={"id": {"S": "a"}})
                    failed.append(False)
                except ClientError:
                    failed.append(True)
            return failed

        first, second = run(), run()
        self.assertEqual(first, second)
        self.assertTrue(any(first) and not all(first), "probability 0.5 fails some calls, not all")
        self.assertEqual(len(self.fault_log()), 2 * sum(first))

    def test_delete_removes_the_given_rules_and_patch_adds(self) -> None:
        table = self.table()
        get_rule = {"service": "dynamodb", "operation": "GetItem"}
        scan_rule = {"service": "dynamodb", "operation": "Scan", "error": {"statusCode": 500, "code": "InternalServerError"}}
        put_rule = {"operation": "PutItem"}
        self.faults([get_rule, scan_rule])
        self.assertEqual(self.chaos("DELETE", "faults", [get_rule]), (200, [scan_rule]))
        self.assertEqual(self.chaos("PATCH", "faults", [put_rule]), (200, [scan_rule, put_rule]))
        self.assertEqual(self.chaos("GET", "faults"), (200, [scan_rule, put_rule]))
        dynamodb = self.client("dynamodb")
        dynamodb.get_item(TableName=table, Key={"id": {"S": "a"}})
        self.assertEqual(self.error_of(lambda: dynamodb.scan(TableName=table)), ("InternalServerError", 500))
        self.assertEqual(
            self.error_of(lambda: dynamodb.put_item(TableName=table, Item={"id": {"S": "a"}})), ("ServiceUnavailable", 503)
        )

    def test_latency_delays_calls(self) -> None:
        dynamodb = self.client("dynamodb")

        def seconds(call) -> float:
            started = time.monotonic()
            call()
            return time.monotonic() - started

        self.assertEqual(self.chaos("POST", "effects", {"latency": 400}), (200, {"latency": 400}))
        self.assertGreaterEqual(seconds(dynamodb.list_tables), 0.4)
        self.chaos("POST", "effects", {})
        self.faults([{"service": "dynamodb", "operation": "ListTables", "latency": 300}])
        self.assertGreaterEqual(seconds(dynamodb.list_tables), 0.3, "a rule with only a latency delays, then runs")
        [record] = self.fault_log()
        self.assertEqual((record["kind"], record["latencyMs"], record["code"]), ("api-latency", 300, None))

    def test_invalid_rules_are_refused_and_change_nothing(self) -> None:
        rules = [{"service": "dynamodb", "operation": "GetItem"}]
        self.faults(rules)
        for bad in (
            {"service": "dynamodb"},  # not a list
            [{"probability": 2}],
            [{"invocationError": "explode"}],
            [{"invocationError": "crash", "source": "sns"}],
            [{"entryError": {"code": "InternalFailure"}, "service": "sqs"}],
            [{"error": {"code": "Throttling"}, "invocationError": "crash"}],
            [{"servce": "dynamodb"}],
            [{"delivery": {"reorderWindow": -1}}],
            [{"delivery": {"duplicate": 1.5}}],
            [{"delivery": {"window": 100}}],
            [{"delivery": {"duplicate": 0.5}, "operation": "PutRule"}],
            [{"delivery": {"duplicate": 0.5}, "entryError": {"code": "InternalFailure"}}],
            [{"rule": "r", "error": {"code": "Throttling"}}],
        ):
            status, answer = self.chaos("POST", "faults", bad)
            self.assertEqual(status, 400, bad)
            self.assertIn("error", answer)
        self.assertEqual(self.chaos("GET", "faults"), (200, rules))
        self.assertEqual(self.chaos("POST", "seed", {"seed": "x"})[0], 400)

    # --- Faults no API call shows ----------------------------------------------------

    def test_put_events_fails_chosen_entries_and_delivers_the_others(self) -> None:
        name, sink = self.forwarding_function()
        source = self.event_rule(name)
        self.faults([{"entryError": {"code": "ThrottlingException", "message": "Rate exceeded"}, "probability": 0.5}], seed=7)
        entries = [{"Source": source, "DetailType": "Test", "Detail": json.dumps({"n": n})} for n in range(8)]
        answer = self.client("events").put_events(Entries=entries)
        failed = [n for n, entry in enumerate(answer["Entries"]) if "ErrorCode" in entry]
        self.assertTrue(0 < len(failed) < 8, "probability 0.5 fails some entries, not all")
        self.assertEqual(answer["FailedEntryCount"], len(failed))
        for n in failed:
            self.assertEqual(answer["Entries"][n], {"ErrorCode": "ThrottlingException", "ErrorMessage": "Rate exceeded"})
        self.drain()
        delivered = []
        while batch := self.messages(sink):
            delivered += [event["detail"]["n"] for event in batch]
        self.assertEqual(sorted(delivered), [n for n in range(8) if n not in failed])
        self.assertEqual([record["target"] for record in self.fault_log()], [f"Entries[{n}]" for n in failed])

    def test_a_crash_is_retried_then_sent_to_the_failure_destination(self) -> None:
        name = self.function([])
        destination = self.failure_destination(name, retries=1)
        before, _ = self.invoke(name, {"echo": 1})
        self.faults([{"function": name, "invocationError": "crash"}])
        self.client("lambda").invoke(FunctionName=name, InvocationType="Event", Payload=b'{"echo": 2}')
        self.drain()
        [record] = self.messages(destination)
        self.assertEqual(record["requestContext"]["condition"], "RetriesExhausted")
        self.assertEqual(record["requestContext"]["approximateInvokeCount"], 2)
        self.assertEqual(record["responseContext"]["functionError"], "Unhandled")
        self.assertEqual(record["responsePayload"]["errorType"], "Runtime.ExitError")
        arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
        self.assertEqual(
            [(r["kind"], r["code"], r["target"], r["source"]) for r in self.fault_log()],
            [("function-crash", "Runtime.ExitError", arn, "invoke")] * 2,
        )
        self.chaos("POST", "faults", [])
        after, _ = self.invoke(name, {"echo": 3})
        self.assertNotEqual(before["pid"], after["pid"], "the crash ended the warm environment")

    def test_a_timeout_and_an_error_as_the_invoke_api_returns_them(self) -> None:
        name = self.function([], Timeout=1)
        self.faults([{"function": name, "source": "invoke", "invocationError": "timeout"}])
        started = time.monotonic()
        body, error = self.invoke(name, {"echo": 1})
        self.assertGreaterEqual(time.monotonic() - started, 1.0, "a timeout takes the function's timeout")
        self.assertEqual((error, body["errorType"]), ("Unhandled", "Sandbox.Timedout"))
        self.assertIn("Task timed out after 1.00 seconds", body["errorMessage"])

        self.chaos("POST", "faults", [])
        warm, _ = self.invoke(name, {"echo": 2})
        self.faults([{"function": name, "invocationError": "error"}])
        body, error = self.invoke(name, {"echo": 3})
        self.assertEqual((error, body["errorType"]), ("Unhandled", "Emulator.InjectedError"))
        self.chaos("POST", "faults", [])
        after, _ = self.invoke(name, {"echo": 4})
        self.assertEqual(warm["pid"], after["pid"], "a handler error keeps the environment warm")

    def test_source_scopes_invocation_faults(self) -> None:
        name, sink = self.forwarding_function()
        destination = self.failure_destination(name, retries=0)
        source = self.event_rule(name)
        self.faults([{"source": "events", "invocationError": "error"}])
        self.client("events").put_events(Entries=[{"Source": source, "DetailType": "Test", "Detail": "{}"}])
        self.drain()
        [record] = self.messages(destination)
        self.assertEqual(record["responsePayload"]["errorType"], "Emulator.InjectedError")
        self.assertEqual(record["requestPayload"]["source"], source)
        self.assertEqual(self.messages(sink), [], "the function never ran")
        _, error = self.invoke(name, {"echo": 1})
        self.assertIsNone(error, "an invocation from the Invoke API is not from events")

    def test_a_mapping_retries_a_crashed_batch_until_it_succeeds(self) -> None:
        dynamodb = self.client("dynamodb")
        table = f"t-{uuid.uuid4().hex[:8]}"
        stream = dynamodb.create_table(
            TableName=table,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )["TableDescription"]["LatestStreamArn"]
        read = ["dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:DescribeStream", "dynamodb:ListStreams"]
        name, sink = self.forwarding_function([{"Effect": "Allow", "Action": read, "Resource": stream}])
        lambda_ = self.client("lambda")
        mapping = lambda_.create_event_source_mapping(
            FunctionName=name, EventSourceArn=stream, StartingPosition="LATEST", MaximumRetryAttempts=-1
        )["UUID"]
        self.addCleanup(lambda_.delete_event_source_mapping, UUID=mapping)
        rule = {"function": name, "source": "esm", "invocationError": "crash"}
        self.faults([rule])
        dynamodb.put_item(TableName=table, Item={"id": {"S": "a"}})
        deadline = time.monotonic() + 15
        while len(self.fault_log()) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertGreaterEqual(len(self.fault_log()), 2, "the crashed batch is retried")
        self.assertEqual(self.messages(sink), [])
        self.assertEqual(self.chaos("DELETE", "faults", [rule]), (200, []))
        self.drain()
        [record] = self.messages(sink)
        self.assertEqual(record["dynamodb"]["Keys"]["id"]["S"], "a")

    # --- Delivery faults: EventBridge's order and at-least-once delivery ---------------

    def queue_rule(self) -> tuple[str, str, str, str, str]:
        """An EventBridge rule sending events of a new source to a new queue:
        (source, rule name, rule ARN, queue URL, queue ARN)."""
        url, arn = self.queue()
        name = f"to-queue-{uuid.uuid4().hex[:8]}"
        source = f"test.{name}"
        events = self.client("events")
        rule_arn = events.put_rule(Name=name, EventPattern=json.dumps({"source": [source]}))["RuleArn"]
        events.put_targets(Rule=name, Targets=[{"Id": "queue", "Arn": arn}])
        return source, name, rule_arn, url, arn

    def put_numbered(self, source: str, count: int) -> list[str]:
        """Puts events {"n": 0} .. {"n": count - 1} in that order; returns their event IDs."""
        events, ids = self.client("events"), []
        for start in range(0, count, 10):
            entries = [{"Source": source, "DetailType": "Test", "Detail": json.dumps({"n": n})}
                       for n in range(start, min(start + 10, count))]
            answer = events.put_events(Entries=entries)
            self.assertEqual(answer["FailedEntryCount"], 0)
            ids += [entry["EventId"] for entry in answer["Entries"]]
        return ids

    def arrivals(self, url: str) -> list[dict]:
        """Every event in the queue, in the order the queue holds them."""
        arrived = []
        while batch := self.messages(url):
            arrived += batch
        return arrived

    def test_a_delivery_rule_reorders_and_duplicates_deliveries(self) -> None:
        source, name, rule_arn, url, queue_arn = self.queue_rule()
        rule = {"service": "events", "rule": name, "delivery": {"reorderWindow": 2000, "duplicate": 0.2}}

        def run() -> tuple[list[int], list[tuple]]:
            """(the n of each arrival, the log's decisions as (kind, n, delay))."""
            self.chaos("DELETE", "log")
            self.faults([rule], seed=42)
            ids = self.put_numbered(source, 50)
            with urllib.request.urlopen(f"{self.endpoint}/_emulator/drain?timeout=0") as response:
                self.assertGreater(json.loads(response.read())["pending"], 0, "held deliveries are work in flight")
            self.drain()  # so the drain waits for them
            arrived = self.arrivals(url)
            self.assertEqual([event["id"] for event in arrived if event["id"] not in ids], [])
            index = {event_id: n for n, event_id in enumerate(ids)}
            log = self.fault_log()
            for record in log:
                self.assertEqual((record["target"], record["rule"], record["operation"]), (queue_arn, rule_arn, "PutEvents"))
            return [event["detail"]["n"] for event in arrived], [(r["kind"], index[r["eventId"]], r["latencyMs"]) for r in log]

        order, decisions = run()
        self.assertEqual(sorted(set(order)), list(range(50)), "every event arrives at least once")
        self.assertNotEqual(order, list(range(50)), "later events overtake earlier ones")
        twice = sorted(n for n in set(order) if order.count(n) == 2)
        self.assertTrue(0 < len(twice) < 50, "duplicate 0.2 repeats some deliveries, not all")
        self.assertEqual(len(order), 50 + len(twice))
        self.assertEqual(sorted(n for kind, n, _ in decisions if kind == "delivery-duplicated"), twice)
        delayed = [(n, delay) for kind, n, delay in decisions if kind == "delivery-delayed"]
        self.assertGreater(len(delayed), 40, "(a delay rounds to 0 ms only rarely)")
        self.assertTrue(all(0 < delay <= 2000 for _, delay in delayed))
        for kind, n, delay in decisions:
            if kind == "delivery-duplicated":  # the copy comes after the first delivery
                self.assertLessEqual(dict(delayed).get(n, 0), delay)
                self.assertLessEqual(delay, 4000)

        _, again = run()
        self.assertEqual(again, decisions, "the same seed makes the same decisions")

    def test_without_delivery_rules_events_arrive_once_in_put_order(self) -> None:
        source, _, _, url, _ = self.queue_rule()
        self.put_numbered(source, 50)
        self.drain()
        self.assertEqual([event["detail"]["n"] for event in self.arrivals(url)], list(range(50)))
        # A delivery rule scoped to another EventBridge rule changes nothing here either.
        self.faults([{"rule": "another-rule", "delivery": {"reorderWindow": 2000, "duplicate": 1}}])
        self.put_numbered(source, 50)
        self.drain()
        self.assertEqual([event["detail"]["n"] for event in self.arrivals(url)], list(range(50)))
        self.assertEqual(self.fault_log(), [])

    def test_a_lambda_target_gets_a_duplicate_too(self) -> None:
        name, sink = self.forwarding_function()
        source = self.event_rule(name)
        self.faults([{"delivery": {"reorderWindow": 300, "duplicate": 1}}], seed=3)
        [entry] = self.client("events").put_events(Entries=[{"Source": source, "DetailType": "Test", "Detail": "{}"}])["Entries"]
        self.drain()
        received = self.messages(sink)
        self.assertEqual([event["id"] for event in received], [entry["EventId"]] * 2, "the function ran twice")
        function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
        self.assertEqual(
            [(r["kind"], r["target"], r["eventId"]) for r in self.fault_log()],
            [("delivery-delayed", function_arn, entry["EventId"]), ("delivery-duplicated", function_arn, entry["EventId"])],
        )

    # --- The log ---------------------------------------------------------------------

    def test_the_log_lists_what_was_injected_and_clears(self) -> None:
        table = self.table()
        self.faults([{"service": "dynamodb", "operation": "GetItem", "error": {"statusCode": 400, "code": "ThrottlingException"}}])
        self.error_of(lambda: self.client("dynamodb").get_item(TableName=table, Key={"id": {"S": "a"}}))
        [record] = self.fault_log()
        self.assertRegex(record.pop("time"), r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertEqual(record, {
            "service": "dynamodb", "region": REGION, "operation": "GetItem", "kind": "api-error",
            "code": "ThrottlingException", "statusCode": 400, "latencyMs": None, "target": table, "source": None,
            "eventId": None, "rule": None,
        })
        self.assertEqual(self.chaos("DELETE", "log"), (200, []))
        self.assertEqual(self.fault_log(), [])


if __name__ == "__main__":
    unittest.main()
