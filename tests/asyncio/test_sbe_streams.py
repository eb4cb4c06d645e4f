"""SBE market data from the local exchange's /sbe, through BinanceSocketManager and the
threaded manager, on both transports: the same market as the JSON streams, decoded."""

from __future__ import annotations

import asyncio
import itertools
import threading
from typing import Any

import pytest

from binstream import BinanceSocketManager, MissingKeysError, ThreadedWebsocketManager
from binstream.errors import InvalidStreamError
from binstream.events import EventKind, SocketEvent
from binstream.sbe import decode
from binstream.server import DEMO_API_KEY, LocalExchange

from ..conftest import FAST, ExchangeThread, check_views

pytestmark = pytest.mark.usefixtures("transport")


def sbe_manager(exchange: LocalExchange, **options: Any) -> BinanceSocketManager:
    return BinanceSocketManager(endpoint=exchange.url, api_key=DEMO_API_KEY, user_timeout=10,
                                backoff_base=0.02, backoff_cap=0.2, **options)  # fmt: skip


async def test_sbe_trades_are_the_json_trades(exchange: LocalExchange) -> None:
    bm = sbe_manager(exchange)
    async with bm.trade_socket("bnbbtc") as json_trades, bm.sbe_socket("bnbbtc@trade") as sbe:
        by_id: dict[int, dict[str, Any]] = {}
        first = await sbe.recv()
        async with asyncio.timeout(10):
            while first["t"] not in by_id or len(by_id) < 30:
                trade = await json_trades.recv()
                by_id[trade["t"]] = trade
        got = [first] + [await sbe.recv() for _ in range(20)]
    for trade in got:
        same = by_id[trade["t"]]
        assert {k: trade[k] for k in "spqmM"} == {k: same[k] for k in "spqmM"}
        assert (trade["E"], trade["T"]) == (same["E"] * 1000, same["T"] * 1000)  # µs


async def test_combined_sbe_streams_are_wrapped_and_live_subscriptions_work(
    exchange: LocalExchange,
) -> None:
    bm = sbe_manager(exchange)
    async with bm.sbe_socket(["bnbbtc@bestBidAsk", "bnbbtc@depth20"]) as socket:
        seen: dict[str, dict[str, Any]] = {}
        async with asyncio.timeout(10):
            while len(seen) < 2:
                message = await socket.recv()
                seen[message["stream"]] = message["data"]
        assert seen["bnbbtc@bestBidAsk"]["e"] == "bestBidAsk"
        assert len(seen["bnbbtc@depth20"]["bids"]) == 20
        await socket.subscribe("ethbtc@trade")  # JSON control messages on the SBE host
        assert "ethbtc@trade" in await socket.list_subscriptions()
        async with asyncio.timeout(10):
            while (await socket.recv())["stream"] != "ethbtc@trade":
                pass


async def test_raw_frames_are_the_binary_frames(exchange: LocalExchange) -> None:
    async with sbe_manager(exchange).sbe_socket("bnbbtc@depth", raw=True) as socket:
        frame = await socket.recv()
    assert type(frame) is bytes and decode(frame)[0]["e"] == "depthUpdate"


async def test_keys_missing_refused_and_never_shown(exchange: LocalExchange) -> None:
    with pytest.raises(MissingKeysError, match="API key"):
        BinanceSocketManager(endpoint=exchange.url).sbe_socket("bnbbtc@trade")
    with pytest.raises(InvalidStreamError, match="@bestBidAsk"):
        sbe_manager(exchange).sbe_socket("bnbbtc@aggTrade")
    key = "UnknownKey" + "7" * 54
    socket = BinanceSocketManager(endpoint=exchange.url, api_key=key).sbe_socket("bnbbtc@trade")
    assert key not in repr(socket) and key not in repr(socket._plans)
    error = await socket.recv()
    assert error["type"] == "BinanceWebsocketUnableToConnect"
    assert "HTTP 401" in error["m"] and key not in error["m"]
    assert exchange.connections_total == 0  # refused at the door


async def test_server_shutdown_rotates_an_sbe_socket(exchange: LocalExchange) -> None:
    socket = sbe_manager(exchange).sbe_socket("bnbbtc@depth")
    events: list[SocketEvent] = []
    rotated = asyncio.Event()
    socket.add_event_callback(lambda e: (events.append(e), e.kind is EventKind.ROTATED
                                         and rotated.set()))  # fmt: skip
    async with socket:
        last = (await socket.recv())["u"]
        exchange.announce_shutdown(grace=1.0)
        async with asyncio.timeout(10):
            while not rotated.is_set():
                update = await socket.recv()
                assert update["U"] == last + 1, "a diff event lost or repeated"
                last = update["u"]
        for _ in range(20):
            update = await socket.recv()
            assert update["U"] == last + 1
            last = update["u"]
    assert not any(e.kind is EventKind.DISCONNECTED for e in events)


@pytest.mark.transport_independent
async def test_past_1024_streams_an_sbe_socket_shards(exchange: LocalExchange) -> None:
    bm = sbe_manager(exchange, check_symbols=False)
    real = [f"{s.lower()}@{k}" for s in exchange.markets for k in ("trade", "depth")]
    padding = [f"zz{i}x@trade" for i in range(1100 - len(real))]
    socket = bm.sbe_socket(real[:2] + padding + real[2:])  # real streams on both connections
    assert len(socket.urls) == 2 and all("/sbe/stream?streams=" in url for url in socket.urls)
    seen: set[str] = set()
    async with socket, asyncio.timeout(10):
        while seen != set(real):
            message = await socket.recv()
            assert message.get("e") != "error", message
            seen.add(message["stream"])


async def test_a_book_from_sbe_diff_depth_is_the_true_book() -> None:
    async with LocalExchange(interval=FAST, seed=5, book_history=5000) as exchange:
        bm = sbe_manager(exchange)
        async with bm.book_socket("bnbbtc", levels=10, sbe=True) as book:
            views = [await book.recv() for _ in range(150)]
        assert check_views(exchange, views, 10) > 100


def test_threaded_manager_opens_sbe_sockets() -> None:
    """Callbacks get dicts: trades, and the book frames the socket queued undecoded."""
    with ExchangeThread(interval=FAST, seed=3) as exchange:
        twm = ThreadedWebsocketManager(endpoint=exchange.url, api_key=DEMO_API_KEY)
        twm.start()
        got: dict[str, list[Any]] = {"bnbbtc@trade": [], "bnbbtc@depth": []}
        done = threading.Event()

        def callback(message: Any) -> None:
            got[message["stream"]].append(message["data"])
            if min(map(len, got.values())) >= 5:
                done.set()

        try:
            name = twm.start_sbe_socket(callback, ["bnbbtc@trade", "bnbbtc@depth"])
            assert done.wait(10)
            assert name == "sbe:streams=bnbbtc@trade/bnbbtc@depth"
            assert all(m["e"] == "trade" and m["s"] == "BNBBTC" for m in got["bnbbtc@trade"])
            updates = got["bnbbtc@depth"]
            assert all(m["e"] == "depthUpdate" and type(m["b"]) is list for m in updates)
            assert all(b["U"] == a["u"] + 1 for a, b in itertools.pairwise(updates))
        finally:
            twm.stop()
