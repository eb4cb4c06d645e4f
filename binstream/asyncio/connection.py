"""Reconnecting websocket connections and the socket object consumers read from.

One :class:`StreamSocket` owns one or more :class:`Link` objects (one per connection
plan; several only past 1024 streams) that all feed one bounded :class:`MessageBuffer`.
What a link does with each connection is its session's job (:class:`LinkSession`):
market streams (:mod:`binstream.asyncio.market_session`) or the user data stream
(:mod:`binstream.asyncio.user`).

A link's life: connect → session handshake → session reads, decodes, queues → on a
drop, put ``BinanceWebsocketClosed`` on the queue, wait with exponential backoff and
jitter, reconnect → after ``max_retries`` failed attempts in a row, put
``BinanceWebsocketUnableToConnect`` and end. The retry budget resets whenever a
connection delivered data, so a stream that drops once a day never runs out. Anything
unexpected ends the socket the same way, naming what failed (:meth:`Link._run`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
import random
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol
from urllib.parse import urlsplit

from ..derivative_streams import normalize_market_streams
from ..endpoints import ConnectionPlan
from ..errors import ReceiveTimeoutError, StreamClosedError, StreamError
from ..events import EventKind, SocketEvent, mask_url
from ..framecheck import decode_frame
from ..messages import CLOSED, INVALID_MESSAGE, UNABLE_TO_CONNECT, error_message, is_error
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
from ..venues import Route
from .buffer import MessageBuffer, OverflowPolicy
from .subscriptions import SubscriptionError, Subscriptions

__all__ = ["CLOSED", "INVALID_MESSAGE", "UNABLE_TO_CONNECT", "error_message", "is_error"]

log = logging.getLogger("binstream")

#: How long subscribe(), unsubscribe() and list_subscriptions() wait for Binance's reply.
CONTROL_TIMEOUT = 30.0


class AttemptPacer:
    """Keeps connection attempts under Binance's limit (300 per 5 minutes per IP).

    One pacer serves the whole process (every manager, every thread), so a burst of
    reconnects or a 2,500-stream multiplex never gets the IP banned. :meth:`reserve`
    books the next free slot and says how long to wait for it.
    """

    def __init__(self, limit: int = 300, window: float = 300.0) -> None:
        self.limit = limit
        self.window = window
        self._times: deque[float] = deque()
        self._lock = threading.Lock()

    def reserve(self) -> float:
        with self._lock:
            now = time.monotonic()
            times = self._times
            while times and now - times[0] >= self.window:
                times.popleft()
            slot = now
            if len(times) >= self.limit:
                slot = max(now, times[-self.limit] + self.window)
            times.append(slot)
            return slot - now


#: The process-wide pacer every connection attempt to a non-loopback host goes through.
CONNECTION_PACER = AttemptPacer()


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
    """Counters a caller may read at any time."""

    received: int = 0
    reconnects: int = 0
    invalid: int = 0
    connected_at: float | None = None


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
        self._stalled = False
        self._planned: str | None = None
        self._closing = False
        self._failure: tuple[str, BaseException] | None = None
        self._helpers: set[asyncio.Task[Any]] = set()
        self._age_timer: asyncio.TimerHandle | None = None
        #: The URL of the connection being opened or read (as the session chose it).
        self.url = plan.url
        # The local exchange on loopback is not Binance: its attempts are not rationed.
        host = urlsplit(plan.url).hostname or ""
        self._paced = not (host == "localhost" or host.startswith("127.") or host == "::1")

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
        wait = CONNECTION_PACER.reserve() if self._paced else 0.0
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
        self._stalled = False
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
        if self._stalled:
            detail = f"no data for {opts.stall_timeout:g}s (stalled)"
        return detail

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
                self._stalled = True
                log.info("%s: no data for %.3gs, reconnecting", self.socket.path, limit)
                if self.conn is not None:
                    self.conn.abort()
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


class StreamSocket:
    """A stream you read from: ``recv()``, ``async for``, or ``async with``.

    Created by :class:`~binstream.BinanceSocketManager`'s factory methods. A single-stream
    socket yields Binance's raw payloads; a combined one yields
    ``{"stream": name, "data": payload}``. Error dicts (``{"e": "error", ...}``) arrive
    in line with the data when a connection drops or the socket gives up.

    Example::

        async with bm.trade_socket("BNBBTC") as ts:
            msg = await ts.recv()
    """

    def __init__(
        self,
        path: str,
        plans: list[ConnectionPlan],
        options: SocketOptions,
        on_close: Callable[[StreamSocket], None] | None = None,
        session_factory: Callable[[], LinkSession] | None = None,
    ) -> None:
        self.path = path
        self._session_factory = session_factory or _market_session
        self.options = options
        self.buffer = MessageBuffer(options.max_queue_size, options.overflow)
        self.stats = SocketStats()
        self.state = SocketState.CONNECTING
        self.give_up_reason: str | None = None
        self._plans = plans
        self._links: list[Link] = []
        self._on_close = on_close
        self._started = False
        self._closed = False
        self._live_links = 0
        self._event_queues: list[asyncio.Queue[SocketEvent | None]] = []
        self._event_callbacks: list[Callable[[SocketEvent], None]] = []

    def __repr__(self) -> str:
        return f"<StreamSocket {self.path!r} {self.state.value}>"

    @property
    def dropped(self) -> int:
        """Messages discarded by the ``drop_oldest`` overflow policy."""
        return self.buffer.dropped

    @property
    def urls(self) -> list[str]:
        """The URL of each underlying connection."""
        return [plan.url for plan in self._plans]

    @property
    def streams(self) -> tuple[str, ...]:
        """The streams in force (or asked for and awaiting confirmation), in order."""
        if not self._links:
            return tuple(s for p in self._plans for s in p.streams)
        return tuple(s for link in self._links for s in self._subs(link).streams)

    # -- live subscriptions ---------------------------------------------------------------

    def _link_streams(self, link: Link) -> tuple[str, ...]:
        """The market streams ``link`` carries; none for an account stream."""
        if getattr(link.session, "subscriptions", None) is None:
            return ()
        return tuple(self._subs(link).streams)

    def _subs(self, link: Link) -> Subscriptions:
        subscriptions = getattr(link.session, "subscriptions", None)
        if subscriptions is None:
            raise StreamError(f"socket {self.path} carries no market streams to change")
        return subscriptions(link)  # type: ignore[no-any-return]

    def _check_live(self) -> None:
        if self._closed or self.state is SocketState.FAILED:
            raise StreamClosedError(f"socket {self.path} is closed")
        if not self._plans[0].combined:
            raise StreamError(
                f"socket {self.path} is a single raw stream; subscribe on a combined socket "
                "(multiplex_socket, or socket() with a list of streams)"
            )
        if not self._started:
            self.start()

    async def subscribe(self, *streams: str) -> None:
        """Carry ``streams`` too, on the open socket; returns once Binance confirmed.

        Names are checked first (:class:`~binstream.InvalidStreamError` before anything is
        sent). Past a connection's limit (1024 streams on spot, 200 on derivatives) or on
        another route of a routed host, another connection is opened under
        this socket. Requests are paced under Binance's 5 messages per second. Raises
        :class:`~binstream.SubscriptionError` on a refusal or when no confirmation comes
        within ``CONTROL_TIMEOUT`` seconds (the streams then stay wanted: the next
        connection carries them).
        """
        market = self._plans[0].venue.market
        names = [n for n in normalize_market_streams(streams, market) if n not in set(self.streams)]
        self._check_live()
        waits = []
        for link, batch in self._place(names):
            waits.append(self._subs(link).add(batch))
        await self._confirmed(waits, "subscribe")

    async def unsubscribe(self, *streams: str) -> None:
        """Stop carrying ``streams``; returns once Binance confirmed. A connection this
        socket opened beyond its first is closed when its last stream goes."""
        names = set(normalize_market_streams(streams, self._plans[0].venue.market))
        self._check_live()
        waits, emptied = [], []
        for link in self._links:
            subs = self._subs(link)
            mine = [n for n in subs.streams if n in names]
            if mine:
                waits.append(subs.remove(mine))
                if not subs.streams and link is not self._links[0]:
                    emptied.append(link)
        await self._confirmed(waits, "unsubscribe")
        for link in emptied:
            if not self._subs(link).streams and link in self._links:
                self._links.remove(link)
                self._live_links -= 1
                await link.close()

    async def list_subscriptions(self) -> list[str]:
        """What the server says this socket's connections carry (``LIST_SUBSCRIPTIONS``)."""
        self._check_live()
        lists = [self._subs(link).list() for link in self._links]
        results = await self._confirmed(lists, "list")
        return [name for result in results for name in result]

    async def _confirmed(self, waits: list[Any], what: str) -> list[Any]:
        if not waits:
            return []
        try:
            async with asyncio.timeout(CONTROL_TIMEOUT):
                return await asyncio.gather(*waits)
        except TimeoutError:
            raise SubscriptionError(
                f"{what} not confirmed within {CONTROL_TIMEOUT:g}s on {self.path}"
            ) from None

    def _place(self, names: list[str]) -> list[tuple[Link, list[str]]]:
        """Which connection carries each new stream: the first on the stream's route with
        room under the venue's limit, else a new one on that route."""
        venue = self._plans[0].venue
        placed: dict[Link, list[str]] = {}
        room = {link: venue.max_streams - len(self._subs(link).streams) for link in self._links}
        for name in names:
            route = venue.route_of(name)
            link = next((lk for lk, free in room.items()
                         if free > 0 and lk.plan.route is route), None)  # fmt: skip
            if link is None:
                link = self._add_link(route)
                room[link] = venue.max_streams
            room[link] -= 1
            placed.setdefault(link, []).append(name)
        return list(placed.items())

    def _add_link(self, route: Route) -> Link:
        link = Link(self, self._plans[0].sibling(route), self._session_factory())
        self._links.append(link)
        self._live_links += 1
        link.start()
        return link

    async def __aenter__(self) -> StreamSocket:
        self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def start(self) -> None:
        """Open the connections in the background (``async with`` does it for you)."""
        if self._started:
            return
        if self._closed:
            raise StreamClosedError(f"socket {self.path} was closed; ask the manager for a new one")
        self._started = True
        self._links = [Link(self, plan, self._session_factory()) for plan in self._plans]
        self._live_links = len(self._links)
        for link in self._links:
            link.start()

    async def recv(self) -> Any:
        """Return the next message, waiting at most ``user_timeout`` seconds.

        Raises :class:`ReceiveTimeoutError` on timeout and :class:`StreamClosedError` once
        the socket has ended and every queued message was read.
        """
        buffer = self.buffer
        if buffer.items and self._started:  # the common case: no coroutine waits
            item = buffer.get_nowait()
            return self._decoded(item) if type(item) is str else item
        if not self._started:
            self.start()
        timeout = self.options.user_timeout
        if timeout is None:
            return self._decoded(await buffer.get())
        try:
            async with asyncio.timeout(timeout):
                return self._decoded(await buffer.get())
        except TimeoutError:
            raise ReceiveTimeoutError(
                f"no message on {self.path} within {timeout:g}s (user_timeout)"
            ) from None

    def _decoded(self, item: Any) -> Any:
        """A queued item as the consumer gets it: long frames wait as text (see
        :data:`~binstream.asyncio.market_session.LAZY_DECODE_SIZE`) unless the socket delivers raw
        frames anyway."""
        if type(item) is str and not self.options.raw_frames:
            return decode_frame(item)
        return item

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Any]:
        while True:
            try:
                yield await self.recv()
            except StreamClosedError:
                return

    async def close(self) -> None:
        """Close every connection with a close frame and end the socket. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self.state is not SocketState.FAILED:
            self.state = SocketState.CLOSED
        # Closed by its reader: what is queued is not wanted, and a reader waiting for room
        # must go on reading (and discarding), or the server's close frame is never seen.
        self.buffer.clear()
        self.buffer.end()
        await asyncio.gather(*(link.close() for link in self._links), return_exceptions=True)
        self.buffer.clear()
        self._end_events()
        if self._on_close is not None:
            self._on_close(self)

    @property
    def closed(self) -> bool:
        """True once closed by the caller or ended after giving up."""
        return self._closed or self.state is SocketState.FAILED

    def _status(
        self,
        state: SocketState,
        detail: str = "",
        attempt: int = 0,
        delay: float = 0.0,
        kind: str = "",
        url: str = "",
        streams: tuple[str, ...] = (),
    ) -> None:
        if self._closed:
            return
        self.state = state
        if state is SocketState.RECONNECTING:
            self.stats.reconnects += 1
            if kind == "dropped":
                self.emit(EventKind.DISCONNECTED, detail=detail, streams=streams)
            self.emit(EventKind.RECONNECTING, detail=detail, attempt=attempt, delay=delay)
        elif state is SocketState.CONNECTING:
            self.emit(EventKind.CONNECTING, url=url)
        elif kind == "rotated":
            self.emit(EventKind.ROTATED, url=url, detail=detail.removeprefix("rotated: "))
        elif kind == "renewed":
            self.emit(EventKind.RENEWED, detail=detail)
        elif state is SocketState.OPEN:
            self.emit(EventKind.CONNECTED, url=url)
        elif state is SocketState.FAILED:
            self.emit(EventKind.GAVE_UP, detail=detail)
        callback = self.options.on_status
        if callback is not None:
            try:
                callback(StatusEvent(self.path, state, detail, attempt, delay, kind, streams))
            except Exception:  # a status hook must never break the stream
                log.exception("status callback failed")

    # -- lifecycle events -----------------------------------------------------------------

    def events(self) -> AsyncIterator[SocketEvent]:
        """Lifecycle events from now on (see :mod:`binstream.events`), until the socket
        ends. Each iterator keeps at most 1,000 unread events (the oldest go first)."""
        queue: asyncio.Queue[SocketEvent | None] = asyncio.Queue()
        self._event_queues.append(queue)

        async def iterate() -> AsyncIterator[SocketEvent]:
            try:
                while True:
                    event = await queue.get()
                    if event is None:
                        return
                    yield event
            finally:
                if queue in self._event_queues:
                    self._event_queues.remove(queue)

        if self.closed:
            queue.put_nowait(None)
        return iterate()

    def add_event_callback(self, callback: Callable[[SocketEvent], None]) -> None:
        """Call ``callback(event)`` for each lifecycle event, on the event loop: it must be
        quick (the threaded manager runs callers' ``on_event`` on a thread of its own)."""
        self._event_callbacks.append(callback)

    def notice(self, kind: str, detail: str) -> None:
        """Report something the consumer should hear of while the socket stays as it is
        (``renewed``: a session replaced its credential): a status event with ``kind`` and
        the matching lifecycle event."""
        self._status(self.state, detail, kind=kind)

    def emit(self, kind: EventKind, **fields: Any) -> None:
        """Publish a lifecycle event to ``events()`` iterators and event callbacks."""
        if not self._event_queues and not self._event_callbacks:
            return
        if "url" in fields:
            fields["url"] = mask_url(fields["url"])
        event = SocketEvent(kind, self.path, **fields)
        for queue in self._event_queues:
            if queue.qsize() >= 1000:
                queue.get_nowait()
            queue.put_nowait(event)
        for callback in self._event_callbacks:
            try:
                callback(event)
            except Exception:  # an event hook must never break the stream
                log.exception("event callback failed")

    def _end_events(self) -> None:
        for queue in self._event_queues:
            queue.put_nowait(None)

    def _report_drop(self, detail: str) -> None:
        if self._closed:
            return
        log.warning("%s: %s", self.path, detail)
        self.buffer.put_control(error_message(CLOSED, detail))

    def _give_up(self, reason: str, attempts: int, kind: str = UNABLE_TO_CONNECT) -> None:
        if self._closed:
            return
        self._live_links -= 1
        log.error("%s: giving up: %s", self.path, reason)
        self.buffer.put_control(error_message(kind, reason))
        self.give_up_reason = reason
        if self._live_links <= 0:
            self.state = SocketState.FAILED
            self.buffer.end()
            self._status(SocketState.FAILED, reason, attempts)
            self._end_events()
            if self._on_close is not None:
                self._on_close(self)


async def recv_batch(socket: Any, limit: int, decode: bool = True) -> list[Any]:
    """The next message from ``socket`` plus whatever else is already queued, up to ``limit``.

    One wake-up per batch instead of per message is what keeps the CLI's writer and the
    threaded manager's callbacks fast. Sockets without a buffer give one message at a time.
    ``decode=False`` leaves long frames as text (the caller decodes them where it likes).
    """
    first = await socket.recv()
    buffer: MessageBuffer | None = getattr(socket, "buffer", None)
    if buffer is None or not len(buffer):  # an empty buffer is falsy: test for None
        return [first]
    rest = buffer.take(limit - 1)
    if decode and not socket.options.raw_frames:
        decoded = socket._decoded
        rest = [decoded(item) for item in rest]
    rest.insert(0, first)
    return rest


def _market_session() -> LinkSession:
    from .market_session import MarketSession

    return MarketSession()


#: python-binance's name for the socket object.
ReconnectingWebsocket = StreamSocket


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
