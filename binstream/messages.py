"""The error dicts binstream puts in line with the data, in python-binance's shape.

Drop-in code checks ``msg["e"] == "error"`` and ``msg["type"]``; this module is the one
place that names the types and builds and recognises the dicts.

Example::

    >>> msg = error_message(CLOSED, "connection lost (no close frame)")
    >>> is_error(msg), msg["type"]
    (True, 'BinanceWebsocketClosed')
"""

from __future__ import annotations

from typing import Any

#: A connection dropped; binstream reconnects.
CLOSED = "BinanceWebsocketClosed"
#: binstream gave up on the socket (retries spent, or a failure retrying cannot fix).
UNABLE_TO_CONNECT = "BinanceWebsocketUnableToConnect"
#: A frame was skipped: not JSON, binary, not an object, or for a stream not asked for.
INVALID_MESSAGE = "BinanceWebsocketInvalidMessage"
#: The server refused a SUBSCRIBE/UNSUBSCRIBE request.
SUBSCRIBE_ERROR = "BinanceWebsocketSubscribeError"
#: The user data stream's credentials were refused (ends the socket).
AUTH_ERROR = "BinanceUserStreamAuthError"
#: The user data stream's subscription reply made no sense (ends the socket).
SUBSCRIPTION_ERROR = "BinanceUserStreamError"
#: The local order book could not get a REST snapshot.
SNAPSHOT_ERROR = "BinanceBookSnapshotError"
#: The local order book differed from a fresh snapshot (``--check``).
DIVERGED = "BinanceBookDiverged"

#: Types that end the socket: the consumer sees no more messages after one of them.
FINAL = frozenset((UNABLE_TO_CONNECT, AUTH_ERROR, SUBSCRIPTION_ERROR))


def error_message(kind: str, message: str) -> dict[str, str]:
    """An error dict in python-binance's shape: ``{"e": "error", "type": ..., "m": ...}``."""
    return {"e": "error", "type": kind, "m": message}


def is_error(message: Any) -> bool:
    """True for the error dicts binstream puts on a socket's queue."""
    return type(message) is dict and message.get("e") == "error"
