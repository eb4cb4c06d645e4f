"""The websockets transport: websockets' sans-I/O client protocol under binstream's own I/O.

websockets' asyncio client parses each frame with a generator, builds a ``Frame``, queues
it and hands it out through one ``recv()`` coroutine per message; on a Binance feed that
machinery is most of the client's time. Here an :class:`asyncio.Protocol` of binstream's
own drives :class:`websockets.client.ClientProtocol` through its public methods only
(``connect``, ``send_request``, ``receive_data``, ``receive_eof``, ``events_received``,
``data_to_send``, ``send_text``, ``send_ping``, ``send_close``, ``fail``), and parses the
frames Binance sends nearly always itself, straight from each socket read: whole text or
binary frames, unmasked, without reserved bits, within ``max_size``.

websockets' protocol object sees the opening handshake, every control frame (so it
answers pings and runs the closing handshake) and, from the first one on, everything
out of the ordinary (a fragment, a masked or oversized frame, reserved bits, invalid
UTF-8), so that its checks, errors and close codes apply unchanged. It only ever
receives whole frames, so its parser is always at a frame boundary when binstream hands
it bytes: nothing about its internal state is assumed or read.

Example::

    >>> from binstream.transport.websockets import WebsocketsConnection
    >>> WebsocketsConnection.__mro__[1].__name__
    'Protocol'
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import ssl
from collections.abc import Mapping
from typing import Any

from websockets.client import ClientProtocol
from websockets.exceptions import InvalidStatus, InvalidURI
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.protocol import OPEN
from websockets.uri import WebSocketURI, parse_uri

from .base import (
    ConnectionClosed,
    HandshakeError,
    HandshakeStatusError,
    InvalidURL,
    WireConnection,
    pause_mark,
    proxy_possible,
)
from .framesplit import LONGEST_HEADER, frame_size, take_frames

#: First byte of a whole close, ping or pong frame: handed to websockets one by one.
_CLOSE = 0x88
_CONTROL = frozenset((_CLOSE, 0x89, 0x8A))
#: An upgrade response's head larger than this is not a websocket server's.
_MAX_HEAD = 65536


class WebsocketsConnection(asyncio.Protocol, WireConnection):
    """One client connection: binstream's I/O and bulk parser around websockets' protocol."""

    def __init__(
        self,
        protocol: ClientProtocol,
        max_size: int | None,
        max_queue: int | None,
        ping_interval: float | None,
        ping_timeout: float | None,
        close_timeout: float,
    ) -> None:
        WireConnection.__init__(self, int(min(pause_mark(max_queue), 2**31)))
        self.protocol = protocol
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self._limit = max_size
        self._ping_interval = ping_interval
        self._ping_timeout = ping_timeout
        #: Bytes of the upgrade response not yet complete (handshake only).
        self._head = b""
        #: The start of a frame whose end has not arrived yet (bulk parsing only).
        self._partial = b""
        #: True: binstream parses data frames; False: websockets parses everything.
        self._bulk = False
        self._pong: tuple[bytes, asyncio.Future[None]] | None = None
        self._keepalive: asyncio.Task[None] | None = None
        self._close_timeout = close_timeout
        self._close_timer: asyncio.TimerHandle | None = None
        #: binstream failed the connection (invalid UTF-8, keepalive): deliver no more.
        self._failed = False

    # -- asyncio.Protocol -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass
        self._flush()

    def data_received(self, data: bytes) -> None:
        if self._bulk:
            if self._partial:
                self._parse_after_partial(data)
            else:
                self._parse(data, 0)
            if len(self._ready) > self._pause_at and not self._paused:
                self._paused = True
                self._pause_reading()
        elif not self.opened.done():
            self._handshake(data)
        else:
            self._feed(data)
        self._wake()

    def eof_received(self) -> bool | None:
        self._hand_over_partial()
        self.protocol.receive_eof()
        self._flush()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._keepalive is not None:
            self._keepalive.cancel()
        if self._close_timer is not None:
            self._close_timer.cancel()
        protocol = self.protocol
        if not self.opened.done():
            failure = protocol.handshake_exc
            self.opened.set_exception(
                _handshake_error(failure)
                if failure is not None
                else HandshakeError("connection closed during the opening handshake")
            )
            self.opened.exception()  # retrieved: the caller may have timed out already
        rcvd, sent = protocol.close_rcvd, protocol.close_sent
        self._ended(
            ConnectionClosed(
                rcvd.code if rcvd else None,
                rcvd.reason if rcvd else "",
                sent.code if sent else None,
                sent.reason if sent else "",
                sent_first=sent is not None and protocol.close_rcvd_then_sent is not True,
            )
        )

    # -- the opening handshake ------------------------------------------------------------

    def _handshake(self, data: bytes) -> None:
        """Give websockets the upgrade response's head; what follows it is frames."""
        head = self._head + data
        end = head.find(b"\r\n\r\n")
        if end < 0 and len(head) <= _MAX_HEAD:
            self._head = head
            return
        self._head = b""
        cut = len(head) if end < 0 else end + 4
        self._feed(head[:cut])
        if self.opened.done():
            if head[cut:]:
                self.data_received(head[cut:])
        elif head[cut:]:  # a response with a body (an error): websockets reads it all
            self._feed(head[cut:])

    def _on_response(self, response: Response) -> None:
        protocol = self.protocol
        if protocol.state is OPEN and protocol.handshake_exc is None:
            self._bulk = True
            self.opened.set_result(None)
            if self._ping_interval:
                self._keepalive = asyncio.get_running_loop().create_task(self._keep_alive())
        else:
            failure = protocol.handshake_exc
            self.opened.set_exception(
                _handshake_error(failure)
                if failure is not None
                else HandshakeError(f"unexpected upgrade response (HTTP {response.status_code})")
            )
            self.opened.exception()

    # -- frames ---------------------------------------------------------------------------

    def _parse_after_partial(self, data: bytes) -> None:
        """Complete the frame the previous read cut with the head of ``data``, then parse the
        rest of ``data`` where it is: a read is not copied whole behind the cut frame (a
        fresh copy of every read showed in the CLI's profile on depth20)."""
        partial = self._partial
        head = partial[:LONGEST_HEADER] + data[: max(0, LONGEST_HEADER - len(partial))]
        size = frame_size(head)
        self._partial = b""
        if size is None or size - len(partial) > len(data):
            # Its header, or the frame, is still not complete: the usual way, which also
            # fails an oversized frame as soon as its length is known.
            self._parse(partial + data, 0)
            return
        missing = size - len(partial)
        self._parse(partial + data[:missing], 0)
        if not self._bulk:  # that frame handed the connection over to websockets
            self._feed(data[missing:])
        else:
            self._parse(data, missing)

    def _parse(self, buf: bytes, pos: int) -> None:
        """Take every whole plain data frame in ``buf`` from ``pos`` on; control frames go
        to websockets.

        Frames are appended to the batch directly; the caller pauses reading once after
        the whole read if the batch is over its mark (the read is parsed whole anyway)."""
        size = len(buf)
        limit = -1 if self._limit is None else self._limit
        extend = self._ready.extend
        while True:
            frames, pos, waiting = take_frames(buf, pos, limit)
            extend(frames)
            if waiting:
                break
            # What take_frames stopped at: a control frame, or something websockets judges.
            first = buf[pos]
            length = buf[pos + 1]
            if first not in _CONTROL or length >= 126:
                # A fragment, reserved bits, a masked, oversized or invalid UTF-8 frame:
                # websockets parses from here on, so that its errors and close codes apply.
                return self._hand_over_rest(buf, pos)
            end = pos + 2 + length
            if end > size:
                break
            if first == _CLOSE:  # websockets runs the closing handshake from here on
                return self._hand_over_rest(buf, pos)
            self._feed(buf[pos:end])
            pos = end
        self._partial = buf[pos:]

    def _hand_over_rest(self, buf: bytes, pos: int) -> None:
        """From ``buf[pos]`` on, websockets parses everything, for the rest of the connection."""
        self._bulk = False
        self._partial = b""
        self._feed(buf[pos:])

    def _hand_over_partial(self) -> None:
        if self._partial:
            partial, self._partial = self._partial, b""
            self._bulk = False
            self._feed(partial)

    def _feed(self, data: bytes) -> None:
        """Bytes for websockets' protocol; act on the events it parsed from them."""
        protocol = self.protocol
        protocol.receive_data(data)
        for event in protocol.events_received():
            if isinstance(event, Frame):
                self._on_frame(event.opcode, event.data, event.fin)
            elif isinstance(event, Response):
                self._on_response(event)
        self._flush()

    def _on_frame(self, opcode: Opcode, data: Any, fin: bool) -> None:
        if self._failed:  # parsed in the same read as the frame that failed the connection
            return
        if opcode is Opcode.TEXT or opcode is Opcode.BINARY:
            if fin:
                self._message(opcode is Opcode.TEXT, bytes(data))
            else:
                self._fragment(bytes(data), fin, first=True, text=opcode is Opcode.TEXT)
        elif opcode is Opcode.CONT:
            self._fragment(bytes(data), fin)
        elif opcode is Opcode.PONG and self._pong is not None:
            expected, waiter = self._pong
            if bytes(data) == expected and not waiter.done():
                waiter.set_result(None)

    # -- writing and closing --------------------------------------------------------------

    def _flush(self) -> None:
        transport = self.transport
        if transport is None:
            return
        for chunk in self.protocol.data_to_send():
            if chunk:
                transport.write(chunk)
            elif transport.can_write_eof():
                transport.write_eof()
        if self._close_timer is None and self.protocol.close_expected():
            # The server closes TCP after the closing handshake; do not wait forever.
            self._close_timer = asyncio.get_running_loop().call_later(
                self._close_timeout, self.abort
            )

    def _fail(self, code: int, reason: str) -> None:
        self._failed = True
        protocol = self.protocol
        if protocol.state is OPEN:
            protocol.fail(code, reason)
            self._flush()

    def _pause_reading(self) -> None:
        if self.transport is not None:
            self.transport.pause_reading()

    def _resume_reading(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    async def send(self, message: str | bytes) -> None:
        """Send one text (``str``) or binary (``bytes``) message."""
        if self._end is not None or self.protocol.state is not OPEN:
            raise self._end or ConnectionClosed(None)
        if isinstance(message, str):
            self.protocol.send_text(message.encode())
        else:
            self.protocol.send_binary(message)
        self._flush()

    async def close(self, timeout: float) -> None:
        """Close with code 1000 and wait for the server to end TCP, at most ``timeout`` s."""
        if self.protocol.state is OPEN:
            self.protocol.send_close(1000)
            self._flush()
        if not await self._wait_lost(timeout):
            self.abort()
            await self._wait_lost(timeout)

    def abort(self) -> None:
        """Drop the TCP connection at once."""
        if self.transport is not None:
            self.transport.abort()

    async def _keep_alive(self) -> None:
        """Ping every ``ping_interval`` s; fail with 1011 if a pong takes over ``ping_timeout``."""
        assert self._ping_interval is not None
        loop = asyncio.get_running_loop()
        while self.protocol.state is OPEN:
            await asyncio.sleep(self._ping_interval)
            if self.protocol.state is not OPEN:
                return
            payload = os.urandom(4)
            waiter = loop.create_future()
            self._pong = (payload, waiter)
            self.protocol.send_ping(payload)
            self._flush()
            if self._ping_timeout is None:
                continue
            try:
                async with asyncio.timeout(self._ping_timeout):
                    await waiter
            except TimeoutError:
                self._fail(1011, "keepalive ping timeout")
                self.abort()
                return


def _handshake_error(exc: Exception) -> HandshakeError:
    if isinstance(exc, InvalidStatus):
        response = exc.response
        return HandshakeStatusError(response.status_code, bytes(response.body or b""))
    return HandshakeError(str(exc) or exc.__class__.__name__)


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
) -> WebsocketsConnection:
    """Open ``url`` and complete the opening handshake within ``open_timeout`` seconds;
    ``headers`` go with the upgrade request (an API key).

    Raises :class:`InvalidURL`, :class:`HandshakeStatusError` (another HTTP status),
    :class:`HandshakeError`, :class:`OSError` or :class:`TimeoutError`.
    """
    try:
        uri = parse_uri(url)
    except InvalidURI as exc:
        raise InvalidURL(str(exc)) from None
    protocol = ClientProtocol(uri, max_size=max_size)
    request = protocol.connect()
    request.headers["User-Agent"] = user_agent
    for name, value in (headers or {}).items():
        request.headers[name] = value
    protocol.send_request(request)
    loop = asyncio.get_running_loop()
    tls = ssl.create_default_context() if uri.secure else None
    connection: WebsocketsConnection | None = None

    def factory() -> WebsocketsConnection:
        nonlocal connection
        connection = WebsocketsConnection(
            protocol, max_size, max_queue, ping_interval, ping_timeout, close_timeout
        )
        return connection

    try:
        async with asyncio.timeout(open_timeout):
            proxy = proxy_for(uri)
            if proxy is None:
                await loop.create_connection(
                    factory, uri.host, uri.port, ssl=tls, server_hostname=uri.host if tls else None
                )
            else:
                tunnel = await _tunnel(proxy, uri, user_agent)
                await loop.create_connection(
                    factory, sock=tunnel, ssl=tls, server_hostname=uri.host if tls else None
                )
            assert connection is not None
            await connection.opened
    except BaseException:
        if connection is not None:
            connection.abort()
        raise
    return connection


def proxy_for(uri: WebSocketURI) -> str | None:
    """The proxy the environment names for ``uri`` (``https_proxy``, ``no_proxy``, ...), as
    websockets' own client chooses it; None on websockets 15, which had no proxy support."""
    if not proxy_possible():
        return None
    try:
        from websockets.proxy import get_proxy
    except ImportError:
        return None
    return get_proxy(uri)


async def _tunnel(proxy_url: str, uri: WebSocketURI, user_agent: str) -> socket.socket:
    """A socket through an HTTP proxy to ``uri``'s host (``CONNECT``)."""
    from websockets.exceptions import InvalidProxy
    from websockets.proxy import parse_proxy

    try:
        proxy = parse_proxy(proxy_url)
    except InvalidProxy as exc:
        raise HandshakeError(f"invalid proxy: {exc}") from None
    if proxy.scheme != "http":
        raise HandshakeError(
            f"{proxy.scheme} proxies are not supported by the websockets transport; "
            "use an http:// proxy, or --transport picows"
        )
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(proxy.host, proxy.port, type=socket.SOCK_STREAM)
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setblocking(False)
    try:
        await loop.sock_connect(sock, address)
        target = f"[{uri.host}]:{uri.port}" if ":" in uri.host else f"{uri.host}:{uri.port}"
        lines = [f"CONNECT {target} HTTP/1.1", f"Host: {target}", f"User-Agent: {user_agent}"]
        if proxy.user_info is not None:
            token = base64.b64encode(":".join(proxy.user_info).encode()).decode()
            lines.append(f"Proxy-Authorization: Basic {token}")
        await loop.sock_sendall(sock, ("\r\n".join(lines) + "\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = await loop.sock_recv(sock, 4096)
            if not chunk or len(head) > 65536:
                raise HandshakeError("the proxy closed the connection during CONNECT")
            head += chunk
        status = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = status.split()
        if len(parts) < 2 or parts[1] != "200":
            raise HandshakeError(f"the proxy refused the tunnel: {status}")
        return sock
    except BaseException:
        sock.close()
        raise
