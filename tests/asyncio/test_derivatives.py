"""USD-M, COIN-M and options market streams against the local exchange, over loopback:
every python-binance method on both managers, routing, the route trap, live subscriptions
and the futures limits."""

from __future__ import annotations

import asyncio
import itertools
import json
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from websockets.asyncio.client import connect

from binstream import (
    BinanceSocketManager,
    ContractType,
    FuturesType,
    InvalidStreamError,
    ThreadedWebsocketManager,
)
from binstream.server import LocalExchange

from ..conftest import FAST, ExchangeThread

OPTION = "BTC-261225-100000-C"

#: Fields Binance's derivatives docs give each event (checked as a subset).
FIELDS: dict[str, set[str]] = {
    "aggTrade": {"e", "E", "a", "s", "p", "q", "f", "l", "T", "m"},
    "trade": {"e", "E", "T", "s", "t", "p", "q", "X", "m"},
    "kline": {"e", "E", "s", "k"},
    "continuous_kline": {"e", "E", "ps", "ct", "k"},
    "depthUpdate": {"e", "E", "T", "s", "U", "u", "pu", "b", "a"},
    "depth": {"e", "E", "T", "s", "u", "pu", "b", "a"},
    "markPriceUpdate": {"e", "E", "s", "p", "i", "P", "r", "T"},
    "bookTicker": {"e", "u", "E", "T", "s", "b", "B", "a", "A"},
    "24hrTicker": {"e", "E", "s", "p", "P", "c", "o", "h", "l", "Q"},
    "24hrMiniTicker": {"e", "E", "s", "c", "o", "h", "l", "v", "q"},
    "indexPriceUpdate": {"e", "E", "i", "p"},
    "forceOrder": {"e", "E", "o"},
    "markPrice": {"e", "E", "s", "mp", "i", "d", "t", "g", "v"},
    "openInterest": {"e", "E", "s", "o", "h"},
    "index": {"e", "E", "s", "p"},
    "optionSymbol": {"e", "E", "u", "s", "d", "sp", "ed"},
}

#: (method name, arguments, expected event type) for both managers.
METHODS: list[tuple[str, tuple[Any, ...], str]] = [
    ("aggtrade_futures_socket", ("btcusdt",), "aggTrade"),
    ("aggtrade_futures_socket", ("btcusd_perp", FuturesType.COIN_M), "aggTrade"),
    ("kline_futures_socket", ("btcusdt", "1m", FuturesType.USD_M, ContractType.PERPETUAL),
     "continuous_kline"),
    ("futures_depth_socket", ("btcusdt",), "depthUpdate"),
    ("futures_depth_socket", ("btcusd_perp", "5", FuturesType.COIN_M), "depthUpdate"),
    ("futures_rpi_depth_socket", ("btcusdt",), "depthUpdate"),
    ("symbol_mark_price_socket", ("btcusdt",), "markPriceUpdate"),
    ("all_mark_price_socket", (), "markPriceUpdate"),
    ("symbol_ticker_futures_socket", ("btcusdt",), "bookTicker"),
    ("individual_symbol_ticker_futures_socket", ("ethusdt",), "24hrTicker"),
    ("all_ticker_futures_socket", (), "bookTicker"),
    ("all_ticker_futures_socket", ("!miniTicker@arr",), "24hrMiniTicker"),
    ("futures_ticker_socket", (), "24hrTicker"),
    ("futures_coin_ticker_socket", (), "24hrTicker"),
    ("index_price_socket", ("btcusd",), "indexPriceUpdate"),
    ("liquidation_socket", (), "forceOrder"),
    ("futures_multiplex_socket", (["btcusdt@aggTrade", "btcusdt@depth@100ms"],), "*"),
    ("options_ticker_socket", (OPTION,), "24hrTicker"),
    ("options_ticker_by_expiration_socket", ("btcusdt", "261225"), "24hrTicker"),
    ("options_recent_trades_socket", (OPTION,), "trade"),
    ("options_kline_socket", (OPTION,), "kline"),
    ("options_depth_socket", (OPTION,), "depth"),
    ("options_book_ticker_socket", (OPTION,), "bookTicker"),
    ("options_mark_price_socket", ("btcusdt",), "markPrice"),
    ("options_open_interest_socket", ("btcusdt", "261225"), "openInterest"),
    ("options_index_price_socket", (), "index"),
    ("options_new_symbol_socket", (), "optionSymbol"),
    ("options_multiplex_socket", ([f"{OPTION}@optionTicker", f"{OPTION}@kline_1m"],), "*"),
]  # fmt: skip


def check_message(message: Any, expected: str) -> None:
    """A payload (or a combined wrapper, or an array) of the expected event, fields and all."""
    assert not (isinstance(message, dict) and message.get("e") == "error"), message
    if isinstance(message, dict) and "stream" in message and "data" in message:
        message = message["data"]
        expected = "*"
    items = message if isinstance(message, list) else [message]
    assert items, "an empty array"
    for item in items:
        kind = item["e"]
        assert expected in ("*", kind), f"{kind} instead of {expected}"
        missing = FIELDS[kind] - set(item)
        assert not missing, f"{kind} lacks {missing}"


@pytest.fixture
async def derivatives() -> Any:
    # A faster clock than the other tests': the 60 s streams (open interest, new options)
    # then send within two seconds.
    async with LocalExchange(interval=0.002, seed=3) as ex:
        yield ex


# What each method names and where it routes is above the transport (the mixed multiplex
# and the route tests below run on both): one run.
@pytest.mark.transport_independent
@pytest.mark.usefixtures("transport")
async def test_every_method_delivers_well_formed_messages(derivatives: LocalExchange) -> None:
    bm = BinanceSocketManager(endpoint=derivatives.url, user_timeout=10)

    async def first(name: str, args: tuple[Any, ...], expected: str) -> None:
        async with getattr(bm, name)(*args) as socket:
            check_message(await socket.recv(), expected)

    async with asyncio.timeout(20):
        await asyncio.gather(*(first(*method) for method in METHODS))


def test_threaded_manager_delivers_futures_and_options(transport: str) -> None:
    import threading

    with ExchangeThread(interval=FAST, seed=3) as exchange:
        twm = ThreadedWebsocketManager(endpoint=exchange.url, backoff_base=0.02)
        twm.start()
        got: dict[str, Any] = {}
        done = threading.Event()
        wanted = METHODS[:8] + METHODS[17:24]

        def collect(key: str) -> Callable[[Any], None]:
            def callback(message: Any) -> None:
                got.setdefault(key, message)
                if len(got) == len(wanted):
                    done.set()

            return callback

        for index, (name, args, _) in enumerate(wanted):
            socket_name = getattr(twm, f"start_{name}")(collect(str(index)), *args)
            assert isinstance(socket_name, str)
        assert done.wait(15), f"only {len(got)} of {len(wanted)} sockets delivered"
        twm.stop()
        assert twm.join(5)
    for index, (_, _, expected) in enumerate(wanted):
        check_message(got[str(index)], expected)


@pytest.mark.usefixtures("transport")
async def test_a_mixed_multiplex_is_routed_and_delivers_every_stream(
    derivatives: LocalExchange,
) -> None:
    bm = BinanceSocketManager(endpoint=derivatives.url, user_timeout=5)
    streams = ["btcusdt@aggTrade", "btcusdt@depth@100ms", "ethusdt@bookTicker",
               "btcusdt@markPrice@1s", "!bookTicker", "btcusdt@trade"]  # fmt: skip
    # python-binance would send all of these to category="market": depth and bookTicker
    # would then be silent. binstream routes each stream itself.
    socket = bm.futures_multiplex_socket(streams, category="market")
    routes = sorted(url.split("/usdm/")[1].split("/")[0] for url in socket.urls)
    assert routes == ["market", "public"]
    seen: set[str] = set()
    async with socket, asyncio.timeout(10):
        while seen != set(streams):
            message = await socket.recv()
            check_message(message, "*")
            seen.add(message["stream"])


@pytest.mark.usefixtures("transport")
async def test_live_subscriptions_go_to_the_streams_route(derivatives: LocalExchange) -> None:
    bm = BinanceSocketManager(endpoint=derivatives.url, user_timeout=5)
    async with bm.futures_multiplex_socket(["btcusdt@aggTrade"]) as socket:
        await socket.subscribe("ETHUSDT@depth5@100ms", "ethusdt@markPrice@1s")
        assert len(socket.urls) == 1 and len(socket._links) == 2  # a /public link was added
        assert set(await socket.list_subscriptions()) == {
            "btcusdt@aggTrade", "ethusdt@depth5@100ms", "ethusdt@markPrice@1s"}  # fmt: skip
        seen: set[str] = set()
        async with asyncio.timeout(10):
            while len(seen) < 3:
                seen.add((await socket.recv())["stream"])
        with pytest.raises(InvalidStreamError, match="usdm kline intervals"):
            await socket.subscribe("btcusdt@kline_1s")


async def _collect(url: str, count: int, requests: list[Any] = ()) -> list[Any]:  # type: ignore[assignment]
    """``count`` messages from a plain websocket client, after sending ``requests``."""
    out = []
    async with connect(url) as ws, asyncio.timeout(10):
        for request in requests:
            await ws.send(json.dumps(request))
        while len(out) < count:
            out.append(json.loads(await ws.recv()))
    return out


async def test_the_route_trap_a_stream_on_the_wrong_route_is_acknowledged_and_silent(
    derivatives: LocalExchange,
) -> None:
    base = derivatives.market_url("usdm")
    # /public with a /market stream beside a /public one: only the /public one delivers.
    subscribe = {"method": "SUBSCRIBE", "params": ["btcusdt@aggTrade"], "id": 1}
    got = await _collect(f"{base}/public/ws/btcusdt@bookTicker", 150, [subscribe])
    assert {"result": None, "id": 1} in got
    assert {m.get("e") for m in got if "e" in m} == {"bookTicker"}
    # python-binance's default category: a depth stream on /market never delivers.
    got = await _collect(f"{base}/market/stream?streams=btcusdt@depth@100ms/btcusdt@aggTrade", 60)
    assert {m["stream"] for m in got} == {"btcusdt@aggTrade"}
    # No route at all: only /public data arrives.
    got = await _collect(f"{base}/stream?streams=btcusdt@markPrice@1s/btcusdt@depth@100ms", 40)
    assert {m["stream"] for m in got} == {"btcusdt@depth@100ms"}


@pytest.mark.usefixtures("transport")
async def test_futures_limits_200_streams_and_10_messages_a_second(
    derivatives: LocalExchange,
) -> None:
    bm = BinanceSocketManager(endpoint=derivatives.url, user_timeout=5, check_symbols=False)
    names = [f"sym{i}@aggTrade" for i in range(250)] + ["btcusdt@aggTrade"]
    async with bm.futures_multiplex_socket(names) as socket:
        assert len(socket.urls) == 2  # 200 + 51 on /market
        message = await asyncio.wait_for(socket.recv(), 10)
        assert message["stream"] == "btcusdt@aggTrade"
        start = len(derivatives.control_history)
        for i in range(12):  # one request each: each waits for the previous confirmation
            await socket.subscribe(f"extra{i}@aggTrade")
        times = [t for _, t in derivatives.control_history[start:]]
        assert len(times) == 12
        # paced under 10 per second per connection (the exchange closes a faster one) ...
        assert all(later - earlier >= 0.1 for earlier, later in itertools.pairwise(times))
        assert max(times) - min(times) < 11 * 0.25  # ... and faster than spot's 4 a second


def test_bad_derivatives_input_is_a_clear_error() -> None:
    bm = BinanceSocketManager(endpoint="ws://127.0.0.1:9")
    with pytest.raises(InvalidStreamError, match="depth level '7'"):
        bm.futures_depth_socket("btcusdt", depth="7")
    with pytest.raises(InvalidStreamError, match="kline intervals"):
        bm.kline_futures_socket("btcusdt", interval="1s")
    with pytest.raises(InvalidStreamError, match="invalid options symbol"):
        bm.options_ticker_socket("btc/usdt")
    with pytest.raises(InvalidStreamError, match="futures_type"):
        bm.aggtrade_futures_socket("btcusdt", futures_type="options")
    with pytest.raises(InvalidStreamError, match="options have no diff-depth"):
        bm.book_socket("btcusdt", market="options")


async def test_rest_of_each_venue(derivatives: LocalExchange) -> None:
    def get(path: str) -> Any:
        with urllib.request.urlopen(f"{derivatives.rest_url}{path}", timeout=5) as reply:
            return json.loads(reply.read())

    info = await asyncio.to_thread(get, "/usdm/fapi/v1/exchangeInfo")
    assert {s["symbol"] for s in info["symbols"]} >= {"BTCUSDT", "ETHUSDT", "BTCUSDT_261225"}
    depth = await asyncio.to_thread(get, "/coinm/dapi/v1/depth?symbol=BTCUSD_PERP&limit=5000")
    assert depth["pair"] == "BTCUSD" and len(depth["bids"]) <= 1000
    options = await asyncio.to_thread(get, "/options/eapi/v1/exchangeInfo")
    assert OPTION in {s["symbol"] for s in options["optionSymbols"]}
    premium = await asyncio.to_thread(get, "/usdm/fapi/v1/premiumIndex?symbol=BTCUSDT")
    assert premium["symbol"] == "BTCUSDT" and premium["nextFundingTime"] % 28_800_000 == 0
