"""How many API requests reached the emulator, by service and operation.

A test or benchmark reads how often something called an API (for instance how many
DescribeThing and ListThingGroupsForThing calls a storm of disconnects cost the
notifier) without a proxy of its own:

- `GET /_emulator/calls` answers `{"iot": {"DescribeThing": 3, ...}, "dynamodb": {...}}`:
  the requests since the emulator started or the counts were last reset. Every request
  counts, whoever made it (Terraform, a test's SDK client, a deployed function), however
  it was answered: an injected fault, a refusal by IAM or a name limit, an error of
  moto's. Each attempt of an SDK's retries is a request of its own, as AWS counts them.
- `DELETE /_emulator/calls` resets the counts and answers `{}`.

These are the requests API fault rules act on (faults.py): what the emulator does itself,
such as an IoT rule's action or a mapping's poll, is no request.
"""

from __future__ import annotations

import threading
from collections import Counter

from moto.core.responses import BaseResponse

CONTROL_PATH = "/_emulator/calls"


class Calls:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str]] = Counter()

    def count(self, service: str, operation: str) -> None:
        with self._lock:
            self._counts[(service, operation)] += 1

    def counts(self) -> dict[str, dict[str, int]]:
        with self._lock:
            answer: dict[str, dict[str, int]] = {}
            for (service, operation), number in sorted(self._counts.items()):
                answer.setdefault(service, {})[operation] = number
            return answer

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()


calls = Calls()


def control(method: str) -> tuple[int, object]:
    """Answers one request to CONTROL_PATH: (HTTP status, JSON document)."""
    if method == "DELETE":
        calls.reset()
    elif method != "GET":
        return 405, {"error": f"{method} is not allowed on {CONTROL_PATH}"}
    return 200, calls.counts()


def patch() -> None:
    """Counts each request as it enters. Applied after every other patch of call_action
    (faults.py's included), so a request they answer themselves is counted too."""
    original_call_action = BaseResponse.call_action

    def call_action(self: BaseResponse):
        operation = self._get_action()
        if operation:  # moto found no operation: a 404 of its own, no API call
            calls.count(self.boto3_service_name, operation)
        return original_call_action(self)

    BaseResponse.call_action = call_action
