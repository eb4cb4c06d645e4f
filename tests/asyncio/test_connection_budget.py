"""The process-wide connection budget, against a local exchange that enforces Binance's
limits: mass disconnects restore every stream without going over either limit."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Iterator

import pytest

from binstream import BinanceSocketManager, Market
from binstream.asyncio.pacing import CONNECTION_BUDGET
from binstream.server import LocalExchange

from ..conftest import FAST

pytestmark = pytest.mark.usefixtures("transport")

#: A small budget, so that a few waves of 15 connections have to be paced.
LIMIT, WINDOW = 8, 1.0


@pytest.fixture
def budget() -> Iterator[None]:
    """The budget rations loopback too for the test, and is put back afterwards."""
    CONNECTION_BUDGET.configure(LIMIT, WINDOW, loopback=True)
    try:
        yield
    finally:
        CONNECTION_BUDGET.configure(300, 300.0, loopback=False)


async def until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    """Wait for ``condition`` to hold, checking on each step of the market."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(FAST)


def carried(exchange: LocalExchange, after: int) -> set[str]:
    """The streams the exchange's USD-M connections numbered above ``after`` carry."""
    return {
        name
        for client in exchange.clients
        if client.market is Market.USDM and client.number > after
        for name in client.subs
    }


def most_in_any_window(times: list[float], window: float) -> int:
    """The most attempts the exchange saw within any ``window`` seconds."""
    ordered = sorted(times)
    most, start = 0, 0
    for end, t in enumerate(ordered):
        while t - ordered[start] >= window:
            start += 1
        most = max(most, end - start + 1)
    return most


@pytest.mark.usefixtures("budget")
async def test_two_mass_drops_restore_3000_streams_within_binance_limits() -> None:
    async with LocalExchange(interval=FAST, seed=7, connection_limit=(LIMIT, WINDOW)) as exchange:
        bm = BinanceSocketManager(
            endpoint=exchange.url, user_timeout=10, backoff_base=0.02, backoff_cap=0.2,
            max_retries=math.inf, check_symbols=False,
        )  # fmt: skip
        names = ["btcusdt@aggTrade"] + [f"q{i}usdt@aggTrade" for i in range(2999)]
        # Three sockets of 1,000 streams: 15 connections of USD-M's 200 streams each.
        sockets = [bm.futures_multiplex_socket(names[i::3]) for i in range(3)]
        for socket in sockets:
            socket.start()
        try:
            await until(lambda: carried(exchange, 0) == set(names))
            for _ in range(2):
                newest = max(client.number for client in exchange.clients)
                assert exchange.drop_all() == 15
                await until(lambda n=newest: carried(exchange, n) == set(names))  # type: ignore[misc]
        finally:
            for socket in sockets:
                await socket.close()
        assert exchange.over_limit == 0
        assert len(exchange.connection_times) == 45
        assert most_in_any_window(exchange.connection_times, WINDOW) <= LIMIT
        per_connection_second: dict[tuple[int, int], int] = {}
        for number, t in exchange.control_history:
            key = (number, int(t))
            per_connection_second[key] = per_connection_second.get(key, 0) + 1
        assert max(per_connection_second.values(), default=0) <= 10
