"""Hand batches of messages from the event loop to a worker thread, with backpressure.

Used for the threaded manager's callbacks and the command line's stdout writer, so a
slow callback or a blocked pipe never stalls the event loop (pings keep being
answered) while memory stays bounded: at most ``high`` messages wait for the worker;
past that the loop side awaits :meth:`Handoff.wait_for_room`.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import Callable
from typing import Any


class Handoff:
    """One worker thread calling ``on_batch(list_of_messages)`` in arrival order."""

    def __init__(
        self,
        name: str,
        on_batch: Callable[[list[Any]], None],
        loop: asyncio.AbstractEventLoop,
        high: int = 1024,
    ) -> None:
        self.name = name
        self.on_batch = on_batch
        self.loop = loop
        self.high = high
        self.pending: deque[Any] = deque()
        self.delivered = 0
        self.closed = False
        lock = threading.Lock()
        self._work_ready = threading.Condition(lock)  # the worker waits here for messages
        self._idle = threading.Condition(lock)  # drain() waits here for an idle worker
        self._worker_waiting = False
        #: True while the worker handles a batch (read without the lock from the loop side:
        #: only the loop feeds, so "nothing pending and not working" stays true until it does).
        self.working = False
        self._room = asyncio.Event()
        self._room.set()
        self._loop_waiting = False
        self.thread = threading.Thread(target=self._work, name=name, daemon=True)
        self.thread.start()

    def feed(self, messages: list[Any]) -> None:
        """Queue ``messages`` for the worker (loop side; never blocks)."""
        with self._work_ready:
            self.pending.extend(messages)
            if self._worker_waiting:
                self._work_ready.notify()

    async def wait_for_room(self) -> None:
        """Wait while the worker is ``high`` messages behind."""
        if len(self.pending) < self.high:  # the common case needs no lock
            return
        while True:
            # Check and announce the wait under the worker's lock: a worker that empties
            # the queue either sees the announcement or is seen to have emptied it.
            with self._work_ready:
                if len(self.pending) < self.high or self.closed:
                    self._loop_waiting = False
                    return
                self._room.clear()
                self._loop_waiting = True
            await self._room.wait()

    async def drain(self, timeout: float) -> bool:
        """Wait until the worker has handled everything fed so far; False on timeout."""
        return await asyncio.to_thread(self._wait_idle, timeout)

    def _wait_idle(self, timeout: float) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: not self.pending and not self.working, timeout)

    def close(self, discard: bool = True) -> None:
        """Stop the worker after its current batch; queued messages are discarded."""
        with self._work_ready:
            self.closed = True
            if discard:
                self.pending.clear()
            self._work_ready.notify()
            wake, self._loop_waiting = self._loop_waiting, False
        if wake:
            with contextlib.suppress(RuntimeError):
                self.loop.call_soon_threadsafe(self._room.set)

    def _work(self) -> None:
        while True:
            with self._work_ready:
                self.working = False
                while not self.pending and not self.closed:
                    self._idle.notify_all()
                    self._worker_waiting = True
                    self._work_ready.wait()
                    self._worker_waiting = False
                if not self.pending:
                    self._idle.notify_all()
                    return
                batch = list(self.pending)
                self.pending.clear()
                self.working = True
                wake = self._loop_waiting
                self._loop_waiting = False
            if wake:
                try:
                    self.loop.call_soon_threadsafe(self._room.set)
                except RuntimeError:  # loop already closed
                    return
            self.on_batch(batch)
            self.delivered += len(batch)
