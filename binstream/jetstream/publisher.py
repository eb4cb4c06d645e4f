"""The JetStream sink: every message of a socket stored once in a JetStream stream.

Each message goes to ``<prefix>.<market>.<symbol>.<type>`` with a ``Nats-Msg-Id`` made
from Binance's own ids (:mod:`~binstream.jetstream.identity`), so repeats (a reconnect, a
rotation's overlap, a second publisher on another host, a message sent again after a lost
acknowledgement) are kept once by JetStream's duplicate window.

Acknowledgements are awaited in a bounded window; messages are held until JetStream
acknowledges them, across NATS reconnects, up to ``buffer`` messages. When that is full,
``overflow="block"`` makes :meth:`JetStreamSink.wait_for_room` wait (the caller stops
reading Binance: nothing is lost) and ``overflow="drop"`` drops new messages, counted and
announced on their subjects by a gap marker once there is room again.

Example::

    async with JetStreamSink("nats://127.0.0.1:4222", market="spot") as sink:
        async with bsm.multiplex_socket(["bnbbtc@trade", "ethbtc@depth@100ms"]) as socket:
            await sink.pump(socket)
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket as _socket
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from ..asyncio.stream_socket import recv_batch
from ..errors import StreamClosedError
from ..messages import CLOSED, is_error
from .connect import NatsOptions, connect, parse_servers
from .frames import split_message
from .identity import message_id
from .streamconfig import StreamSettings, ensure_stream
from .subjects import DEFAULT_PREFIX, stream_subject
from .window import AckWindow

#: Headers binstream adds beside ``Nats-Msg-Id``.
STREAM_HEADER = "Binstream-Stream"
GAP_HEADER = "Binstream-Gap"
PUBLISHER_HEADER = "Binstream-Publisher"

Notice = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True)
class _Outgoing:
    subject: str
    data: bytes
    headers: dict[str, str]


@dataclass
class PublishStats:
    """What the sink did so far."""

    stored: int = 0  #: acknowledged as new by JetStream
    duplicates: int = 0  #: acknowledged as already stored (another publisher, a resend)
    resent: int = 0  #: sent again after a late acknowledgement or a reconnect
    dropped: int = 0  #: not published (``overflow="drop"`` while the buffer was full)
    refused: int = 0  #: refused by JetStream for good (reported each time)
    gaps: int = 0  #: gap markers published


def default_publisher_id() -> str:
    """``host:pid``: names this publisher in its gap markers."""
    return f"{_socket.gethostname()}:{os.getpid()}"


class JetStreamSink:
    """Publishes combined-stream messages into a JetStream stream, each stored once.

    ``feed()`` takes messages as a combined socket yields them (frame text with
    ``raw_frames``, or dicts); ``wait_for_room()`` applies the overflow policy;
    ``gap()`` publishes a gap marker; ``close()`` waits (up to ``flush_timeout``) for the
    last acknowledgements. ``async with`` connects and creates or checks the stream.
    """

    def __init__(
        self,
        servers: str | list[str],
        *,
        market: str = "spot",
        settings: StreamSettings | None = None,
        prefix: str = DEFAULT_PREFIX,
        creds_file: Any = None,
        buffer: int = 50_000,
        in_flight: int = 2_000,
        ack_timeout: float = 2.0,
        overflow: Literal["block", "drop"] = "block",
        flush_timeout: float = 10.0,
        on_notice: Notice | None = None,
        publisher_id: str | None = None,
    ) -> None:
        self.options = NatsOptions(
            parse_servers(servers) if isinstance(servers, str) else list(servers),
            creds_file=creds_file,
            name=f"binstream publish {market}",
            on_change=self._on_change,
        )
        self.market = market
        self.prefix = prefix
        self.settings = settings or StreamSettings(prefix=prefix)
        self.overflow = overflow
        self.flush_timeout = flush_timeout
        self.publisher_id = publisher_id or default_publisher_id()
        self.window: AckWindow[_Outgoing] = AckWindow(buffer, in_flight, ack_timeout)
        self.stats = PublishStats()
        #: Messages left unacknowledged at close (nothing lost means 0).
        self.unacknowledged_at_close = 0
        #: What :meth:`start` found: ``"created"`` (the JetStream stream) or ``"exists"``.
        self.stream_outcome = ""
        self._notice = on_notice or (lambda text, event: None)
        self._client: Any = None
        self._inbox = ""
        self._connected = asyncio.Event()
        self._work = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._tasks: list[asyncio.Task[None]] = []
        self._subjects: dict[str, str] = {}
        self._dropped_by_stream: Counter[str] = Counter()
        self._gap_number = 0
        self._refusals_said: set[str] = set()
        self._closing = False

    # -- life -------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect, create or check the stream, and start sending."""
        self._client = await connect(self.options)
        try:
            js = self._client.jetstream()
            outcome = await ensure_stream(js, self.settings)
            self._inbox = self._client.new_inbox()
            await self._client.subscribe(f"{self._inbox}.*", cb=self._on_ack)
        except BaseException:
            self._closing = True
            await self._client.close()
            raise
        self._connected.set()
        self.stream_outcome = outcome
        self._tasks = [
            asyncio.create_task(self._send_loop(), name="binstream:nats-send"),
            asyncio.create_task(self._timer_loop(), name="binstream:nats-acks"),
        ]

    async def __aenter__(self) -> JetStreamSink:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Wait up to ``flush_timeout`` for every held message to be acknowledged, then
        disconnect; what is still unacknowledged is counted and said."""
        if self._closing or self._client is None:
            return
        self._closing = True
        self._publish_drop_gaps()
        deadline = time.monotonic() + self.flush_timeout
        while self.window.pending and time.monotonic() < deadline:
            self._room.clear()
            self._work.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._room.wait(), min(0.25, deadline - time.monotonic()))
        self.unacknowledged_at_close = self.window.pending
        if self.unacknowledged_at_close:
            text = (f"{self.unacknowledged_at_close:,} messages were not acknowledged by "
                    f"JetStream within {self.flush_timeout:g} s of stopping")  # fmt: skip
            self._notice(f"binstream: {text}",
                         {"e": "error", "type": "NatsUnacknowledged", "m": text,
                          "count": self.unacknowledged_at_close})  # fmt: skip
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(Exception):
            await self._client.close()

    # -- the Output protocol (the command line's runner feeds it) ----------------------

    def feed(self, messages: Iterable[Any], market: str | None = None) -> None:
        """Hold each combined message to publish (frame text or dict); error dicts and
        messages that are not combined-stream ones are skipped."""
        market = market or self.market
        block = self.overflow == "block"
        window = self.window
        for message in messages:
            if isinstance(message, dict) and is_error(message):
                continue
            try:
                stream, payload, data = split_message(message)
            except ValueError:
                continue
            subject = self._subject(market, stream)
            headers = {"Nats-Msg-Id": message_id(subject, payload, data), STREAM_HEADER: stream}
            if not window.offer(_Outgoing(subject, data, headers), beyond=block):
                self._dropped_by_stream[stream] += 1
                self.stats.dropped = window.dropped
        self._work.set()

    async def wait_for_room(self) -> None:
        """Under ``block``, wait while the buffer is full; under ``drop``, return."""
        while self.overflow == "block" and not self.window.has_room():
            self._room.clear()
            await self._room.wait()

    def gap(self, reason: str, streams: Iterable[str], market: str | None = None) -> None:
        """Publish a gap marker on each stream's subject: messages may be missing there."""
        market = market or self.market
        for stream in streams:
            self._gap_number += 1
            subject = self._subject(market, stream)
            body = orjson.dumps({"gap": reason, "stream": stream, "publisher": self.publisher_id,
                                 "time": int(time.time() * 1000)})  # fmt: skip
            headers = {
                "Nats-Msg-Id": f"{subject}:gap:{self.publisher_id}:{self._gap_number}",
                STREAM_HEADER: stream,
                GAP_HEADER: reason,
                PUBLISHER_HEADER: self.publisher_id,
            }
            self.window.offer(_Outgoing(subject, body, headers), beyond=True)
            self.stats.gaps += 1
        self._work.set()

    # -- Python convenience --------------------------------------------------------------

    async def publish(self, message: Any) -> None:
        """Publish one combined message (waits for room under ``block``)."""
        self.feed([message])
        await self.wait_for_room()

    async def pump(self, socket: Any, count: int | None = None) -> None:
        """Publish what a combined socket delivers until it ends (or ``count`` messages);
        a dropped connection becomes a gap marker on its streams."""
        remaining = count
        while remaining is None or remaining > 0:
            try:
                batch = await recv_batch(socket, 4096)
            except StreamClosedError:
                return
            data = []
            for message in batch:
                if isinstance(message, dict) and is_error(message):
                    if message.get("type") == CLOSED:
                        self.gap(str(message.get("m")), socket.streams)
                    continue
                data.append(message)
            if remaining is not None:
                data = data[:remaining]
                remaining -= len(data)
            self.feed(data)
            await self.wait_for_room()

    # -- status ----------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """True while NATS is connected."""
        return self._connected.is_set()

    def summary(self) -> str:
        """A short status: stored, duplicates, awaiting acknowledgement, dropped."""
        stats = self.stats
        parts = [f"NATS {stats.stored:,} stored"]
        if stats.duplicates:
            parts.append(f"{stats.duplicates:,} dup")
        if self.window.pending:
            parts.append(f"{self.window.pending:,} held")
        if stats.dropped:
            parts.append(f"{stats.dropped:,} dropped")
        if not self.connected:
            parts.append("NATS down")
        return " · ".join(parts)

    # -- inside --------------------------------------------------------------------------

    def _subject(self, market: str, stream: str) -> str:
        key = f"{market}\0{stream}"
        subject = self._subjects.get(key)
        if subject is None:
            subject = self._subjects[key] = stream_subject(market, stream, self.prefix)
        return subject

    async def _send_all(self, pairs: Iterable[tuple[int, _Outgoing]], again: bool = False) -> None:
        """Publish each ``(seq, message)``, the reply subject naming ``seq`` (``again``:
        counted as resent). If the connection goes away midway, the rest stay held and are
        sent again on reconnect."""
        publish, inbox = self._client.publish, self._inbox
        try:
            for seq, item in pairs:
                if again:
                    self.stats.resent += 1
                await publish(item.subject, item.data, reply=f"{inbox}.{seq}",
                              headers=item.headers)  # fmt: skip
        except Exception:
            return

    async def _send_loop(self) -> None:
        while True:
            await self._work.wait()
            self._work.clear()
            if self._connected.is_set():
                await self._send_all(self.window.sendable(time.monotonic()))

    async def _timer_loop(self) -> None:
        period = max(0.05, self.window.ack_timeout / 4)
        while True:
            await asyncio.sleep(period)
            if not self._connected.is_set():
                continue
            await self._send_all(self.window.overdue(time.monotonic()), again=True)
            if self.window.unacknowledged < self.window.in_flight:
                self._work.set()

    async def _on_ack(self, msg: Any) -> None:
        try:
            seq = int(msg.subject.rsplit(".", 1)[1])
        except ValueError:
            return
        headers = msg.headers or {}
        if headers.get("Status") == "503":  # no responders: a stream leader is being elected
            return
        try:
            reply = orjson.loads(msg.data)
        except orjson.JSONDecodeError:
            return
        error = reply.get("error") if isinstance(reply, dict) else None
        if error:
            if error.get("code") == 503:  # JetStream unavailable for now: sent again later
                return
            self.stats.refused += 1
            text = f"JetStream refused a message: {error.get('description', error)}"
            if text not in self._refusals_said:
                self._refusals_said.add(text)
                self._notice(f"binstream: {text}", {"e": "error", "type": "NatsRefused", "m": text})
        elif reply.get("duplicate"):
            self.stats.duplicates += 1
        else:
            self.stats.stored += 1
        if self.window.acknowledge(seq):
            self._work.set()
            if self.window.has_room():
                self._publish_drop_gaps()
                self._room.set()

    def _publish_drop_gaps(self) -> None:
        if not self._dropped_by_stream:
            return
        dropped, self._dropped_by_stream = self._dropped_by_stream, Counter()
        for stream, count in dropped.items():
            self.gap(f"{count} messages not published: the NATS buffer was full "
                     "(--overflow drop)", [stream])  # fmt: skip

    async def _on_change(self, what: str, detail: str) -> None:
        held = self.window.pending
        if self._closing and what != "reconnected":
            self._connected.clear()
            return
        if what == "disconnected":
            self._connected.clear()
            policy = ("then reading pauses (--overflow block)" if self.overflow == "block"
                      else "then new messages are dropped (--overflow drop)")  # fmt: skip
            text = (f"NATS connection lost; holding messages until it is back, up to "
                    f"{self.window.capacity:,}, {policy}")  # fmt: skip
            self._notice(f"binstream: {text}", {"e": "status", "status": "nats_disconnected",
                                                "m": text, "held": held})  # fmt: skip
        elif what == "reconnected":
            text = f"NATS reconnected ({detail}); sending {held:,} held messages"
            self._notice(f"binstream: {text}", {"e": "status", "status": "nats_reconnected",
                                                "m": text, "held": held})  # fmt: skip
            self._connected.set()
            held_items = list(self.window.unacknowledged_items(time.monotonic()))
            await self._send_all(held_items, again=True)
            self._work.set()
        elif what == "error" and self.connected and not self._closing:
            text = f"NATS: {detail}"
            self._notice(f"binstream: {text}", {"e": "status", "status": "nats_error", "m": text})
