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
import itertools
import logging
import time
from typing import TYPE_CHECKING, Any

import orjson

from .framecheck import check_frame, shape_of
from .messages import SUBSCRIBE_ERROR, error_message
from .rotation import Switch
from .wire import (
    ConnectionClosed,
    WireConnection,
    WireError,
    close_quietly,
    describe_exception,
)

if TYPE_CHECKING:
    from .connection import Link

log = logging.getLogger("binstream")

#: Binance allows 5 incoming messages per second per connection; stay under it.
SUBSCRIBE_INTERVAL = 0.25
SUBSCRIBE_BATCH = 200
#: How long a rotation reads both connections looking for their overlap.
ROTATION_OVERLAP_TIMEOUT = 10.0
#: Frames longer than this wait in the queue as text and are decoded when read. A decoded
#: depth20 message is ~40 containers the garbage collector keeps scanning while it waits
#: (measured: half of BinanceSocketManager's time on depth20) and ~8x the memory.
LAZY_DECODE_SIZE = 512

_request_ids = itertools.count(1)


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
    """The :class:`~binstream.connection.LinkSession` of market-stream sockets."""

    def __init__(self) -> None:
        self._stream_set: frozenset[str] = frozenset()
        self._rotation: _Rotation | None = None
        #: A planned replacement asked for while the current connection is read.
        self._wanted: str | None = None
        #: After a switch: the new connection's frames the old one delivered already.
        self._dedupe: Switch[Any] | None = None
        self._dedupe_until = 0.0

    # -- LinkSession ----------------------------------------------------------------------

    async def on_open(self, link: Link, conn: WireConnection) -> None:
        """Subscribe to the streams that did not fit the URL, paced, beside reading."""
        self._stream_set = frozenset(link.plan.streams)
        if link.plan.subscribe:
            link.spawn(self._subscribe(conn, link.plan.subscribe), "subscribing")

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
        stream_set = self._stream_set
        raw = link.options.raw_frames
        loads = orjson.loads
        maxsize = buffer.maxsize
        append = buffer.append
        accepted = 0
        for frame in batch:
            if type(frame) is bytes:
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
                link.invalid(frame, "not JSON")
                continue
            kind, has_id, shutdown, stream = shape
            if kind == "object":
                if has_id:
                    self._control_reply(link, loads(frame) if as_text else message)
                    continue
                if shutdown:
                    self._announced(link, conn, "server announced shutdown")
                    continue
                if combined and stream not in stream_set:
                    link.invalid(frame, "combined message for a stream not asked for")
                    continue
            elif kind != "array":
                link.invalid(frame, "JSON that is not an object")
                continue
            item = frame if as_text else message
            if switch is not None:
                decided = switch.from_old if side == "old" else switch.from_new
                for out in decided(frame, item):
                    accepted += 1
                    await buffer.put(out)
                continue
            accepted += 1
            if len(buffer) < maxsize:  # the common case, without a coroutine per message
                append(item)
            else:
                await buffer.put(item)
        if accepted:
            link.count(accepted)

    def _control_reply(self, link: Link, message: dict[str, Any]) -> None:
        request_id = message.get("id")
        error = message.get("error") or (message if "code" in message else None)
        if error:
            text = f"subscribe request {request_id} failed: {error.get('msg', error)}"
            log.warning("%s: %s", link.socket.path, text)
            link.socket.buffer.put_control(error_message(SUBSCRIBE_ERROR, text))

    async def _subscribe(self, conn: WireConnection, streams: tuple[str, ...]) -> None:
        for start in range(0, len(streams), SUBSCRIBE_BATCH):
            request_id = next(_request_ids)
            batch = list(streams[start : start + SUBSCRIBE_BATCH])
            message = {"method": "SUBSCRIBE", "params": batch, "id": request_id}
            await conn.send(orjson.dumps(message).decode())
            await asyncio.sleep(SUBSCRIBE_INTERVAL)

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
        conn = await link.connect()
        try:
            await self.on_open(link, conn)
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
            done, _ = await asyncio.wait(waits, timeout=timeout, return_when="FIRST_COMPLETED")
        finally:
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
        link.adopt(new, rotation.why)
        self._dedupe = rotation.switch
        self._dedupe_until = time.monotonic() + ROTATION_OVERLAP_TIMEOUT
        if rotation.again is not None:
            self._wanted = rotation.again
        return new
