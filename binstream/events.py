"""Lifecycle events of a socket: what it is doing, typed, for those who opt in.

``async for event in socket.events()`` (asyncio), ``on_event=`` on the threaded manager's
``start_*_socket`` methods, ``binstream multiplex --events`` (JSON lines on stderr). The
error dicts python-binance code relies on are unchanged; events are an addition.

Example::

    >>> e = SocketEvent(EventKind.RECONNECTING, "bnbbtc@trade", attempt=1, delay=0.2,
    ...                 detail="connection lost (no close frame)")
    >>> e.as_dict()["event"], e.as_dict()["attempt"]
    ('reconnecting', 1)
    >>> mask_url("wss://fstream.binance.com/private/ws?listenKey=abcdef123456&events=x")
    'wss://fstream.binance.com/private/ws?listenKey=abcd…&events=x'
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class EventKind(StrEnum):
    """What happened."""

    CONNECTING = "connecting"
    CONNECTED = "connected"
    FIRST_MESSAGE = "first_message"
    DISCONNECTED = "disconnected"
    RECONNECTING = "reconnecting"
    ROTATED = "rotated"
    RENEWED = "renewed"  # an account stream's listenKey was replaced
    SUBSCRIBED = "subscribed"
    UNSUBSCRIBED = "unsubscribed"
    SILENT = "silent"  # a stream sent nothing for several times its pace
    GAVE_UP = "gave_up"


@dataclass(frozen=True)
class SocketEvent:
    """One lifecycle event of the socket ``path``.

    ``url`` is the connection's (secrets masked), ``detail`` a reason (a drop, giving up,
    a rotation), ``attempt``/``delay`` a reconnect's, ``streams`` a subscription change's.
    """

    kind: EventKind
    path: str
    url: str = ""
    detail: str = ""
    attempt: int = 0
    delay: float = 0.0
    streams: tuple[str, ...] = ()
    time: float = field(default_factory=time.time)

    def as_dict(self) -> dict[str, Any]:
        """The event as a JSON-ready dict, leaving out empty fields."""
        out: dict[str, Any] = {"event": self.kind.value, "socket": self.path,
                               "time": round(self.time, 3)}  # fmt: skip
        if self.url:
            out["url"] = self.url
        if self.detail:
            out["detail"] = self.detail
        if self.kind is EventKind.RECONNECTING:
            out.update(attempt=self.attempt, delay=round(self.delay, 3))
        if self.streams:
            out["streams"] = list(self.streams)
        return out


_SECRET_PARAM = re.compile(r"(listenKey=)([^&/]{4})[^&/]*", re.IGNORECASE)
_SECRET_PATH = re.compile(r"(/ws/)([A-Za-z0-9]{4})[A-Za-z0-9]{40,}")


def mask_url(url: str) -> str:
    """``url`` with a listenKey (a query parameter, or a raw ``/ws/<key>`` path) shortened
    to its first four characters: events and logs never carry one whole."""
    return _SECRET_PATH.sub(r"\1\2…", _SECRET_PARAM.sub(r"\1\2…", url))
