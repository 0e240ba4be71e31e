"""The IoT thing registry as AWS IoT answers the calls that read it (moto 5.2.5 differs).

The notifier reads a device's thing with DescribeThing and its groups with
ListThingGroupsForThing. moto answers both as AWS does for a thing that exists (the
fields of DescribeThing, `thingTypeName` only with a type) or not (404
ResourceNotFoundException), but not in three ways that change what those calls read:

1. ListThingGroupsForThing ignores `maxResults` and `nextToken` and answers every group
   at once. AWS pages: `maxResults` is 1 to 250 (InvalidRequestException with AWS's
   validation message outside), and `nextToken` is set while groups remain.
2. DeleteThing left the thing in its thing groups (moto keys members by the thing's ARN),
   so a thing created again under the same name was already in the old groups. AWS
   removes a deleted thing from its groups.
3. UpdateThing kept `version` at 1 and ignored `expectedVersion`. AWS counts the thing's
   version up with each update and refuses an update whose `expectedVersion` is not the
   current one (VersionConflictException, 409).
4. The backend is not safe for threads, and the server is threaded: a call that walked the
   things while another request created one failed (500, "OrderedDict mutated during
   iteration"). AWS answers concurrent calls; here the backend takes one at a time.

A thing name outside `[a-zA-Z0-9:_-]+` or 1 to 128 characters is refused by
name_limits.py (InvalidRequestException), as AWS refuses it, before moto answers 404.
"""

from __future__ import annotations

import base64
import binascii
import inspect
import threading

from moto.core.responses import ActionResult
from moto.iot.exceptions import InvalidRequestException, VersionConflictException
from moto.iot.models import IoTBackend
from moto.iot.responses import IoTResponse

from .name_limits import validation_message

MAX_RESULTS = (1, 250)  # RegistryMaxResults in the IoT API reference


def _page_token(offset: int) -> str:
    # Opaque to callers, as AWS's tokens are; only this module reads it back.
    return base64.urlsafe_b64encode(f"groups:{offset}".encode()).decode()


def _page_offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        kind, _, offset = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        if kind == "groups" and offset.isdigit():
            return int(offset)
    except (binascii.Error, UnicodeError, ValueError):
        pass
    raise InvalidRequestException(f"The nextToken {token!r} is not valid.")


def _max_results(response: IoTResponse) -> int | None:
    value = response._get_param("maxResults")
    if value is None:
        return None
    low, high = MAX_RESULTS
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InvalidRequestException(validation_message(str(value), "maxResults", ["Member must be a number"]))
    if number < low:
        raise InvalidRequestException(validation_message(str(value), "maxResults", [f"Member must have value greater than or equal to {low}"]))
    if number > high:
        raise InvalidRequestException(validation_message(str(value), "maxResults", [f"Member must have value less than or equal to {high}"]))
    return number


def patch_group_paging() -> None:
    def list_thing_groups_for_thing(self: IoTResponse) -> ActionResult:
        size = _max_results(self)
        start = _page_offset(self._get_param("nextToken"))
        groups = self.iot_backend.list_thing_groups_for_thing(thing_name=self._get_param("thingName"))
        end = len(groups) if size is None else start + size
        answer: dict = {"thingGroups": groups[start:end]}
        if end < len(groups):
            answer["nextToken"] = _page_token(end)
        return ActionResult(answer)

    IoTResponse.list_thing_groups_for_thing = list_thing_groups_for_thing


def patch_delete_leaves_groups() -> None:
    original_delete = IoTBackend.delete_thing

    def delete_thing(self: IoTBackend, thing_name: str) -> None:
        arn = self.describe_thing(thing_name).arn  # ResourceNotFoundException as before
        original_delete(self, thing_name)
        for group in self.thing_groups.values():
            group.things.pop(arn, None)

    IoTBackend.delete_thing = delete_thing


# The server is threaded: two updates of one thing must not both pass one expectedVersion.
_updates = threading.Lock()


def patch_update_version() -> None:
    original_update = IoTResponse.update_thing

    def update_thing(self: IoTResponse):
        name = self._get_param("thingName")
        expected = self._get_param("expectedVersion")
        with _updates:
            thing = self.iot_backend.describe_thing(name)
            if expected is not None and int(expected) != thing.version:
                raise VersionConflictException(name)
            result = original_update(self)
            thing.version += 1
            return result

    IoTResponse.update_thing = update_thing


# Re-entrant: backend calls call each other (AddThingToThingGroup describes the thing).
_backend = threading.RLock()


def patch_serialised_backend() -> None:
    def serialised(original):
        def call(*args, **kwargs):
            with _backend:
                return original(*args, **kwargs)

        return call

    for name, member in list(vars(IoTBackend).items()):
        if inspect.isfunction(member) and not name.startswith("_"):
            setattr(IoTBackend, name, serialised(member))


def patch() -> None:
    patch_group_paging()
    patch_delete_leaves_groups()
    patch_update_version()
    # Last: it wraps the patched delete_thing too.
    patch_serialised_backend()
