"""What every websocket transport hands the link: whole messages in batches, and one set of errors.

Both transports (:mod:`binstream.transport.websockets` on websockets' sans-I/O protocol,
:mod:`binstream.transport.picows` on picows' listener API) are built on their library's public
API only and implement :class:`WireConnection`:

* the I/O side calls :meth:`WireConnection._deliver` with each whole message (``str`` for
  text, ``bytes`` for binary) and :meth:`WireConnection._ended` once the connection is gone;
* the reader calls :meth:`WireConnection.recv_batch`, which returns every message received
  so far in one step (one wake-up per socket read, not per message), and raises
  :class:`ConnectionClosed` after the last one.

Reading pauses while more than ``pause_at`` messages wait unread, so a slow consumer slows
the sender through TCP instead of growing memory.

Example::

    >>> ConnectionClosed(1000, "bye").describe()
    'connection closed by server (code 1000 bye)'
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections import deque

Message = str | bytes


class WireError(Exception):
    """Base class of the transport errors the link tells apart."""


class ConnectionClosed(WireError):
    """The connection ended.

    ``code``/``reason`` are those of the close frame received (``code`` None: none was),
    ``sent_code``/``sent_reason`` those binstream sent, if it closed first or failed the
    connection (a protocol error, invalid UTF-8, a keepalive timeout).
    """

    def __init__(
        self,
        code: int | None,
        reason: str = "",
        sent_code: int | None = None,
        sent_reason: str = "",
        sent_first: bool = False,
    ) -> None:
        self.code = code
        self.reason = reason
        self.sent_code = sent_code
        self.sent_reason = sent_reason
        #: binstream's side closed first (the server's close frame, if any, echoes it).
        self.sent_first = sent_first
        super().__init__(self.describe())

    def describe(self) -> str:
        """One human phrase: who closed, with which code and reason."""
        if self.sent_first and self.sent_code is not None and self.sent_code != 1000:
            reason = f" {self.sent_reason}" if self.sent_reason else ""
            return f"connection failed (code {self.sent_code}{reason})"
        if self.code is not None:
            reason = f" {self.reason}" if self.reason else ""
            return f"connection closed by server (code {self.code}{reason})"
        if self.sent_code is not None and self.sent_code != 1000:
            reason = f" {self.sent_reason}" if self.sent_reason else ""
            return f"connection failed (code {self.sent_code}{reason})"
        return "connection lost (no close frame)"


class HandshakeError(WireError):
    """The opening handshake failed (no HTTP 101, a bad upgrade, closed midway)."""


class HandshakeStatusError(HandshakeError):
    """The server answered the upgrade with another HTTP status (``status``, ``body``)."""

    def __init__(self, status: int, body: bytes = b"") -> None:
        self.status = status
        self.body = body
        super().__init__(f"server rejected WebSocket connection: HTTP {status}")


class InvalidURL(WireError, ValueError):
    """The URL is not a ws:// or wss:// URL the transport can open."""


class WireConnection:
    """The messages of one open websocket connection, handed over in batches."""

    #: Close code and reason received from the server, once closed (code None: no frame).
    close_code: int | None = None
    close_reason: str = ""

    def __init__(self, pause_at: int) -> None:
        self._ready: deque[Message] = deque()
        self._pause_at = pause_at
        self._paused = False
        self._waiter: asyncio.Future[None] | None = None
        self._end: ConnectionClosed | None = None
        self._lost: asyncio.Event = asyncio.Event()
        self._interrupted = False
        #: A fragmented message being assembled, and whether it is text.
        self._fragments: list[bytes] | None = None
        self._fragment_text = True

    # -- the I/O side ---------------------------------------------------------------------

    def _deliver(self, message: Message) -> None:
        ready = self._ready
        ready.append(message)
        if len(ready) > self._pause_at and not self._paused:
            self._paused = True
            self._pause_reading()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def interrupt(self) -> None:
        """Make a pending (or the next) :meth:`recv_batch` return, empty if nothing came."""
        self._interrupted = True
        self._wake()

    def _ended(self, end: ConnectionClosed) -> None:
        if self._end is None:
            self._end = end
            self.close_code = end.code
            self.close_reason = end.reason
        self._lost.set()
        self._wake()

    def _message(self, text: bool, data: bytes) -> None:
        """A whole message from frames the transport assembled: check UTF-8, deliver."""
        if not text:
            self._deliver(data)
            return
        try:
            self._deliver(data.decode("utf-8"))
        except UnicodeDecodeError as exc:
            self._fail(1007, f"{exc.reason} at position {exc.start}")

    def _fragment(self, data: bytes, fin: bool, first: bool = False, text: bool = True) -> None:
        """One frame of a fragmented message (``first``: its opening text/binary frame)."""
        if first:
            self._fragments, self._fragment_text = [data], text
        elif self._fragments is None:
            self._fail(1002, "unexpected continuation frame")
            return
        else:
            self._fragments.append(data)
        if fin:
            whole, self._fragments = b"".join(self._fragments), None
            self._message(self._fragment_text, whole)

    def _fail(self, code: int, reason: str) -> None:
        """Fail the connection with ``code`` (a close frame, then the end); deliver no more."""
        raise NotImplementedError

    def _pause_reading(self) -> None:
        raise NotImplementedError

    def _resume_reading(self) -> None:
        raise NotImplementedError

    # -- the reader's side ----------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """True once the connection is gone (messages may still wait unread)."""
        return self._end is not None

    async def recv_batch(self) -> deque[Message]:
        """Every whole message received so far, oldest first: at least one, unless
        :meth:`interrupt` was called.

        Raises :class:`ConnectionClosed` once the connection has ended and every message
        received before the end was returned.
        """
        while True:
            if self._ready:
                batch, self._ready = self._ready, deque()
                if self._paused:
                    self._paused = False
                    self._resume_reading()
                return batch
            if self._end is not None:
                raise self._end
            if self._interrupted:
                self._interrupted = False
                return deque()
            waiter = self._waiter = asyncio.get_running_loop().create_future()
            try:
                await waiter
            finally:
                # A cancelled reader may run its cleanup after the next reader started
                # waiting: clear only its own waiter.
                if self._waiter is waiter:
                    self._waiter = None

    async def recv(self) -> Message:
        """The next message (for request/reply exchanges such as the user stream's)."""
        if not self._ready:
            self._ready = await self.recv_batch()
        return self._ready.popleft()

    async def send(self, message: str | bytes) -> None:
        """Send one text (``str``) or binary (``bytes``) message."""
        raise NotImplementedError

    async def close(self, timeout: float) -> None:
        """Close with a close frame (code 1000), aborting after ``timeout`` seconds."""
        raise NotImplementedError

    def abort(self) -> None:
        """Drop the TCP connection at once, without a closing handshake."""
        raise NotImplementedError

    async def _wait_lost(self, timeout: float) -> bool:
        try:
            async with asyncio.timeout(timeout):
                await self._lost.wait()
            return True
        except TimeoutError:
            return False


async def close_quietly(conn: WireConnection, timeout: float) -> None:
    """Close with a close frame, aborting after ``timeout`` seconds; never raises."""
    with contextlib.suppress(Exception):
        await conn.close(timeout)


def pause_mark(max_queue: int | None) -> float:
    """Unread messages past which reading pauses: 16 socket reads' worth of ``max_queue``."""
    return float("inf") if max_queue is None else max(max_queue, 1) * 16


def describe_exception(exc: BaseException) -> str:
    """A short phrase for a failed connection attempt or a lost connection."""
    if isinstance(exc, WireError):
        return exc.describe() if isinstance(exc, ConnectionClosed) else str(exc)
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, OSError):
        return exc.strerror or exc.__class__.__name__
    return str(exc) or exc.__class__.__name__


def proxy_possible() -> bool:
    """False when no proxy can apply, so the proxy lookup (websockets' ``get_proxy``, which
    costs a dozen milliseconds of imports at start-up) can be skipped: on Linux and the
    like only ``*_proxy`` environment variables name proxies; macOS and Windows also have
    system settings, so there the lookup always runs."""
    if sys.platform in ("darwin", "win32"):
        return True
    return any(name.lower().endswith("_proxy") for name in os.environ)
