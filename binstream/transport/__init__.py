"""Which websocket client library carries the bytes: websockets (default) or picows.

Both are reached through the same seam, :mod:`binstream.transport.base`: an asyncio
``connect()`` returning a :class:`~binstream.transport.base.WireConnection` that hands over
messages in batches, with one set of errors. Each is built on its library's public API
only: websockets' sans-I/O protocol under binstream's own asyncio protocol
(:mod:`binstream.transport.websockets`), and picows' listener API
(:mod:`binstream.transport.picows`, ``pip install 'binstream[picows]'``). Everything above
this seam (reconnects, backoff, stall watchdog, error dicts, queue policy, rotation,
sharding, the user stream) is transport-independent code in
:mod:`binstream.asyncio.link`, so both transports behave the same.

``transport="auto"`` (the default) picks websockets, by measurement: binstream parses the
common data frames of each socket read itself there, in one loop, while picows calls a
Python method per frame, and its read buffer grows to hold tens of thousands of frames per
read under load, which costs page faults. In the bench (``python -m bench``) the CLI on
websockets was as fast or faster on aggTrade and depth20 in every run, and the managers were
within the machine's noise of picows with less memory, so ``auto`` never picks the slower
one (docs/performance.md). picows stays available by name. The environment variable
``BINSTREAM_TRANSPORT`` (``auto``, ``websockets`` or ``picows``) changes the default for the
whole process, e.g. to run the test suite on one transport.

Example::

    >>> from binstream.transport import resolve
    >>> resolve("websockets").name
    'websockets'
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ..errors import TransportUnavailableError
from .base import WireConnection

TRANSPORTS: tuple[str, ...] = ("auto", "websockets", "picows")
ENV_VAR = "BINSTREAM_TRANSPORT"


@dataclass(frozen=True)
class Transport:
    """One client library: its name, version and ``connect`` (a :mod:`.base` opener)."""

    name: str
    version: str
    #: ``await connect(url, open_timeout=, ping_interval=, ping_timeout=, close_timeout=,
    #: max_size=, max_queue=, user_agent=, headers=)`` returns a :class:`~.base.WireConnection`.
    connect: Callable[..., Awaitable[WireConnection]]

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


def _load_websockets() -> Transport:
    import websockets

    from .websockets import connect

    return Transport("websockets", websockets.__version__, connect)


def _load_picows() -> Transport:
    from picows import __version__ as version

    from .picows import connect

    return Transport("picows", version, connect)


_LOADERS = {"websockets": _load_websockets, "picows": _load_picows}
_loaded: dict[str, Transport] = {}


def picows_installed() -> bool:
    """True when picows (the ``[picows]`` extra) can be imported."""
    return importlib.util.find_spec("picows") is not None


def resolve(name: str | None = None) -> Transport:
    """The transport for ``name``: ``auto``/None → ``$BINSTREAM_TRANSPORT`` → websockets.

    Raises :class:`TransportUnavailableError` for an unknown name (given or from the
    environment) or a missing library.
    """
    choice = (name or "auto").strip().lower()
    if choice == "auto":
        choice = (os.environ.get(ENV_VAR) or "auto").strip().lower()
    if choice == "auto":
        choice = "websockets"
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
                "pip install 'binstream[picows]' for picows"
            ) from None
    return transport
