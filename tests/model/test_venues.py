"""Venues, routing and derivatives stream names: pure logic, checked exhaustively."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as hs

from binstream import ContractType, FuturesType, InvalidStreamError, Market
from binstream.derivative_streams import (
    continuous_kline_stream,
    normalize_market_streams,
    normalize_venue_stream,
)
from binstream.endpoints import Endpoints
from binstream.venues import Route, futures_market, venue_for

pytestmark = pytest.mark.transport_independent

USDM_PUBLIC = ["btcusdt@depth", "btcusdt@depth@100ms", "btcusdt@depth5", "btcusdt@depth20@500ms",
               "btcusdt@bookTicker", "!bookTicker", "btcusdt@rpiDepth@500ms"]  # fmt: skip
USDM_MARKET = ["btcusdt@aggTrade", "btcusdt@trade", "btcusdt@kline_1m", "btcusdt@ticker",
               "btcusdt_perpetual@continuousKline_5m", "btcusdt@miniTicker", "!ticker@arr",
               "!miniTicker@arr", "btcusdt@markPrice", "btcusdt@markPrice@1s",
               "!markPrice@arr", "!markPrice@arr@1s", "btcusdt@forceOrder", "!forceOrder@arr",
               "btcusdt@compositeIndex", "!contractInfo", "!assetIndex@arr",
               "btcusdt@assetIndex"]  # fmt: skip
OPTIONS_PUBLIC = ["btc-261225-100000-c@optionTicker", "btc-261225-100000-c@optionTrade",
                  "btc-261225-100000-c@depth10@100ms", "btc-261225-100000-c@bookTicker",
                  "btcusdt@optionTicker@261225"]  # fmt: skip
OPTIONS_MARKET = ["btc-261225-100000-c@kline_1m", "btcusdt@optionMarkPrice",
                  "btcusdt@optionOpenInterest@261225", "!optionSymbol", "!index@arr"]  # fmt: skip


@pytest.mark.parametrize("name", USDM_PUBLIC)
def test_usdm_book_data_goes_to_public(name: str) -> None:
    assert normalize_venue_stream(name, "usdm") == name
    assert venue_for("usdm").route_of(name) is Route.PUBLIC


@pytest.mark.parametrize("name", USDM_MARKET)
def test_usdm_everything_else_goes_to_market(name: str) -> None:
    assert normalize_venue_stream(name, "usdm") == name
    assert venue_for("usdm").route_of(name) is Route.MARKET


@pytest.mark.parametrize(("name", "route"), [(n, Route.PUBLIC) for n in OPTIONS_PUBLIC]
                         + [(n, Route.MARKET) for n in OPTIONS_MARKET])  # fmt: skip
def test_options_routes(name: str, route: Route) -> None:
    assert normalize_venue_stream(name, "options") == name
    assert venue_for("options").route_of(name) is route


def test_coinm_and_spot_are_not_routed() -> None:
    assert venue_for("coinm").route_of("btcusd_perp@depth") is Route.NONE
    assert venue_for("spot").route_of("bnbbtc@depth") is Route.NONE
    assert normalize_venue_stream("BTCUSD@indexPrice@1s", "coinm") == "btcusd@indexPrice@1s"


@pytest.mark.parametrize(
    ("market", "name", "message"),
    [
        ("usdm", "btcusdt@kline_1s", "usdm kline intervals are 1m"),
        ("usdm", "btcusdt@depth@1000ms", "usdm depth speeds are 250ms, 100ms, 500ms"),
        ("options", "btc-1-2-c@depth10@250ms", "options depth speeds are 500ms, 100ms"),
        ("usdm", "btcusdt@depth7", "depth level '7'"),
        ("usdm", "btc/usdt@aggTrade", "invalid usdm symbol"),
        ("usdm", "btcusdt@indexPrice", "COIN-M stream"),
        ("coinm", "btcusd_perp@rpiDepth@500ms", "malformed|not known"),
        ("usdm", "btcusdt_weekly@continuousKline_1m", "contract one of perpetual"),
        ("usdm", "!ticker_1d@arr", "all-market streams are"),
        ("options", "btcusdt@optionOpenInterest", "YYMMDD"),
        ("spot", "bnbbtc@depth@250ms", "update speed must be"),
        ("mars", "x@trade", "invalid market"),
    ],
)
def test_what_a_market_does_not_serve_is_a_clear_error(
    market: str, name: str, message: str
) -> None:
    if market == "coinm":  # an unknown type passes through (to /market) with a warning
        assert normalize_venue_stream(name, market) == name
        return
    with pytest.raises(InvalidStreamError, match=message):
        normalize_market_streams([name], market)


def test_python_binance_enums_are_accepted() -> None:
    class PBFuturesType:  # python-binance's own enum members: name USD_M/COIN_M, value 1/2
        def __init__(self, name: str) -> None:
            self.name = name

    assert futures_market(PBFuturesType("COIN_M")) is Market.COINM
    assert futures_market(1) is Market.USDM and futures_market(2) is Market.COINM
    assert futures_market(FuturesType.USD_M) is Market.USDM
    assert continuous_kline_stream("BTCUSDT", ContractType.NEXT_QUARTER, "1h") == (
        "btcusdt_next_quarter@continuousKline_1h"
    )
    with pytest.raises(InvalidStreamError):
        futures_market("options")


def test_endpoints_per_market() -> None:
    usdm = Endpoints.resolve(market="usdm", use_env=False)
    assert usdm.raw_url("btcusdt@depth") == "wss://fstream.binance.com/public/ws/btcusdt@depth"
    assert usdm.rest_url("depth") == "https://fapi.binance.com/fapi/v1/depth"
    coinm = Endpoints.resolve(market="coinm", testnet=True, use_env=False)
    assert coinm.raw_url("btcusd_perp@aggTrade") == (
        "wss://dstream.binancefuture.com/ws/btcusd_perp@aggTrade"
    )
    local = Endpoints.resolve(endpoint="ws://127.0.0.1:9000/usdm", market="usdm")
    assert local.rest_url("listenKey") == "http://127.0.0.1:9000/usdm/fapi/v1/listenKey"
    assert local.combined_url(["btcusdt@aggTrade"]) == (
        "ws://127.0.0.1:9000/usdm/market/stream?streams=btcusdt@aggTrade"
    )


def test_environment_locates_each_market(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BINSTREAM_ENDPOINT", "ws://127.0.0.1:9000/")
    assert Endpoints.resolve(market="options").stream == "ws://127.0.0.1:9000/options"
    assert Endpoints.resolve().stream == "ws://127.0.0.1:9000"
    monkeypatch.setenv("BINSTREAM_COINM_ENDPOINT", "ws://10.0.0.1:1/d")
    assert Endpoints.resolve(market="coinm").stream == "ws://10.0.0.1:1/d"


_usdm_names = hs.sampled_from(USDM_PUBLIC + USDM_MARKET) | hs.builds(
    lambda s, k: f"sym{s}@{k}", hs.integers(0, 400), hs.sampled_from(["aggTrade", "depth@100ms"])
)


@given(hs.lists(_usdm_names, min_size=1, max_size=600), hs.booleans())
def test_a_plan_carries_every_stream_once_on_its_route(names: list[str], combined: bool) -> None:
    endpoints = Endpoints.resolve(endpoint="ws://127.0.0.1:1/usdm", market="usdm")
    venue = endpoints.venue
    unique = list(dict.fromkeys(names))
    plans = endpoints.plan(unique, combined=combined)
    carried = [s for p in plans for s in p.streams]
    assert sorted(carried) == sorted(unique)
    for plan in plans:
        assert len(plan.streams) <= venue.max_streams
        assert {venue.route_of(s) for s in plan.streams} == {plan.route}
        assert plan.url.startswith(f"ws://127.0.0.1:1/usdm/{plan.route.value}/")
    # a route never gets a new connection while an earlier one of it has room
    for route in {p.route for p in plans}:
        sizes = [len(p.streams) for p in plans if p.route is route]
        assert all(size == venue.max_streams for size in sizes[:-1])
