"""Fault injection for the local exchange: the failures real networks and servers produce."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Literal

GarbageKind = Literal["text", "binary", "scalar", "wrong_stream", "invalid_utf8", "huge"]


@dataclass
class Faults:
    """What the local exchange does wrong, per connection.

    - ``drop_after``: close the connection after N messages; ``drop_close_frame=False``
      drops the TCP connection without a close frame; ``drop_mid_frame=True`` sends the
      first bytes of a frame, then resets the connection.
    - ``stall_after``: stop sending after N messages but keep the socket open;
      ``stall_pings`` also stops answering pings (reading is paused).
    - ``garbage_every``: send a bad frame of ``garbage_kind`` after every N messages.
    - ``fragment_every``: send every Nth message in three fragments (legal, but unusual).
    - ``delay``: sleep this long before each message (a slow server).
    - ``shutdown_after``: send a ``serverShutdown`` event after N messages and close
      ``shutdown_grace`` seconds later.
    - ``gap_every``: leave out every Nth diff-depth event (a sequence gap).
    - ``times``: how many new connections get these faults (None: all of them).

    Refusing connections is separate: :meth:`LocalExchange.refuse`.
    """

    drop_after: int | None = None
    drop_close_frame: bool = True
    drop_mid_frame: bool = False
    stall_after: int | None = None
    stall_pings: bool = False
    garbage_every: int | None = None
    garbage_kind: GarbageKind = "text"
    fragment_every: int | None = None
    delay: float = 0.0
    shutdown_after: int | None = None
    shutdown_grace: float = 1.0
    gap_every: int | None = None
    times: int | None = None

    @property
    def active(self) -> bool:
        return any(
            (
                self.drop_after is not None,
                self.stall_after is not None,
                self.garbage_every is not None,
                self.fragment_every is not None,
                self.delay > 0,
                self.shutdown_after is not None,
                self.gap_every is not None,
            )
        )

    def claim(self) -> Faults:
        """The faults a new connection gets, counting down ``times``."""
        if self.times is None:
            return replace(self)
        if self.times <= 0:
            return Faults()
        self.times -= 1
        return replace(self, times=None)


@dataclass
class Refusal:
    """Refuse new connections (HTTP 503) for ``count`` attempts or until ``until``."""

    count: int = 0
    until: float = 0.0

    def take(self) -> bool:
        if self.count > 0:
            self.count -= 1
            return True
        return time.monotonic() < self.until
