"""IAM: execution-role credentials, and identity policies enforced on the requests made with them.

Only credentials the emulator issued (AssumeRole, as Lambda does for a function's
execution role) are checked; every other access key, such as the documented dummy
`test`/`testing` keys that Terraform, the tests and callers use, stays an administrator.
A request signed with issued credentials is allowed when an Allow statement of the
role's inline or attached policies matches its action and resource and no Deny does.
A statement with a condition matches only when every condition can be evaluated from
what the emulator knows (strict: an unknown condition key never grants access).
"""

from __future__ import annotations

import fnmatch
import json
import logging
from urllib.parse import unquote

from moto.core.authorization import ActionAuthenticatorMixin
from moto.core.exceptions import JsonRESTError
from moto.core.responses import get_service_model
from moto.dynamodb.responses import DynamoHandler
from moto.events.responses import EventsHandler
from moto.iam.models import iam_backends
from moto.iot.responses import IoTResponse
from moto.secretsmanager.models import secretsmanager_backends
from moto.secretsmanager.responses import SecretsManagerResponse
from moto.sts.models import sts_backends
from moto.utilities.utils import get_partition

log = logging.getLogger("emulator.iam")


def _as_list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _matches(patterns, value: str, case_sensitive: bool = True) -> bool:
    for pattern in _as_list(patterns):
        if case_sensitive:
            if fnmatch.fnmatchcase(value, pattern):
                return True
        elif fnmatch.fnmatchcase(value.lower(), pattern.lower()):
            return True
    return False


_CONDITION_OPERATORS = {
    "StringEquals": lambda want, got: got in want,
    "StringLike": lambda want, got: _matches(want, got),
    "ArnEquals": lambda want, got: got in want,
    "ArnLike": lambda want, got: _matches(want, got),
}


def conditions_hold(conditions: dict | None, context: dict[str, str]) -> bool:
    """Every condition of a statement holds for `context` (keys compared case-insensitively)."""
    lowered = {key.lower(): value for key, value in context.items()}
    for operator, tests in (conditions or {}).items():
        check = _CONDITION_OPERATORS.get(operator)
        if check is None:
            return False
        for key, wanted in tests.items():
            got = lowered.get(key.lower())
            if got is None or not check(_as_list(wanted), got):
                return False
    return True


def evaluate(documents: list[dict], action: str, resource: str, context: dict | None = None) -> bool:
    """Identity-policy evaluation: an explicit Deny wins, then any Allow, else deny."""
    allowed = False
    for document in documents:
        for statement in _as_list(document.get("Statement")):
            if "Action" in statement:
                if not _matches(statement["Action"], action, case_sensitive=False):
                    continue
            elif _matches(statement.get("NotAction"), action, case_sensitive=False):
                continue
            if "Resource" in statement:
                if not _matches(statement["Resource"], resource):
                    continue
            elif _matches(statement.get("NotResource"), resource):
                continue
            if not conditions_hold(statement.get("Condition"), context or {}):
                continue
            if statement.get("Effect") == "Deny":
                return False
            allowed = True
    return allowed


def role_policies(role_arn: str) -> list[dict] | None:
    """The identity policies of a role (None: no such role)."""
    account = role_arn.split(":")[4]
    backend = iam_backends[account][get_partition_of(role_arn)]
    name = role_arn.split("/")[-1]
    try:
        backend.get_role(name)
    except Exception:
        return None
    documents = []
    for policy_name in backend.list_role_policies(name):
        _, text = backend.get_role_policy(name, policy_name)
        documents.append(_document(text))
    attached, _ = backend.list_attached_role_policies(name)
    for policy in attached:
        version = next(v for v in policy.versions if v.is_default)
        documents.append(_document(version.document))
    return documents


def _document(text) -> dict:
    if isinstance(text, dict):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return json.loads(unquote(text))


def get_partition_of(arn: str) -> str:
    return arn.split(":")[1] or "aws"


def role_allows(role_arn: str, actions: list[str], resource: str, context: dict | None = None) -> bool:
    documents = role_policies(role_arn)
    if documents is None:
        return False
    return all(evaluate(documents, action, resource, context) for action in actions)


def trust_allows(role_arn: str, service: str, context: dict | None = None) -> bool:
    """The role's trust policy lets `service` (e.g. lambda.amazonaws.com) assume it."""
    account = role_arn.split(":")[4]
    backend = iam_backends[account][get_partition_of(role_arn)]
    try:
        role = backend.get_role(role_arn.split("/")[-1])
    except Exception:
        return False
    document = _document(role.assume_role_policy_document)
    for statement in _as_list(document.get("Statement")):
        if statement.get("Effect") != "Allow":
            continue
        if not _matches(statement.get("Action"), "sts:AssumeRole", case_sensitive=False):
            continue
        principal = statement.get("Principal") or {}
        services = _as_list(principal.get("Service")) if isinstance(principal, dict) else []
        if service not in services:
            continue
        if conditions_hold(statement.get("Condition"), context or {}):
            return True
    return False


def lambda_permission_allows(function, service: str, source_arn: str, account: str) -> bool:
    """A statement of the function's resource policy lets `service` (iot.amazonaws.com,
    events.amazonaws.com) invoke it on behalf of `source_arn` in `account`."""
    context = {"AWS:SourceArn": source_arn, "AWS:SourceAccount": account}
    for statement in function.policy.statements:
        if statement.get("Effect", "Allow") != "Allow":
            continue
        principal = statement.get("Principal") or {}
        services = principal.get("Service") if isinstance(principal, dict) else None
        if service not in _as_list(services):
            continue
        if not _matches(statement.get("Action"), "lambda:InvokeFunction", case_sensitive=False):
            continue
        if not _matches(statement.get("Resource"), function.function_arn) and not _matches(
            statement.get("Resource"), f"{function.function_arn}:$LATEST"
        ):
            continue
        if conditions_hold(statement.get("Condition"), context):
            return True
    return False


def assume_execution_role(role_arn: str, region: str, session_name: str):
    """Credentials of the role, as Lambda gets them for a function's execution environment."""
    account = role_arn.split(":")[4]
    backend = sts_backends[account][get_partition(region)]
    return backend.assume_role(
        region_name=region,
        role_session_name=session_name,
        role_arn=role_arn,
        policy="",
        duration=3600,
        external_id="",
    )


def _issued_role(account: str, region: str, access_key: str):
    backend = sts_backends[account][get_partition(region)]
    return backend.get_assumed_role_from_access_key(access_key)


def _credential(headers) -> tuple[str, str] | None:
    authorization = headers.get("Authorization") or ""
    if "Credential=" not in authorization:
        return None
    scope = authorization.split("Credential=", 1)[1].split(",", 1)[0].split("/")
    return scope[0], scope[2] if len(scope) > 2 else "us-east-1"


# Requests over several items are authorised per item, on each item's table (DynamoDB
# guide: "Using IAM with DynamoDB transactions"): a transaction's Put, Update, Delete and
# ConditionCheck need PutItem, UpdateItem, DeleteItem and ConditionCheckItem.
_TRANSACT_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}


def _table_arn(handler, table: str) -> str:
    if table.startswith("arn:"):
        return table
    return f"arn:{get_partition(handler.region)}:dynamodb:{handler.region}:{handler.current_account}:table/{table}"


# The IoT actions the Service Authorization Reference authorises on resource type `thing`
# alone, among those this project calls or its tests make.
_THING_ACTIONS = {"CreateThing", "DescribeThing", "UpdateThing", "DeleteThing", "ListThingGroupsForThing"}


def _required(handler, action: str, resource: str) -> list[tuple[str, str]]:
    """The (action, resource) pairs a request needs: one, or one per item or table."""
    if not isinstance(handler, DynamoHandler):
        return [(action, resource)]
    body = getattr(handler, "params", None) or {}
    name = action.split(":", 1)[1]
    if name in ("TransactWriteItems", "TransactGetItems"):
        pairs = []
        for entry in body.get("TransactItems") or []:
            for kind, operation in entry.items():
                pairs.append((f"dynamodb:{_TRANSACT_ACTIONS.get(kind, kind)}", _table_arn(handler, operation.get("TableName", ""))))
        return pairs or [(action, resource)]
    if name in ("BatchGetItem", "BatchWriteItem"):
        return [(action, _table_arn(handler, table)) for table in body.get("RequestItems") or {}] or [(action, resource)]
    return [(action, resource)]


def patch_enforcement() -> None:
    def authenticate_and_authorize(self, iam_request_cls, resource: str = "*") -> None:
        credential = _credential(self.headers)
        if credential is None:
            return
        access_key, region = credential
        assumed = _issued_role(self.current_account, region, access_key)
        if assumed is None:
            return  # not issued here: the administrator
        request = iam_request_cls(
            account_id=self.current_account,
            method=self.method,
            path=self.raw_path + (f"?{self.uri.split('?', 1)[1]}" if "?" in self.uri else ""),
            # moto signs `data` when the body is empty; for a REST request without a body
            # (IoT DescribeThing, Lambda GetFunction) that is a dict of its headers and query,
            # so every such request signed with issued credentials failed SignatureDoesNotMatch.
            data=self.data if self.raw_body else b"",
            body=self.raw_body,
            headers=self.headers,
            action=self._get_action(),
        )
        request.check_signature()
        documents = role_policies(assumed.role_arn) or []
        denied = next(
            ((action, on) for action, on in _required(self, request._action, resource) if not evaluate(documents, action, on)),
            None,
        )
        if denied is None:
            return
        action, resource = denied
        session = f"arn:aws:sts::{self.current_account}:assumed-role/{assumed.role_arn.split('/')[-1]}/{assumed.session_name}"
        message = f"User: {session} is not authorized to perform: {action} on resource: {resource}"
        log.warning("denied: %s", message)
        if self.headers.get("X-Amz-Target"):  # JSON protocol: the error AWS SDKs parse
            raise JsonRESTError("AccessDeniedException", message)
        if get_service_model(self.boto3_service_name).protocol == "rest-json":
            # REST-JSON services (IoT, Lambda) answer a JSON AccessDeniedException with 403;
            # their SDKs read no code from moto's XML AccessDenied (boto3 reports "403").
            denied_error = JsonRESTError("AccessDeniedException", message)
            denied_error.code = 403
            raise denied_error
        request._raise_access_denied()

    ActionAuthenticatorMixin._authenticate_and_authorize_action = authenticate_and_authorize

    # moto authorises DynamoDB requests on "*"; AWS authorises them on the table, or
    # on the index for a Query or Scan that names one.
    def determine_resource(self: DynamoHandler) -> str:
        body = getattr(self, "params", None) or {}
        table = body.get("TableName")
        if not table:
            return "*"
        arn = f"arn:{get_partition(self.region)}:dynamodb:{self.region}:{self.current_account}:table/{table}"
        index = body.get("IndexName")
        return f"{arn}/index/{index}" if index else arn

    DynamoHandler._determine_resource = determine_resource

    # PutEvents is authorised on the event bus (moto: "*"). A request naming several buses
    # is authorised on the first, a simplification of AWS's per-entry check.
    def determine_event_bus(self: EventsHandler) -> str:
        entries = self._get_param("Entries") or [{}]
        bus = (entries[0] or {}).get("EventBusName") or "default"
        if bus.startswith("arn:"):
            return bus
        return f"arn:{get_partition(self.region)}:events:{self.region}:{self.current_account}:event-bus/{bus}"

    EventsHandler._determine_resource = determine_event_bus

    # IoT calls on one thing are authorised on the thing (moto: "*", which a policy on
    # arn:aws:iot:REGION:ACCOUNT:thing/* does not match).
    def determine_thing(self: IoTResponse) -> str:
        name = self._get_param("thingName") if self._get_action() in _THING_ACTIONS else None
        if not isinstance(name, str) or not name:
            return "*"
        return f"arn:{get_partition(self.region)}:iot:{self.region}:{self.current_account}:thing/{name}"

    IoTResponse._determine_resource = determine_thing

    # Secrets Manager calls on one secret are authorised on its full ARN, whether the call
    # names it by name, full or partial ARN (moto: "*", which a policy on the ARN does not
    # match). A secret that does not exist is authorised on "*", then not found.
    def determine_secret(self: SecretsManagerResponse) -> str:
        secret_id = self._get_param("SecretId")
        if not isinstance(secret_id, str) or not secret_id:
            return "*"
        secret = secretsmanager_backends[self.current_account][self.region].secrets.get(secret_id)
        return secret.arn if secret is not None else "*"

    SecretsManagerResponse._determine_resource = determine_secret
