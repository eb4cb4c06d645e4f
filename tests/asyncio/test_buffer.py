"""The message buffer's batch operations equal their one-by-one forms (property tests)."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from binstream.asyncio.buffer import MessageBuffer

pytestmark = pytest.mark.transport_independent


def _state(buffer: MessageBuffer) -> tuple[list[int], int]:
    return list(buffer.items), buffer.dropped


@given(
    queued=st.integers(0, 12),
    batch=st.integers(0, 30),
    maxsize=st.integers(1, 10),
    extra=st.integers(0, 3),
    ended=st.booleans(),
)
def test_put_many_drops_as_put_does(
    queued: int, batch: int, maxsize: int, extra: int, ended: bool
) -> None:
    """Under drop_oldest (never waits) and once ended, a batch leaves the buffer exactly
    as putting its items one by one would."""

    async def run(many: bool) -> tuple[list[int], int]:
        buffer = MessageBuffer(maxsize, "drop_oldest")
        buffer.items.extend(range(-queued, 0))
        buffer.widen(extra)
        if ended:
            buffer.end()
        items = list(range(batch))
        if many:
            await buffer.put_many(items)
        else:
            for item in items:
                await buffer.put(item)
        return _state(buffer)

    assert asyncio.run(run(True)) == asyncio.run(run(False))


@given(batch=st.integers(1, 40), maxsize=st.integers(1, 10), take=st.integers(1, 7))
def test_put_many_blocks_for_room_and_keeps_order(batch: int, maxsize: int, take: int) -> None:
    async def run() -> list[int]:
        buffer = MessageBuffer(maxsize, "block")
        writer = asyncio.create_task(buffer.put_many(list(range(batch))))
        seen: list[int] = []
        while len(seen) < batch:
            await asyncio.sleep(0)
            assert len(buffer) <= maxsize  # never past the bound
            seen += buffer.take(take)
        await writer
        return seen

    assert asyncio.run(run()) == list(range(batch))


@given(batches=st.lists(st.integers(1, 25), min_size=2, max_size=4), maxsize=st.integers(1, 6))
def test_several_writers_waiting_for_room_all_get_through(batches: list[int], maxsize: int) -> None:
    """Connections of one socket share its buffer: each waiting writer is woken as the
    consumer takes, one message at a time, and nothing is lost."""

    async def run() -> int:
        buffer = MessageBuffer(maxsize, "block")
        writers = [asyncio.create_task(buffer.put_many(list(range(n)))) for n in batches]
        seen = 0
        async with asyncio.timeout(10):
            while seen < sum(batches):
                await asyncio.sleep(0)
                if len(buffer):
                    buffer.get_nowait()
                    seen += 1
        await asyncio.gather(*writers)
        return seen

    assert asyncio.run(run()) == sum(batches)
