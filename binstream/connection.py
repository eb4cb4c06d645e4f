"""Reconnecting websocket connections and the socket object consumers read from.

One :class:`StreamSocket` owns one or more :class:`_Link` objects (one per connection
plan; several only past 1024 streams) that all feed one bounded :class:`MessageBuffer`.

A link's life: connect → (subscribe extras) → read frames, decode with orjson, queue
→ on a drop, put ``BinanceWebsocketClosed`` on the queue, wait with exponential backoff
and jitter, reconnect → after ``max_retries`` failed attempts in a row, put
``BinanceWebsocketUnableToConnect`` and end. The retry budget resets whenever a
connection delivered data, so a stream that drops once a day never runs out.
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
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

import orjson

from .buffer import MessageBuffer, OverflowPolicy
from .endpoints import ConnectionPlan
from .errors import ReceiveTimeoutError, StreamClosedError
from .framecheck import check_frame, shape_of
from .transport import Transport, resolve

#: An open connection with websockets' interface, from whichever transport made it.
ClientConnection = Any

log = logging.getLogger("binstream")

#: Binance allows 5 incoming messages per second per connection; stay under it.
SUBSCRIBE_INTERVAL = 0.25
#: How long a rotation waits for the new connection to overlap the old one.
ROTATION_OVERLAP_TIMEOUT = 10.0
SUBSCRIBE_BATCH = 200
#: Frames longer than this wait in the queue as text and are decoded when read. A decoded
#: depth20 message is ~40 containers the garbage collector keeps scanning while it waits
#: (measured: half of BinanceSocketManager's time on depth20) and ~8x the memory.
LAZY_DECODE_SIZE = 512


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


def error_message(kind: str, message: str) -> dict[str, str]:
    """An error dict in python-binance's shape: ``{"e": "error", "type": ..., "m": ...}``."""
    return {"e": "error", "type": kind, "m": message}


CLOSED = "BinanceWebsocketClosed"
UNABLE_TO_CONNECT = "BinanceWebsocketUnableToConnect"
INVALID_MESSAGE = "BinanceWebsocketInvalidMessage"
SUBSCRIBE_ERROR = "BinanceWebsocketSubscribeError"


def is_error(message: Any) -> bool:
    """True for the error dicts binstream puts on a socket's queue."""
    return type(message) is dict and message.get("e") == "error"


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
    #: ``"auto"`` (picows when installed), ``"websockets"`` or ``"picows"``.
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


@dataclass
class SocketStats:
    """Counters a caller may read at any time."""

    received: int = 0
    reconnects: int = 0
    invalid: int = 0
    connected_at: float | None = None


class _Fatal(Exception):
    """A failure that retrying cannot fix (bad URL, 4xx, refused credentials)."""

    def __init__(self, message: str, kind: str = UNABLE_TO_CONNECT) -> None:
        super().__init__(message)
        self.kind = kind


def _classify(exc: BaseException, transport: Transport) -> str | None:
    """Return a message if ``exc`` is fatal, else None (retry)."""
    if isinstance(exc, transport.uri_error):
        return f"invalid URL: {exc}"
    if isinstance(exc, transport.status_error):
        response: Any = getattr(exc, "response", None)
        status = response.status_code
        if 400 <= status < 500 and status not in (408, 418, 429):
            body = response.body.decode("utf-8", "replace").strip() if response.body else ""
            return f"server refused the stream (HTTP {status}){': ' + body[:200] if body else ''}"
    return None


async def _chain(
    first: list[str], rest: AsyncIterator[Sequence[Any]]
) -> AsyncIterator[Sequence[Any]]:
    yield first
    async for batch in rest:
        yield batch


async def _close_quietly(ws: ClientConnection, timeout: float) -> None:
    """Close with a close frame, giving up after ``timeout`` seconds; never raises."""
    with contextlib.suppress(Exception):
        async with asyncio.timeout(timeout):
            await ws.close()


def _describe_close(ws: ClientConnection) -> str:
    if ws.close_code is None:
        return "connection lost without a close frame"
    reason = f" {ws.close_reason}" if ws.close_reason else ""
    return f"connection closed by server (code {ws.close_code}{reason})"


def _describe(exc: BaseException) -> str:
    if hasattr(exc, "rcvd") and hasattr(exc, "sent"):  # either transport's ConnectionClosed
        rcvd = exc.rcvd
        if rcvd is None:
            return "connection lost without a close frame"
        reason = f" {rcvd.reason}" if rcvd.reason else ""
        return f"connection closed by server (code {rcvd.code}{reason})"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, OSError):
        return exc.strerror or exc.__class__.__name__
    return str(exc) or exc.__class__.__name__


class _Link:
    """One reconnecting connection feeding the socket's buffer."""

    _ids = itertools.count(1)

    def __init__(self, socket: StreamSocket, plan: ConnectionPlan) -> None:
        self.socket = socket
        self.plan = plan
        self.options = socket.options
        self.transport = resolve(self.options.transport)
        self.ws: ClientConnection | None = None
        self.task: asyncio.Task[None] | None = None
        self._stream_set = frozenset(plan.streams)
        self._pending_ids: set[int] = set()
        self._stalled = False
        self._rotate = False
        self._delivered = 0
        self._closing = False
        self._rotation: asyncio.Task[None] | None = None
        self._handover: tuple[ClientConnection, list[str]] | None = None
        self._seen: set[str] | None = None
        self._dedupe: set[str] | None = None
        # The local exchange on loopback is not Binance: its attempts are not rationed.
        host = urlsplit(plan.url).hostname or ""
        self._paced = not (host == "localhost" or host.startswith("127.") or host == "::1")

    def start(self) -> None:
        self.task = asyncio.create_task(self._run(), name=f"binstream:{self.plan.url}")

    async def _run(self) -> None:
        policy = self.options.reconnect
        attempt = 0
        handed: tuple[ClientConnection, list[str]] | None = None
        while not self._closing:
            backlog: list[str] = []
            if handed is not None:  # a rotation opened the next connection already
                ws, backlog = handed
                handed = None
                fresh = False
            else:
                try:
                    ws = await self._connect()
                except _Fatal as exc:
                    self.socket._give_up(str(exc), attempt, exc.kind)
                    return
                except (OSError, TimeoutError, self.transport.handshake_error) as exc:
                    ws = None
                    detail = _describe(exc)
                    log.warning("%s: connect failed: %s", self.socket.path, detail)
                fresh = True
            if ws is not None:
                self.ws = ws
                if self._closing:
                    await _close_quietly(ws, self.options.close_timeout)
                    return
                try:
                    await self._serve(ws, fresh, backlog)
                    detail = _describe_close(ws)
                except (self.transport.closed_error, OSError, TimeoutError) as exc:
                    detail = _describe(exc)
                except _Fatal as exc:
                    self.socket._give_up(str(exc), attempt, exc.kind)
                    return
                finally:
                    self.ws = None
                if self._handover is not None:
                    handed, self._handover = self._handover, None
                    self._dedupe, self._seen = self._seen, None
                    attempt = 0
                    continue
                self._seen = None
                if self._stalled:
                    detail = f"no data for {self.options.stall_timeout:g}s (stalled)"
                if self._delivered:
                    attempt = 0
                if self._rotate:
                    self._rotate = False
                    continue
                self.socket._report_drop(detail)
            attempt += 1
            if attempt > policy.max_retries:
                self.socket._give_up(f"Max reconnect retries reached ({detail})", attempt - 1)
                return
            delay = policy.delay(attempt)
            self.socket._status(SocketState.RECONNECTING, detail, attempt, delay)
            await asyncio.sleep(delay)

    def _start_rotation(self, old: ClientConnection, why: str) -> None:
        if self._rotation is None or self._rotation.done():
            log.info("%s: %s; opening the next connection first", self.socket.path, why)
            self._rotation = asyncio.create_task(self._make_before_break(old))

    async def _make_before_break(self, old: ClientConnection) -> None:
        """Open the replacement, find where it overlaps the old feed, then switch.

        Both connections carry the same frames, byte for byte, in the same order. Frames
        the old connection delivers once the new one is open are remembered; the first
        new-connection frame among them is the overlap point. Whatever the new connection
        read before that is a duplicate; what follows is handed over and de-duplicated
        against what the old one delivered meanwhile: nothing lost, nothing twice.
        """
        try:
            new = await self._connect()
            await self._handshake(new)
            if self.plan.subscribe:
                await self._subscribe(new, self.plan.subscribe)
        except Exception as exc:  # the replacement failed: fall back to a plain reconnect
            log.warning("%s: could not open the next connection (%s)", self.socket.path, exc)
            self._rotate = True
            await _close_quietly(old, self.options.close_timeout)
            return
        self._seen = seen = set[str]()
        pending: list[str] = []
        try:
            async with asyncio.timeout(ROTATION_OVERLAP_TIMEOUT):
                async for frame in new:
                    if isinstance(frame, bytes):
                        continue
                    if frame in seen:
                        break
                    pending.append(frame)
        except TimeoutError:
            log.info("%s: no overlap seen; switching anyway", self.socket.path)
        except self.transport.closed_error:
            self._seen = None
            self._rotate = True
            await _close_quietly(old, self.options.close_timeout)
            return
        self._handover = (new, pending)
        await _close_quietly(old, self.options.close_timeout)

    async def _connect(self) -> ClientConnection:
        opts = self.options
        wait = CONNECTION_PACER.reserve() if self._paced else 0.0
        if wait > 0:
            log.warning("%s: pacing connection attempts, waiting %.1fs", self.socket.path, wait)
            await asyncio.sleep(wait)
        self.socket._status(SocketState.CONNECTING)
        transport = self.transport
        try:
            ws = await transport.connect(
                self.plan.url,
                open_timeout=opts.open_timeout,
                ping_interval=opts.ping_interval,
                ping_timeout=opts.ping_timeout,
                close_timeout=opts.close_timeout,
                max_size=opts.max_size,
                max_queue=64,
                compression=None,
                user_agent_header="binstream",
            )
        except (transport.uri_error, transport.status_error) as exc:
            fatal = _classify(exc, transport)
            if fatal:
                raise _Fatal(fatal) from exc
            raise
        except ValueError as exc:  # e.g. a port out of range
            raise _Fatal(f"invalid URL: {exc}") from exc
        self.socket.stats.connected_at = time.monotonic()
        self.socket._status(SocketState.OPEN)
        return ws

    async def _serve(
        self, ws: ClientConnection, fresh: bool = True, backlog: list[str] | None = None
    ) -> None:
        """Read until the connection ends, with its helper tasks alongside."""
        self._delivered = 0
        self._stalled = False
        helpers: list[asyncio.Task[None]] = []
        try:
            if fresh:
                await self._handshake(ws)
            if self.plan.subscribe and fresh:
                helpers.append(asyncio.create_task(self._subscribe(ws, self.plan.subscribe)))
            if self.options.stall_timeout:
                helpers.append(asyncio.create_task(self._watchdog(ws, self.options.stall_timeout)))
            if self.options.max_age:
                helpers.append(asyncio.create_task(self._age_limit(ws, self.options.max_age)))
            batches = self.transport.batches(ws)
            await self._read(_chain(backlog, batches) if backlog else batches, ws)
        finally:
            for helper in helpers:
                helper.cancel()
            await _close_quietly(ws, self.options.close_timeout)

    async def _handshake(self, ws: ClientConnection) -> None:
        """Work to do on a fresh connection before reading (none for market streams)."""

    async def _read(self, batches: AsyncIterator[Sequence[Any]], ws: ClientConnection) -> None:
        """Validate, decode and queue every frame of ``batches`` (``ws``'s own frames, or a
        rotation's hand-over backlog followed by them)."""
        buffer = self.socket.buffer
        stats = self.socket.stats
        combined = self.plan.combined
        raw = self.options.raw_frames
        loads = orjson.loads
        put = buffer.put
        maxsize = buffer.maxsize
        async for batch in batches:
            for frame in batch:
                if type(frame) is bytes:
                    self._invalid(frame, "binary frame")
                    continue
                # A frame delivered as text (JSON lines, or long enough to wait as text) is only
                # checked; a short one for a decoding consumer is decoded once, here.
                as_text = raw or len(frame) > LAZY_DECODE_SIZE
                try:
                    if as_text:
                        shape = check_frame(frame)
                    else:
                        message = loads(frame)
                        shape = shape_of(message)
                except ValueError:  # orjson.JSONDecodeError is a ValueError too
                    self._invalid(frame, "not JSON")
                    continue
                kind, has_id, shutdown, stream = shape
                if kind == "object":
                    if has_id:
                        self._control_reply(loads(frame) if as_text else message)
                        continue
                    if shutdown:
                        self._start_rotation(ws, "server announced shutdown")
                        continue
                    if combined and stream not in self._stream_set:
                        self._invalid(frame, "combined message for a stream not asked for")
                        continue
                elif kind != "array":
                    self._invalid(frame, "JSON that is not an object")
                    continue
                if self._dedupe is not None:  # right after a rotation: skip what was delivered
                    if frame in self._dedupe:
                        continue
                    self._dedupe = None
                if self._seen is not None:  # a rotation is looking for its overlap
                    self._seen.add(frame)
                self._delivered += 1
                stats.received += 1
                item = frame if as_text else message
                if len(buffer) < maxsize:  # the common case, without a coroutine per message
                    buffer.append(item)
                else:
                    await put(item)

    def _invalid(self, frame: str | bytes, why: str) -> None:
        self.socket.stats.invalid += 1
        text = frame if isinstance(frame, str) else frame[:60].decode("utf-8", "replace")
        sample = text[:60] + ("…" if len(text) > 60 else "")
        log.warning("%s: skipped invalid message (%s): %r", self.socket.path, why, sample)
        self.socket.buffer.put_control(
            error_message(INVALID_MESSAGE, f"skipped invalid message ({why}): {sample!r}")
        )

    def _control_reply(self, message: dict[str, Any]) -> None:
        request_id = message.get("id")
        self._pending_ids.discard(request_id)  # type: ignore[arg-type]
        error = message.get("error") or (message if "code" in message else None)
        if error:
            text = f"subscribe request {request_id} failed: {error.get('msg', error)}"
            log.warning("%s: %s", self.socket.path, text)
            self.socket.buffer.put_control(error_message(SUBSCRIBE_ERROR, text))

    async def _subscribe(self, ws: ClientConnection, streams: tuple[str, ...]) -> None:
        for start in range(0, len(streams), SUBSCRIBE_BATCH):
            request_id = next(self._ids)
            self._pending_ids.add(request_id)
            batch = list(streams[start : start + SUBSCRIBE_BATCH])
            await ws.send(orjson.dumps({"method": "SUBSCRIBE", "params": batch, "id": request_id}))
            await asyncio.sleep(SUBSCRIBE_INTERVAL)

    async def _watchdog(self, ws: ClientConnection, limit: float) -> None:
        last_count = -1
        last_change = time.monotonic()
        while True:
            await asyncio.sleep(min(limit / 4, 1.0))
            count = self._delivered + self.socket.stats.invalid
            now = time.monotonic()
            if count != last_count:
                last_count, last_change = count, now
            elif now - last_change >= limit and len(self.socket.buffer) == 0:
                self._stalled = True
                log.warning("%s: no data for %.3gs, reconnecting", self.socket.path, limit)
                self.transport.abort(ws)
                return

    async def _age_limit(self, ws: ClientConnection, max_age: float) -> None:
        await asyncio.sleep(max_age)
        self._start_rotation(ws, f"connection is {max_age:.0f}s old")

    async def close(self) -> None:
        """Stop the link: close its connection with a close frame and end its task.

        Cancellation alone is not trusted to land (Python 3.11's wait_for and timeouts can
        swallow one that races with their own expiry), so the link also checks a flag and
        the task is cancelled again until it has really ended.
        """
        self._closing = True
        rotation = self._rotation
        if rotation is not None and not rotation.done():
            rotation.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await rotation
        if self._handover is not None:
            await _close_quietly(self._handover[0], self.options.close_timeout)
            self._handover = None
        task = self.task
        if task is None:
            return
        for _ in range(5):
            ws = self.ws
            if ws is not None:
                await _close_quietly(ws, self.options.close_timeout)
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=self.options.close_timeout)
            if done:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    task.result()
                return
        log.error("%s: connection task did not stop", self.socket.path)


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
        link_class: type[_Link] | None = None,
        link_config: Any = None,
    ) -> None:
        self.path = path
        self._link_class = link_class or _Link
        self.link_config = link_config
        self.options = options
        self.streams: tuple[str, ...] = tuple(s for p in plans for s in p.streams)
        self.buffer = MessageBuffer(options.max_queue_size, options.overflow)
        self.stats = SocketStats()
        self.state = SocketState.CONNECTING
        self.give_up_reason: str | None = None
        self._plans = plans
        self._links: list[_Link] = []
        self._on_close = on_close
        self._started = False
        self._closed = False
        self._background: set[asyncio.Task[None]] = set()
        self._live_links = 0

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
        self._links = [self._link_class(self, plan) for plan in self._plans]
        self._live_links = len(self._links)
        for link in self._links:
            link.start()

    async def recv(self) -> Any:
        """Return the next message, waiting at most ``user_timeout`` seconds.

        Raises :class:`ReceiveTimeoutError` on timeout and :class:`StreamClosedError` once
        the socket has ended and every queued message was read.
        """
        if not self._started:
            self.start()
        buffer = self.buffer
        if len(buffer):
            return self._decoded(buffer.get_nowait())
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
        :data:`LAZY_DECODE_SIZE`) unless the socket delivers raw frames anyway."""
        if type(item) is str and not self.options.raw_frames:
            return orjson.loads(item)
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
        if self._on_close is not None:
            self._on_close(self)

    @property
    def closed(self) -> bool:
        """True once closed by the caller or ended after giving up."""
        return self._closed or self.state is SocketState.FAILED

    def _status(
        self, state: SocketState, detail: str = "", attempt: int = 0, delay: float = 0.0
    ) -> None:
        if self._closed:
            return
        self.state = state
        if state is SocketState.RECONNECTING:
            self.stats.reconnects += 1
        callback = self.options.on_status
        if callback is not None:
            try:
                callback(StatusEvent(self.path, state, detail, attempt, delay))
            except Exception:  # a status hook must never break the stream
                log.exception("status callback failed")

    def _spawn_close(self, ws: ClientConnection) -> None:
        task = asyncio.create_task(_close_quietly(ws, self.options.close_timeout))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

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
    get = buffer.get_nowait
    rest = [get() for _ in range(min(len(buffer), limit - 1))]
    if decode:
        decoded = socket._decoded
        rest = [decoded(item) for item in rest]
    return [first, *rest]


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
