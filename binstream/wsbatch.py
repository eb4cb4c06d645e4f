"""websockets' client connection, read a batch at a time.

websockets hands out one message per ``recv()``: a coroutine, its assembler's queue, a
future and the iterator protocol around each frame. A Binance feed arrives hundreds of
frames per socket read, so binstream takes every whole message already received in one
step instead. Anything out of the ordinary (a fragmented message, invalid UTF-8, an empty
queue, a closed connection) goes through ``recv()`` itself, so errors and close codes are
exactly websockets' own.

Example::

    >>> from binstream.wsbatch import BatchingConnection
    >>> BatchingConnection.__mro__[1].__name__
    'ClientConnection'
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosedOK
from websockets.frames import Opcode
from websockets.typing import Data

_TEXT = Opcode.TEXT
_BINARY = Opcode.BINARY


class BatchingConnection(ClientConnection):
    """A :class:`~websockets.asyncio.client.ClientConnection` with :meth:`recv_batch`.

    Pass it as ``create_connection`` to :func:`websockets.asyncio.client.connect`.
    """

    async def recv_batch(self) -> list[Data]:
        """Every whole message received so far, at least one; waits like ``recv()``.

        Raises what ``recv()`` raises, e.g. ``ConnectionClosedOK`` once the connection
        has closed normally and every message before the close has been returned.
        """
        assembler = self.recv_messages
        frames = getattr(getattr(assembler, "frames", None), "queue", None)
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
        return [await self.recv()]


async def batches(ws: BatchingConnection) -> AsyncIterator[list[Data]]:
    """Batches of messages until the connection closes; ends quietly on a normal close."""
    try:
        while True:
            yield await ws.recv_batch()
    except ConnectionClosedOK:
        return
