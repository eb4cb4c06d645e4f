"""The socket consumers read from: one or more links feeding one bounded buffer.

One :class:`StreamSocket` owns one or more :class:`~binstream.asyncio.link.Link` objects
(one per connection plan; several only past 1024 streams) that all feed one bounded
:class:`~binstream.asyncio.buffer.MessageBuffer`; it carries live subscriptions, status
and lifecycle events, and gives up loudly (an error dict, ``FAILED``, ``recv()`` raising).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

from ..derivative_streams import normalize_market_streams
from ..endpoints import ConnectionPlan
from ..errors import ReceiveTimeoutError, StreamClosedError, StreamError, UnknownSymbolError
from ..events import EventKind, SocketEvent, mask_url
from ..framecheck import decode_frame
from ..messages import CLOSED, UNABLE_TO_CONNECT, error_message
from ..sbe import fast_decode_batch
from ..traffic import Traffic
from ..venues import Route
from .buffer import MessageBuffer
from .link import Link, LinkSession
from .options import SocketOptions, SocketState, SocketStats, StatusEvent, drop_reason
from .subscriptions import SubscriptionError, Subscriptions

log = logging.getLogger("binstream")

#: How long subscribe(), unsubscribe() and list_subscriptions() wait for Binance's reply.
CONTROL_TIMEOUT = 30.0


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
        symbol_check: Callable[[Iterable[str]], Awaitable[None]] | None = None,
    ) -> None:
        self.path = path
        self._symbol_check = symbol_check
        self._symbols_checked = symbol_check is None
        self._checker: asyncio.Task[None] | None = None
        self._session_factory = session_factory or _market_session
        self.options = options
        self.buffer = MessageBuffer(options.max_queue_size, options.overflow)
        self.stats = SocketStats(traffic=Traffic() if options.stream_stats else None)
        self.state = SocketState.CONNECTING
        self.give_up_reason: str | None = None
        self._plans = plans
        #: An SBE socket's book frames wait in the queue as they came (see
        #: ``MarketSession._accept_binary``); decoded when read, wrapped when combined.
        self._books_wrapped: bool | None = (
            plans[0].combined if plans and plans[0].binary and not options.raw_frames else None
        )
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
        if self._symbol_check is not None:
            await self._symbol_check(names)
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

    async def check_symbols(self) -> None:
        """Check the socket's symbols against the market's exchangeInfo now (``async with``
        does it for you); raises :class:`~binstream.errors.UnknownSymbolError`."""
        if self._symbol_check is not None and not self._symbols_checked:
            await self._symbol_check(self.streams)
            self._symbols_checked = True

    async def __aenter__(self) -> StreamSocket:
        if not self._started:
            await self.check_symbols()
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
        if self._symbols_checked:
            for link in self._links:
                link.start()
        else:  # started without ``async with``: connect once the symbols are checked
            self._checker = asyncio.create_task(
                self._start_checked(), name=f"binstream:symbols:{self.path[:60]}"
            )

    async def _start_checked(self) -> None:
        try:
            await self.check_symbols()
        except UnknownSymbolError as exc:
            self._live_links = 1
            self._give_up(str(exc), 0)
            return
        if not self._closed:
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
            return item if type(item) is dict else self._decoded(item)
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
        frames anyway, and an SBE socket's book frames as they came."""
        kind = type(item)
        if kind is str and not self.options.raw_frames:
            return decode_frame(item)
        if kind is bytes and self._books_wrapped is not None:
            return fast_decode_batch([item], self._books_wrapped)[0]
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
        if self._checker is not None:
            self._checker.cancel()
            await asyncio.gather(self._checker, return_exceptions=True)
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
        elif kind == "silent":
            self.emit(EventKind.SILENT, detail=detail, streams=streams)
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

    @property
    def silent_streams(self) -> tuple[str, ...]:
        """The streams that have sent nothing for several times their pace (or
        ``silence`` seconds), now (see :mod:`binstream.silence`)."""
        return tuple(s for link in self._links for s in link.silent)

    def _silent(self, stream: str, threshold: float) -> None:
        detail = f"{stream} is silent: no message for {threshold:g}s"
        log.warning("%s: %s", self.path, detail)
        self._status(self.state, detail, kind="silent", streams=(stream,))

    def _report_drop(self, detail: str) -> None:
        if self._closed:
            return
        log.warning("%s: %s", self.path, detail)
        reason = drop_reason(detail)
        self.stats.drops[reason] = self.stats.drops.get(reason, 0) + 1
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
