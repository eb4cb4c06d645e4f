"""Connection attempts of the whole process, kept under Binance's limit.

Binance allows 300 connection attempts per 5 minutes per IP; a reconnect storm past that
gets the IP banned (HTTP 429, then 418). Every link books its attempt with
:data:`CONNECTION_BUDGET` first, whichever manager or thread it belongs to.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class ConnectionBudget:
    """Keeps connection attempts under Binance's limit (300 per 5 minutes per IP).

    One budget serves the whole process (every socket of both managers, every thread), so
    a mass disconnect or a 3,000-stream multiplex never gets the IP banned.
    :meth:`reserve` books the next free slot and says how long to wait for it; slots keep
    ``margin`` of the window in hand, because the server counts an attempt when it arrives,
    not when it was booked.

    The local exchange on loopback is not Binance: its attempts are not rationed unless
    ``loopback`` is set (tests of the budget itself, a local exchange run with a limit).

    Example::

        >>> budget = ConnectionBudget(limit=2, window=10.0, clock=lambda: 0.0)
        >>> [budget.reserve() for _ in range(3)]
        [0.0, 0.0, 11.0]
        >>> budget.in_use()
        3
    """

    def __init__(
        self,
        limit: int = 300,
        window: float = 300.0,
        *,
        margin: float = 0.1,
        loopback: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lock = threading.Lock()
        self._times: deque[float] = deque()
        self._clock = clock
        self.limit = limit
        self.window = window
        self.margin = margin
        self.loopback = loopback
        #: Attempts that had to wait for a slot, since the process started.
        self.delayed = 0

    def configure(
        self,
        limit: int | None = None,
        window: float | None = None,
        *,
        loopback: bool | None = None,
    ) -> None:
        """Change the budget: ``limit`` attempts per ``window`` seconds; ``loopback`` also
        rations connections to 127.0.0.1 and ``localhost``."""
        with self._lock:
            if limit is not None:
                if limit < 1:
                    raise ValueError("the connection budget needs at least 1 attempt")
                self.limit = limit
            if window is not None:
                if window <= 0:
                    raise ValueError("the connection budget's window must be positive")
                self.window = window
            if loopback is not None:
                self.loopback = loopback
            self._times.clear()

    def applies_to(self, host: str) -> bool:
        """Whether attempts to ``host`` are rationed."""
        local = host == "localhost" or host.startswith("127.") or host == "::1"
        return self.loopback or not local

    def reserve(self) -> float:
        """Book an attempt: the seconds to wait before making it (0 when there is room)."""
        with self._lock:
            now = self._clock()
            span = self.window * (1 + self.margin)
            times = self._times
            while times and now - times[0] >= span:
                times.popleft()
            slot = now
            if len(times) >= self.limit:
                slot = max(now, times[-self.limit] + span)
                self.delayed += 1
            times.append(slot)
            return slot - now

    def in_use(self) -> int:
        """Attempts booked within the current window (the metric of the same name)."""
        with self._lock:
            now = self._clock()
            span = self.window * (1 + self.margin)
            return sum(1 for t in self._times if now - span < t <= now)


#: The process-wide budget every connection attempt goes through.
CONNECTION_BUDGET = ConnectionBudget()
