"""websockets' client connection, with the common frames parsed in bulk.

websockets parses each frame with a generator, builds a ``Frame`` object, queues it in
its assembler and hands it out through one ``recv()`` coroutine per message. On a
Binance feed, hundreds of small frames arrive per socket read, and that machinery is
most of the client's time. Nearly all of them are the simplest kind a server may send:
one whole text (or binary) frame, unmasked, with no extension bits.

:class:`BatchingConnection` parses those frames itself, straight from the bytes, and
hands every whole message received so far to :meth:`~BatchingConnection.recv_batch` in
one step. Everything else goes to websockets exactly as it arrived:

* control frames (ping, pong, close), one whole frame at a time, so websockets answers
  pings, acknowledges pongs and runs the closing handshake itself;
* and, from the first one on, anything out of the ordinary (a fragment, a masked frame,
  reserved bits, an oversized frame, invalid UTF-8): binstream stops parsing for good
  and websockets parses the rest of the connection, so its errors and close codes are
  websockets' own.

websockets only ever receives whole frames this way, so its parser is always at a frame
boundary. The bulk parser starts only when websockets' parser is verifiably at one, with
nothing buffered or queued; if it cannot tell, websockets parses everything, as before.

Example::

    >>> from binstream.wsbatch import BatchingConnection
    >>> BatchingConnection.__mro__[1].__name__
    'ClientConnection'
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosedOK
from websockets.frames import Opcode
from websockets.protocol import OPEN
from websockets.typing import Data

_TEXT = Opcode.TEXT
_BINARY = Opcode.BINARY
#: First byte of a frame the bulk parser takes: FIN, no reserved bits, text or binary.
_WHOLE_TEXT, _WHOLE_BINARY = 0x81, 0x82
_WHOLE_DATA = frozenset((_WHOLE_TEXT, _WHOLE_BINARY))
#: First byte of a whole close, ping or pong frame: handed to websockets one by one.
_CLOSE = 0x88
_CONTROL = frozenset((_CLOSE, 0x89, 0x8A))
#: websockets' ``max_queue`` counts frames between two ``recv()``; a batch reader takes
#: a whole socket read's worth at once, so reading pauses at this many times that.
_PAUSE_FACTOR = 16


class BatchingConnection(ClientConnection):
    """A :class:`~websockets.asyncio.client.ClientConnection` with :meth:`recv_batch`.

    Pass it as ``create_connection`` to :func:`websockets.asyncio.client.connect`.
    ``recv()`` and ``async for`` work as usual and see the same messages in order.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: Whole messages parsed in bulk and not yet handed out, oldest first.
        self._ready: deque[Data] = deque()
        #: The start of a frame whose end has not arrived yet (bulk parsing only).
        self._partial = b""
        #: None: not started yet; True: bulk parsing; False: websockets parses everything.
        self._bulk: bool | None = None
        self._wakeup: asyncio.Future[None] | None = None
        self._reading_paused = False
        self._queued: deque[Any] = deque()
        self._limit: int | None = None
        self._size_field = "current_size"
        self._pause_at = float("inf")

    # Receiving bytes (asyncio.Protocol callbacks)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        protocol = self.protocol
        try:  # what the bulk parser relies on in websockets' internals
            #: websockets' own queue of received frames.
            self._queued = self.recv_messages.frames.queue
            if hasattr(protocol, "max_message_size"):  # websockets 16 and later
                limits = (protocol.max_message_size, protocol.max_fragment_size)
                self._size_field = "current_size"
            else:  # websockets 15
                limits = (getattr(protocol, "max_size"), None)  # noqa: B009
                self._size_field = "cur_size"
            protocol.reader.buffer, protocol.extensions  # noqa: B018
            getattr(protocol, self._size_field)
            high = self.recv_messages.high  # websockets' max_queue; None: no flow control
        except AttributeError:  # a websockets release laid out otherwise: it parses it all
            self._bulk = False
            return
        #: The largest frame websockets would accept (``max_size``), or None.
        self._limit = min((x for x in limits if x is not None), default=None)
        #: Unread messages past which reading pauses.
        self._pause_at = float("inf") if high is None else max(high, 1) * _PAUSE_FACTOR

    def data_received(self, data: bytes) -> None:
        if self._bulk is None and self._websockets_at_rest():
            self._bulk = True
        if self._bulk:
            self._parse(self._partial + data if self._partial else data)
        else:
            super().data_received(data)
        self._wake()

    def eof_received(self) -> None:
        self._hand_over_partial()
        super().eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._hand_over_partial()
        super().connection_lost(exc)
        self._wake()

    def _websockets_at_rest(self) -> bool:
        """websockets' parser waits for a new frame, with nothing buffered or queued."""
        protocol = self.protocol
        if (
            protocol.state is not OPEN
            or protocol.extensions
            or getattr(protocol, self._size_field) is not None  # within a fragmented message
            or protocol.reader.buffer
            or self._queued
        ):
            return False
        # Between frames, websockets' parser waits in ``reader.at_eof()``; mid-frame, in
        # ``reader.read_exact()``. Follow the generators down to see which.
        waiting: Any = protocol.parser
        while getattr(waiting, "gi_yieldfrom", None) is not None:
            waiting = waiting.gi_yieldfrom
        return getattr(getattr(waiting, "gi_code", None), "co_name", None) == "at_eof"

    def _parse(self, buf: bytes) -> None:
        ready = self._ready
        size = len(buf)
        limit = self._limit
        view = memoryview(buf)
        pos = 0
        while size - pos >= 2:
            first = buf[pos]
            length = buf[pos + 1]  # the mask bit is set above 127: never taken here
            if first in _WHOLE_DATA:
                if length < 126:
                    start = pos + 2
                elif length == 126:
                    if size - pos < 4:
                        break
                    length = (buf[pos + 2] << 8) | buf[pos + 3]
                    start = pos + 4
                elif length == 127:
                    if size - pos < 10:
                        break
                    length = int.from_bytes(view[pos + 2 : pos + 10], "big")
                    start = pos + 10
                else:
                    return self._hand_over_rest(buf, pos)  # masked by a server: an error
                if limit is not None and length > limit:
                    return self._hand_over_rest(buf, pos)  # too big: websockets fails it
                end = start + length
                if end > size:
                    break
                if first == _WHOLE_TEXT:
                    try:
                        ready.append(str(view[start:end], "utf-8"))
                    except UnicodeDecodeError:
                        return self._hand_over_rest(buf, pos)  # websockets closes with 1007
                else:
                    ready.append(bytes(view[start:end]))
                pos = end
            elif first in _CONTROL and length < 126:
                end = pos + 2 + length
                if end > size:
                    break
                if first == _CLOSE:  # websockets runs the closing handshake from here on
                    return self._hand_over_rest(buf, pos)
                super().data_received(buf[pos:end])
                pos = end
            else:
                return self._hand_over_rest(buf, pos)
        self._partial = buf[pos:]
        if len(ready) > self._pause_at and not self._reading_paused:
            self._reading_paused = True
            self.transport.pause_reading()

    def _hand_over_rest(self, buf: bytes, pos: int) -> None:
        """From ``buf[pos]`` on, websockets parses everything, for the rest of the connection."""
        self._bulk = False
        self._partial = b""
        super().data_received(buf[pos:])

    def _hand_over_partial(self) -> None:
        if self._partial:
            partial, self._partial = self._partial, b""
            self._bulk = False
            super().data_received(partial)

    def _wake(self) -> None:
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)

    # Handing messages out

    async def recv_batch(self) -> deque[Data] | list[Data]:
        """Every whole message received so far, at least one; waits like ``recv()``.

        Raises what ``recv()`` raises, e.g. ``ConnectionClosedOK`` once the connection
        has closed normally and every message before the close has been returned.
        """
        while True:
            if self._ready:  # older than anything in websockets' queue
                batch, self._ready = self._ready, deque()
                if self._reading_paused:
                    self._reading_paused = False
                    self.transport.resume_reading()
                return batch
            if self._bulk is False or self._queued or self.connection_lost_waiter.done():
                return await self._recv_batch_from_websockets()
            self._wakeup = self.loop.create_future()
            try:
                await self._wakeup
            finally:
                self._wakeup = None

    async def _recv_batch_from_websockets(self) -> list[Data]:
        """What websockets' own queue holds: whole single-frame messages in one step,
        anything else (a fragmented message, invalid UTF-8, the end) through its ``recv()``.
        """
        assembler = self.recv_messages
        frames = self._queued
        batch: list[Data] = []
        if frames and not getattr(assembler, "get_in_progress", True):
            while frames:
                frame = frames[0]
                if not frame.fin:  # a fragmented message: recv() assembles it
                    break
                if frame.opcode is _TEXT:
                    try:
                        batch.append(str(frame.data, "utf-8"))
                    except UnicodeDecodeError:  # recv() fails the connection with 1007
                        break
                elif frame.opcode is _BINARY:
                    batch.append(bytes(frame.data))
                else:
                    break
                frames.popleft()
            if batch:
                assembler.maybe_resume()
                return batch
        return [await super().recv()]

    async def recv(self, decode: bool | None = None) -> Any:
        """The next message, like websockets' ``recv()``; see its documentation."""
        if not self._ready:
            if self._bulk is False:
                return await super().recv(decode)
            batch = await self.recv_batch()  # it replaces self._ready: not bound before
            self._ready.extend(batch)
        message = self._ready.popleft()
        if decode is False and type(message) is str:
            return message.encode()
        if decode is True and type(message) is bytes:
            return message.decode()
        return message

    async def recv_streaming(self, decode: bool | None = None) -> AsyncIterator[Any]:
        """The next message in one piece (bulk-parsed messages are whole already)."""
        yield await self.recv(decode)


async def batches(ws: BatchingConnection) -> AsyncIterator[deque[Data] | list[Data]]:
    """Batches of messages until the connection closes; ends quietly on a normal close."""
    try:
        while True:
            yield await ws.recv_batch()
    except ConnectionClosedOK:
        return
