"""BinanceSocketManager against the real local exchange over loopback."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from binstream import (
    BinanceSocketManager,
    InvalidStreamError,
    InvalidSymbolError,
    ReceiveTimeoutError,
    StreamClosedError,
    StreamSocket,
)
from binstream.server import LocalExchange

pytestmark = pytest.mark.usefixtures("transport")  # every test runs on each transport


async def first_data(socket: StreamSocket) -> Any:
    while True:
        message = await socket.recv()
        if not (isinstance(message, dict) and message.get("e") == "error"):
            return message


def is_decimal_string(value: Any) -> bool:
    return isinstance(value, str) and Decimal(value) >= 0


async def test_trade_socket_yields_raw_trade_payloads(manager: BinanceSocketManager) -> None:
    async with manager.trade_socket("BNBBTC") as ts:
        first = await first_data(ts)
        second = await first_data(ts)
    assert first["e"] == "trade" and first["s"] == "BNBBTC"
    assert set(first) >= {"E", "t", "p", "q", "T", "m", "M"}
    assert "b" not in first and "a" not in first  # removed by Binance in 2025
    assert is_decimal_string(first["p"]) and is_decimal_string(first["q"])
    assert second["t"] > first["t"]


@pytest.mark.parametrize(
    ("factory", "args", "check"),
    [
        ("aggtrade_socket", ("bnbbtc",), lambda m: m["e"] == "aggTrade" and m["f"] <= m["l"]),
        ("kline_socket", ("bnbbtc",), lambda m: m["e"] == "kline" and m["k"]["i"] == "1m"),
        ("kline_socket", ("bnbbtc", "1h"), lambda m: m["k"]["i"] == "1h"),
        ("depth_socket", ("bnbbtc",), lambda m: m["e"] == "depthUpdate" and m["U"] <= m["u"]),
        (
            "depth_socket",
            ("bnbbtc", 5),
            lambda m: len(m["bids"]) == 5 and len(m["asks"]) == 5 and "lastUpdateId" in m,
        ),
        ("depth_socket", ("bnbbtc", 10, 100), lambda m: len(m["bids"]) == 10),
        ("symbol_ticker_socket", ("bnbbtc",), lambda m: m["e"] == "24hrTicker"),
        ("symbol_miniticker_socket", ("bnbbtc",), lambda m: m["e"] == "24hrMiniTicker"),
        ("symbol_book_ticker_socket", ("bnbbtc",), lambda m: Decimal(m["b"]) < Decimal(m["a"])),
        ("symbol_rolling_window_ticker_socket", ("bnbbtc", "4h"), lambda m: m["e"] == "4hTicker"),
        ("avg_price_socket", ("bnbbtc",), lambda m: m["e"] == "avgPrice" and m["i"] == "5m"),
        ("ticker_socket", (), lambda m: isinstance(m, list) and m[0]["e"] == "1dTicker"),
        ("miniticker_socket", (), lambda m: isinstance(m, list) and len(m) >= 5),
    ],
)
async def test_every_factory_gets_well_formed_messages(
    manager: BinanceSocketManager, factory: str, args: tuple[Any, ...], check: Any
) -> None:
    async with getattr(manager, factory)(*args) as socket:
        message = await first_data(socket)
    assert check(message), message


async def test_multiplex_wraps_each_message(manager: BinanceSocketManager) -> None:
    names = {"bnbbtc@aggTrade", "neobtc@ticker", "ethbtc@depth5"}
    seen: set[str] = set()
    async with manager.multiplex_socket(sorted(names)) as ms:
        while seen != names:
            message = await first_data(ms)
            assert set(message) == {"stream", "data"}
            seen.add(message["stream"])


async def test_multiplex_of_one_stream_still_wraps(manager: BinanceSocketManager) -> None:
    async with manager.multiplex_socket(["bnbbtc@trade"]) as ms:
        message = await first_data(ms)
    assert message["stream"] == "bnbbtc@trade"


async def test_unicode_symbol_round_trips(manager: BinanceSocketManager) -> None:
    async with manager.trade_socket("币安人生USDT") as ts:
        message = await first_data(ts)
    assert message["s"] == "币安人生USDT"


async def test_async_iteration(manager: BinanceSocketManager) -> None:
    received = []
    async with manager.aggtrade_socket("bnbbtc") as socket:
        async for message in socket:
            received.append(message)
            if len(received) == 3:
                break
    assert [m["e"] for m in received] == ["aggTrade"] * 3


async def test_same_path_gives_the_same_socket_until_closed(manager: BinanceSocketManager) -> None:
    first = manager.trade_socket("bnbbtc")
    assert manager.trade_socket("BNBBTC") is first
    assert manager.trade_socket("ethbtc") is not first
    async with first:
        await first_data(first)
    assert first.closed
    with pytest.raises(StreamClosedError):
        await first.recv()
    fresh = manager.trade_socket("bnbbtc")
    assert fresh is not first
    await manager.close()


async def test_receive_timeout_is_clear(exchange: LocalExchange) -> None:
    bm = BinanceSocketManager(endpoint=exchange.url, user_timeout=0.2)
    exchange.pause()
    async with bm.trade_socket("bnbbtc") as ts:
        with pytest.raises(ReceiveTimeoutError, match=r"within 0.2s"):
            await ts.recv()


async def test_bad_symbols_and_enums_fail_before_connecting(manager: BinanceSocketManager) -> None:
    with pytest.raises(InvalidSymbolError, match="bnbbtc"):
        manager.trade_socket("BNB/BTC")
    with pytest.raises(InvalidStreamError, match="5, 10, 20"):
        manager.depth_socket("bnbbtc", depth=7)
    with pytest.raises(InvalidStreamError, match="kline interval"):
        manager.kline_socket("bnbbtc", "7m")
    with pytest.raises(InvalidStreamError, match="depth level"):
        manager.multiplex_socket(["bnbbtc@depth7"])


async def test_client_object_supplies_tld_and_testnet() -> None:
    class FakeAsyncClient:
        tld = "us"
        testnet = False
        API_KEY = "key-0123"
        API_SECRET = "secret-9876"

    bm = BinanceSocketManager(FakeAsyncClient())
    assert bm.endpoints.stream == "wss://stream.binance.us:9443"
    assert "secret-9876" not in repr(bm) and "secret-9876" not in str(vars(bm).get("options"))


async def test_manager_close_closes_everything(manager: BinanceSocketManager) -> None:
    sockets = [manager.trade_socket("bnbbtc"), manager.depth_socket("ethbtc", 5)]
    for socket in sockets:
        socket.start()
        await first_data(socket)
    async with manager:
        pass
    assert all(s.closed for s in sockets)
    assert manager.sockets == {}


async def test_many_streams_are_sharded_and_all_delivered(exchange: LocalExchange) -> None:
    bm = BinanceSocketManager(endpoint=exchange.url, user_timeout=5, check_symbols=False)
    symbols = [m.lower() for m in exchange.markets]
    kinds = ["ticker", "miniTicker", "bookTicker", "avgPrice", "depth5", "depth10", "depth20"]
    real = [f"{s}@{k}" for s in symbols for k in kinds]
    # Pad with well-formed streams the exchange does not serve, to cross 1024 per connection.
    padding = [f"zz{i}x@trade" for i in range(1100 - len(real))]
    names = real[:25] + padding + real[25:]
    socket = bm.multiplex_socket(names)
    assert len(socket.urls) == 2
    seen: set[str] = set()
    async with socket:
        while seen != set(real):
            seen.add((await first_data(socket))["stream"])


# Sharding and pacing sit above the transport: one run.
@pytest.mark.transport_independent
async def test_2500_streams_use_3_connections_and_subscribe_within_the_rate_limit(
    exchange: LocalExchange,
) -> None:
    """The exchange closes a connection sending over 5 control messages a second (1008),
    as Binance does; the streams that do not fit in the URL go by paced SUBSCRIBE."""
    bm = BinanceSocketManager(endpoint=exchange.url, user_timeout=5, check_symbols=False)
    real = [f"{s.lower()}@{k}" for s in exchange.markets for k in ("trade", "depth5")]
    padding = [f"zz{i}x@trade" for i in range(2500 - len(real))]
    names = padding[:1500] + real + padding[1500:]  # real streams end up on every shard
    socket = bm.multiplex_socket(names)
    assert len(socket.urls) == 3
    seen: set[str] = set()
    async with socket:
        # Until every stream was seen and the last SUBSCRIBE batch has landed.
        while seen != set(real) or sum(len(c.subs) for c in exchange.clients) < 2500:
            message = await socket.recv()
            assert message.get("e") != "error", message
            seen.add(message["stream"])
    by_connection: dict[int, list[float]] = {}
    for number, at in exchange.control_history:
        by_connection.setdefault(number, []).append(at)
    assert len(by_connection) == 3
    assert max(len(times) for times in by_connection.values()) >= 4  # batches in a row
    for times in by_connection.values():
        for i in range(len(times)):
            within_a_second = [t for t in times[i:] if t - times[i] < 1.0]
            assert len(within_a_second) <= 5
