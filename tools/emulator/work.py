"""Work in flight: what the emulator still has to do after an API call has returned.

Rule actions, asynchronous invocations waiting for a retry, stream batches and
EventBridge deliveries held by a delivery fault rule (held.py) are counted here, so
that a test or the demo can wait until everything published has landed
(`GET /_emulator/drain`) instead of sleeping.
"""

from __future__ import annotations

import threading
import time


class Tracker:
    """Counts work begun and not ended, plus what probes report (records and messages
    that event source mappings have yet to deliver)."""

    def __init__(self) -> None:
        self._pending = 0
        self._changed = threading.Condition()
        self._probes: list = []

    def add_probe(self, probe) -> None:
        self._probes.append(probe)

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
            begun = self._pending
        return begun + sum(probe() for probe in self._probes)

    def wait_idle(self, timeout_s: float) -> bool:
        """True once nothing is in flight; False if work remains after `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        # Twice idle in a row: a mapping's invocation may start work of its own.
        idle_checks = 0
        while idle_checks < 2:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if self.pending > 0:
                idle_checks = 0
                with self._changed:
                    self._changed.wait(min(remaining, 0.1))
            else:
                idle_checks += 1
                time.sleep(0.15)
        return True


tracker = Tracker()
