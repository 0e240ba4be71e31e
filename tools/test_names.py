"""Tests of the name limits (tools/emulator/name_limits.py) against a moto server with the
emulator's patches: a name one past AWS's limit is refused with the service's error, a
name exactly at the limit is created.

Run: python -m unittest discover -s tools -p 'test_*.py'  (with .tools/venv's python)
"""

from __future__ import annotations

import io
import json
import logging
import unittest
import uuid
import zipfile

import boto3
import botocore.session
from botocore.exceptions import ClientError
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

import emulator
from emulator import name_limits

emulator.apply_patches()
logging.getLogger("werkzeug").setLevel(logging.ERROR)

ACCOUNT = "123456789012"
POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})


def name(length: int, suffix: str = "") -> str:
    """A name unique to this run, exactly `length` characters long (with `suffix`)."""
    stem = f"n{uuid.uuid4().hex}"
    return (stem + "x" * length)[: length - len(suffix)] + suffix


class NameLimitsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        cls.server.start()
        host, port = cls.server.get_host_and_port()
        cls.endpoint = f"http://{host}:{port}"
        cls.session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
        trust = json.dumps({"Version": "2012-10-17", "Statement": []})
        cls.role_name = name(20)
        cls.role_arn = cls.client("iam").create_role(RoleName=cls.role_name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.stop()

    @classmethod
    def client(cls, service: str):
        return cls.session.client(service, endpoint_url=cls.endpoint)

    def refused(self, call) -> tuple[str, int, str]:
        with self.assertRaises(ClientError) as raised:
            call()
        response = raised.exception.response
        return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Message"]

    def assert_length_refused(self, call, code: str, value: str, field: str, limit: int) -> None:
        self.assertEqual(
            self.refused(call),
            (code, 400, f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: "
                        f"Member must have length less than or equal to {limit}"),
        )

    # --- Lambda --------------------------------------------------------------------

    def create_function(self, function_name: str):
        package = io.BytesIO()
        with zipfile.ZipFile(package, "w") as archive:
            archive.writestr("bootstrap", "#!/bin/sh\n")
        return self.client("lambda").create_function(
            FunctionName=function_name, Runtime="provided.al2023", Role=self.role_arn, Handler="bootstrap",
            Code={"ZipFile": package.getvalue()},
        )

    def test_a_function_name_has_at_most_64_characters(self) -> None:
        at_limit, over = name(64), name(65)
        self.assertEqual(self.create_function(at_limit)["FunctionName"], at_limit)
        self.assert_length_refused(lambda: self.create_function(over), "InvalidParameterValueException", over, "functionName", 64)
        arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{over}"  # 108 characters: the model's 140 allow it
        self.assert_length_refused(lambda: self.create_function(arn), "InvalidParameterValueException", arn, "functionName", 64)
        names = [f["FunctionName"] for f in self.client("lambda").list_functions()["Functions"]]
        self.assertIn(at_limit, names)
        self.assertNotIn(over, names)

    def test_a_function_name_outside_its_pattern_is_a_validation_exception(self) -> None:
        code, status, message = self.refused(lambda: self.create_function("has space"))
        self.assertEqual((code, status), ("ValidationException", 400))
        self.assertIn("Value 'has space' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern", message)

    # --- IAM -------------------------------------------------------------------------

    def test_a_role_name_has_at_most_64_characters(self) -> None:
        iam = self.client("iam")
        trust = json.dumps({"Version": "2012-10-17", "Statement": []})
        at_limit, over = name(64), name(65)
        self.assertEqual(iam.create_role(RoleName=at_limit, AssumeRolePolicyDocument=trust)["Role"]["RoleName"], at_limit)
        self.assert_length_refused(
            lambda: iam.create_role(RoleName=over, AssumeRolePolicyDocument=trust), "ValidationError", over, "roleName", 64
        )
        with self.assertRaises(ClientError) as raised:
            iam.get_role(RoleName=over)
        self.assertEqual(raised.exception.response["Error"]["Code"], "NoSuchEntity", "a refused role is not created")

    def test_a_policy_name_has_at_most_128_characters(self) -> None:
        iam = self.client("iam")
        at_limit, over = name(128), name(129)
        self.assertEqual(iam.create_policy(PolicyName=at_limit, PolicyDocument=POLICY)["Policy"]["PolicyName"], at_limit)
        self.assert_length_refused(
            lambda: iam.create_policy(PolicyName=over, PolicyDocument=POLICY), "ValidationError", over, "policyName", 128
        )

    def test_a_role_policy_name_has_at_most_128_characters(self) -> None:
        iam = self.client("iam")
        at_limit, over = name(128), name(129)
        iam.put_role_policy(RoleName=self.role_name, PolicyName=at_limit, PolicyDocument=POLICY)
        self.assert_length_refused(
            lambda: iam.put_role_policy(RoleName=self.role_name, PolicyName=over, PolicyDocument=POLICY),
            "ValidationError", over, "policyName", 128,
        )
        self.assertEqual(iam.list_role_policies(RoleName=self.role_name)["PolicyNames"], [at_limit])

    # --- EventBridge and EventBridge Scheduler -----------------------------------------

    def test_a_rule_name_has_at_most_64_characters_of_its_pattern(self) -> None:
        events = self.client("events")
        pattern = json.dumps({"source": ["test"]})
        at_limit, over = name(64), name(65)
        events.put_rule(Name=at_limit, EventPattern=pattern)
        self.assert_length_refused(lambda: events.put_rule(Name=over, EventPattern=pattern), "ValidationException", over, "name", 64)
        self.assertEqual(
            self.refused(lambda: events.put_rule(Name="a/b", EventPattern=pattern)),
            ("ValidationException", 400, "1 validation error detected: Value 'a/b' at 'name' failed to satisfy constraint: "
                                         "Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+"),
        )
        bad_and_long = name(65, suffix="/")
        code, _, message = self.refused(lambda: events.put_rule(Name=bad_and_long, EventPattern=pattern))
        self.assertEqual(code, "ValidationException")
        self.assertTrue(message.startswith("2 validation errors detected: "), message)
        self.assertEqual([r["Name"] for r in events.list_rules(NamePrefix=at_limit[:20])["Rules"]], [at_limit])

    def test_a_schedule_name_has_at_most_64_characters(self) -> None:
        scheduler = self.client("scheduler")

        def create(schedule_name: str):
            return scheduler.create_schedule(
                Name=schedule_name, ScheduleExpression="rate(1 hour)", FlexibleTimeWindow={"Mode": "OFF"},
                Target={"Arn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:queue", "RoleArn": self.role_arn},
            )

        at_limit, over = name(64), name(65)
        create(at_limit)
        self.assertEqual(scheduler.get_schedule(Name=at_limit)["Name"], at_limit)
        self.assert_length_refused(lambda: create(over), "ValidationException", over, "name", 64)

    # --- SQS -----------------------------------------------------------------------

    def test_a_queue_name_has_at_most_80_characters_fifo_suffix_included(self) -> None:
        sqs = self.client("sqs")
        standard_refusal = "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"
        fifo_refusal = ("The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, "
                        "must end with .fifo suffix and be 1 to 80 in length.")
        at_limit, over = name(80), name(81)
        self.assertTrue(sqs.create_queue(QueueName=at_limit)["QueueUrl"].endswith(at_limit))
        self.assertEqual(self.refused(lambda: sqs.create_queue(QueueName=over)), ("InvalidParameterValue", 400, standard_refusal))
        fifo = {"FifoQueue": "true"}
        at_limit, over = name(80, ".fifo"), name(81, ".fifo")
        self.assertTrue(sqs.create_queue(QueueName=at_limit, Attributes=fifo)["QueueUrl"].endswith(at_limit))
        self.assertEqual(
            self.refused(lambda: sqs.create_queue(QueueName=over, Attributes=fifo)), ("InvalidParameterValue", 400, fifo_refusal)
        )
        # A standard queue cannot take the suffix: "." is not one of its characters.
        self.assertEqual(
            self.refused(lambda: sqs.create_queue(QueueName=name(20, ".fifo"))), ("InvalidParameterValue", 400, standard_refusal)
        )

    # --- IoT, CloudWatch Logs, CloudWatch ----------------------------------------------

    def test_a_topic_rule_name_has_at_most_128_characters(self) -> None:
        iot = self.client("iot")
        payload = {"sql": "SELECT * FROM 'a'", "actions": []}
        at_limit, over = name(128), name(129)
        iot.create_topic_rule(ruleName=at_limit, topicRulePayload=payload)
        self.assertEqual(iot.get_topic_rule(ruleName=at_limit)["rule"]["ruleName"], at_limit)
        self.assert_length_refused(
            lambda: iot.create_topic_rule(ruleName=over, topicRulePayload=payload), "InvalidRequestException", over, "ruleName", 128
        )

    def test_a_log_group_name_has_at_most_512_characters_of_its_pattern(self) -> None:
        logs = self.client("logs")
        at_limit, over = "/aws/" + name(507), "/aws/" + name(508)
        logs.create_log_group(logGroupName=at_limit)
        self.assert_length_refused(
            lambda: logs.create_log_group(logGroupName=over), "InvalidParameterException", over, "logGroupName", 512
        )
        code, status, message = self.refused(lambda: logs.create_log_group(logGroupName="/aws/has space"))
        self.assertEqual((code, status), ("InvalidParameterException", 400))
        self.assertIn("Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+", message)

    def test_an_alarm_name_has_at_most_255_characters(self) -> None:
        cloudwatch = self.client("cloudwatch")

        def put(alarm_name: str):
            cloudwatch.put_metric_alarm(
                AlarmName=alarm_name, MetricName="Errors", Namespace="Test", Statistic="Sum", Period=60,
                EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold",
            )

        at_limit, over = name(255), name(256)
        put(at_limit)
        self.assertEqual([a["AlarmName"] for a in cloudwatch.describe_alarms(AlarmNames=[at_limit])["MetricAlarms"]], [at_limit])
        self.assert_length_refused(lambda: put(over), "ValidationError", over, "alarmName", 255)

    # --- The table is the API reference's --------------------------------------------

    def test_the_limits_are_the_service_models(self) -> None:
        """botocore ships AWS's service models: each limit is the model's own constraint."""
        session = botocore.session.get_session()
        for limit in name_limits.LIMITS:
            with self.subTest(f"{limit.service} {limit.operation} {limit.member}"):
                shape = session.get_service_model(limit.service).operation_model(limit.operation).input_shape.members[limit.member]
                self.assertEqual((limit.low, limit.high, limit.pattern), (
                    shape.metadata.get("min"), shape.metadata.get("max"), shape.metadata.get("pattern")
                ))


if __name__ == "__main__":
    unittest.main()
