"""One live status line on stderr (when it is a terminal), and plain notices otherwise."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO


class StatusLine:
    """Counts messages and shows ``msgs, rate, reconnects, drops`` on stderr.

    ``live`` draws and redraws one line in place; notices (errors, retries) are printed
    above it so nothing is lost. When ``live`` is off only notices are printed.
    """

    def __init__(self, stream: TextIO | None = None, live: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self.received = 0
        self.reconnects = 0
        self.dropped = 0
        self.invalid = 0
        self.state = "connecting"
        self.started = time.monotonic()
        self._last_count = 0
        self._last_time = self.started
        self._rate = 0.0
        self._drawn = False
        #: More to show after the counts (e.g. what a NATS publisher holds).
        self.extra: Callable[[], str] | None = None

    def text(self) -> str:
        now = time.monotonic()
        if now - self._last_time >= 1.0:
            self._rate = (self.received - self._last_count) / (now - self._last_time)
            self._last_count, self._last_time = self.received, now
        parts = [self.state, f"{self.received:,} msgs", f"{self._rate:,.0f}/s"]
        if self.reconnects:
            parts.append(f"{self.reconnects} reconnects")
        if self.dropped:
            parts.append(f"{self.dropped:,} dropped")
        if self.invalid:
            parts.append(f"{self.invalid} invalid")
        if self.extra is not None:
            parts.append(self.extra())
        return "binstream: " + " | ".join(parts)

    def draw(self) -> None:
        if not self.live:
            return
        self.stream.write("\r\x1b[K" + self.text())
        self.stream.flush()
        self._drawn = True

    def notice(self, line: str) -> None:
        """Print ``line`` on its own line, keeping the status line below it."""
        if self._drawn:
            self.stream.write("\r\x1b[K")
        self.stream.write(line + "\n")
        self.stream.flush()
        if self._drawn:
            self.draw()

    def clear(self) -> None:
        if self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._drawn = False
