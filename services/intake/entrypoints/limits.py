"""How often one reader may look a person up: a sliding window of a minute per token subject, in this process."""
from __future__ import annotations

import math
import threading
import time
from collections import deque
from typing import Callable

WINDOW_S = 60.0
PRUNE_AT = 10_000  # readers remembered before the idle ones are forgotten


class PerReaderLimit:
    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic):
        self.per_minute = per_minute
        self.clock = clock
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def take(self, reader: str) -> int | None:
        """None: allowed, and counted; else the whole seconds to wait before the reader's next one is."""
        now = self.clock()
        with self._lock:
            if len(self._seen) >= PRUNE_AT:
                self._seen = {k: q for k, q in self._seen.items() if q and q[-1] > now - WINDOW_S}
            times = self._seen.setdefault(reader, deque())
            while times and times[0] <= now - WINDOW_S:
                times.popleft()
            if len(times) >= self.per_minute:
                return max(1, math.ceil(times[0] + WINDOW_S - now))
            times.append(now)
            return None
