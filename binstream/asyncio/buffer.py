"""A bounded message buffer between the socket reader and the consumer.

Faster than :class:`asyncio.Queue` for this one-producer-kind, one-consumer shape, and
it can be *ended*: a consumer waiting on an ended, empty buffer gets
:class:`~binstream.errors.StreamClosedError` instead of hanging forever.

Overflow policy (what happens when the consumer is slower than the feed):

- ``"block"`` (default): the reader waits for room, so it stops reading the socket and
  TCP flow control slows the sender down. Nothing is lost; memory stays bounded by
  ``maxsize`` plus the socket buffers. A consumer that stays slow for minutes will
  eventually be disconnected by Binance, which binstream then reports and repairs.
- ``"drop_oldest"``: the oldest queued message is discarded to make room and
  :attr:`MessageBuffer.dropped` counts it. The socket keeps up with the feed at all times.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any, Literal

from ..errors import StreamClosedError

OverflowPolicy = Literal["block", "drop_oldest"]
OVERFLOW_POLICIES: tuple[OverflowPolicy, ...] = ("block", "drop_oldest")


class MessageBuffer:
    """Bounded FIFO with an end marker. Single event loop; not thread-safe."""

    def __init__(self, maxsize: int = 10_000, overflow: OverflowPolicy = "block") -> None:
        if maxsize < 1:
            raise ValueError("max_queue_size must be at least 1")
        if overflow not in OVERFLOW_POLICIES:
            raise ValueError(f"overflow must be one of {', '.join(OVERFLOW_POLICIES)}")
        self.maxsize = maxsize
        self.overflow: OverflowPolicy = overflow
        self.dropped = 0
        #: The queued items, oldest first (read them with :meth:`get_nowait`, :meth:`take`
        #: or :meth:`get`, which wake a writer waiting for room).
        self.items: deque[Any] = deque()
        self._readable = asyncio.Event()
        self._writable = asyncio.Event()
        self._writable.set()
        #: A writer cleared ``_writable`` and waits for room: the next read sets it. A plain
        #: flag, read on every get, costs less than asking the event.
        self._writer_blocked = False
        self._ended = False
        #: Room beyond ``maxsize`` granted for a while (see :meth:`widen`).
        self.extra = 0

    def __len__(self) -> int:
        return len(self.items)

    @property
    def ended(self) -> bool:
        """True once :meth:`end` was called (items may still be queued)."""
        return self._ended

    async def put(self, item: Any) -> None:
        """Queue ``item``, waiting for room or dropping the oldest as the policy says.

        Once the buffer has ended, a full buffer takes nothing more: the item is dropped.
        """
        items = self.items
        if self._ended and len(items) >= self.maxsize:
            return
        while len(items) >= self.maxsize + self.extra and not self._ended:
            if self.overflow == "drop_oldest":
                items.popleft()
                self.dropped += 1
                break
            self._writable.clear()
            self._writer_blocked = True
            await self._writable.wait()
        items.append(item)
        self._readable.set()

    def widen(self, extra: int) -> None:
        """Allow ``extra`` items beyond ``maxsize`` until widened back to 0 (a reader that
        must reach a control reply behind unread data); a waiting writer wakes up."""
        self.extra = extra
        if extra:
            self._writable.set()

    def append(self, item: Any) -> None:
        """Queue ``item`` now, ignoring the bound: for a caller that checked there is room."""
        self.items.append(item)
        self._readable.set()

    #: Queue an error or status dict past the bound: they are few and must not be lost.
    put_control = append

    async def put_many(self, batch: list[Any]) -> None:
        """Queue ``batch`` in order, as :meth:`put` would one by one, but in whole runs:
        what fits at once, then (``block``) the rest as room appears, or (``drop_oldest``)
        all of it, the oldest beyond the bound dropped."""
        items = self.items
        start, end = 0, len(batch)
        while start < end:
            if self._ended:  # an ended buffer takes what fits, and drops the rest
                room = self.maxsize - len(items)
                if room > 0:
                    items.extend(batch[start : start + room])
                    self._readable.set()
                return
            bound = self.maxsize + self.extra
            room = bound - len(items)
            if room > 0:
                chunk = batch[start : start + room] if start or room < end else batch
                items.extend(chunk)
                start += len(chunk)
                self._readable.set()
            elif self.overflow == "drop_oldest":  # full: each new item drops the oldest
                items.extend(batch[start:])
                excess = end - start
                for _ in range(excess):
                    items.popleft()
                self.dropped += excess
                self._readable.set()
                return
            else:
                self._writable.clear()
                self._writer_blocked = True
                await self._writable.wait()

    def take(self, limit: int) -> list[Any]:
        """Pop up to ``limit`` queued items at once, oldest first (maybe none)."""
        items = self.items
        if len(items) <= limit:
            taken = list(items)
            items.clear()
        else:
            popleft = items.popleft
            taken = [popleft() for _ in range(limit)]
        if taken and self._writer_blocked:
            self._writer_blocked = False
            self._writable.set()
        return taken

    def get_nowait(self) -> Any:
        """Pop the next item; :class:`IndexError` when empty."""
        item = self.items.popleft()
        if self._writer_blocked:
            self._writer_blocked = False
            self._writable.set()
        return item

    async def get(self) -> Any:
        """Wait for the next item; :class:`StreamClosedError` once ended and drained."""
        items = self.items
        while not items:
            if self._ended:
                raise StreamClosedError("the socket is closed and holds no more messages")
            self._readable.clear()
            await self._readable.wait()
        item = items.popleft()
        if self._writer_blocked:
            self._writer_blocked = False
            self._writable.set()
        return item

    def end(self) -> None:
        """Mark the end: waiting getters wake up, queued items can still be read."""
        self._ended = True
        self._readable.set()
        self._writable.set()

    def clear(self) -> None:
        """Discard everything queued (used when a consumer stops for good)."""
        self.items.clear()
        self._writable.set()
