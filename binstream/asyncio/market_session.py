"""Reading market streams on a link: check, decode, queue; rotate make-before-break.

The hot path is :meth:`MarketSession.read`: each batch of frames from the connection is
checked (or decoded), filtered and appended to the socket's buffer, with no coroutine
per message while the buffer has room.

A planned replacement (a ``serverShutdown`` announcement, or ``max_age``) opens the next
connection first and reads both until :class:`~binstream.rotation.Switch` finds where
their feeds overlap: nothing is lost, nothing is delivered twice, and the old
connection's close is not reported as a drop. If the replacement cannot be opened, the
old connection goes on until it ends, and then the link reconnects as after any drop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import operator
import time
from itertools import repeat
from typing import TYPE_CHECKING, Any

import orjson

from ..endpoints import quote_stream, split_for_url
from ..events import EventKind
from ..framecheck import check_frame, plain_frame, shape_of
from ..messages import SUBSCRIBE_ERROR, error_message
from ..rotation import Switch
from ..sbe import SbeError, event_stream, fast_decode, fast_decode_batch, fast_streams_of
from ..silence import SilenceWatch, silence_threshold
from ..transport.base import (
    ConnectionClosed,
    WireConnection,
    WireError,
    close_quietly,
    describe_exception,
)
from .subscriptions import Subscriptions

if TYPE_CHECKING:
    from .buffer import MessageBuffer
    from .link import Link

log = logging.getLogger("binstream")

#: How often the silence watch looks at what each stream delivered.
SILENCE_TICK = 0.5
#: How long a rotation reads both connections looking for their overlap.
ROTATION_OVERLAP_TIMEOUT = 10.0
#: Frames longer than this wait in the queue as text and are decoded when read. A decoded
#: depth20 message is some forty containers the garbage collector keeps scanning while it
#: waits, and takes several times the memory of its text (docs/performance.md).
LAZY_DECODE_SIZE = 512


_TEXT_ONLY = {str}
_BINARY_ONLY = {bytes}
_OBJECTS_ONLY = {dict}


def _plain_messages(
    batch: Any, streams: dict[str, None] | None, heard: set[str]
) -> list[Any] | None:
    """``batch`` decoded, when every frame is a short JSON object the consumer gets as it
    is: no reply (``id``), no ``serverShutdown`` event and, on a combined connection, only
    ``streams``' messages (which are added to ``heard``). None otherwise: the caller goes
    through the frames one by one.

    Every question is asked of the whole batch in C (``map``), not frame by frame.
    """
    if set(map(type, batch)) != _TEXT_ONLY or max(map(len, batch)) > LAZY_DECODE_SIZE:
        return None
    try:
        messages = list(map(orjson.loads, batch))
        if (
            set(map(type, messages)) != _OBJECTS_ONLY
            or any(map(operator.contains, messages, repeat("id")))
            or "serverShutdown" in map(dict.get, messages, repeat("e"))
        ):
            return None
        if streams is not None:
            names: set[Any] = set(map(dict.get, messages, repeat("stream")))
            if not names <= streams.keys():
                return None
            heard |= names
    except (ValueError, TypeError):  # not JSON; a "stream" that is not a string
        return None
    return messages


class _Rotation:
    """One make-before-break replacement in progress."""

    def __init__(self, old: WireConnection, why: str) -> None:
        self.old = old
        self.why = why
        self.switch: Switch[Any] = Switch()
        self.opener: asyncio.Task[WireConnection] | None = None
        self.new: WireConnection | None = None
        self.deadline = 0.0
        #: The new connection announced a shutdown too: rotate again after the switch.
        self.again: str | None = None


class MarketSession:
    """The :class:`~binstream.asyncio.link.LinkSession` of market-stream sockets."""

    def __init__(self) -> None:
        #: The streams this link carries (created from the plan on first use).
        self.subs: Subscriptions | None = None
        #: The streams the URL of the connection being opened carries.
        self._in_url: list[str] = []
        self._next_in_url: list[str] = []
        self._next_url = ""
        self._sender: asyncio.Task[None] | None = None
        self._rotation: _Rotation | None = None
        #: A planned replacement asked for while the current connection is read.
        self._wanted: str | None = None
        #: After a switch: the new connection's frames the old one delivered already.
        self._dedupe: Switch[Any] | None = None
        self._dedupe_until = 0.0
        #: The streams a combined connection delivered since the silence watch last looked.
        self.heard: set[str] = set()

    # -- LinkSession ----------------------------------------------------------------------

    def subscriptions(self, link: Link) -> Subscriptions:
        """The streams ``link`` carries, and the requests that change them."""
        if self.subs is None:
            self.subs = Subscriptions(link.plan.streams)
            self.subs.on_error = lambda text: self._refused(link, text)
            self.subs.on_change = lambda kind, streams: link.socket.emit(
                EventKind(kind), streams=tuple(streams)
            )
        return self.subs

    def url(self, link: Link) -> str:
        """A combined link's URL carries the streams wanted now (as many as fit)."""
        if not link.plan.combined:
            self._in_url = list(link.plan.streams)
            return link.plan.url
        base = link.plan.url.split("/stream", 1)[0]
        self._in_url, _ = split_for_url(list(self.subscriptions(link).streams))
        if not self._in_url:
            return f"{base}/stream"
        return f"{base}/stream?streams={'/'.join(quote_stream(s) for s in self._in_url)}"

    async def on_open(self, link: Link, conn: WireConnection) -> None:
        """Subscribe to the wanted streams the URL did not carry, paced, beside reading;
        watch for streams that go silent."""
        self._start_sender(link, conn, self._in_url)
        link.spawn(self._watch_silence(link), "silence watch")

    async def _watch_silence(self, link: Link) -> None:
        """Say each stream that goes silent (:mod:`binstream.silence`); when every stream of
        the connection is, reconnect, as after a stall."""
        market = link.plan.venue.market.value
        quiet_after = link.options.silence
        watch = SilenceWatch(lambda name: silence_threshold(name, market, quiet_after))
        subs = self.subscriptions(link)
        watch.watch(subs.streams, time.monotonic())
        self.heard = set()
        delivered = link.delivered
        buffer = link.socket.buffer
        while True:
            await asyncio.sleep(SILENCE_TICK)
            now = time.monotonic()
            watch.keep_only(subs.streams, now)
            if len(buffer) >= buffer.maxsize:  # reading is paused: nobody is silent
                watch.heard_all(now)
            elif link.plan.combined:
                heard, self.heard = self.heard, set()
                watch.heard(heard, now)
            elif link.delivered != delivered:
                watch.heard_all(now)
            delivered = link.delivered
            for name in watch.due(now):
                link.socket._silent(name, watch.threshold(name) or 0.0)
            link.silent = tuple(watch.silent())
            if watch.all_silent():
                limit = max(filter(None, map(watch.threshold, link.silent)), default=0.0)
                link.cut(f"every stream silent for {limit:g}s")
                return

    def _start_sender(self, link: Link, conn: WireConnection, in_url: list[str]) -> None:
        if self._sender is not None:
            self._sender.cancel()
        self.subscriptions(link).opened(in_url)
        self._sender = link.spawn(self._send_requests(link, conn), "subscribing")

    async def _send_requests(self, link: Link, conn: WireConnection) -> None:
        """Send the control requests the subscriptions ask for, paced under Binance's limit."""
        subs = self.subs
        assert subs is not None
        try:
            while True:
                await subs.pending.wait()
                request = subs.next_request()
                if request is None:
                    continue
                await conn.send(orjson.dumps(request).decode())
                # The reply must not wait behind data the consumer has not read yet (a
                # subscribe() awaited without reading would never return): read on, up to
                # twice the queue's bound, until it came.
                buffer = link.socket.buffer
                buffer.widen(buffer.maxsize)
                await asyncio.sleep(link.plan.venue.subscribe_interval)
        except (ConnectionClosed, WireError, OSError):
            return  # the connection ended: the reader sees it and reconnects

    def on_age_limit(self, link: Link, conn: WireConnection) -> None:
        """Rotate before Binance's 24 h limit."""
        if conn is link.conn:
            self._wanted = f"connection is {link.options.max_age:.0f}s old"
            conn.interrupt()  # the reader starts the rotation between two batches

    async def read(self, link: Link, conn: WireConnection) -> None:
        """Deliver ``conn``'s frames (and a replacement's, across rotations) until it ends."""
        current = conn
        try:
            while True:
                if self._wanted is not None and self._rotation is None:
                    self._start(link, current, self._wanted)
                    self._wanted = None
                rotation = self._rotation
                if rotation is not None:
                    link.stage = "rotation"
                    current = await self._rotate_step(link, rotation)
                    link.stage = "reading"
                    continue
                batch = await current.recv_batch()
                dedupe = self._dedupe
                if dedupe is not None and (dedupe.done or time.monotonic() > self._dedupe_until):
                    self._dedupe = dedupe = None
                await self._accept(link, current, batch, dedupe, "new")
        finally:
            if self.subs is not None:
                self.subs.lost()
                link.socket.buffer.widen(0)
            await self.close()

    async def close(self) -> None:
        """Stop a rotation in progress and drop its new connection."""
        rotation, self._rotation = self._rotation, None
        self._dedupe = None
        if rotation is None:
            return
        if rotation.opener is not None:
            rotation.opener.cancel()
        if rotation.new is not None:
            rotation.new.abort()

    # -- reading --------------------------------------------------------------------------

    async def _accept(
        self, link: Link, conn: WireConnection, batch: Any, switch: Switch[Any] | None, side: str
    ) -> None:
        """Check, decode and queue ``batch``; through ``switch`` (as its ``side``: ``"old"``
        or ``"new"`` connection) while a rotation is in progress or just done."""
        socket = link.socket
        buffer = socket.buffer
        combined = link.plan.combined
        traffic = socket.stats.traffic
        if traffic is not None and batch:
            traffic.count(batch, None if combined else link.plan.streams[0], time.time())
        subs = self.subscriptions(link)
        stream_set = subs.streams
        leaving = subs.leaving
        raw = link.options.raw_frames
        loads = orjson.loads
        #: Accepted items not queued yet: queued together, and before anything else is
        #: reported (an invalid frame, a control reply), so the order is kept.
        ready: list[Any] = []
        keep = ready.append
        accepted = 0
        # The common cases first, when nothing is switching: a raw connection's frame text
        # (one question), or a short frame decoded for the consumer. Anything else (a reply,
        # a shutdown notice, bad JSON, a stream not asked for) takes the full way below.
        plain = plain_frame if raw and not combined and switch is None else None
        if plain is not None:
            # JSON lines' usual batch: every frame plain, checked in one pass (a frame that
            # is not, or a binary one, sends the whole batch the full way below).
            try:
                whole = all(map(plain, batch))
            except ValueError:
                whole = False
            if whole:
                if batch:
                    await self._queue(buffer, list(batch))
                    link.count(len(batch))
                return
        if link.plan.binary:
            await self._accept_binary(link, conn, batch, switch, side)
            return
        decoding = not raw and switch is None
        if decoding and batch:
            messages = _plain_messages(batch, stream_set if combined else None, self.heard)
            if messages is not None:
                link.count(len(messages))  # counted first: _queue empties the list
                await self._queue(buffer, messages)
                return
        for frame in batch:
            if plain is not None and type(frame) is str:
                try:
                    if plain(frame):
                        keep(frame)
                        accepted += 1
                        continue
                except ValueError:
                    pass  # said below
            elif decoding and type(frame) is str and len(frame) <= LAZY_DECODE_SIZE:
                try:
                    message = loads(frame)
                except ValueError:
                    message = None  # said below
                if type(message) is dict:
                    if (
                        "id" not in message
                        and message.get("e") != "serverShutdown"
                        and (not combined or message.get("stream") in stream_set)
                    ):
                        if combined:
                            self.heard.add(message["stream"])
                        keep(message)
                        accepted += 1
                        continue
                elif type(message) is list:
                    keep(message)
                    accepted += 1
                    continue
            if type(frame) is bytes:
                await self._queue(buffer, ready)
                link.invalid(frame, "binary frame")
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
                await self._queue(buffer, ready)
                link.invalid(frame, "not JSON")
                continue
            kind, has_id, shutdown, stream = shape
            if kind == "object":
                if has_id:
                    await self._queue(buffer, ready)
                    self._control_reply(link, loads(frame) if as_text else message)
                    continue
                if shutdown:
                    self._announced(link, conn, "server announced shutdown")
                    continue
                if combined:
                    if stream not in stream_set:
                        if stream not in leaving:
                            await self._queue(buffer, ready)
                            link.invalid(frame, "combined message for a stream not asked for")
                        continue
                    self.heard.add(stream)
            elif kind != "array":
                await self._queue(buffer, ready)
                link.invalid(frame, "JSON that is not an object")
                continue
            item = frame if as_text else message
            if switch is not None:
                await self._queue(buffer, ready)
                decided = switch.from_old if side == "old" else switch.from_new
                for out in decided(frame, item):
                    accepted += 1
                    await buffer.put(out)
                continue
            accepted += 1
            keep(item)
        await self._queue(buffer, ready)
        if accepted:
            link.count(accepted)

    async def _accept_binary(
        self, link: Link, conn: WireConnection, batch: Any, switch: Switch[Any] | None, side: str
    ) -> None:
        """An SBE connection's batch: binary frames are events (decoded unless the socket
        hands out raw frames); text frames are control replies and ``serverShutdown``."""
        socket = link.socket
        buffer = socket.buffer
        combined = link.plan.combined
        raw = link.options.raw_frames
        subs = self.subscriptions(link)
        stream_set = subs.streams
        if switch is None and batch and set(map(type, batch)) == _BINARY_ONLY:
            # The usual batch: events only, decoded in one call (raw: passed on as they are).
            if raw:
                if combined:
                    self._heard_in(list(batch))
                link.count(len(batch))
                await self._queue(buffer, list(batch))
                return
            # Book frames are checked and queued as they are, decoded when read (as long
            # JSON frames wait as text, see LAZY_DECODE_SIZE).
            frames = list(batch)
            try:
                events = fast_decode_batch(frames, combined, True)
                names = fast_streams_of(frames) if combined else None
            except SbeError:
                events = None  # said frame by frame below
            if events is not None and names is not None:
                if names <= stream_set.keys():
                    self.heard |= names
                else:
                    events = None
            if events is not None:
                link.count(len(events))
                await self._queue(buffer, events)
                return
        ready: list[Any] = []
        accepted = 0
        for frame in batch:
            if type(frame) is not bytes:
                await self._queue(buffer, ready)
                self._text_on_binary(link, conn, frame)
                continue
            if raw:
                items: list[Any] = [frame]
                if combined:
                    self._heard_in([frame])
            else:
                try:
                    events = fast_decode(frame)
                except SbeError as exc:
                    await self._queue(buffer, ready)
                    link.invalid(frame, str(exc))
                    continue
                items = events
                if combined and events:
                    stream = event_stream(events[0])
                    if stream not in stream_set:
                        if stream not in subs.leaving:
                            await self._queue(buffer, ready)
                            link.invalid(frame, "SBE event of a stream not asked for")
                        continue
                    self.heard.add(stream)
                    items = [{"stream": stream, "data": event} for event in events]
            if switch is not None:
                await self._queue(buffer, ready)
                decided = switch.from_old if side == "old" else switch.from_new
                for out in decided(frame, items):
                    for item in out:
                        accepted += 1
                        await buffer.put(item)
                continue
            ready.extend(items)
            accepted += len(items)
        await self._queue(buffer, ready)
        if accepted:
            link.count(accepted)

    def _heard_in(self, frames: list[bytes]) -> None:
        """Note the streams of raw SBE frames, handed out as they are, for the silence
        watch; frames not of the schema go on too (their reader says what is wrong)."""
        try:
            self.heard |= fast_streams_of(frames)
        except SbeError:
            for frame in frames:
                with contextlib.suppress(SbeError):
                    self.heard |= fast_streams_of([frame])

    def _text_on_binary(self, link: Link, conn: WireConnection, frame: str) -> None:
        """A text frame of an SBE connection: a control reply, ``serverShutdown``, or not
        expected there."""
        try:
            message = orjson.loads(frame)
        except ValueError:
            link.invalid(frame, "not JSON")
            return
        if isinstance(message, dict) and "id" in message:
            self._control_reply(link, message)
        elif isinstance(message, dict) and message.get("e") == "serverShutdown":
            self._announced(link, conn, "server announced shutdown")
        else:
            link.invalid(frame, "a text frame that is no control reply on an SBE connection")

    @staticmethod
    async def _queue(buffer: MessageBuffer, ready: list[Any]) -> None:
        """Queue (and empty) ``ready``, as the buffer's overflow policy says."""
        if ready:
            await buffer.put_many(ready)
            ready.clear()

    def _control_reply(self, link: Link, message: dict[str, Any]) -> None:
        subs = self.subscriptions(link)
        if not subs.reply(message):
            log.debug("%s: reply to no request of ours: %r", link.socket.path, message)
        if not subs.awaiting_reply:
            link.socket.buffer.widen(0)

    @staticmethod
    def _refused(link: Link, text: str) -> None:
        """A refusal no caller waits for (streams subscribed on reconnect): say so in line."""
        log.warning("%s: %s", link.socket.path, text)
        link.socket.buffer.put_control(error_message(SUBSCRIBE_ERROR, text))

    # -- rotation -------------------------------------------------------------------------

    def _announced(self, link: Link, conn: WireConnection, why: str) -> None:
        rotation = self._rotation
        if rotation is None:
            if conn is link.conn:
                self._wanted = why
        elif conn is rotation.new and rotation.again is None:
            rotation.again = why  # the replacement is going away too: rotate on from it
        # a repeat on the old connection of a rotation in progress changes nothing

    def _start(self, link: Link, old: WireConnection, why: str) -> None:
        log.info("%s: %s; opening the next connection first", link.socket.path, why)
        rotation = self._rotation = _Rotation(old, why)
        rotation.opener = asyncio.create_task(self._open_next(link))

    async def _open_next(self, link: Link) -> WireConnection:
        """The replacement, carrying what the link carries now (subscribed beyond its URL
        directly: control requests stay with the current connection until the switch)."""
        self._next_url = self.url(link)
        conn = await link.connect(self._next_url)
        in_url, self._next_in_url = self._in_url, list(self.subscriptions(link).streams)
        try:
            extra = [s for s in self._next_in_url if s not in set(in_url)]
            for start in range(0, len(extra), 200):
                request = {"method": "SUBSCRIBE", "params": extra[start : start + 200],
                           "id": f"rotation-{start}"}  # fmt: skip
                await conn.send(orjson.dumps(request).decode())
                await asyncio.sleep(link.plan.venue.subscribe_interval)
        except BaseException:
            conn.abort()
            raise
        return conn

    async def _rotate_step(self, link: Link, rotation: _Rotation) -> WireConnection:
        """Read whichever of the two connections has frames; returns the one to read next."""
        old = rotation.old
        waits: dict[asyncio.Future[Any], str] = {asyncio.ensure_future(old.recv_batch()): "old"}
        if rotation.new is None:
            assert rotation.opener is not None
            waits[rotation.opener] = "opener"
            timeout = None
        else:
            waits[asyncio.ensure_future(rotation.new.recv_batch())] = "new"
            timeout = max(0.0, rotation.deadline - time.monotonic())
        try:
            return await self._rotate_batches(link, rotation, waits, timeout)
        finally:
            for future, role in waits.items():
                if role == "opener":
                    continue
                if not future.done():
                    future.cancel()
                elif not future.cancelled():
                    future.exception()  # seen (or not wanted any more: the link is closing)

    async def _rotate_batches(
        self,
        link: Link,
        rotation: _Rotation,
        waits: dict[asyncio.Future[Any], str],
        timeout: float | None,
    ) -> WireConnection:
        old = rotation.old
        done, _ = await asyncio.wait(waits, timeout=timeout, return_when="FIRST_COMPLETED")
        for future, role in waits.items():
            if role != "opener" and not future.done():
                future.cancel()
        switch = rotation.switch
        if not done:  # no common frame in time: switch anyway
            log.info("%s: no overlap seen; switching anyway", link.socket.path)
            await self._release(link, switch.give_up_overlap())
            return self._finish(link, rotation)
        # The old connection first: its frames precede the new one's held frames.
        for future in sorted(done, key=lambda f: waits[f] != "old"):
            role = waits[future]
            if role == "opener":
                self._opened(link, rotation, future)
                continue
            try:
                batch = future.result()
            except (ConnectionClosed, OSError, WireError) as exc:
                if role == "new":
                    if switch.switched:  # adopted below; its end is read next, as a drop
                        continue
                    return self._abandon(link, rotation, describe_exception(exc))
                if not switch.switched:
                    await self._old_ended(link, rotation)
                continue  # a batch the new connection delivered meanwhile still counts
            conn = old if role == "old" else rotation.new
            assert conn is not None
            await self._accept(link, conn, batch, switch, role)
        if switch.switched:
            return self._finish(link, rotation)
        return old

    def _opened(
        self, link: Link, rotation: _Rotation, opener: asyncio.Future[WireConnection]
    ) -> None:
        exc = opener.exception()
        if exc is not None:  # the old connection goes on; its end will be a drop
            log.warning(
                "%s: could not open the next connection (%s)",
                link.socket.path,
                describe_exception(exc),
            )
            self._rotation = None
            return
        rotation.new = opener.result()
        rotation.deadline = time.monotonic() + ROTATION_OVERLAP_TIMEOUT

    async def _old_ended(self, link: Link, rotation: _Rotation) -> None:
        """The old connection ended before the overlap: switch now, if the new one opens."""
        if rotation.new is None:
            assert rotation.opener is not None
            try:
                rotation.new = await rotation.opener
            except Exception:
                self._rotation = None
                raise ConnectionClosed(rotation.old.close_code, rotation.old.close_reason) from None
        await self._release(link, rotation.switch.old_ended())

    def _abandon(self, link: Link, rotation: _Rotation, why: str) -> WireConnection:
        """The new connection failed before the switch: the old one goes on alone."""
        log.warning("%s: rotation abandoned: %s", link.socket.path, why)
        if rotation.new is not None:
            rotation.new.abort()
        self._rotation = None
        return rotation.old

    async def _release(self, link: Link, frames: list[Any]) -> None:
        for item in frames:
            await link.socket.buffer.put(item)
        if frames:
            link.count(len(frames))

    def _finish(self, link: Link, rotation: _Rotation) -> WireConnection:
        """The switch happened: read the new connection from now on, close the old one."""
        new = rotation.new
        assert new is not None
        self._rotation = None
        link.spawn(close_quietly(rotation.old, link.options.close_timeout), "closing")
        link.adopt(new, self._next_url, rotation.why)
        self._start_sender(link, new, self._next_in_url)
        self._dedupe = rotation.switch
        self._dedupe_until = time.monotonic() + ROTATION_OVERLAP_TIMEOUT
        if rotation.again is not None:
            self._wanted = rotation.again
        return new
