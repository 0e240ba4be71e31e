"""Tests of the emulator's patches (tools/emulator.py) against a real moto server.

Run: python -m unittest discover -s tools -p 'test_*.py'  (with .tools/venv's python)
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import sys
import threading
import time
import unittest
import zipfile

import boto3
from botocore.exceptions import ClientError
from moto.dynamodb import models as dynamodb_models
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

import emulator

emulator.apply_patches()
logging.getLogger("werkzeug").setLevel(logging.ERROR)


class EmulatorTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        cls.server.start()
        host, port = cls.server.get_host_and_port()
        cls.session = boto3.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
        )
        cls.endpoint = f"http://{host}:{port}"

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.stop()

    def client(self, service: str):
        return self.session.client(service, endpoint_url=self.endpoint)

    def test_topic_rule_tags_round_trip(self) -> None:
        iot = self.client("iot")
        payload = {"sql": "SELECT * FROM 'a'", "actions": [], "ruleDisabled": False}
        iot.create_topic_rule(ruleName="tagged", topicRulePayload=payload, tags="team=platform&env=test")
        arn = iot.get_topic_rule(ruleName="tagged")["ruleArn"]

        def tags() -> dict:
            return {t["Key"]: t["Value"] for t in iot.list_tags_for_resource(resourceArn=arn)["tags"]}

        self.assertEqual(tags(), {"team": "platform", "env": "test"})
        iot.tag_resource(resourceArn=arn, tags=[{"Key": "owner", "Value": "me"}])
        iot.untag_resource(resourceArn=arn, tagKeys=["env"])
        self.assertEqual(tags(), {"team": "platform", "owner": "me"})
        iot.delete_topic_rule(ruleName="tagged")
        self.assertEqual(tags(), {})

    def test_lambda_keeps_logging_config(self) -> None:
        iam, lambda_ = self.client("iam"), self.client("lambda")
        role = iam.create_role(
            RoleName="fn-role",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        )["Role"]["Arn"]
        package = io.BytesIO()
        with zipfile.ZipFile(package, "w") as archive:
            archive.writestr("bootstrap", "#!/bin/sh\n")
        lambda_.create_function(
            FunctionName="fn",
            Runtime="provided.al2023",
            Role=role,
            Handler="bootstrap",
            Code={"ZipFile": package.getvalue()},
            LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "DEBUG"},
        )
        config = lambda_.get_function_configuration(FunctionName="fn")["LoggingConfig"]
        self.assertEqual(
            config,
            {"LogFormat": "JSON", "ApplicationLogLevel": "DEBUG", "SystemLogLevel": "INFO", "LogGroup": "/aws/lambda/fn"},
        )
        lambda_.update_function_configuration(FunctionName="fn", LoggingConfig={"LogFormat": "Text"})
        config = lambda_.get_function_configuration(FunctionName="fn")["LoggingConfig"]
        self.assertEqual(config, {"LogFormat": "Text", "LogGroup": "/aws/lambda/fn"})

    def test_sqs_redrive_policy_reads_back_compact(self) -> None:
        sqs = self.client("sqs")
        dlq = sqs.create_queue(QueueName="redrive-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5}, separators=(",", ":"))
        queue = sqs.create_queue(QueueName="redrive-source", Attributes={"RedrivePolicy": policy})["QueueUrl"]
        read = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["RedrivePolicy"])["Attributes"]["RedrivePolicy"]
        self.assertEqual(read, policy)

    def test_a_tables_tags_come_in_one_page(self) -> None:
        dynamodb = self.client("dynamodb")
        arn = dynamodb.create_table(
            TableName="tagged",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            Tags=[{"Key": f"tag-{i:02}", "Value": str(i)} for i in range(14)],
        )["TableDescription"]["TableArn"]
        page = dynamodb.list_tags_of_resource(ResourceArn=arn)
        self.assertEqual(len(page["Tags"]), 14)
        self.assertNotIn("NextToken", page)

    def test_a_sparse_index_query_never_fails_while_writes_empty_it(self) -> None:
        dynamodb = self.client("dynamodb")
        dynamodb.create_table(
            TableName="owed",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": "ClientID", "AttributeType": "S"},
                {"AttributeName": "OwedShard", "AttributeType": "S"},
                {"AttributeName": "LastUpdateTime", "AttributeType": "N"},
            ],
            KeySchema=[{"AttributeName": "ClientID", "KeyType": "HASH"}],
            GlobalSecondaryIndexes=[{
                "IndexName": "ByAnnouncementOwed",
                "KeySchema": [
                    {"AttributeName": "OwedShard", "KeyType": "HASH"},
                    {"AttributeName": "LastUpdateTime", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }],
        )
        clients = [f"dev-{i}" for i in range(1000)]
        for client in clients:
            dynamodb.put_item(TableName="owed", Item={
                "ClientID": {"S": client}, "OwedShard": {"S": "Owed#0"}, "LastUpdateTime": {"N": "1"}})
        errors = []
        done = threading.Event()

        def settle_and_mark() -> None:
            writer = self.client("dynamodb")
            while not done.is_set():
                for client in clients[::10]:
                    writer.update_item(TableName="owed", Key={"ClientID": {"S": client}},
                                       UpdateExpression="REMOVE OwedShard")
                    writer.update_item(TableName="owed", Key={"ClientID": {"S": client}},
                                       UpdateExpression="SET OwedShard = :s", ExpressionAttributeValues={":s": {"S": "Owed#0"}})

        writers = [threading.Thread(target=settle_and_mark) for _ in range(2)]
        # Threads switch far more often than Python's 5 ms default, so the writes land
        # inside the query as they do under a loaded emulator.
        switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(1e-5)
        self.addCleanup(sys.setswitchinterval, switch_interval)
        for writer in writers:
            writer.start()
        reader = self.client("dynamodb")
        try:
            for _ in range(40):
                try:
                    reader.query(TableName="owed", IndexName="ByAnnouncementOwed", Limit=100,
                                 KeyConditionExpression="OwedShard = :s", ExpressionAttributeValues={":s": {"S": "Owed#0"}})
                except Exception as err:  # noqa: BLE001 - the failure under test
                    errors.append(err)
        finally:
            done.set()
            for writer in writers:
                writer.join()
        self.assertEqual(errors, [], "an index query answered with an error while writes changed its keys")

    def test_a_query_reads_only_its_partition(self) -> None:
        dynamodb = self.client("dynamodb")
        dynamodb.create_table(
            TableName="history",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": "ClientID", "AttributeType": "S"},
                {"AttributeName": "EventKey", "AttributeType": "S"},
            ],
            KeySchema=[
                {"AttributeName": "ClientID", "KeyType": "HASH"},
                {"AttributeName": "EventKey", "KeyType": "RANGE"},
            ],
        )
        for client in ("a", "b", "c"):
            for i in range(40):
                dynamodb.put_item(
                    TableName="history", Item={"ClientID": {"S": client}, "EventKey": {"S": f"{i:03}"}}
                )
        # Every list moto sorts while answering, by size: a Query of one partition must
        # never sort the whole table (120 items), as unpatched moto does.
        sorted_sizes = []
        table_module = dynamodb_models.table

        def counting_sorted(items, *args, **kwargs):
            items = list(items)
            sorted_sizes.append(len(items))
            return sorted(items, *args, **kwargs)

        table_module.sorted = counting_sorted
        try:
            between = dynamodb.query(
                TableName="history",
                KeyConditionExpression="ClientID = :c AND EventKey BETWEEN :a AND :b",
                ExpressionAttributeValues={":c": {"S": "b"}, ":a": {"S": "010"}, ":b": {"S": "019"}},
            )["Items"]
            newest = dynamodb.query(
                TableName="history",
                KeyConditionExpression="ClientID = :c AND EventKey < :a",
                ExpressionAttributeValues={":c": {"S": "c"}, ":a": {"S": "005"}},
                ScanIndexForward=False,
                Limit=1,
            )["Items"]
            missing = dynamodb.query(
                TableName="history",
                KeyConditionExpression="ClientID = :c",
                ExpressionAttributeValues={":c": {"S": "nobody"}},
            )["Items"]
        finally:
            del table_module.sorted
        self.assertEqual([item["EventKey"]["S"] for item in between], [f"{i:03}" for i in range(10, 20)])
        self.assertEqual({item["ClientID"]["S"] for item in between}, {"b"})
        self.assertEqual(newest, [{"ClientID": {"S": "c"}, "EventKey": {"S": "004"}}])
        self.assertEqual(missing, [])
        self.assertLessEqual(max(sorted_sizes, default=0), 40, sorted_sizes)

    def test_conditional_writes_are_atomic(self) -> None:
        dynamodb = self.client("dynamodb")
        dynamodb.create_table(
            TableName="counter",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        )
        dynamodb.put_item(TableName="counter", Item={"id": {"S": "x"}, "n": {"N": "0"}})
        # Compare-and-set increments from many threads: with atomic conditional writes,
        # successes equal the final count. Evaluating each condition is slowed down so
        # that, without the patch, concurrent writes reliably pass the same condition.
        successes = []
        original_parser = dynamodb_models.create_condition_expression_parser

        def slow_parser(*args, **kwargs):
            parser = original_parser(*args, **kwargs)
            parse = parser.parse

            def slow_parse():
                condition = parse()
                check = condition.expr

                def slow_check(item):
                    passed = check(item)
                    time.sleep(0.005)  # between the check and the write
                    return passed

                condition.expr = slow_check
                return condition

            parser.parse = slow_parse
            return parser

        dynamodb_models.create_condition_expression_parser = slow_parser
        self.addCleanup(setattr, dynamodb_models, "create_condition_expression_parser", original_parser)

        def worker() -> None:
            client = self.client("dynamodb")
            for _ in range(25):
                current = client.get_item(TableName="counter", Key={"id": {"S": "x"}}, ConsistentRead=True)
                n = int(current["Item"]["n"]["N"])
                try:
                    client.update_item(
                        TableName="counter",
                        Key={"id": {"S": "x"}},
                        UpdateExpression="SET n = :next",
                        ConditionExpression="n = :seen",
                        ExpressionAttributeValues={":next": {"N": str(n + 1)}, ":seen": {"N": str(n)}},
                    )
                    successes.append(1)
                except ClientError as error:
                    self.assertEqual(error.response["Error"]["Code"], "ConditionalCheckFailedException")

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        final = dynamodb.get_item(TableName="counter", Key={"id": {"S": "x"}})["Item"]["n"]["N"]
        self.assertEqual(int(final), len(successes))


class RuntimeApiTest(unittest.TestCase):
    def test_a_runtime_gone_mid_request_writes_nothing_to_stderr(self) -> None:
        # The function's log stream is the runtime's output: a traceback there would be
        # a line of the function's logs that is not its own.
        from emulator.runtime_api import RuntimeApi

        api = RuntimeApi("arn:aws:lambda:us-east-1:123456789012:function:f", 1.0)
        self.addCleanup(api.server_close)
        captured = io.StringIO()
        for error in (ConnectionResetError(), BrokenPipeError()):
            try:
                raise error
            except ConnectionError:
                with contextlib.redirect_stderr(captured):
                    api.handle_error(None, ("127.0.0.1", 1))
        self.assertEqual(captured.getvalue(), "")


if __name__ == "__main__":
    unittest.main()

