"""The loop → thread hand-off under pressure: every message arrives, nobody waits forever."""

from __future__ import annotations

import asyncio
import threading

from binstream.asyncio.handoff import Handoff


async def test_backpressure_never_loses_a_wakeup() -> None:
    received: list[int] = []
    done = threading.Event()
    total = 200_000

    def on_batch(batch: list[int]) -> None:
        received.extend(batch)
        if len(received) >= total:
            done.set()

    handoff = Handoff("test-handoff", on_batch, asyncio.get_running_loop(), high=8)
    async with asyncio.timeout(30):
        for start in range(0, total, 4):
            handoff.feed(list(range(start, start + 4)))
            await handoff.wait_for_room()
        await asyncio.to_thread(done.wait, 20)
    handoff.close()
    assert received == list(range(total))


async def test_close_wakes_a_waiting_producer() -> None:
    release = threading.Event()
    handoff = Handoff("test-close", lambda batch: release.wait(5), asyncio.get_running_loop(), 2)
    handoff.feed([1, 2, 3])
    handoff.feed([4, 5, 6])
    waiter = asyncio.create_task(handoff.wait_for_room())
    await asyncio.sleep(0)
    handoff.close()
    async with asyncio.timeout(5):
        await waiter
    release.set()
