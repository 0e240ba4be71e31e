"""modules/chat's notifications, delivered by the emulator: each announcement reaches one of
the module's rules, whose input transformer reshapes it into an Amazon Q Developer in chat
applications custom notification, published to the topic and read from an SQS subscriber;
every message must validate against schemas/chat-notification.schema.json.

ChatDeliveryTest builds the rules from the files the module itself reads
(modules/chat/notifications.json and modules/chat/templates/), with the topic policy the
module writes (events.amazonaws.com may publish for these rules only). ModuleApplyTest
applies the module itself with Terraform (its KMS key, key policy, topic policy and
targets) to the emulator, puts the same announcements, and plans again: nothing changes.
The announcements put are first validated against the announcements' own schemas, so they
are ones the module can put.
Run: python -m unittest discover -s tools -p 'test_*.py'  (with .tools/venv's python)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import unittest
import urllib.request
import uuid

import jsonschema

from test_pipeline import EmulatorProcessTest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CHAT = os.path.join(ROOT, "modules", "chat")
SOURCE = "iot.device-connectivity"


def _schema(name: str) -> jsonschema.Draft4Validator:
    with open(os.path.join(ROOT, "schemas", name)) as file:
        schema = json.load(file)
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())


def notifications() -> dict:
    with open(os.path.join(CHAT, "notifications.json")) as file:
        return json.load(file)


def template(key: str) -> str:
    with open(os.path.join(CHAT, "templates", f"{key}.tpl")) as file:
        return file.read()


def _uuid() -> str:
    return str(uuid.uuid4())


def device(status: str, **extra) -> dict:
    detail = {
        "version": "1",
        "eventId": _uuid(),
        "clientId": "cam-7",
        "status": status,
        "sequence": 1795705941000,
        "connect": {"versionNumber": 1, "timestamp": 1795705969000, "ipAddress": "192.0.2.31", "thingName": "cam-7"},
        "disconnect": {"versionNumber": 0, "timestamp": 1795705880000, "disconnectReason": "MQTT_KEEP_ALIVE_TIMEOUT"},
    }
    detail.update(extra)
    return detail


THING = {"name": "cam-7", "type": "camera", "attributes": {"site": "north"}, "groups": ["site-north", "cameras"]}
MAINTENANCE = {"windowId": "mw-1733250000000-1a2b", "until": 1795709569000, "reason": "firmware 4.2 rollout"}


def fleet(restored: bool) -> dict:
    detail = {
        "version": "1", "eventId": _uuid(), "stormId": "storm-1", "groupBy": "thing_group", "group": "site-north",
        "sequence": 7, "disconnectedCount": 3, "clientIds": ["cam-1", "cam-2", "cam-3"], "since": 1795705880000,
    }
    if restored:
        detail.update(disconnectedCount=1, clientIds=["cam-3"], restoredAt=1795709480000, durationMs=3600000, peakCount=42)
    return detail


# (announcement, detail, the notification key that must carry it, what its title must contain)
CASES = [
    ("Device Connected", device("Connected", offlineDurationMs=89000, thing=THING), "connected", ":large_green_circle: cam-7 back after 89000 ms"),
    ("Device Connected", device("Connected", offlineDurationMs=89000, maintenance=MAINTENANCE), "connected", "cam-7 back"),
    ("Device Connected", device("Connected", offlineDurationMs=None), "first-seen", "cam-7 connected for the first time"),
    ("Device Disconnected", device("Disconnected", thing=THING, stormId="storm-1"), "disconnected", ":red_circle: cam-7 disconnected"),
    ("Device Disconnected", device("Disconnected", thing={"name": "cam-7", "unavailable": True}), "disconnected", "cam-7 disconnected"),
    ("Device Disconnected", device("Disconnected", connect=None, disconnect=None), "disconnected", "cam-7 disconnected"),
    ("Device Disconnected", device("Disconnected", reason="ITEM_DELETED", maintenance=MAINTENANCE), "removed", "cam-7 removed (ITEM_DELETED)"),
    ("Fleet Connectivity Degraded", fleet(False), "degraded", ":rotating_light: 3 devices down in thing_group site-north"),
    ("Fleet Connectivity Restored", fleet(True), "restored", "thing_group site-north restored after 3600000 ms"),
]


class ChatDeliveryTest(EmulatorProcessTest):
    log_name = "chat"

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.chat = _schema("chat-notification.schema.json")
        cls.announcements = {
            "Device Connected": _schema("device-connectivity-event.schema.json"),
            "Device Disconnected": _schema("device-connectivity-event.schema.json"),
            "Fleet Connectivity Degraded": _schema("fleet-connectivity-event.schema.json"),
            "Fleet Connectivity Restored": _schema("fleet-connectivity-event.schema.json"),
        }
        cls.queue_url = cls.deploy_like_the_module()

    def client(self, service: str):
        return self.session.client(service, endpoint_url=self.endpoint)

    @classmethod
    def deploy_like_the_module(cls) -> str:
        """The module's topic, rules, targets and topic policy, and a raw SQS subscriber."""
        client = lambda service: cls.session.client(service, endpoint_url=cls.endpoint)  # noqa: E731
        name = f"chat{uuid.uuid4().hex[:6]}"
        events, sns, sqs = client("events"), client("sns"), client("sqs")
        topic = sns.create_topic(Name=f"{name}-chat")["TopicArn"]
        rule_arns = []
        for key, notification in notifications().items():
            pattern = {"source": [SOURCE], "detail-type": [notification["detail_type"]]}
            if notification["detail"]:
                pattern["detail"] = notification["detail"]
            rule_arns.append(events.put_rule(Name=f"{name}-chat-{key}", EventPattern=json.dumps(pattern))["RuleArn"])
            events.put_targets(Rule=f"{name}-chat-{key}", Targets=[{
                "Id": "chat", "Arn": topic,
                "InputTransformer": {"InputPathsMap": notification["input_paths"], "InputTemplate": template(key)},
            }])
        policy = {"Version": "2012-10-17", "Statement": [{
            "Sid": "ChatRulesPublish", "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sns:Publish", "Resource": topic, "Condition": {"ArnEquals": {"aws:SourceArn": rule_arns}},
        }]}
        sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue=json.dumps(policy))
        url = sqs.create_queue(QueueName=f"{name}-notifications")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        queue_policy = {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage",
            "Resource": queue_arn, "Condition": {"ArnEquals": {"aws:SourceArn": topic}},
        }]}
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(queue_policy)})
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
        return url

    def drain(self) -> None:
        with urllib.request.urlopen(f"{self.endpoint}/_emulator/drain?timeout=60") as response:
            self.assertTrue(json.loads(response.read())["idle"])

    def notifications_received(self) -> list[dict]:
        sqs, found = self.client("sqs"), []
        while messages := sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", []):
            for message in messages:
                found.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return found

    def announce(self, detail_type: str, detail: dict) -> None:
        event = {"version": "0", "id": _uuid(), "detail-type": detail_type, "source": SOURCE, "account": "123456789012",
                 "time": "2026-11-26T08:31:09Z", "region": "us-east-1", "resources": [], "detail": detail}
        errors = [error.message for error in self.announcements[detail_type].iter_errors(event)]
        self.assertEqual(errors, [], "the test's announcement must be one the module puts")
        answer = self.client("events").put_events(Entries=[{"Source": SOURCE, "DetailType": detail_type, "Detail": json.dumps(detail)}])
        self.assertEqual(answer["FailedEntryCount"], 0)

    def test_every_announcement_becomes_one_valid_chat_notification(self) -> None:
        for detail_type, detail, key, title in CASES:
            with self.subTest(key=key, title=title):
                self.announce(detail_type, detail)
                self.drain()
                received = self.notifications_received()
                self.assertEqual(len(received), 1, f"exactly one of the module's rules carries {detail_type}: {received}")
                [message] = received
                errors = [f"{list(error.path)}: {error.message}" for error in self.chat.iter_errors(message)]
                self.assertEqual(errors, [], json.dumps(message, indent=2))
                self.assertIn(title, message["content"]["title"])
                self.assertEqual(message["id"], detail["eventId"])
                self.assertEqual(message["metadata"]["eventType"], detail_type)
                self.assertEqual(message["metadata"]["additionalContext"]["sequence"], str(detail["sequence"]))
                thread = detail.get("stormId") if detail_type.startswith("Fleet") else detail["clientId"]
                self.assertEqual(message["metadata"]["threadId"], thread)

    def test_the_description_shows_what_the_announcement_carries(self) -> None:
        self.announce("Device Disconnected", device("Disconnected", thing=THING, maintenance=MAINTENANCE, stormId="storm-9"))
        self.drain()
        [message] = self.notifications_received()
        description = message["content"]["description"]
        for shown in ("MQTT_KEEP_ALIVE_TIMEOUT", "*Thing:* cam-7", "*Type:* camera", "[site-north,cameras]",
                      "mw-1733250000000-1a2b", "storm-9"):
            self.assertIn(shown, description)
        self.assertEqual(message["metadata"]["relatedResources"], ["cam-7"])
        self.announce("Fleet Connectivity Degraded", fleet(False))
        self.drain()
        [storm] = self.notifications_received()
        self.assertEqual(storm["metadata"]["relatedResources"], ["cam-1", "cam-2", "cam-3"])

    def test_the_templates_fit_eventbridge(self) -> None:
        for key, notification in notifications().items():
            with self.subTest(key):
                self.assertLessEqual(len(template(key)), 8192)
                self.assertLessEqual(len(notification["input_paths"]), 100)


# A stack of the module and a raw SQS subscriber, as examples/chat has them (without the
# root module, whose function Terraform would build with cargo).
STACK = """
provider "aws" {
  region = "us-east-1"
}

module "chat" {
  source       = "%(module)s"
  name         = "%(name)s"
  event_source = "%(source)s"
}

resource "aws_sqs_queue" "notifications" {
  name                    = "%(name)s-chat-notifications"
  sqs_managed_sse_enabled = true
}

data "aws_iam_policy_document" "notifications" {
  statement {
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.notifications.arn]
    principals {
      type        = "Service"
      identifiers = ["sns.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [module.chat.topic_arn]
    }
  }
}

resource "aws_sqs_queue_policy" "notifications" {
  queue_url = aws_sqs_queue.notifications.id
  policy    = data.aws_iam_policy_document.notifications.json
}

resource "aws_sns_topic_subscription" "notifications" {
  topic_arn            = module.chat.topic_arn
  protocol             = "sqs"
  endpoint             = aws_sqs_queue.notifications.arn
  raw_message_delivery = true
  depends_on           = [aws_sqs_queue_policy.notifications]
}

output "queue_url" {
  value = aws_sqs_queue.notifications.url
}
"""


class ModuleApplyTest(EmulatorProcessTest):
    """modules/chat as Terraform deploys it, on the emulator (needs terraform, as the test
    command has it after scripts/setup.sh; skipped without it, failed without it in CI)."""

    log_name = "chat-apply"

    def terraform(self, directory: str, *args: str) -> subprocess.CompletedProcess:
        env = dict(os.environ, AWS_ENDPOINT_URL=self.endpoint, AWS_ACCESS_KEY_ID="testing",
                   AWS_SECRET_ACCESS_KEY="testing", AWS_REGION="us-east-1", AWS_DEFAULT_REGION="us-east-1")
        env.pop("AWS_PROFILE", None)
        env.pop("AWS_SESSION_TOKEN", None)
        return subprocess.run(["terraform", f"-chdir={directory}", *args, "-no-color"],
                              env=env, capture_output=True, text=True, timeout=600)

    def test_the_module_applied_delivers_every_notification_and_plans_no_change(self) -> None:
        if shutil.which("terraform") is None:
            if os.environ.get("CI"):
                self.fail("terraform is not on PATH (source scripts/setup.sh)")
            self.skipTest("terraform is not on PATH (source scripts/setup.sh)")
        directory = tempfile.mkdtemp(prefix="chat-apply-")
        self.addCleanup(shutil.rmtree, directory, True)
        with open(os.path.join(directory, "main.tf"), "w") as file:
            file.write(STACK % {"module": CHAT, "name": f"chat{uuid.uuid4().hex[:6]}", "source": SOURCE})
        for args in (("init", "-input=false"), ("apply", "-auto-approve", "-input=false")):
            result = self.terraform(directory, *args)
            self.assertEqual(result.returncode, 0, result.stdout[-3000:] + result.stderr[-3000:])
        queue_url = self.terraform(directory, "output", "-raw", "queue_url").stdout.strip()
        plan = self.terraform(directory, "plan", "-detailed-exitcode", "-input=false")
        self.assertEqual(plan.returncode, 0, "a second plan changes nothing:\n" + plan.stdout[-3000:] + plan.stderr[-3000:])

        chat, events = _schema("chat-notification.schema.json"), self.session.client("events", endpoint_url=self.endpoint)
        for detail_type, detail, _, _ in CASES:
            answer = events.put_events(Entries=[{"Source": SOURCE, "DetailType": detail_type, "Detail": json.dumps(detail)}])
            self.assertEqual(answer["FailedEntryCount"], 0)
        with urllib.request.urlopen(f"{self.endpoint}/_emulator/drain?timeout=60") as response:
            self.assertTrue(json.loads(response.read())["idle"])
        sqs, received = self.session.client("sqs", endpoint_url=self.endpoint), []
        while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
            for message in messages:
                received.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        self.assertEqual(len(received), len(CASES), "one notification per announcement, through the module's own permissions")
        titles = [message["content"]["title"] for message in received]
        for _, _, _, title in CASES:
            self.assertTrue(any(title in shown for shown in titles), f"{title!r} in {titles}")
        for message in received:
            self.assertEqual([error.message for error in chat.iter_errors(message)], [], json.dumps(message))


if __name__ == "__main__":
    unittest.main()
