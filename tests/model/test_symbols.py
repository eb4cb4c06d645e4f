"""Symbols against exchangeInfo, without I/O: Binance's answer shapes for each market, the
subject of every kind of stream, and the close matches offered."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from binstream.symbols import SymbolDirectory, problems, stream_subject

#: Abridged from Binance's documented exchangeInfo answers (fields binstream reads kept).
SPOT = {"timezone": "UTC", "symbols": [
    {"symbol": "ETHBTC", "status": "TRADING", "baseAsset": "ETH", "quoteAsset": "BTC"},
    {"symbol": "BNBBTC", "status": "TRADING", "baseAsset": "BNB", "quoteAsset": "BTC"},
    {"symbol": "LUNABTC", "status": "BREAK", "baseAsset": "LUNA", "quoteAsset": "BTC"},
]}  # fmt: skip
USDM = {"symbols": [
    {"symbol": "BTCUSDT", "pair": "BTCUSDT", "contractType": "PERPETUAL", "status": "TRADING"},
    {"symbol": "BTCUSDT_261225", "pair": "BTCUSDT", "contractType": "CURRENT_QUARTER",
     "status": "TRADING"},
    {"symbol": "OLDUSDT", "pair": "OLDUSDT", "contractType": "PERPETUAL", "status": "SETTLING"},
]}  # fmt: skip
COINM = {"symbols": [
    {"symbol": "BTCUSD_PERP", "pair": "BTCUSD", "contractType": "PERPETUAL",
     "contractStatus": "TRADING"},
    {"symbol": "ETHUSD_261225", "pair": "ETHUSD", "contractType": "CURRENT_QUARTER",
     "contractStatus": "TRADING"},
]}  # fmt: skip
OPTIONS = {
    "optionContracts": [{"baseAsset": "BTC", "quoteAsset": "USDT", "underlying": "BTCUSDT"}],
    "optionSymbols": [{"symbol": "BTC-261225-100000-C", "underlying": "BTCUSDT",
                       "quoteAsset": "USDT", "status": "TRADING"}],
}  # fmt: skip


def test_each_market_shape_is_read() -> None:
    spot = SymbolDirectory.from_exchange_info("spot", SPOT)
    assert spot.problem("ethbtc@depth@100ms") is None
    assert spot.problem("ethbtx@trade") == "unknown symbol ETHBTX on spot (did you mean ETHBTC?)"
    assert spot.problem("lunabtc@trade") == "symbol LUNABTC is not trading on spot (status BREAK)"
    usdm = SymbolDirectory.from_exchange_info("USD-M", USDM)
    assert usdm.problem("btcusdt_261225@aggTrade") is None
    assert usdm.problem("btcusdt_perpetual@continuousKline_1m") is None  # a pair
    assert usdm.problem("oldusdt@markPrice") == (
        "symbol OLDUSDT is not trading on USD-M (status SETTLING)"
    )
    coinm = SymbolDirectory.from_exchange_info("COIN-M", COINM)
    assert coinm.problem("btcusd_perp@aggTrade") is None
    assert coinm.problem("btcusd@indexPrice") is None  # COIN-M index streams name the pair
    assert coinm.problem("btcusdt@aggTrade") == (
        "unknown symbol BTCUSDT on COIN-M (did you mean BTCUSD_PERP?)"
    )
    options = SymbolDirectory.from_exchange_info("options", OPTIONS)
    assert options.problem("BTC-261225-100000-C@optionTrade") is None
    assert options.problem("btc@optionOpenInterest@261225") is None  # an underlying's asset
    assert options.problem("btcusdt@index") is None
    assert options.problem("BTC-261225-100000-P@optionTrade") is not None


def test_all_market_streams_name_no_symbol() -> None:
    assert stream_subject("!miniTicker@arr") is None
    assert stream_subject("!markPrice@arr@1s") is None
    assert stream_subject("bnbbtc@kline_1m") == "BNBBTC"


def test_one_message_per_symbol_in_order() -> None:
    spot = SymbolDirectory.from_exchange_info("spot", SPOT)
    streams = ["zzzbtc@trade", "bnbbtc@trade", "zzzbtc@depth", "aaabtc@trade"]
    assert problems(streams, spot) == ["unknown symbol ZZZBTC on spot",
                                       "unknown symbol AAABTC on spot"]  # fmt: skip


symbols = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=3, max_size=12)


@given(st.lists(symbols, min_size=1, max_size=30, unique=True), symbols)
def test_listed_symbols_pass_and_suggestions_are_listed(listed: list[str], asked: str) -> None:
    info = {"symbols": [{"symbol": s, "status": "TRADING"} for s in listed]}
    directory = SymbolDirectory.from_exchange_info("spot", info)
    for symbol in listed:
        assert directory.problem(f"{symbol.lower()}@trade") is None
    problem = directory.problem(f"{asked.lower()}@trade")
    assert (problem is None) == (asked in listed)
    if problem is not None and "did you mean" in problem:
        offered = problem.split("did you mean ")[1].rstrip("?)").split(", ")
        assert set(offered) <= set(listed) and len(offered) <= 3
