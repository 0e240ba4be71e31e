"""Tests of the IoT thing registry's read calls as the emulator answers them: moto's gaps
(tools/emulator/thing_registry.py, thing names in name_limits.py), authorisation on the
thing (iam.py), throttling them with fault rules (faults.py) and counting them (calls.py).

They start the emulator as users do (`python tools/emulator.py --port 0`) and call it
through boto3 with retries off.
Run: python -m unittest discover -s tools -p 'test_*.py'  (with .tools/venv's python)
"""

from __future__ import annotations

import json
import time
import unittest
import urllib.error
import urllib.request
import uuid

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from test_pipeline import EmulatorProcessTest

ACCOUNT = "123456789012"
REGION = "us-east-1"
NO_RETRIES = Config(retries={"total_max_attempts": 1})
# botocore checks maxResults' minimum itself; the service's own check is what is tested.
UNCHECKED = Config(retries={"total_max_attempts": 1}, parameter_validation=False)
THROTTLED = {"statusCode": 400, "code": "ThrottlingException", "message": "Rate exceeded"}


class ThingRegistryTest(EmulatorProcessTest):
    log_name = "thing-registry"

    def setUp(self) -> None:
        self.addCleanup(self.control, "POST", "chaos/faults", [])
        self.addCleanup(self.control, "POST", "chaos/seed", {"seed": None})
        self.addCleanup(self.control, "DELETE", "chaos/log")

    # --- Helpers -----------------------------------------------------------------

    def control(self, method: str, resource: str, document=None) -> tuple[int, object]:
        data = None if document is None else json.dumps(document).encode()
        request = urllib.request.Request(f"{self.endpoint}/_emulator/{resource}", data=data, method=method)
        try:
            with urllib.request.urlopen(request) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def iot(self, config: Config = NO_RETRIES, session=None):
        return (session or self.session).client("iot", endpoint_url=self.endpoint, region_name=REGION, config=config)

    def refused(self, call) -> tuple[str, int, str]:
        with self.assertRaises(ClientError) as raised:
            call()
        response = raised.exception.response
        return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Message"]

    def thing(self, **attributes) -> str:
        name = f"thing-{uuid.uuid4().hex[:8]}"
        self.iot().create_thing(thingName=name, **attributes)
        return name

    def groups(self, thing: str, count: int) -> list[str]:
        """`count` new thing groups with `thing` in each, in the order they were created."""
        names = [f"group-{uuid.uuid4().hex[:8]}" for _ in range(count)]
        for group in names:
            self.iot().create_thing_group(thingGroupName=group)
            self.iot().add_thing_to_thing_group(thingGroupName=group, thingName=thing)
        return names

    @staticmethod
    def arn(kind: str, name: str) -> str:
        return f"arn:aws:iot:{REGION}:{ACCOUNT}:{kind}/{name}"

    # --- What moto already answers as AWS does (kept so) ---------------------------

    def test_an_unknown_thing_is_not_found_by_either_call(self) -> None:
        iot = self.iot()
        for call in (lambda: iot.describe_thing(thingName="no-such-thing"),
                     lambda: iot.list_thing_groups_for_thing(thingName="no-such-thing")):
            code, status, _ = self.refused(call)
            self.assertEqual((code, status), ("ResourceNotFoundException", 404))

    def test_describe_thing_answers_the_registry_record(self) -> None:
        iot = self.iot()
        iot.create_thing_type(thingTypeName="sensor")
        bare = self.thing()
        typed = self.thing(thingTypeName="sensor", attributePayload={"attributes": {"site": "berlin"}})
        answer = iot.describe_thing(thingName=bare)
        answer.pop("ResponseMetadata")
        self.assertRegex(answer.pop("thingId"), r"^[0-9a-f-]{36}$")
        self.assertEqual(answer, {"thingName": bare, "thingArn": self.arn("thing", bare), "attributes": {}, "version": 1,
                                  "defaultClientId": bare}, "no thingTypeName without a type")
        answer = iot.describe_thing(thingName=typed)
        self.assertEqual((answer["thingTypeName"], answer["attributes"]), ("sensor", {"site": "berlin"}))

    # --- moto's gaps -----------------------------------------------------------------

    def test_a_thing_name_outside_the_pattern_is_an_invalid_request(self) -> None:
        """A client ID is not always a thing name: AWS refuses it before looking it up."""
        iot = self.iot()
        code, status, message = self.refused(lambda: iot.describe_thing(thingName="sensor.42"))
        self.assertEqual((code, status), ("InvalidRequestException", 400))
        self.assertEqual(message, "1 validation error detected: Value 'sensor.42' at 'thingName' failed to satisfy "
                                  "constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9:_-]+")
        long_name = "x" * 129
        code, status, message = self.refused(lambda: iot.list_thing_groups_for_thing(thingName=long_name))
        self.assertEqual((code, status), ("InvalidRequestException", 400))
        self.assertIn("Member must have length less than or equal to 128", message)
        # Colons are part of the pattern: such a name is looked up (and here, not found).
        self.assertEqual(self.refused(lambda: iot.describe_thing(thingName="a:b"))[0], "ResourceNotFoundException")

    def test_thing_groups_come_in_pages(self) -> None:
        thing = self.thing()
        groups = self.groups(thing, 5)
        iot = self.iot()
        self.assertNotIn("nextToken", iot.list_thing_groups_for_thing(thingName=thing), "without maxResults: all at once")
        pages, token = [], None
        while True:
            page = iot.list_thing_groups_for_thing(thingName=thing, maxResults=2, **({"nextToken": token} if token else {}))
            pages.append([group["groupName"] for group in page["thingGroups"]])
            token = page.get("nextToken")
            if token is None:
                break
        self.assertEqual([len(page) for page in pages], [2, 2, 1])
        self.assertEqual(sorted(sum(pages, [])), sorted(groups))
        self.assertEqual(page["thingGroups"][0]["groupArn"], self.arn("thinggroup", pages[-1][0]))

        unchecked = self.iot(UNCHECKED)
        for value, constraint in ((0, "greater than or equal to 1"), (251, "less than or equal to 250")):
            code, status, message = self.refused(lambda: unchecked.list_thing_groups_for_thing(thingName=thing, maxResults=value))
            self.assertEqual((code, status), ("InvalidRequestException", 400))
            self.assertEqual(message, f"1 validation error detected: Value '{value}' at 'maxResults' failed to satisfy "
                                      f"constraint: Member must have value {constraint}")
        code, status, _ = self.refused(lambda: iot.list_thing_groups_for_thing(thingName=thing, nextToken="not-a-token"))
        self.assertEqual((code, status), ("InvalidRequestException", 400))

    def test_a_deleted_thing_leaves_its_groups(self) -> None:
        thing = self.thing()
        [group] = self.groups(thing, 1)
        iot = self.iot()
        iot.delete_thing(thingName=thing)
        iot.create_thing(thingName=thing)
        self.assertEqual(iot.list_thing_groups_for_thing(thingName=thing)["thingGroups"], [])
        self.assertEqual(iot.list_things_in_thing_group(thingGroupName=group)["things"], [])

    def test_an_update_counts_the_version_up_and_checks_the_expected_one(self) -> None:
        thing = self.thing(attributePayload={"attributes": {"site": "berlin"}})
        iot = self.iot()
        iot.update_thing(thingName=thing, attributePayload={"attributes": {"floor": "2"}, "merge": True})
        self.assertEqual(iot.describe_thing(thingName=thing)["version"], 2)
        code, status, _ = self.refused(lambda: iot.update_thing(thingName=thing, expectedVersion=1,
                                                                attributePayload={"attributes": {"floor": "3"}, "merge": True}))
        self.assertEqual((code, status), ("VersionConflictException", 409))
        iot.update_thing(thingName=thing, expectedVersion=2, attributePayload={"attributes": {"floor": ""}, "merge": True})
        answer = iot.describe_thing(thingName=thing)
        self.assertEqual((answer["version"], answer["attributes"]), (3, {"site": "berlin"}), "an empty value removes")

    # --- IAM ---------------------------------------------------------------------------

    def test_registry_calls_are_authorised_on_the_thing(self) -> None:
        allowed, other = self.thing(), self.thing()
        role = f"reader-{uuid.uuid4().hex[:8]}"
        trust = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
        actions = ["iot:DescribeThing", "iot:ListThingGroupsForThing"]
        # The notifier's statement (thing/*), and a Deny that only the thing's own ARN matches.
        policy = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": actions, "Resource": f"arn:aws:iot:{REGION}:{ACCOUNT}:thing/*"},
            {"Effect": "Deny", "Action": actions, "Resource": self.arn("thing", other)},
        ]}
        iam = self.session.client("iam", endpoint_url=self.endpoint, region_name=REGION)
        role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        iam.put_role_policy(RoleName=role, PolicyName="registry", PolicyDocument=json.dumps(policy))
        sts = self.session.client("sts", endpoint_url=self.endpoint, region_name=REGION)
        credentials = sts.assume_role(RoleArn=role_arn, RoleSessionName="notifier")["Credentials"]
        as_role = self.iot(session=boto3.Session(
            aws_access_key_id=credentials["AccessKeyId"], aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"], region_name=REGION,
        ))
        self.assertEqual(as_role.describe_thing(thingName=allowed)["thingName"], allowed)
        self.assertEqual(as_role.list_thing_groups_for_thing(thingName=allowed)["thingGroups"], [])
        for operation, call in (("DescribeThing", lambda: as_role.describe_thing(thingName=other)),
                                ("ListThingGroupsForThing", lambda: as_role.list_thing_groups_for_thing(thingName=other))):
            code, status, message = self.refused(call)
            self.assertEqual((code, status), ("AccessDeniedException", 403))
            self.assertEqual(message, f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{role}/notifier is not authorized to "
                                      f"perform: iot:{operation} on resource: {self.arn('thing', other)}")

    # --- Throttling and counting -------------------------------------------------------

    def test_a_fraction_of_registry_calls_is_throttled_the_same_way_each_run(self) -> None:
        thing = self.thing()
        iot = self.iot()
        rules = [{"service": "iot", "operation": operation, "probability": 0.5, "error": THROTTLED}
                 for operation in ("DescribeThing", "ListThingGroupsForThing")]

        def run() -> list[bool]:
            self.control("POST", "chaos/seed", {"seed": 27})
            self.assertEqual(self.control("POST", "chaos/faults", rules), (200, rules))
            throttled = []
            for _ in range(10):
                for call in (lambda: iot.describe_thing(thingName=thing), lambda: iot.list_thing_groups_for_thing(thingName=thing)):
                    try:
                        call()
                        throttled.append(False)
                    except ClientError as error:
                        response = error.response
                        self.assertEqual((response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"],
                                          response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"], response["Error"]["Message"]),
                                         ("ThrottlingException", 400, "ThrottlingException", "Rate exceeded"))
                        throttled.append(True)
            return throttled

        first, second = run(), run()
        self.assertEqual(first, second, "a seed repeats the draws")
        self.assertTrue(any(first) and not all(first), "probability 0.5 throttles some calls, not all")
        log = self.control("GET", "chaos/log")[1]
        self.assertEqual(len(log), 2 * sum(first))
        self.assertEqual({(record["operation"], record["target"], record["code"]) for record in log},
                         {("DescribeThing", thing, "ThrottlingException"), ("ListThingGroupsForThing", thing, "ThrottlingException")})

    def test_every_registry_call_can_be_throttled_or_delayed(self) -> None:
        thing = self.thing()
        iot = self.iot()
        self.control("POST", "chaos/faults", [{"service": "iot", "operation": "ListThingGroupsForThing",
                                               "error": {"statusCode": 429, "code": "ThrottlingException"}}])
        for _ in range(3):
            self.assertEqual(self.refused(lambda: iot.list_thing_groups_for_thing(thingName=thing))[:2], ("ThrottlingException", 429))
        iot.describe_thing(thingName=thing)  # another operation runs
        self.control("POST", "chaos/faults", [{"service": "iot", "operation": "DescribeThing", "latency": 300}])
        started = time.monotonic()
        self.assertEqual(iot.describe_thing(thingName=thing)["thingName"], thing)
        self.assertGreaterEqual(time.monotonic() - started, 0.3, "a rule with only a latency delays, then answers")

    def test_calls_count_every_request_by_operation_and_reset(self) -> None:
        thing = self.thing()
        iot = self.iot()
        self.assertEqual(self.control("DELETE", "calls"), (200, {}))
        self.control("POST", "chaos/faults", [{"service": "iot", "operation": "DescribeThing", "error": THROTTLED}])
        self.refused(lambda: iot.describe_thing(thingName=thing))  # a throttled call counts
        self.control("POST", "chaos/faults", [])
        iot.describe_thing(thingName=thing)
        self.refused(lambda: iot.describe_thing(thingName="no-such-thing"))  # so does a failed one
        iot.list_thing_groups_for_thing(thingName=thing)
        status, counts = self.control("GET", "calls")
        self.assertEqual(status, 200)
        self.assertEqual(counts["iot"], {"DescribeThing": 3, "ListThingGroupsForThing": 1})
        self.assertEqual(self.control("DELETE", "calls"), (200, {}))
        self.assertEqual(self.control("GET", "calls"), (200, {}))
        self.assertEqual(self.control("POST", "calls", {})[0], 405)


class ConcurrentRegistryTest(unittest.TestCase):
    """The server is threaded and moto's registry is not: a request that walked the things
    while another created one failed with a 500 ("OrderedDict mutated during iteration"),
    as the storm benchmark's 10,000 things did. Called in-process, to race often."""

    def test_reads_while_things_are_created_never_fail(self) -> None:
        import threading

        from moto.iot.models import IoTBackend

        from emulator import thing_registry

        thing_registry.patch_serialised_backend()
        backend = IoTBackend(REGION, ACCOUNT)
        backend.create_thing("first", None, None)
        failures: list[BaseException] = []
        done = threading.Event()

        def read() -> None:
            while not done.is_set():
                try:
                    backend.describe_thing("first")
                except BaseException as error:  # noqa: BLE001 - any failure is the finding
                    failures.append(error)
                    return

        readers = [threading.Thread(target=read) for _ in range(2)]
        for reader in readers:
            reader.start()
        try:
            for i in range(20_000):
                backend.create_thing(f"thing-{i}", None, None)
                if failures:
                    break
        finally:
            done.set()
            for reader in readers:
                reader.join()
        self.assertEqual(failures, [])


if __name__ == "__main__":
    unittest.main()
