"""Work in flight: what the emulator still has to do after an API call has returned.

Rule actions, asynchronous invocations waiting for a retry and stream batches are
counted here, so that a test or the demo can wait until everything published has
landed (`GET /_emulator/drain`) instead of sleeping.
"""

from __future__ import annotations

import threading
import time


class Tracker:
    def __init__(self) -> None:
        self._pending = 0
        self._changed = threading.Condition()

    def begin(self) -> None:
        with self._changed:
            self._pending += 1

    def end(self) -> None:
        with self._changed:
            self._pending -= 1
            self._changed.notify_all()

    @property
    def pending(self) -> int:
        with self._changed:
            return self._pending

    def wait_idle(self, timeout_s: float) -> bool:
        """True once nothing is in flight; False if work remains after `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while self._pending > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
            return True


tracker = Tracker()
