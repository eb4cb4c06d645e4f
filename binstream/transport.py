"""Which websocket client library carries the bytes: websockets (default) or picows.

Both are reached through the same seam: an asyncio ``connect()`` returning a connection
with websockets' interface (``async for``, ``recv``, ``send``, ``close``, ``close_code``),
``batches()`` to read its messages several at a time, plus the library's own exception
classes. picows (``pip install 'binstream[fast]'``) ships such a client,
``picows.websockets``, written in Cython. On websockets, binstream parses the common data
frames itself (:mod:`binstream.wsbatch`), which brings the two level on throughput.
Everything above this seam (reconnects, backoff, stall watchdog,
error dicts, queue policy, rotation, sharding, the user stream) is transport-independent
code in :mod:`binstream.connection`, so both transports behave the same.

``transport="auto"`` (the default) picks picows when it is installed. The environment
variable ``BINSTREAM_TRANSPORT`` (``auto``, ``websockets`` or ``picows``) changes the
default for the whole process, e.g. to run the test suite on one transport.

Example::

    >>> from binstream.transport import resolve
    >>> resolve("websockets").name
    'websockets'
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import TransportUnavailableError

TRANSPORTS: tuple[str, ...] = ("auto", "websockets", "picows")
ENV_VAR = "BINSTREAM_TRANSPORT"


@dataclass(frozen=True)
class Transport:
    """One client library: its ``connect`` and the exceptions the link must tell apart."""

    name: str
    version: str
    connect: Callable[..., Any]
    #: The connection ended (close frame or not); has ``rcvd`` like websockets' class.
    closed_error: type[Exception]
    #: Any failed opening handshake; ``status_error`` is the subclass carrying a response.
    handshake_error: type[Exception]
    status_error: type[Exception]
    uri_error: type[Exception]
    abort: Callable[[Any], None]
    #: The connection's messages in batches (each at least one), until it closes normally.
    batches: Callable[[Any], AsyncIterator[Sequence[Any]]]

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


def _abort_websockets(ws: Any) -> None:
    if ws.transport is not None:
        ws.transport.abort()


def _abort_picows(ws: Any) -> None:
    # picows.websockets' connection is a compiled class whose ``transport`` field is not
    # visible from Python; its object references are, and one of them is the WSTransport.
    import gc

    from picows import WSTransport

    for ref in gc.get_referents(ws):
        if isinstance(ref, WSTransport):
            ref.disconnect(graceful=False)
            return
    raise RuntimeError("picows connection without a transport: cannot abort it")


async def _one_at_a_time(ws: Any) -> AsyncIterator[tuple[Any]]:
    async for message in ws:
        yield (message,)


def _load_websockets() -> Transport:
    from functools import partial

    import websockets
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

    from .wsbatch import BatchingConnection, batches

    return Transport("websockets", websockets.__version__,
                     partial(connect, create_connection=BatchingConnection), ConnectionClosed,
                     InvalidHandshake, InvalidStatus, InvalidURI, _abort_websockets,
                     batches)  # fmt: skip


def _load_picows() -> Transport:
    from picows import __version__ as version
    from picows.websockets.asyncio.client import connect
    from picows.websockets.exceptions import (
        ConnectionClosed,
        InvalidHandshake,
        InvalidStatus,
        InvalidURI,
    )

    return Transport("picows", version, connect, ConnectionClosed, InvalidHandshake,
                     InvalidStatus, InvalidURI, _abort_picows, _one_at_a_time)  # fmt: skip


_LOADERS = {"websockets": _load_websockets, "picows": _load_picows}
_loaded: dict[str, Transport] = {}


def picows_installed() -> bool:
    """True when the ``[fast]`` extra (picows) can be imported."""
    return importlib.util.find_spec("picows") is not None


def resolve(name: str | None = None) -> Transport:
    """The transport for ``name``: ``auto``/None → ``$BINSTREAM_TRANSPORT`` → picows if installed.

    Raises :class:`TransportUnavailableError` for an unknown name (given or from the
    environment) or a missing library.
    """
    choice = (name or "auto").strip().lower()
    if choice == "auto":
        choice = (os.environ.get(ENV_VAR) or "auto").strip().lower()
    if choice == "auto":
        choice = "picows" if picows_installed() else "websockets"
    if choice not in _LOADERS:
        raise TransportUnavailableError(
            f"unknown transport {choice!r}; choose one of {', '.join(TRANSPORTS)}"
        )
    transport = _loaded.get(choice)
    if transport is None:
        try:
            transport = _loaded[choice] = _LOADERS[choice]()
        except ImportError as exc:
            raise TransportUnavailableError(
                f"transport {choice!r} is not installed ({exc.name or exc}); "
                "pip install 'binstream[fast]' for picows"
            ) from None
    return transport
