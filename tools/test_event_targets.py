"""Tests of what EventBridge rule targets receive in the emulator: target input
(tools/emulator/input_transformer.py), SNS targets (event_targets.py) and SNS to SQS
(sns_delivery.py), against a moto server patched as the emulator patches it. Each fails
against moto 5.2.5 itself.

Run: python -m unittest discover -s tools -p 'test_*.py'  (with .tools/venv's python)
"""

from __future__ import annotations

import json
import logging
import unittest
import uuid

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

import emulator
from emulator import event_targets, input_transformer

emulator.apply_patches()
logging.getLogger("werkzeug").setLevel(logging.ERROR)
logging.getLogger("emulator").setLevel(logging.CRITICAL)  # failures are asserted, not printed

ACCOUNT = "123456789012"
REGION = "us-east-1"
NO_RETRIES = Config(retries={"total_max_attempts": 1})


class TargetsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        cls.server.start()
        host, port = cls.server.get_host_and_port()
        cls.session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)
        cls.endpoint = f"http://{host}:{port}"

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.stop()

    def client(self, service: str):
        return self.session.client(service, endpoint_url=self.endpoint, config=NO_RETRIES)

    # --- Helpers -----------------------------------------------------------------

    def queue(self, policy_for: str | None = None) -> tuple[str, str]:
        sqs = self.client("sqs")
        url = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        if policy_for:  # what SNS needs to send to it
            statement = {"Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage",
                         "Resource": arn, "Condition": {"ArnEquals": {"aws:SourceArn": policy_for}}}
            sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps({"Version": "2012-10-17", "Statement": [statement]})})
        return url, arn

    def rule(self, *targets: dict) -> tuple[str, str]:
        """A rule on a source of its own with the given targets; (source, rule ARN)."""
        source = f"test.{uuid.uuid4().hex[:8]}"
        events = self.client("events")
        arn = events.put_rule(Name=f"r-{source[5:]}", EventPattern=json.dumps({"source": [source]}))["RuleArn"]
        events.put_targets(Rule=f"r-{source[5:]}", Targets=[dict(target, Id=str(i)) for i, target in enumerate(targets)])
        return source, arn

    def put(self, source: str, detail: dict) -> str:
        answer = self.client("events").put_events(Entries=[{"Source": source, "DetailType": "Test", "Detail": json.dumps(detail)}])
        self.assertEqual(answer["FailedEntryCount"], 0)
        return answer["Entries"][0]["EventId"]

    def bodies(self, url: str) -> list[str]:
        sqs, found = self.client("sqs"), []
        while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            for message in messages:
                found.append(message["Body"])
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return found

    def transformed(self, paths: dict, template: str, detail: dict) -> list[str]:
        url, arn = self.queue()
        source, _ = self.rule({"Arn": arn, "InputTransformer": {"InputPathsMap": paths, "InputTemplate": template}})
        self.put(source, detail)
        return self.bodies(url)

    def failures_of(self, rule_arn: str) -> list[str]:
        return [failure["reason"] for failure in event_targets.failures if failure["rule"] == rule_arn]

    def topic(self, policy_rule_arn: str | None = None, key: str | None = None) -> str:
        sns = self.client("sns")
        attributes = {"KmsMasterKeyId": key} if key else {}
        arn = sns.create_topic(Name=f"t-{uuid.uuid4().hex[:8]}", Attributes=attributes)["TopicArn"]
        if policy_rule_arn:
            statement = {"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sns:Publish",
                         "Resource": arn, "Condition": {"ArnEquals": {"aws:SourceArn": policy_rule_arn}}}
            sns.set_topic_attributes(TopicArn=arn, AttributeName="Policy",
                                     AttributeValue=json.dumps({"Version": "2012-10-17", "Statement": [statement]}))
        return arn

    def subscribe(self, topic: str, raw: bool) -> str:
        url, queue_arn = self.queue(policy_for=topic)
        self.client("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn,
                                     Attributes={"RawMessageDelivery": "true" if raw else "false"})
        return url

    def sns_rule(self, key: str | None = None, allow: bool = True) -> tuple[str, str, str]:
        """A rule whose one target is a new topic with a raw SQS subscriber; (source, rule ARN, queue URL)."""
        events = self.client("events")
        name = f"r-{uuid.uuid4().hex[:8]}"
        source = f"test.{name}"
        rule_arn = events.put_rule(Name=name, EventPattern=json.dumps({"source": [source]}))["RuleArn"]
        topic = self.topic(rule_arn if allow else f"{rule_arn}-other", key)
        url = self.subscribe(topic, raw=True)
        events.put_targets(Rule=name, Targets=[{"Id": "t", "Arn": topic, "InputPath": "$.detail"}])
        return source, rule_arn, url

    # --- Target input --------------------------------------------------------------

    def test_without_input_a_target_gets_the_event_as_eventbridge_sends_it(self) -> None:
        url, arn = self.queue()
        source, _ = self.rule({"Arn": arn})
        event_id = self.put(source, {"n": 1})
        [body] = self.bodies(url)
        event = json.loads(body)
        self.assertEqual(list(event), ["version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"])
        self.assertEqual((event["id"], event["account"], event["detail"]), (event_id, ACCOUNT, {"n": 1}))
        self.assertRegex(event["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertNotIn(" ", body, "minified")

    def test_input_and_input_path_are_what_the_target_gets(self) -> None:
        url, arn = self.queue()
        source, _ = self.rule({"Arn": arn, "Input": '{"constant": true}'}, {"Arn": arn, "InputPath": "$.detail.inner"})
        self.put(source, {"inner": {"a": [1, 2]}})
        self.assertCountEqual(self.bodies(url), ['{"constant": true}', '{"a":[1,2]}'])

    def test_a_placeholder_is_json_outside_a_string_and_text_inside_one(self) -> None:
        paths = {"client": "$.detail.client", "obj": "$.detail.obj", "n": "$.detail.n", "list": "$.detail.list",
                 "first": "$.detail.list[0]", "all": "$.detail.list[*]"}
        template = ('{"client": <client>, "title": "<client> is down", "obj": <obj>, "objText": "o=<obj>", "n": <n>, '
                    '"nText": "<n> ms", "list": <list>, "first": <first>, "all": <all>, "rule": "<aws.events.rule-name>", '
                    '"original": <aws.events.event.json>}')
        [body] = self.transformed(paths, template, {"client": "cam-7", "obj": {"k": "v"}, "n": 89000, "list": ["a", "b"]})
        out = json.loads(body)
        self.assertEqual(out["client"], "cam-7")
        self.assertEqual(out["title"], "cam-7 is down")
        self.assertEqual(out["obj"], {"k": "v"})
        self.assertEqual(out["objText"], "o={k:v}", "inner quotes removed inside a string")
        self.assertEqual((out["n"], out["nText"]), (89000, "89000 ms"))
        self.assertEqual((out["list"], out["first"], out["all"]), (["a", "b"], "a", ["a", "b"]))
        self.assertTrue(out["rule"].startswith("r-"))
        self.assertEqual(out["original"]["detail"]["client"], "cam-7")
        self.assertNotIn(" ", body.replace(" is down", "").replace(" ms", ""), "minified")

    def test_a_string_template_sends_its_text(self) -> None:
        [body] = self.transformed({"c": "$.detail.c"}, '"instance <c> is in state \\"<c>\\""', {"c": "i-1"})
        self.assertEqual(body, 'instance i-1 is in state "i-1"')

    def test_a_missing_path_is_empty_in_a_string_and_fails_the_delivery_outside_one(self) -> None:
        [body] = self.transformed({"m": "$.detail.missing"}, '{"a": "[<m>]"}', {})
        self.assertEqual(json.loads(body), {"a": "[]"})
        url, arn = self.queue()
        source, rule_arn = self.rule({"Arn": arn, "InputTransformer": {"InputPathsMap": {"m": "$.detail.missing"}, "InputTemplate": '{"a": <m>}'}})
        self.put(source, {})  # PutEvents still succeeds: the delivery fails
        self.assertEqual(self.bodies(url), [])
        self.assertIn("invalid JSON", self.failures_of(rule_arn)[-1])

    def test_a_value_with_a_quote_inside_a_string_fails_the_delivery(self) -> None:
        url, arn = self.queue()
        source, rule_arn = self.rule({"Arn": arn, "InputTransformer": {"InputPathsMap": {"c": "$.detail.c"}, "InputTemplate": '{"t": "<c> down"}'}})
        self.put(source, {"c": 'cam "7"'})  # EventBridge does not escape values inside a string
        self.assertEqual(self.bodies(url), [])
        self.assertTrue(self.failures_of(rule_arn))

    def test_put_targets_refuses_what_the_api_refuses(self) -> None:
        events = self.client("events")
        events.put_rule(Name="refusals", EventPattern=json.dumps({"source": ["refusals"]}))
        arn = "arn:aws:sqs:us-east-1:123456789012:any"
        cases = {
            "invalid placeholder nope": {"InputTransformer": {"InputPathsMap": {}, "InputTemplate": '{"a": <nope>}'}},
            "Only one of Input, InputPath, or InputTransformer": {"Input": "{}", "InputPath": "$.detail"},
            "at most 100": {"InputTransformer": {"InputPathsMap": {f"k{i}": "$.detail" for i in range(101)}, "InputTemplate": "{}"}},
            "as an object key": {"InputTransformer": {"InputPathsMap": {"k": "$.detail.k"}, "InputTemplate": '{<k>: 1}'}},
            "must match": {"InputTransformer": {"InputPathsMap": {"a.b": "$.detail"}, "InputTemplate": '"<a.b>"'}},
            "not a valid JSON path": {"InputTransformer": {"InputPathsMap": {"k": "detail.k"}, "InputTemplate": '"<k>"'}},
            "not valid JSON": {"Input": "{not json"},
        }
        for message, settings in cases.items():
            with self.subTest(message), self.assertRaises(ClientError) as raised:
                events.put_targets(Rule="refusals", Targets=[dict(settings, Id="t", Arn=arn)])
            self.assertEqual(raised.exception.response["Error"]["Code"], "ValidationException")
            self.assertIn(message, raised.exception.response["Error"]["Message"])
        self.assertEqual(events.list_targets_by_rule(Rule="refusals")["Targets"], [])

    def test_the_jsonpath_subset(self) -> None:
        document = {"detail": {"a-b": {"c/d": [{"e": 1}, {"e": 2}]}, "n": None}}
        self.assertEqual(input_transformer.resolve(document, "$.detail.a-b.c/d[1].e"), 2)
        self.assertEqual(input_transformer.resolve(document, "$.detail.a-b.c/d[*].e"), [1, 2])
        self.assertIsNone(input_transformer.resolve(document, "$.detail.n"))
        self.assertIs(input_transformer.resolve(document, "$.detail.x"), input_transformer.MISSING)
        self.assertIs(input_transformer.resolve(document, "$.detail.a-b.c/d[5]"), input_transformer.MISSING)

    # --- SNS targets -----------------------------------------------------------------

    def test_an_sns_target_publishes_when_the_topic_policy_allows_the_rule(self) -> None:
        source, rule_arn, url = self.sns_rule()
        self.put(source, {"n": 1})
        self.assertEqual(self.bodies(url), ['{"n":1}'])
        self.assertEqual(self.failures_of(rule_arn), [])

    def test_an_sns_target_without_the_topic_policy_gets_nothing_and_put_events_succeeds(self) -> None:
        source, rule_arn, url = self.sns_rule(allow=False)
        self.put(source, {"n": 1})  # moto: a 500 here
        self.assertEqual(self.bodies(url), [])
        self.assertIn("topic policy", self.failures_of(rule_arn)[-1])

    def test_an_encrypted_topic_needs_a_key_eventbridge_may_use(self) -> None:
        kms = self.client("kms")
        account_root = {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*", "Resource": "*"}
        events_use = {"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
                      "Action": ["kms:GenerateDataKey", "kms:Decrypt"], "Resource": "*"}
        closed = kms.create_key(Policy=json.dumps({"Version": "2012-10-17", "Statement": [account_root]}))["KeyMetadata"]["Arn"]
        open_ = kms.create_key(Policy=json.dumps({"Version": "2012-10-17", "Statement": [account_root, events_use]}))["KeyMetadata"]["Arn"]
        for key, delivered, why in (("alias/aws/sns", False, "AWS managed key"), (closed, False, "does not allow"), (open_, True, None)):
            with self.subTest(key):
                source, rule_arn, url = self.sns_rule(key=key)
                self.put(source, {"k": 1})
                self.assertEqual(self.bodies(url), ['{"k":1}'] if delivered else [])
                if why:
                    self.assertIn(why, self.failures_of(rule_arn)[-1])

    # --- SNS to SQS --------------------------------------------------------------------

    def test_sns_sends_raw_or_in_its_envelope_as_the_subscription_says(self) -> None:
        topic = self.topic()
        raw, wrapped = self.subscribe(topic, raw=True), self.subscribe(topic, raw=False)
        self.client("sns").publish(TopicArn=topic, Message='{"hello":"chat"}')
        self.assertEqual(self.bodies(raw), ['{"hello":"chat"}'])
        [body] = self.bodies(wrapped)  # moto delivered this one raw too: "false" is a true string
        envelope = json.loads(body)
        self.assertEqual(list(envelope)[:4], ["Type", "MessageId", "TopicArn", "Message"])
        self.assertEqual((envelope["Type"], envelope["TopicArn"], envelope["Message"]), ("Notification", topic, '{"hello":"chat"}'))
        subscriptions = self.client("sns").list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
        wrapped_arn = next(s["SubscriptionArn"] for s in subscriptions if s["Endpoint"].split(":")[-1] == wrapped.split("/")[-1])
        self.assertTrue(envelope["UnsubscribeURL"].endswith(f"SubscriptionArn={wrapped_arn}"))

    def test_sns_sends_only_to_a_queue_whose_policy_lets_it(self) -> None:
        topic = self.topic()
        url, queue_arn = self.queue()  # no queue policy
        self.client("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
        other_url, other_arn = self.queue(policy_for=f"{topic}-other")
        self.client("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=other_arn, Attributes={"RawMessageDelivery": "true"})
        self.client("sns").publish(TopicArn=topic, Message="m")
        self.assertEqual((self.bodies(url), self.bodies(other_url)), ([], []))


if __name__ == "__main__":
    unittest.main()
