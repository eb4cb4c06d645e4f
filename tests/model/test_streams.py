"""The pure stream model: names, enums, symbols, endpoints."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as hs

from binstream import streams as st
from binstream.endpoints import Endpoints, quote_stream, shard
from binstream.errors import EndpointError, InvalidStreamError, InvalidSymbolError


def test_builders_give_binance_names() -> None:
    assert st.trade_stream("BNBBTC") == "bnbbtc@trade"
    assert st.aggtrade_stream("bnbbtc") == "bnbbtc@aggTrade"
    assert st.kline_stream("BNBBTC") == "bnbbtc@kline_1m"
    assert st.kline_stream("bnbbtc", "1M", "+08:00") == "bnbbtc@kline_1M@+08:00"
    assert st.kline_stream("bnbbtc", st.KLINE_INTERVAL_1HOUR) == "bnbbtc@kline_1h"
    assert st.mini_ticker_stream() == "!miniTicker@arr"
    assert st.mini_ticker_stream("BNBBTC") == "bnbbtc@miniTicker"
    assert st.ticker_stream("bnbbtc") == "bnbbtc@ticker"
    assert st.ticker_stream("bnbbtc", "4h") == "bnbbtc@ticker_4h"
    assert st.ticker_stream(None, "1h") == "!ticker_1h@arr"
    assert st.book_ticker_stream("bnbbtc") == "bnbbtc@bookTicker"
    assert st.avg_price_stream("bnbbtc") == "bnbbtc@avgPrice"
    assert st.depth_stream("bnbbtc") == "bnbbtc@depth"
    assert st.depth_stream("bnbbtc", speed=100) == "bnbbtc@depth@100ms"
    assert st.depth_stream("bnbbtc", st.WEBSOCKET_DEPTH_5) == "bnbbtc@depth5"
    assert st.depth_stream("bnbbtc", st.DepthLevel.D20, "100ms") == "bnbbtc@depth20@100ms"
    assert st.depth_stream("bnbbtc", 10, "1000ms") == "bnbbtc@depth10"


def test_retired_all_market_ticker_maps_to_a_live_stream() -> None:
    assert st.ticker_stream() == st.ALL_MARKET_TICKER_STREAM == "!ticker_1d@arr"
    with pytest.raises(InvalidStreamError, match="retired"):
        st.normalize_stream("!ticker@arr")


@pytest.mark.parametrize(
    ("bad", "hint"),
    [
        ("BNB/BTC", "bnbbtc"),
        ("bnb-btc", "bnbbtc"),
        ("bnb btc", "bnbbtc"),
        ("", "empty"),
        ("   ", "empty"),
        ("a" * 21, "longer than 20"),
    ],
)
def test_bad_symbols_say_what_is_wrong(bad: str, hint: str) -> None:
    with pytest.raises(InvalidSymbolError, match=hint) as info:
        st.normalize_symbol(bad)
    assert isinstance(info.value, ValueError)


def test_unicode_symbols_are_accepted_and_percent_encoded() -> None:
    assert st.normalize_symbol("币安人生USDT") == "币安人生usdt"
    name = st.trade_stream("币安人生USDT")
    assert name == "币安人生usdt@trade"
    assert quote_stream(name) == "%E5%B8%81%E5%AE%89%E4%BA%BA%E7%94%9Fusdt@trade"


@given(
    hs.text(alphabet=hs.characters(categories=["Lu", "Ll", "Nd", "Lo"]), min_size=1, max_size=20)
)
def test_any_letters_and_digits_make_a_symbol(symbol: str) -> None:
    assert st.normalize_symbol(symbol) == symbol.lower()


@given(hs.text(min_size=1, max_size=30))
def test_symbol_validation_never_crashes(text: str) -> None:
    try:
        result = st.normalize_symbol(text)
    except InvalidSymbolError as exc:
        assert str(exc)
    else:
        assert result.isalnum() and len(result) >= 1


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("BNBBTC@aggtrade", "bnbbtc@aggTrade"),
        ("bnbbtc@aggTrade", "bnbbtc@aggTrade"),
        ("neobtc@ticker", "neobtc@ticker"),
        ("bnbbtc@depth", "bnbbtc@depth"),
        ("bnbbtc@depth@100ms", "bnbbtc@depth@100ms"),
        ("bnbbtc@depth20@100ms", "bnbbtc@depth20@100ms"),
        ("bnbbtc@kline_1M", "bnbbtc@kline_1M"),
        ("bnbbtc@kline_1m@+08:00", "bnbbtc@kline_1m@+08:00"),
        ("bnbbtc@ticker_1h", "bnbbtc@ticker_1h"),
        ("!miniTicker@arr", "!miniTicker@arr"),
        ("!ticker_4h@arr", "!ticker_4h@arr"),
    ],
)
def test_normalize_stream(raw: str, canonical: str) -> None:
    assert st.normalize_stream(raw) == canonical


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("bnbbtc@depth7", "5, 10, 20"),
        ("bnbbtc@kline_7m", "1s, 1m"),
        ("bnbbtc@ticker_2h", "1h, 4h, 1d"),
        ("bnbbtc@depth5@50ms", "100ms, 1000ms"),
        ("bnbbtc", "<symbol>@<type>"),
        ("bnb/btc@trade", "separator"),
        ("bnbbtc@trade$", "malformed"),
        ("!bookTicker", "retired"),
        ("!foo@arr", "all-market"),
        ("", "empty"),
        ("bnbbtc@kline_1m@+15:00", "offsets"),
    ],
)
def test_bad_stream_names_are_rejected(raw: str, message: str) -> None:
    with pytest.raises(InvalidStreamError, match=message.replace("$", r"\$")):
        st.normalize_stream(raw)


def test_unknown_but_well_formed_streams_pass_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level("WARNING", logger="binstream"):
        assert st.normalize_stream("BNBBTC@referencePrice") == "bnbbtc@referencePrice"
    assert "referencePrice" in caplog.text


def test_bad_enums_name_the_choices() -> None:
    with pytest.raises(InvalidStreamError, match="5, 10, 20"):
        st.depth_stream("bnbbtc", 7)
    with pytest.raises(InvalidStreamError, match="kline interval"):
        st.kline_stream("bnbbtc", "2m")
    with pytest.raises(InvalidStreamError, match="update speed"):
        st.depth_stream("bnbbtc", 5, 250)


def test_normalize_streams_deduplicates_in_order() -> None:
    assert st.normalize_streams(["bnbbtc@trade", "BNBBTC@trade", "ethbtc@trade"]) == [
        "bnbbtc@trade",
        "ethbtc@trade",
    ]
    with pytest.raises(InvalidStreamError):
        st.normalize_streams([])


def test_endpoint_resolution() -> None:
    assert Endpoints.resolve(use_env=False).stream == "wss://stream.binance.com:9443"
    assert Endpoints.resolve(tld="us", use_env=False).stream == "wss://stream.binance.us:9443"
    assert Endpoints.resolve(tld="us", use_env=False).rest == "https://api.binance.us"
    testnet = Endpoints.resolve(testnet=True, use_env=False)
    assert testnet.stream == "wss://stream.testnet.binance.vision"
    assert testnet.ws_api == "wss://ws-api.testnet.binance.vision/ws-api/v3"
    data = Endpoints.resolve(market_data_only=True, use_env=False)
    assert data.stream == "wss://data-stream.binance.vision"
    local = Endpoints.resolve(endpoint="ws://127.0.0.1:9000/", use_env=False)
    assert (local.stream, local.rest, local.ws_api) == (
        "ws://127.0.0.1:9000",
        "http://127.0.0.1:9000",
        "ws://127.0.0.1:9000/ws-api/v3",
    )


def test_endpoint_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BINSTREAM_ENDPOINT", "ws://127.0.0.1:9999")
    assert Endpoints.resolve().stream == "ws://127.0.0.1:9999"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1:9000", "ws://127.0.0.1:9000"),
        ("127.0.0.1:9000", "expected ws://"),
        ("ws://", "expected ws://"),
        ("ws://127.0.0.1:99999", "invalid endpoint"),
        ("ws://127.0.0.1:9000/?x=1", "base URL only"),
    ],
)
def test_bad_endpoints(url: str, message: str) -> None:
    with pytest.raises(EndpointError, match=message):
        Endpoints.resolve(endpoint=url, use_env=False)


def test_urls_raw_combined_and_sharded() -> None:
    ep = Endpoints.resolve(endpoint="ws://h:1", use_env=False)
    assert ep.stream_urls(["bnbbtc@trade"]) == ["ws://h:1/ws/bnbbtc@trade"]
    assert ep.stream_urls(["a@trade", "b@trade"]) == ["ws://h:1/stream?streams=a@trade/b@trade"]
    names = [f"s{i}@trade" for i in range(2500)]
    plans = ep.plan(names)
    assert [len(p.streams) for p in plans] == [1024, 1024, 452]
    assert all(p.combined for p in plans)
    for plan in plans:  # what does not fit the URL is subscribed to after connecting
        in_url = plan.url.split("streams=")[1].split("/")
        assert in_url + list(plan.subscribe) == list(plan.streams)
        assert len(plan.url) < 4100
    assert shard(list(range(5)), 2) == [[0, 1], [2, 3], [4]]


def test_connection_attempts_are_paced_under_binance_limit() -> None:
    from binstream.asyncio.pacing import ConnectionBudget

    budget = ConnectionBudget(limit=3, window=10.0, margin=0.1, clock=lambda: 0.0)
    waits = [budget.reserve() for _ in range(7)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert waits[3] == waits[5] == 11.0  # a window and its margin later
    assert waits[6] == 22.0  # the 7th attempt waits for the second window
    assert budget.delayed == 4 and budget.in_use() == 3
