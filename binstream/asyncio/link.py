"""One reconnecting connection of a socket, and the session that works it.

A link's life: connect → session handshake → session reads, decodes, queues → on a
drop, put ``BinanceWebsocketClosed`` on the queue, wait with exponential backoff and
jitter, reconnect → after ``max_retries`` failed attempts in a row, put
``BinanceWebsocketUnableToConnect`` and end. The retry budget resets whenever a
connection delivered data, so a stream that drops once a day never runs out. Anything
unexpected ends the socket the same way, naming what failed (:meth:`Link._run`).

What a link does with each connection is its session's job (:class:`LinkSession`):
market streams (:mod:`binstream.asyncio.market_session`), the user data stream
(:mod:`binstream.asyncio.user`), listenKey and margin account streams.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from ..endpoints import ConnectionPlan
from ..events import EventKind, mask_url
from ..messages import INVALID_MESSAGE, UNABLE_TO_CONNECT, error_message
from ..transport import resolve
from ..transport.base import (
    ConnectionClosed,
    HandshakeStatusError,
    InvalidURL,
    WireConnection,
    WireError,
    close_quietly,
    describe_exception,
)
from .options import SocketState
from .pacing import CONNECTION_BUDGET

if TYPE_CHECKING:
    from .stream_socket import StreamSocket

log = logging.getLogger("binstream")


class LinkFatal(Exception):
    """A failure retrying cannot fix (bad URL, HTTP 4xx, refused credentials).

    Raised by a link or its session; the socket gives up at once with an error dict of
    type ``kind`` whose ``m`` is this exception's message.
    """

    def __init__(self, message: str, kind: str = UNABLE_TO_CONNECT) -> None:
        super().__init__(message)
        self.kind = kind


class LinkSession(Protocol):
    """What a link does with each connection it opens: the public extension point.

    :class:`~binstream.asyncio.market_session.MarketSession` reads market streams; the user data
    stream's session (:mod:`binstream.asyncio.user`) subscribes over the WebSocket API first; the
    futures and options account streams' (:mod:`binstream.asyncio.listen_key`) run a listenKey.
    Two more methods are optional: ``async prepare(link)`` runs before each connection
    attempt (get a credential; an ``OSError`` is retried like a failed connect), and
    ``async close(link)`` when the socket closes (give the credential back).
    A session raises :class:`LinkFatal` to end the socket, and
    :class:`~binstream.transport.base.ConnectionClosed` (from ``recv_batch``) when the connection
    ends; anything else it raises ends the socket too, as a failure of its stage.
    """

    async def on_open(self, link: Link, conn: WireConnection) -> None:
        """Work on a fresh connection before reading (subscribe, authenticate)."""

    async def read(self, link: Link, conn: WireConnection) -> None:
        """Read and deliver until the connection ends (raise what ``recv_batch`` raises)."""

    def on_age_limit(self, link: Link, conn: WireConnection) -> None:
        """``conn`` reached ``max_age``: replace it (make-before-break where possible)."""

    def url(self, link: Link) -> str:
        """The URL to open now (a session may carry a changing set of streams)."""


def fatal_reason(exc: BaseException) -> str | None:
    """The message for a connection failure retrying cannot fix, else None (retry)."""
    if isinstance(exc, InvalidURL):
        return f"invalid URL: {exc}"
    if isinstance(exc, HandshakeStatusError):
        status = exc.status
        if 400 <= status < 500 and status not in (408, 418, 429):
            body = mask_url(exc.body.decode("utf-8", "replace").strip())
            return f"server refused the stream (HTTP {status}){': ' + body[:200] if body else ''}"
    return None


class Link:
    """One reconnecting connection feeding its socket's buffer, with one failure boundary.

    Whatever escapes connecting, the session's handshake and reading, or a helper task
    (stall watchdog, age limit, rotation) ends the socket with a
    ``BinanceWebsocketUnableToConnect`` error dict that names the stage and the cause,
    ``state == FAILED`` and ``recv()`` raising: never a silent hang.
    """

    def __init__(self, socket: StreamSocket, plan: ConnectionPlan, session: LinkSession) -> None:
        self.socket = socket
        self.plan = plan
        self.session = session
        self.options = socket.options
        self.transport = resolve(self.options.transport)
        #: The connection being read, if any.
        self.conn: WireConnection | None = None
        #: What the link is doing, for the message if it fails.
        self.stage = "connecting"
        self.task: asyncio.Task[None] | None = None
        #: Messages delivered on the current connection.
        self.delivered = 0
        #: Why the link itself ended the current connection (stalled, every stream silent).
        self._cut: str | None = None
        #: The streams of this link that are silent now (see :mod:`binstream.silence`).
        self.silent: tuple[str, ...] = ()
        self._planned: str | None = None
        self._closing = False
        self._failure: tuple[str, BaseException] | None = None
        self._helpers: set[asyncio.Task[Any]] = set()
        self._age_timer: asyncio.TimerHandle | None = None
        #: The URL of the connection being opened or read (as the session chose it).
        self.url = plan.url
        self._host = urlsplit(plan.url).hostname or ""

    def start(self) -> None:
        """Run the link in a task of the running loop."""
        self.task = asyncio.create_task(self._run(), name=f"binstream:{self.plan.url}")

    # -- the failure boundary -------------------------------------------------------------

    async def _run(self) -> None:
        try:
            await self._loop()
        except asyncio.CancelledError:
            raise
        except LinkFatal as exc:
            self.socket._give_up(str(exc), 0, exc.kind)
        except Exception as exc:
            stage, cause = self._failure if self._failure else (self.stage, exc)
            log.debug("%s: %s failed", self.socket.path, stage, exc_info=cause)
            self.socket._give_up(f"{stage} failed: {_cause(cause)}", 0)
        finally:
            self._cancel_helpers()
            conn, self.conn = self.conn, None
            if conn is not None:
                conn.abort()

    def spawn(self, coro: Coroutine[Any, Any, Any], stage: str) -> asyncio.Task[Any]:
        """Run a helper beside the reader; if it fails, the link ends with its stage named."""
        task = asyncio.create_task(coro)
        self._helpers.add(task)

        def done(task: asyncio.Task[Any]) -> None:
            self._helpers.discard(task)
            if task.cancelled() or task.exception() is None or self._closing:
                return
            exc = task.exception()
            assert exc is not None
            if self._failure is None:
                self._failure = (stage, exc)
            if self.conn is not None:  # the reader sees the end, then the failure
                self.conn.abort()

        task.add_done_callback(done)
        return task

    def _cancel_helpers(self) -> None:
        for helper in list(self._helpers):
            helper.cancel()
        if self._age_timer is not None:
            self._age_timer.cancel()
            self._age_timer = None

    def _check_helpers(self) -> None:
        if self._failure is not None:
            raise self._failure[1]

    # -- the reconnect loop ---------------------------------------------------------------

    async def _loop(self) -> None:
        policy = self.options.reconnect
        attempt = 0
        while not self._closing:
            self.stage = "connecting"
            detail = ""
            dropped = False
            try:
                prepare = getattr(self.session, "prepare", None)
                if prepare is not None:
                    await prepare(self)
                self.url = self.session.url(self)
                self.socket._status(SocketState.CONNECTING, url=self.url)
                conn: WireConnection | None = await self.connect(self.url)
            except (OSError, TimeoutError, WireError) as exc:
                conn = None
                detail = describe_exception(exc)
                log.info("%s: connect failed: %s", self.socket.path, detail)
            if conn is not None:
                detail = await self._serve(conn)
                self._check_helpers()
                if self._closing:
                    return
                if self.delivered:
                    attempt = 0
                if self._planned is not None:  # announced: reconnect at once, not a drop
                    log.info("%s: %s; reconnecting", self.socket.path, self._planned)
                    self._planned = None
                    attempt = 0
                    continue
                self.socket._report_drop(detail)
                dropped = True
            attempt += 1
            if attempt > policy.max_retries:
                self.socket._give_up(f"Max reconnect retries reached ({detail})", attempt - 1)
                return
            delay = policy.delay(attempt)
            self.socket._status(
                SocketState.RECONNECTING,
                detail,
                attempt,
                delay,
                "dropped" if dropped else "",
                streams=self.socket._link_streams(self) if dropped else (),
            )
            await asyncio.sleep(delay)

    async def connect(self, url: str) -> WireConnection:
        """Open one connection to ``url`` (paced, classified); for sessions too.

        Raises :class:`LinkFatal` for failures retrying cannot fix, else what the
        transport raises (:class:`OSError`, :class:`TimeoutError`, a ``WireError``).
        """
        opts = self.options
        wait = CONNECTION_BUDGET.reserve() if CONNECTION_BUDGET.applies_to(self._host) else 0.0
        if wait > 0:
            log.warning("%s: pacing connection attempts, waiting %.1fs", self.socket.path, wait)
            await asyncio.sleep(wait)
        try:
            conn = await self.transport.connect(
                url,
                open_timeout=opts.open_timeout,
                ping_interval=opts.ping_interval,
                ping_timeout=opts.ping_timeout,
                close_timeout=opts.close_timeout,
                max_size=opts.max_size,
                max_queue=64,
                user_agent="binstream",
                headers=self.plan.headers or None,
            )
        except WireError as exc:
            fatal = fatal_reason(exc)
            if fatal:
                raise LinkFatal(fatal) from exc
            raise
        except ValueError as exc:  # e.g. a port out of range
            raise LinkFatal(f"invalid URL: {exc}") from exc
        return conn

    async def _serve(self, conn: WireConnection) -> str:
        """Hand ``conn`` to the session until it ends; returns why it ended."""
        self.conn = conn
        self.delivered = 0
        self._cut = None
        self.silent = ()
        opts = self.options
        try:
            if self._closing:
                return "closed"
            self.stage = "handshake"
            await self.session.on_open(self, conn)
            self.socket.stats.connected_at = time.monotonic()
            self.socket._status(SocketState.OPEN, url=self.url)
            if opts.stall_timeout:
                self.spawn(self._watchdog(opts.stall_timeout), "stall watchdog")
            self._arm_age_limit(conn)
            self.stage = "reading"
            await self.session.read(self, conn)
            return "connection ended"
        except ConnectionClosed as exc:
            detail = exc.describe()
        except (OSError, TimeoutError, WireError) as exc:
            detail = describe_exception(exc)
        finally:
            self._cancel_helpers()
            current, self.conn = self.conn, None
            if current is not None:
                await close_quietly(current, opts.close_timeout)
        return self._cut or detail

    # -- what sessions use ----------------------------------------------------------------

    def count(self, n: int = 1) -> None:
        """Record ``n`` messages delivered (for the retry budget, watchdog and stats)."""
        if not self.delivered and n:
            self.socket.emit(EventKind.FIRST_MESSAGE, url=self.url)
        self.delivered += n
        self.socket.stats.received += n

    def invalid(self, frame: str | bytes, why: str) -> None:
        """Report a skipped frame with an error dict; the stream goes on."""
        self.socket.stats.invalid += 1
        text = frame if isinstance(frame, str) else frame[:60].decode("utf-8", "replace")
        sample = text[:60] + ("…" if len(text) > 60 else "")
        log.warning("%s: skipped invalid message (%s): %r", self.socket.path, why, sample)
        self.socket.buffer.put_control(
            error_message(INVALID_MESSAGE, f"skipped invalid message ({why}): {sample!r}")
        )

    def cut(self, why: str) -> None:
        """End the current connection as a drop said as ``why``; the link reconnects."""
        self._cut = why
        if self.conn is not None:
            self.conn.abort()

    def expect_close(self, why: str) -> None:
        """The current connection's end is planned: reconnect at once, report no drop."""
        self._planned = why

    def adopt(self, conn: WireConnection, url: str, why: str) -> None:
        """A session switched to ``conn`` (a rotation, to ``url``): read it from now on."""
        self.conn = conn
        self.url = url
        self.delivered = 0
        self._arm_age_limit(conn)
        self.socket._status(SocketState.OPEN, f"rotated: {why}", kind="rotated", url=self.url)

    def _arm_age_limit(self, conn: WireConnection) -> None:
        if self._age_timer is not None:
            self._age_timer.cancel()
        max_age = self.options.max_age
        if max_age:
            self._age_timer = asyncio.get_running_loop().call_later(
                max_age, self.session.on_age_limit, self, conn
            )

    async def _watchdog(self, limit: float) -> None:
        last_count = -1
        last_change = time.monotonic()
        while True:
            await asyncio.sleep(min(limit / 4, 1.0))
            count = self.delivered + self.socket.stats.invalid
            now = time.monotonic()
            if count != last_count:
                last_count, last_change = count, now
            elif now - last_change >= limit and len(self.socket.buffer) == 0:
                log.info("%s: no data for %.3gs, reconnecting", self.socket.path, limit)
                self.cut(f"no data for {limit:g}s (stalled)")
                return

    async def close(self) -> None:
        """Stop the link: close its connection with a close frame and end its task.

        Cancellation alone is not trusted to land (Python 3.11's timeouts can swallow one
        that races with their own expiry), so the link also checks a flag and the task is
        cancelled again until it has really ended.
        """
        self._closing = True
        task = self.task
        if task is None:
            return
        finish = getattr(self.session, "close", None)
        if finish is not None:
            with contextlib.suppress(Exception):
                await finish(self)
        for _ in range(5):
            conn = self.conn
            if conn is not None:
                await close_quietly(conn, self.options.close_timeout)
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=self.options.close_timeout)
            if done:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    task.result()
                return
        log.error("%s: connection task did not stop", self.socket.path)


def _cause(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
