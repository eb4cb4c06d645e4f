"""Make-before-break rotation: the pure switch, and a live feed that restarts its servers.

The switch is checked over every interleaving hypothesis finds of the two connections'
frames; the link is checked end to end against a server with live-feed semantics (one
global trade sequence; each connection gets the trades produced while it is open; a
``serverShutdown`` some time after each connection opens, the close some time later).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from websockets.asyncio.server import ServerConnection, serve

from binstream import BinanceSocketManager, SocketOptions, StatusEvent
from binstream.asyncio.options import ReconnectPolicy
from binstream.rotation import Switch


@st.composite
def overlapping_feeds(draw: st.DrawFn) -> tuple[int, int, int, list[bool], int]:
    """A global sequence 0..n-1, the old connection's part [0, old_end), the new one's
    [new_start, n) with new_start <= old_end, an arrival order and when the old ends."""
    n = draw(st.integers(0, 40))
    old_end = draw(st.integers(0, n))
    new_start = draw(st.integers(0, old_end))
    order = draw(st.permutations([True] * old_end + [False] * (n - new_start)))
    ends_at = draw(st.integers(0, len(order)))
    return n, old_end, new_start, list(order), ends_at


def run_switch(feeds: tuple[int, int, int, list[bool], int]) -> list[str]:
    n, old_end, new_start, order, ends_at = feeds
    switch: Switch[str] = Switch()
    old = iter(range(old_end))
    new = iter(range(new_start, n))
    out: list[str] = []
    old_left = old_end
    for step, from_old in enumerate(order):
        if step == ends_at and old_left == 0:
            out += switch.old_ended()
        if from_old:
            old_left -= 1
            out += switch.from_old(str(next(old)))
        else:
            out += switch.from_new(str(next(new)))
    out += switch.old_ended()
    return out


@given(overlapping_feeds())
def test_the_switch_delivers_the_whole_feed_once_in_order(feeds: Any) -> None:
    n = feeds[0]
    assert run_switch(feeds) == [str(i) for i in range(n)]


@given(st.integers(0, 20), st.integers(1, 20), st.integers(0, 20))
def test_a_gap_between_the_feeds_loses_only_what_neither_carried(
    old_len: int, gap: int, new_len: int
) -> None:
    switch: Switch[str] = Switch()
    out = [f for i in range(old_len) for f in switch.from_old(str(i))]
    out += switch.old_ended()
    start = old_len + gap
    out += [f for i in range(start, start + new_len) for f in switch.from_new(str(i))]
    assert out == [str(i) for i in range(old_len)] + [str(i) for i in range(start, start + new_len)]


def test_after_the_switch_the_old_connection_is_ignored_and_repeats_are_dropped() -> None:
    switch: Switch[str] = Switch()
    assert switch.from_old("1") + switch.from_old("2") + switch.from_old("3") == ["1", "2", "3"]
    assert switch.from_new("2") == []  # the overlap: switch here
    assert switch.switched and not switch.done
    assert switch.from_old("4") == []  # the new connection carries it too
    assert switch.from_new("3") == []  # delivered by the old one already
    assert switch.done
    assert switch.from_new("4") == ["4"]


# -- end to end -------------------------------------------------------------------------


class LiveFeed:
    """Trades at ``rate`` per second; each connection gets those produced while it is
    open, announces ``serverShutdown`` ``announce`` s after it opens and closes (code
    1000) a random ``grace`` later."""

    def __init__(self, rate: float, announce: float, grace: tuple[float, float]) -> None:
        self.rate = rate
        self.announce = announce
        self.grace = grace
        self.trades: list[bytes] = []
        self.new_trade = asyncio.Condition()
        self.connections = 0
        self.random = random.Random(5)

    async def produce(self) -> None:
        trade_id = 1000
        while True:
            await asyncio.sleep(1 / self.rate)
            async with self.new_trade:
                for _ in range(3):  # a few per tick, as a busy market does
                    trade_id += 1
                    self.trades.append(orjson.dumps({"e": "trade", "s": "BNBBTC", "t": trade_id}))
                self.new_trade.notify_all()

    async def handler(self, ws: ServerConnection) -> None:
        self.connections += 1
        position = len(self.trades)
        loop = asyncio.get_running_loop()
        announce_at = loop.time() + self.announce
        close_at = announce_at + self.random.uniform(*self.grace)
        announced = False
        with contextlib.suppress(Exception):
            while loop.time() < close_at:
                if not announced and loop.time() >= announce_at:
                    await ws.send('{"e":"serverShutdown","E":1}')
                    announced = True
                async with self.new_trade:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.new_trade.wait(), 0.05)
                    fresh, position = self.trades[position:], len(self.trades)
                for trade in fresh:
                    await ws.send(trade.decode())
            if not announced:  # a wait that outlasted both moments (a loaded machine)
                await ws.send('{"e":"serverShutdown","E":1}')
            await ws.close(1000, "restarting")


@contextlib.asynccontextmanager
async def live_feed(**kwargs: Any) -> AsyncIterator[tuple[str, LiveFeed]]:
    feed = LiveFeed(**kwargs)
    producer = asyncio.create_task(feed.produce())
    async with serve(feed.handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        try:
            yield f"ws://127.0.0.1:{port}", feed
        finally:
            producer.cancel()


@pytest.mark.usefixtures("transport")
@pytest.mark.parametrize(
    ("announce", "grace"),
    [
        (0.4, (0.3, 0.6)),  # the close comes well after the announcement
        (0.4, (0.0, 0.02)),  # the close comes right after the announcement
        (0.05, (0.3, 0.5)),  # the replacement announces before the old one has closed
    ],
    ids=["grace", "no-grace", "rolling"],
)
async def test_rotation_against_a_live_feed_loses_and_repeats_nothing(
    announce: float, grace: tuple[float, float]
) -> None:
    events: list[StatusEvent] = []
    async with live_feed(rate=500, announce=announce, grace=grace) as (url, feed):
        options = SocketOptions(
            user_timeout=5,
            reconnect=ReconnectPolicy(backoff_base=0.02, backoff_cap=0.1),
            on_status=events.append,
        )
        bm = BinanceSocketManager(endpoint=url, options=options)
        async with bm.trade_socket("bnbbtc") as ts:
            messages = [await ts.recv() for _ in range(1500)]
    errors = [m for m in messages if m.get("e") == "error"]
    assert errors == [], "a planned close is not a drop"
    ids = [m["t"] for m in messages]
    assert ids == list(range(ids[0], ids[0] + len(ids))), "every trade once, in order"
    rotations = [e for e in events if e.kind == "rotated"]
    assert feed.connections >= 3 and len(rotations) >= 2
