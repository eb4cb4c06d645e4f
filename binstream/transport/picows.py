"""The picows transport (``pip install 'binstream[picows]'``), on picows' listener API.

picows parses frames in Cython and calls :meth:`PicowsConnection.on_ws_frame` once per
frame, synchronously from its socket read: each whole message goes straight into the
connection's batch, with no coroutine, future or queue per message. picows itself answers
pings (``enable_auto_pong``), pings an idle server and disconnects when no pong comes
(``enable_auto_ping``), and enforces ``max_frame_size``. binstream only assembles the rare
fragmented message, checks UTF-8, and answers a close frame.

Example::

    >>> from binstream.transport.picows import PicowsConnection
    >>> PicowsConnection.__mro__[1].__name__
    'WSListener'
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping

from picows import (
    WSCloseCode,
    WSFrame,
    WSHandshakeError,
    WSInvalidStatusError,
    WSInvalidURL,
    WSListener,
    WSMsgType,
    WSTransport,
    ws_connect,
)

from .base import (
    ConnectionClosed,
    HandshakeError,
    HandshakeStatusError,
    InvalidURL,
    WireConnection,
    pause_mark,
    proxy_possible,
)

_TEXT, _BINARY, _CONT = WSMsgType.TEXT, WSMsgType.BINARY, WSMsgType.CONTINUATION
_CLOSE = WSMsgType.CLOSE


class PicowsConnection(WSListener, WireConnection):
    """One client connection: picows' frames collected into batches."""

    def __init__(self, max_queue: int | None) -> None:
        WSListener.__init__(self)
        WireConnection.__init__(self, int(min(pause_mark(max_queue), 2**31)))
        self.transport: WSTransport | None = None
        self._rcvd: tuple[int, str] | None = None
        self._sent: tuple[int, str] | None = None
        self._done = False
        #: Aborted before picows handed over the connection: drop it the moment it does.
        self._abandoned = False
        #: Set once picows handed over the connection or it ended (see :meth:`settle`).
        self._decided = asyncio.Event()

    # -- picows callbacks -----------------------------------------------------------------

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport
        self._decided.set()
        if self._abandoned:
            transport.disconnect(graceful=False)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type is _TEXT and frame.fin and not self._done:
            # The common case, inline: a whole text message.
            if frame.rsv1 or frame.rsv2 or frame.rsv3:  # no extension was agreed
                self._fail(1002, "reserved bits must be 0")
                self._wake()
                return
            try:
                text = frame.get_payload_as_utf8_text()
            except UnicodeDecodeError as exc:
                self._fail(1007, f"{exc.reason} at position {exc.start}")
                self._wake()
                return
            ready = self._ready
            ready.append(text)
            waiting = len(ready)
            if waiting == 1:  # the reader waits only on an empty queue
                self._wake()
            elif waiting > self._pause_at and not self._paused:
                self._paused = True
                self._pause_reading()
            return
        if self._done:  # after a close frame, or a failure: nothing more is delivered
            return
        kind = frame.msg_type
        if frame.rsv1 or frame.rsv2 or frame.rsv3:  # no extension was agreed
            self._fail(1002, "reserved bits must be 0")
        elif kind is _TEXT and frame.fin:
            try:
                self._deliver(frame.get_payload_as_utf8_text())
            except UnicodeDecodeError as exc:
                self._fail(1007, f"{exc.reason} at position {exc.start}")
        elif kind is _BINARY and frame.fin:
            self._deliver(frame.get_payload_as_bytes())
        elif kind is _TEXT or kind is _BINARY:
            self._fragment(frame.get_payload_as_bytes(), False, first=True, text=kind is _TEXT)
        elif kind is _CONT:
            self._fragment(frame.get_payload_as_bytes(), frame.fin)
        elif kind is _CLOSE:
            code = frame.get_close_code().value
            reason = (frame.get_close_message() or b"").decode("utf-8", "replace")
            self._rcvd = (code, reason)
            self._done = True
            if not transport.is_close_frame_sent:
                transport.send_close(frame.get_close_code(), frame.get_close_message())
            transport.disconnect()
        else:
            return  # pings and pongs: picows answers and tracks them
        self._wake()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self._decided.set()
        handshake = transport.close_handshake
        sent_first = self._sent is not None and self._rcvd is None
        if handshake is not None and handshake.sent is not None and not handshake.recv_then_sent:
            # picows closed first itself (a protocol error, an oversized frame)
            self._sent = (handshake.sent.code.value, handshake.sent.reason or "")
            sent_first = True
        rcvd, sent = self._rcvd, self._sent
        self._ended(
            ConnectionClosed(
                rcvd[0] if rcvd else None,
                rcvd[1] if rcvd else "",
                sent[0] if sent else None,
                sent[1] if sent else "",
                sent_first=sent_first,
            )
        )

    # -- writing and closing --------------------------------------------------------------

    def _fail(self, code: int, reason: str) -> None:
        self._done = True
        transport = self.transport
        if transport is None or transport.is_disconnected:
            return
        if not transport.is_close_frame_sent:
            self._sent = (code, reason)
            transport.send_close(WSCloseCode(code), reason.encode())
        transport.disconnect()

    def _pause_reading(self) -> None:
        if self.transport is not None:
            self.transport.underlying_transport.pause_reading()

    def _resume_reading(self) -> None:
        transport = self.transport
        if transport is not None and not transport.is_disconnected:
            transport.underlying_transport.resume_reading()

    async def send(self, message: str | bytes) -> None:
        """Send one text (``str``) or binary (``bytes``) message."""
        transport = self.transport
        if self._end is not None or transport is None or transport.is_close_frame_sent:
            raise self._end or ConnectionClosed(None)
        if isinstance(message, str):
            transport.send(_TEXT, message.encode())
        else:
            transport.send(_BINARY, message)

    async def close(self, timeout: float) -> None:
        """Close with code 1000 and wait for the server to end TCP, at most ``timeout`` s."""
        transport = self.transport
        if transport is not None and not transport.is_disconnected:
            if not transport.is_close_frame_sent:
                self._sent = (1000, "")
                transport.send_close(WSCloseCode.OK)
            if self._paused:  # the server's close frame waits behind unread data
                self._resume_reading()
        if not await self._wait_lost(timeout):
            self.abort()
            await self._wait_lost(timeout)

    def abort(self) -> None:
        """Drop the TCP connection at once (or, during the opening handshake, as soon as
        picows hands it over)."""
        self._abandoned = True
        if self.transport is not None:
            self.transport.disconnect(graceful=False)

    async def settle(self, timeout: float) -> None:
        """After :meth:`abort` during the opening handshake: wait, at most about ``timeout``
        seconds, until picows has handed the connection over or dropped it and, if it had
        started its ping task, until that task has taken its cancellation."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._decided.wait()
        transport = self.transport
        if transport is None:  # the handshake failed or is still going: no ping task yet
            return
        with contextlib.suppress(Exception):  # whatever failed was already reported
            await asyncio.wait_for(transport.wait_disconnected(), timeout)
        await asyncio.sleep(0)  # the ping task, cancelled as the connection ended, runs once


async def connect(
    url: str,
    *,
    open_timeout: float = 10.0,
    ping_interval: float | None = 20.0,
    ping_timeout: float | None = 20.0,
    close_timeout: float = 1.0,
    max_size: int | None = 2**20,
    max_queue: int | None = 64,
    user_agent: str = "binstream",
    headers: Mapping[str, str] | None = None,
) -> PicowsConnection:
    """Open ``url`` and complete the opening handshake within ``open_timeout`` seconds;
    ``headers`` go with the upgrade request (an API key).

    Raises :class:`InvalidURL`, :class:`HandshakeStatusError` (another HTTP status),
    :class:`HandshakeError`, :class:`OSError` or :class:`TimeoutError`.
    """
    settle_timeout = close_timeout  # the other closing waits are passed to close()
    created: list[PicowsConnection] = []
    abandoned = False

    def listener_factory() -> PicowsConnection:
        listener = PicowsConnection(max_queue)
        if abandoned:  # the handshake completed after the caller gave up
            listener.abort()
        created.append(listener)
        return listener

    # picows goes on with a connection attempt whose caller was cancelled (it makes the
    # listener only once the handshake completes): the attempt runs in a task of its own,
    # and a caller that goes waits for it, briefly, to drop whatever it made.
    attempt = asyncio.ensure_future(
        _connect(
            url,
            listener_factory,
            open_timeout,
            ping_interval,
            ping_timeout,
            max_size,
            {"User-Agent": user_agent, **(headers or {})},
        )
    )
    try:
        return await asyncio.shield(attempt)
    except BaseException:
        abandoned = True
        await asyncio.wait({attempt}, timeout=settle_timeout)
        if not attempt.done():
            attempt.cancel()
        attempt.add_done_callback(_retrieve)
        # A connection made meanwhile is dropped, and picows given the steps it takes to
        # end its ping task: a task left pending when a command's loop closes prints a
        # traceback at exit.
        for listener in created:
            listener.abort()
        for listener in created:
            await listener.settle(settle_timeout)
        raise


def _retrieve(task: asyncio.Future[PicowsConnection]) -> None:
    """Mark an abandoned attempt's outcome as seen (the caller already has its own)."""
    if not task.cancelled():
        task.exception()


async def _connect(
    url: str,
    listener_factory: Callable[[], PicowsConnection],
    open_timeout: float,
    ping_interval: float | None,
    ping_timeout: float | None,
    max_size: int | None,
    headers: dict[str, str],
) -> PicowsConnection:
    try:
        proxy = _proxy_for(url)
        async with asyncio.timeout(open_timeout):
            _, listener = await ws_connect(
                listener_factory,
                url,
                websocket_handshake_timeout=open_timeout,
                enable_auto_ping=bool(ping_interval),
                auto_ping_idle_timeout=ping_interval or 20.0,
                # picows waits for a pong at most as long as it waits before pinging.
                auto_ping_reply_timeout=min(ping_timeout or 20.0, ping_interval or 20.0),
                max_frame_size=max_size or 2**31 - 1,
                extra_headers=headers,
                proxy=proxy,
            )
    except WSInvalidURL as exc:
        raise InvalidURL(str(exc)) from None
    except WSInvalidStatusError as exc:
        status = int(exc.response.status) if exc.response is not None else 0
        raise HandshakeStatusError(status, exc.raw_body or b"") from None
    except WSHandshakeError as exc:
        raise HandshakeError(str(exc)) from None
    assert isinstance(listener, PicowsConnection)
    return listener


def _proxy_for(url: str) -> str | None:
    """The proxy the environment names for ``url`` (``https_proxy``, ``no_proxy``, ...),
    chosen as websockets' own client chooses it."""
    if not proxy_possible():
        return None
    from websockets.exceptions import InvalidURI
    from websockets.uri import parse_uri

    from .websockets import proxy_for

    try:
        return proxy_for(parse_uri(url))
    except InvalidURI:
        return None  # picows says what is wrong with the URL
