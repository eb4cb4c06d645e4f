"""Connection attempts of the whole process, kept under Binance's limit.

Binance allows 300 connection attempts per 5 minutes per IP; a reconnect storm past that
gets the IP banned. Every link books its attempt with :data:`CONNECTION_PACER` first.
"""

from __future__ import annotations

import threading
import time
from collections import deque


class AttemptPacer:
    """Keeps connection attempts under Binance's limit (300 per 5 minutes per IP).

    One pacer serves the whole process (every manager, every thread), so a burst of
    reconnects or a 2,500-stream multiplex never gets the IP banned. :meth:`reserve`
    books the next free slot and says how long to wait for it.
    """

    def __init__(self, limit: int = 300, window: float = 300.0) -> None:
        self.limit = limit
        self.window = window
        self._times: deque[float] = deque()
        self._lock = threading.Lock()

    def reserve(self) -> float:
        with self._lock:
            now = time.monotonic()
            times = self._times
            while times and now - times[0] >= self.window:
                times.popleft()
            slot = now
            if len(times) >= self.limit:
                slot = max(now, times[-self.limit] + self.window)
            times.append(slot)
            return slot - now


#: The process-wide pacer every connection attempt to a non-loopback host goes through.
CONNECTION_PACER = AttemptPacer()
