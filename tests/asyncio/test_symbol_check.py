"""Symbols checked against the local exchange's exchangeInfo, by both managers: an unknown
symbol is an error at once, never a stream that waits forever."""

from __future__ import annotations

import threading

import orjson
import pytest
from websockets.asyncio.server import ServerConnection, serve

from binstream import BinanceSocketManager, ThreadedWebsocketManager, UnknownSymbolError
from binstream.asyncio.symbol_check import SYMBOL_CATALOG
from binstream.server import LocalExchange

from ..conftest import ExchangeThread

pytestmark = pytest.mark.usefixtures("transport")


async def test_async_with_raises_with_close_matches(manager: BinanceSocketManager) -> None:
    said = r"^unknown symbol BNBBTX on spot \(did you mean BNBBTC[,?]"
    with pytest.raises(UnknownSymbolError, match=said):
        async with manager.trade_socket("bnbbtx"):
            pass  # pragma: no cover
    async with manager.trade_socket("bnbbtc") as socket:  # a known one streams as ever
        assert (await socket.recv())["s"] == "BNBBTC"


async def test_started_without_async_with_the_socket_gives_up_in_line(
    manager: BinanceSocketManager, exchange: LocalExchange
) -> None:
    socket = manager.multiplex_socket(["bnbbtc@trade", "nosuchusdt@trade"])
    error = await socket.recv()
    assert error == {"e": "error", "type": "BinanceWebsocketUnableToConnect",
                     "m": "unknown symbol NOSUCHUSDT on spot"}  # fmt: skip
    assert socket.closed and exchange.connections_total == 0  # never connected


async def test_subscribe_checks_the_new_symbols(manager: BinanceSocketManager) -> None:
    async with manager.multiplex_socket(["bnbbtc@trade"]) as socket:
        with pytest.raises(UnknownSymbolError, match="ETHBTX"):
            await socket.subscribe("ethbtx@trade")
        assert socket.streams == ("bnbbtc@trade",)


async def test_derivatives_markets_are_checked_too(exchange: LocalExchange) -> None:
    bm = BinanceSocketManager(endpoint=exchange.url, user_timeout=5)
    with pytest.raises(UnknownSymbolError, match=r"BTCUSDX on USD-M \(did you mean BTCUSDT\?\)"):
        async with bm.futures_multiplex_socket(["btcusdx@aggTrade"]):
            pass  # pragma: no cover
    with pytest.raises(UnknownSymbolError, match="on COIN-M"):
        await bm.check_symbols(["ethusdt_perp@aggTrade"], "coinm")
    await bm.check_symbols(["btcusd_perp@aggTrade", "btcusd@indexPrice"], "coinm")


async def test_check_symbols_false_subscribes_blind(exchange: LocalExchange) -> None:
    bm = BinanceSocketManager(endpoint=exchange.url, user_timeout=5, check_symbols=False)
    async with bm.multiplex_socket(["bnbbtc@trade", "nosuchusdt@trade"]) as socket:
        assert (await socket.recv())["stream"] == "bnbbtc@trade"


async def test_without_exchange_info_streams_go_unchecked() -> None:
    """A server with no REST side (a gateway, a bench blaster): one log line, no failure."""
    frame = orjson.dumps({"e": "trade", "s": "ANYTHING"}).decode()

    async def handler(ws: ServerConnection) -> None:
        await ws.send(frame)
        await ws.wait_closed()

    SYMBOL_CATALOG.clear()
    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        bm = BinanceSocketManager(endpoint=f"ws://127.0.0.1:{port}", user_timeout=5)
        async with bm.trade_socket("anything") as socket:
            assert (await socket.recv())["s"] == "ANYTHING"


def test_threaded_manager_raises_in_the_callers_thread() -> None:
    with ExchangeThread(interval=0.005, seed=3) as exchange:
        twm = ThreadedWebsocketManager(endpoint=exchange.url)
        twm.start()
        try:
            with pytest.raises(UnknownSymbolError, match="did you mean BNBBTC"):
                twm.start_trade_socket(print, "bnbbtx")
            with pytest.raises(UnknownSymbolError, match="NOSUCH"):
                twm.start_depth_socket(print, "nosuchbtc", depth="5")
            assert twm._bsm.sockets == {}  # nothing left running
            received = threading.Event()
            twm.start_trade_socket(lambda message: received.set(), "bnbbtc")
            assert received.wait(10)
        finally:
            twm.stop()
