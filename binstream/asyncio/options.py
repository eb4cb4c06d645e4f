"""What tunes a socket and what it reports: options, the reconnect policy, its state, status
events and counters."""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum

from ..traffic import Traffic
from .buffer import OverflowPolicy


class SocketState(StrEnum):
    """Where a socket is in its life; ``FAILED`` means it gave up reconnecting."""

    CONNECTING = "connecting"
    OPEN = "open"
    RECONNECTING = "reconnecting"
    CLOSED = "closed"
    FAILED = "failed"


@dataclass
class ReconnectPolicy:
    """How hard to try: ``max_retries`` attempts in a row (``math.inf`` = forever).

    Delays grow as ``base * 2**n`` capped at ``cap``, each multiplied by a random factor in
    ``[1 - jitter, 1]`` so that many clients do not reconnect in lockstep.
    """

    max_retries: float = 5
    backoff_base: float = 0.2
    backoff_cap: float = 30.0
    jitter: float = 0.5

    def delay(self, attempt: int) -> float:
        """Seconds to wait before attempt number ``attempt`` (1-based)."""
        raw = min(self.backoff_cap, self.backoff_base * (2 ** max(0, attempt - 1)))
        return raw * (1 - self.jitter * random.random())

    def schedule(self) -> Iterator[float]:
        """The upper bounds of the delays before each retry, for documentation and tests."""
        for attempt in itertools.count(1):
            if attempt > self.max_retries:
                return
            yield min(self.backoff_cap, self.backoff_base * (2 ** (attempt - 1)))


@dataclass
class SocketOptions:
    """Everything that tunes a socket; shared by every socket of a manager."""

    user_timeout: float | None = 300.0
    max_queue_size: int = 1000
    overflow: OverflowPolicy = "block"
    reconnect: ReconnectPolicy = field(default_factory=ReconnectPolicy)
    stall_timeout: float | None = None
    open_timeout: float = 10.0
    ping_interval: float | None = 20.0
    ping_timeout: float | None = 20.0
    close_timeout: float = 1.0
    max_size: int | None = 2**22
    max_age: float | None = 23 * 3600.0
    #: Queue the frame text as received (validated, not re-encoded) instead of the decoded
    #: dict: the command line's JSON-lines output writes it straight through.
    raw_frames: bool = False
    #: ``"auto"`` (websockets), ``"websockets"`` or ``"picows"``.
    transport: str = "auto"
    #: Check stream symbols against the market's exchangeInfo before subscribing
    #: (:mod:`binstream.asyncio.symbol_check`).
    check_symbols: bool = True
    #: Seconds after which a stream without a pace of its own (trades, bookTicker) counts
    #: as silent; None: only streams pushed on a clock are watched
    #: (:mod:`binstream.silence`).
    silence: float | None = None
    #: Count messages, bytes and receive lag per stream (``socket.stats.traffic``).
    stream_stats: bool = False
    on_status: Callable[[StatusEvent], None] | None = None


@dataclass(frozen=True)
class StatusEvent:
    """A change a status line may show: connected, dropped, retrying, gave up."""

    path: str
    state: SocketState
    detail: str = ""
    attempt: int = 0
    delay: float = 0.0
    #: What happened, where the state alone does not say: ``"dropped"`` (reconnecting
    #: after a connection was lost, rather than after a failed attempt), ``"rotated"`` (a
    #: planned switch to a new connection, nothing lost), or empty.
    kind: str = ""
    #: The streams of the connection a ``"dropped"`` event is about.
    streams: tuple[str, ...] = ()


@dataclass
class SocketStats:
    """Counters a caller may read at any time (``socket.stats``; ``--metrics`` exports them).

    ``drops`` counts lost connections by reason (:func:`drop_reason`); ``traffic`` holds
    messages, bytes and receive lag per stream when the socket's options ask for
    ``stream_stats`` (None otherwise: counting them costs a little on every batch).
    """

    received: int = 0
    reconnects: int = 0
    invalid: int = 0
    connected_at: float | None = None
    drops: dict[str, int] = field(default_factory=dict)
    traffic: Traffic | None = None


def drop_reason(detail: str) -> str:
    """A short label for why a connection was lost, from its description: ``closed`` (a
    close frame), ``lost`` (none), ``refused`` (code 1008: a limit), ``stalled``,
    ``silent``, or ``error``."""
    if "stalled" in detail:
        return "stalled"
    if "silent" in detail:
        return "silent"
    if "no close frame" in detail:
        return "lost"
    if "code 1008" in detail:
        return "refused"
    if "closed" in detail:
        return "closed"
    return "error"


def retries_value(value: float | int | str | None) -> float:
    """Parse a retry budget: a whole number, or ``inf``/``None`` for forever."""
    if value is None:
        return math.inf
    if isinstance(value, str):
        if value.strip().lower() in ("inf", "infinite", "forever"):
            return math.inf
        value = int(value)
    if value < 0:
        raise ValueError("retries must be 0 or more, or inf")
    return float(value)
