"""Secrets Manager calls authorised on the secret (tools/emulator/iam.py), as the pager's
role reads its PagerDuty routing key: moto authorises them on "*", which a least-privilege
policy naming the secret's ARN does not match.

They start the emulator as users do (`python tools/emulator.py --port 0`) and call it
through boto3 with retries off.
Run: python -m unittest discover -s tools -p 'test_*.py'  (with .tools/venv's python)
"""

from __future__ import annotations

import json
import unittest
import uuid

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from test_pipeline import EmulatorProcessTest

ACCOUNT = "123456789012"
REGION = "us-east-1"
NO_RETRIES = Config(retries={"total_max_attempts": 1})


class SecretsAuthorisationTest(EmulatorProcessTest):
    log_name = "secrets-iam"

    def secrets(self, session=None):
        return (session or self.session).client("secretsmanager", endpoint_url=self.endpoint, region_name=REGION,
                                                config=NO_RETRIES)

    def as_role(self, policy: dict):
        role = f"pager-{uuid.uuid4().hex[:8]}"
        trust = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
        iam = self.session.client("iam", endpoint_url=self.endpoint, region_name=REGION)
        role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        iam.put_role_policy(RoleName=role, PolicyName="keys", PolicyDocument=json.dumps(policy))
        sts = self.session.client("sts", endpoint_url=self.endpoint, region_name=REGION)
        credentials = sts.assume_role(RoleArn=role_arn, RoleSessionName="pager")["Credentials"]
        return role, self.secrets(session=boto3.Session(
            aws_access_key_id=credentials["AccessKeyId"], aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"], region_name=REGION,
        ))

    def test_a_secret_is_read_only_by_a_role_allowed_its_arn(self) -> None:
        secrets = self.secrets()
        name, other_name = f"pd-{uuid.uuid4().hex[:8]}", f"pd-{uuid.uuid4().hex[:8]}"
        arn = secrets.create_secret(Name=name, SecretString="key-a")["ARN"]
        other = secrets.create_secret(Name=other_name, SecretString="key-b")["ARN"]
        role, as_role = self.as_role({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": arn}]})
        # By ARN and by name alike: the call is authorised on the full ARN.
        self.assertEqual(as_role.get_secret_value(SecretId=arn)["SecretString"], "key-a")
        self.assertEqual(as_role.get_secret_value(SecretId=name)["SecretString"], "key-a")
        with self.assertRaises(ClientError) as raised:
            as_role.get_secret_value(SecretId=other)
        error = raised.exception.response["Error"]
        self.assertEqual(error["Code"], "AccessDeniedException")
        self.assertEqual(error["Message"], f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{role}/pager is not authorized "
                                           f"to perform: secretsmanager:GetSecretValue on resource: {other}")


if __name__ == "__main__":
    unittest.main()
