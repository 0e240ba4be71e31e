"""Deliveries held back until their time, for the delivery fault rules of faults.py.

One thread runs each held delivery once its delay has passed, earliest first (two due
at the same moment: in the order they were held). A held delivery counts as work in
flight (work.py) from the moment it is held until it has run, so
`GET /_emulator/drain` waits for it.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable

from .work import tracker

log = logging.getLogger("emulator.held")


class HeldDeliveries:
    def __init__(self) -> None:
        self._due: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def hold(self, delay_s: float, deliver: Callable[[], None]) -> None:
        """Runs `deliver()` `delay_s` seconds from now, on the delivery thread."""
        tracker.begin()
        with self._changed:
            heapq.heappush(self._due, (time.monotonic() + delay_s, next(self._order), deliver))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="held-deliveries", daemon=True)
                self._thread.start()
            self._changed.notify()

    @property
    def pending(self) -> int:
        with self._changed:
            return len(self._due)

    def _run(self) -> None:
        while True:
            with self._changed:
                while True:
                    if not self._due:
                        self._changed.wait()
                        continue
                    remaining = self._due[0][0] - time.monotonic()
                    if remaining <= 0:
                        break
                    self._changed.wait(remaining)
                _, _, deliver = heapq.heappop(self._due)
            try:
                deliver()
            except Exception:  # one failed delivery never stops the others
                log.exception("a held delivery failed in the emulator")
            finally:
                tracker.end()


held = HeldDeliveries()
