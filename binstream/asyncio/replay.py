"""Recordings played back at the pace they were recorded (or faster), on the event loop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from ..recording import Entry, Header, read_recording


async def paced(entries: AsyncIterator[Entry], speed: float | None = 1.0) -> AsyncIterator[Entry]:
    """``entries`` at the pace of their times divided by ``speed`` (None: as they come)."""
    start_clock = 0.0
    first: float | None = None
    async for entry in entries:
        if speed:
            if first is None:
                first, start_clock = entry.time_ms, time.monotonic()
            delay = start_clock + (entry.time_ms - first) / 1000 / speed - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        yield entry


async def replay_entries(
    path: Path, speed: float | None = 1.0, loop: bool = False
) -> AsyncIterator[tuple[Header, Entry]]:
    """Yield entries at their recorded pace divided by ``speed`` (None: as fast as possible)."""
    while True:
        header, entries = read_recording(path)

        async def each(entries: Iterator[Entry] = entries) -> AsyncIterator[Entry]:
            for entry in entries:
                yield entry

        async for entry in paced(each(), speed):
            yield header, entry
        if not loop:
            return
