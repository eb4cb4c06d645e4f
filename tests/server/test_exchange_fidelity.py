"""The local exchange as a faithful Binance stand-in: what third-party clients rely on.

Each test is one defect found with real clients (Binance's own SDK, python-binance,
requests' connection pool), checked over real loopback sockets.
"""

from __future__ import annotations

import asyncio
import http.client
import itertools
import json
import uuid
from collections import Counter
from typing import Any
from urllib.parse import quote

import orjson
import pytest
from websockets.asyncio.client import connect

from binstream.server import LocalExchange
from binstream.server.market import DEFAULT_SYMBOLS, SymbolMarket

from .test_server import request, rest

pytestmark = pytest.mark.transport_independent


# -- 1. request ids ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "request_id",
    [str(uuid.uuid4()), "abc_DEF-123", 7, -7, 2**63 - 1, None, "x" * 36],
    ids=["uuid4", "dash-underscore", "int", "negative", "int64-max", "null", "36-chars"],
)
async def test_ids_binance_accepts_are_accepted(exchange: LocalExchange, request_id: Any) -> None:
    """Binance's SDK sends str(uuid4()); integers, null and short strings work too."""
    async with connect(exchange.url + "/stream") as ws:
        reply = await request(
            ws, {"method": "SUBSCRIBE", "params": ["bnbbtc@trade"], "id": request_id}
        )
    assert reply == {"result": None, "id": request_id}


@pytest.mark.parametrize(
    "request_id", ["x" * 37, "has space", "dot.ted", True, 2**63, 1.5, ["list"]],
    ids=["37-chars", "space", "dot", "bool", "too-big", "float", "list"],
)  # fmt: skip
async def test_other_ids_get_binances_error(exchange: LocalExchange, request_id: Any) -> None:
    async with connect(exchange.url + "/ws") as ws:
        reply = await request(ws, {"method": "LIST_SUBSCRIPTIONS", "id": request_id})
    assert reply == {"code": 2, "msg": "Invalid request: request ID must be an unsigned integer"}


# -- 2. a combined connection with no stream yet ----------------------------------------


@pytest.mark.parametrize("path", ["/stream", "/stream?streams="])
async def test_an_empty_combined_connection_subscribes_later(
    exchange: LocalExchange, path: str
) -> None:
    async with connect(exchange.url + path) as ws:
        await request(ws, {"method": "SUBSCRIBE", "params": ["bnbbtc@trade"], "id": "a-1"})
        while True:
            message = orjson.loads(await asyncio.wait_for(ws.recv(), 5))
            if "stream" in message:
                break
    assert message["stream"] == "bnbbtc@trade" and message["data"]["e"] == "trade"


# -- 3. a market that stays sane --------------------------------------------------------


def run_market(spec_index: int, steps: int) -> SymbolMarket:
    market = SymbolMarket(DEFAULT_SYMBOLS[spec_index], seed=spec_index)
    t = 1_700_000_000_000
    for i in range(steps):
        t += 100
        market.step(t)
        if i % 100 == 0:
            market.check()  # positive, uncrossed, a few ticks wide, deep on both sides
    return market


@pytest.mark.parametrize("index", range(len(DEFAULT_SYMBOLS)))
def test_every_symbol_stays_a_market_for_half_an_hour(index: int) -> None:
    """18,000 steps (30 minutes at 100 ms a step): the spread used to grow two ticks a
    second, and trades printed at price 0 after about 20 minutes."""
    market = run_market(index, 18_000)
    assert 0.9 < market.fair / market.start < 1.1, "a slow walk, not a run-away"
    assert market.stats.count > 10_000, "it trades"


@pytest.mark.soak
@pytest.mark.timeout(900)
def test_every_symbol_stays_a_market_for_a_simulated_day() -> None:
    for index in range(len(DEFAULT_SYMBOLS)):
        market = run_market(index, 864_000)
        assert 0.5 < market.fair / market.start < 2


# -- 4, 5. Binance's update speeds ------------------------------------------------------

SPEED_STREAMS = {
    "bnbbtc@trade": None,  # real time: one message per trade
    "bnbbtc@depth@100ms": 1,
    "bnbbtc@depth": 10,
    "bnbbtc@depth5@100ms": 1,
    "bnbbtc@depth5": 10,
    "bnbbtc@ticker": 10,
    "bnbbtc@miniTicker": 10,
    "bnbbtc@avgPrice": 10,
    "bnbbtc@kline_1s": 10,
    "bnbbtc@kline_1m": 20,
    "!miniTicker@arr": 10,
    "!miniTicker@arr@1000ms": 10,
    "!miniTicker@arr@3000ms": 30,
}


async def test_each_stream_sends_at_binances_update_speed(exchange: LocalExchange) -> None:
    """One step is 100 ms of exchange time: 60 steps are 6 s, whatever the clock's pace."""
    exchange.pause()
    names = "/".join(quote(name, safe="@!") for name in SPEED_STREAMS)
    async with connect(f"{exchange.url}/stream?streams={names}", max_size=None) as ws:
        first = exchange.step_number + 1
        trades = 0
        for _ in range(60):
            exchange.step()
            trades += len(exchange.recent["BNBBTC"][-1].fills[0]) if exchange.recent[
                "BNBBTC"][-1].fills else 0  # fmt: skip
        numbers = range(first, first + 60)
        expected = {name: trades if every is None else sum(1 for n in numbers if n % every == 0)
                    for name, every in SPEED_STREAMS.items()}  # fmt: skip
        got: Counter[str] = Counter()
        messages: dict[str, list[Any]] = {}
        async with asyncio.timeout(10):
            while any(got[name] < count for name, count in expected.items()):
                message = orjson.loads(await ws.recv())
                name, data = message["stream"], message["data"]
                # A kline stream's send is its open kline; a kline that closed on the wall
                # clock meanwhile comes beside it (the 60 steps may span a second or more).
                got[name] += 0 if "@kline_" in name and data["k"]["x"] else 1
                messages.setdefault(name, []).append(data)
    for name, count in expected.items():
        assert got[name] == count, (name, got[name], count)
    slow = messages["bnbbtc@depth"]
    for previous, current in itertools.pairwise(slow):
        assert current["U"] == previous["u"] + 1, "a 1000 ms diff event spans 10 steps' ids"


async def test_the_all_market_array_carries_only_symbols_that_changed(
    exchange: LocalExchange,
) -> None:
    exchange.pause()
    async with connect(exchange.url + "/ws/!miniTicker@arr") as ws:
        for market in exchange.markets.values():
            market.rng.seed(1)
        for _ in range(10 - exchange.step_number % 10):
            exchange.step()
        payload = orjson.loads(await asyncio.wait_for(ws.recv(), 5))
    traded = {symbol for symbol, steps in exchange.recent.items()
              if any(step.fills for step in list(steps)[-10:])}  # fmt: skip
    assert {ticker["s"] for ticker in payload} == traded


# -- 6, 7, 9. REST ----------------------------------------------------------------------


def get(exchange: LocalExchange, path: str) -> tuple[int, dict[str, str], Any]:
    connection = http.client.HTTPConnection("127.0.0.1", exchange.port, timeout=5)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), json.loads(response.read())
    finally:
        connection.close()


async def test_rest_answers_say_connection_close(exchange: LocalExchange) -> None:
    """A pooling client (the SDK's requests) must not reuse the socket the server closes."""
    status, headers, _ = await asyncio.to_thread(get, exchange, "/api/v3/ping")
    assert status == 200 and headers["Connection"].lower() == "close"


async def test_exchange_info_has_the_documented_shape(exchange: LocalExchange) -> None:
    status, info = await rest(exchange, "/api/v3/exchangeInfo")
    assert status == 200
    assert {"timezone", "serverTime", "rateLimits", "exchangeFilters", "symbols"} <= set(info)
    assert {limit["rateLimitType"] for limit in info["rateLimits"]} == {
        "REQUEST_WEIGHT", "ORDERS", "RAW_REQUESTS"}  # fmt: skip
    entry = next(s for s in info["symbols"] if s["symbol"] == "BTCUSDT")
    filters = {f["filterType"]: f for f in entry["filters"]}
    market = exchange.markets["BTCUSDT"]
    assert filters["PRICE_FILTER"]["tickSize"] == "0.01000000" == f"{market.tick / 1e8:.8f}"
    assert filters["LOT_SIZE"]["stepSize"] == "0.00001000"
    assert "NOTIONAL" in filters and "minNotional" in filters["NOTIONAL"]
    for key in (
        "baseAssetPrecision",
        "quotePrecision",
        "orderTypes",
        "permissionSets",
        "defaultSelfTradePreventionMode",
        "allowedSelfTradePreventionModes",
    ):
        assert key in entry, key  # fmt: skip


async def test_exchange_info_for_some_symbols(exchange: LocalExchange) -> None:
    status, one = await rest(exchange, "/api/v3/exchangeInfo?symbol=ETHBTC")
    assert status == 200 and [s["symbol"] for s in one["symbols"]] == ["ETHBTC"]
    wanted = quote('["BNBBTC","BTCUSDT"]')
    status, two = await rest(exchange, f"/api/v3/exchangeInfo?symbols={wanted}")
    assert [s["symbol"] for s in two["symbols"]] == ["BNBBTC", "BTCUSDT"]
    assert await rest(exchange, "/api/v3/exchangeInfo?symbol=NOPE") == (
        400, {"code": -1121, "msg": "Invalid symbol."})  # fmt: skip


async def test_a_depth_limit_over_5000_is_truncated_like_binance(exchange: LocalExchange) -> None:
    status, book = await rest(exchange, "/api/v3/depth?symbol=BNBBTC&limit=6000")
    assert status == 200 and book["bids"] and book["asks"]
