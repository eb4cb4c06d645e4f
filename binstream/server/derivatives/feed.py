"""Which payloads each derivatives stream gets, and how often.

Speeds follow Binance's derivatives docs (one step is 100 ms of exchange time):

==========================================================  =================
stream                                                      speed
==========================================================  =================
``@trade``, ``@aggTrade``, ``@bookTicker``, ``!bookTicker``  every step
``@optionTrade``                                            every step
``@depth``, ``@depth<N>`` (futures)                         250 ms (default)
``@depth…@100ms`` / ``@500ms``                              100 / 500 ms
``@depth<N>`` (options)                                     500 ms (default)
``@rpiDepth@500ms``                                         500 ms
``@kline_<i>``, ``@continuousKline_<i>``                    250 ms
``@markPrice``, ``@indexPrice``, ``!markPrice@arr``         3 s (``@1s``: 1 s)
``@ticker``, ``@miniTicker``                                2 s
``!ticker@arr``, ``!miniTicker@arr``, ``@optionTicker``     1 s
``@forceOrder``, ``!forceOrder@arr``                        1 s (latest only)
``@compositeIndex``, ``!assetIndex@arr``, ``!index@arr``    1 s
``@optionMarkPrice``                                        1 s
``@optionOpenInterest@<expiry>``                            60 s
``!contractInfo``, ``!optionSymbol``                        60 s (on change)
==========================================================  =================
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ...venues import Market
from ..feed import Feed, Tick, span
from . import contracts as d

ONE_SECOND = 10


def _contract(tick: Tick, symbol: str) -> d.Contract:
    assert tick.contracts is not None
    return tick.contracts[symbol]  # type: ignore[no-any-return]


def _speed(name: str, extra: list[str], default_ms: int, allowed: tuple[int, ...]) -> int:
    if not extra:
        return default_ms
    text = extra[0]
    if len(extra) > 1 or not text.endswith("ms") or not text[:-2].isdigit():
        return 0
    value = int(text[:-2])
    return value if value in allowed else 0


def _depth_feed(symbol: str, kind: str, extra: list[str], venue: Market) -> Feed | None:
    default, allowed = (500, (100, 500)) if venue is Market.OPTIONS else (250, (100, 250, 500))
    period = _speed(kind, extra, default, allowed)
    if not period:
        return None
    if kind == "depth":

        def diff(tick: Tick) -> list[Any]:
            covered = span(tick.number, period)
            payload = d.diff_depth_payload(_contract(tick, symbol), tick.window(symbol, covered))
            return [payload] if payload else []

        return Feed(diff, period_ms=period)
    levels = int(kind[5:])

    def partial(tick: Tick) -> list[Any]:
        covered = span(tick.number, period)
        step = tick.window(symbol, covered)
        return [
            d.partial_depth_payload(_contract(tick, symbol), levels, tick.time, step.prev_update_id)
        ]

    return Feed(partial, period_ms=period)


def _kline_feed(symbol: str, interval: str, continuous: bool) -> Feed:
    def render(tick: Tick) -> list[Any]:
        c = _contract(tick, symbol)
        covered = span(tick.number, 250)
        payload = d.continuous_kline_payload if continuous else d.kline_payload
        closed = [
            payload(c, k, tick.time)
            for k in tick.window(symbol, covered).closed_klines
            if k.interval == interval
        ]
        return [*closed, payload(c, c.market.kline(interval, 0, tick.time), tick.time)]

    return Feed(render, period_ms=250)


def _latest_liquidation(c: d.Contract, number: int) -> list[Any]:
    recent = [p for n, p in c.liquidations if number - ONE_SECOND < n <= number]
    return recent[-1:]


def _futures_symbol_feed(symbol: str, kind: str, extra: list[str], venue: Market) -> Feed | None:
    simple: dict[str, tuple[Callable[[Tick], list[Any]], int]] = {
        "trade": (lambda t: d.trade_payloads(_contract(t, symbol), t.window(symbol, 1)), 1),
        "aggTrade": (lambda t: d.aggtrade_payloads(_contract(t, symbol), t.window(symbol, 1)), 1),
        "bookTicker": (lambda t: [d.book_ticker_payload(_contract(t, symbol), t.time)], 1),
        "ticker": (lambda t: [d.ticker_payload(_contract(t, symbol), t.time)], 20),
        "miniTicker": (lambda t: [d.mini_ticker_payload(_contract(t, symbol), t.time)], 20),
        "forceOrder": (lambda t: _latest_liquidation(_contract(t, symbol), t.number), 10),
    }
    if venue is Market.USDM:
        simple["compositeIndex"] = (
            lambda t: [d.composite_index_payload(_contract(t, symbol), t.time)],
            10,
        )
        simple["assetIndex"] = (lambda t: [d.asset_index_payload(_contract(t, symbol), t.time)], 10)
    if kind in simple and not extra:
        render, every = simple[kind]
        return Feed(render, every)
    if kind == "markPrice" and extra in ([], ["1s"]):
        every = ONE_SECOND if extra else 3 * ONE_SECOND
        return Feed(lambda t: [d.mark_price_payload(_contract(t, symbol), t.time)], every)
    if kind == "depth" or kind in ("depth5", "depth10", "depth20"):
        return _depth_feed(symbol, kind, extra, venue)
    if kind == "rpiDepth" and extra == ["500ms"] and venue is Market.USDM:
        return _depth_feed(symbol, "depth20", ["500ms"], venue)
    if kind.startswith("kline_") and not extra:
        return _kline_feed(symbol, kind[6:], continuous=False)
    return None


def _options_symbol_feed(symbol: str, kind: str, extra: list[str]) -> Feed | None:
    if kind == "optionTrade" and not extra:
        return Feed(lambda t: d.trade_payloads(_contract(t, symbol), t.window(symbol, 1)), 1)
    if kind == "optionTicker" and not extra:
        return Feed(lambda t: [d.option_ticker_payload(_contract(t, symbol), t.time)], 10)
    if kind == "bookTicker" and not extra:
        return Feed(lambda t: [d.book_ticker_payload(_contract(t, symbol), t.time)], 1)
    if kind.startswith("depth"):
        return _depth_feed(symbol, kind, extra, Market.OPTIONS)
    if kind.startswith("kline_") and not extra:
        return _kline_feed(symbol, kind[6:], continuous=False)
    return None


def _by_underlying(
    underlying: str, kind: str, extra: list[str], contracts: Mapping[str, d.Contract]
) -> Feed | None:
    """Streams of every option on one underlying (``btcusdt@optionMarkPrice``)."""
    chosen = [
        c.symbol
        for c in contracts.values()
        if c.spec.underlying == underlying or c.spec.underlying.startswith(underlying)
    ]
    if not chosen:
        return None

    def of(tick: Tick, expiry: str | None = None) -> list[d.Contract]:
        picked = [_contract(tick, s) for s in chosen]
        return [c for c in picked if expiry is None or c.spec.expiry == expiry]

    if kind == "optionMarkPrice" and not extra:
        return Feed(lambda t: [[d.option_mark_payload(c, t.time) for c in of(t)]], ONE_SECOND)
    if kind == "optionTicker" and len(extra) == 1:
        return Feed(
            lambda t: [d.option_ticker_payload(c, t.time) for c in of(t, extra[0])], ONE_SECOND
        )
    if kind == "optionTrade" and not extra:
        return Feed(
            lambda t: [p for c in of(t) for p in d.trade_payloads(c, t.window(c.symbol, 1))], 1
        )
    if kind == "optionOpenInterest" and len(extra) == 1:
        return Feed(
            lambda t: _nonempty(
                [d.option_open_interest_payload(c, t.time) for c in of(t, extra[0])]
            ),
            60 * ONE_SECOND,
        )
    return None


def _nonempty(items: list[Any]) -> list[Any]:
    return [items] if items else []


def _pair_feed(
    pair: str, kind: str, extra: list[str], contracts: Mapping[str, d.Contract]
) -> Feed | None:
    """COIN-M pair streams: ``<pair>@indexPrice``, ``<pair>@markPrice`` and continuous
    klines ``<pair>_<contract>@continuousKline_<i>`` (USD-M too)."""
    members = [c for c in contracts.values() if c.spec.pair == pair.upper()]
    if not members:
        return None
    first = members[0].symbol
    if kind == "indexPrice" and extra in ([], ["1s"]):
        every = ONE_SECOND if extra else 3 * ONE_SECOND
        return Feed(
            lambda t: [
                d.index_price_payload(pair.upper(), _contract(t, first).index_price(), t.time)
            ],
            every,
        )
    if kind == "markPrice" and extra in ([], ["1s"]):
        every = ONE_SECOND if extra else 3 * ONE_SECOND
        return Feed(
            lambda t: [[d.mark_price_payload(_contract(t, c.symbol), t.time) for c in members]],
            every,
        )
    return None


def _continuous(name: str, kind: str, contracts: Mapping[str, d.Contract]) -> Feed | None:
    pair, _, contract = name.rpartition("_")
    wanted = contract.upper()
    for c in contracts.values():
        if c.spec.pair == pair.upper() and c.spec.contract_type == wanted:
            return _kline_feed(c.symbol, kind[len("continuousKline_") :], continuous=True)
    return None


def _all_market(name: str, venue: Market, contracts: Mapping[str, d.Contract]) -> Feed | None:
    symbols = list(contracts)

    def changed(t: Tick, every: int) -> list[d.Contract]:
        return [_contract(t, s) for s in symbols if t.window(s, every).fills]

    feeds: dict[str, Feed] = {}
    if venue is Market.OPTIONS:
        feeds["!optionSymbol"] = Feed(
            lambda t: [d.option_symbol_payload(_contract(t, s), t.time) for s in symbols],
            60 * ONE_SECOND,
        )
        feeds["!index@arr"] = Feed(lambda t: [d.index_payloads(t.time)], ONE_SECOND)
        return feeds.get(name)
    feeds["!bookTicker"] = Feed(
        lambda t: [
            d.book_ticker_payload(_contract(t, s), t.time)
            for s in symbols
            if t.window(s, 1).last_update_id >= t.window(s, 1).first_update_id
        ],
        1,
    )
    feeds["!ticker@arr"] = Feed(
        lambda t: _nonempty([d.ticker_payload(c, t.time) for c in changed(t, 10)]), 10
    )
    feeds["!miniTicker@arr"] = Feed(
        lambda t: _nonempty([d.mini_ticker_payload(c, t.time) for c in changed(t, 10)]), 10
    )
    for suffix, every in (("", 30), ("@1s", 10)):
        feeds[f"!markPrice@arr{suffix}"] = Feed(
            lambda t: [[d.mark_price_payload(_contract(t, s), t.time) for s in symbols]], every
        )
    feeds["!forceOrder@arr"] = Feed(
        lambda t: [p for s in symbols for p in _latest_liquidation(_contract(t, s), t.number)], 10
    )
    if venue is Market.USDM:
        feeds["!contractInfo"] = Feed(
            lambda t: [d.contract_info_payload(_contract(t, s), t.time) for s in symbols],
            60 * ONE_SECOND,
        )
        feeds["!assetIndex@arr"] = Feed(
            lambda t: [
                [
                    d.asset_index_payload(_contract(t, s), t.time)
                    for s in symbols
                    if _contract(t, s).spec.contract_type == "PERPETUAL"
                ]
            ],
            ONE_SECOND,
        )
    return feeds.get(name)


def derivatives_feed_for(
    name: str, venue: Market, contracts: Mapping[str, d.Contract]
) -> Feed | None:
    """What ``name`` sends on ``venue`` and how often, or None if Binance would send nothing
    (an unknown symbol or type, a wrong speed, an uppercase symbol)."""
    if name.startswith("!"):
        return _all_market(name, venue, contracts)
    symbol, _, rest = name.partition("@")
    if not rest or symbol != symbol.lower():
        return None
    kind, *extra = rest.split("@")
    key = symbol.upper()
    if kind.startswith("continuousKline_") and venue is not Market.OPTIONS and not extra:
        return _continuous(symbol, kind, contracts)
    if key in contracts:
        if venue is Market.OPTIONS:
            return _options_symbol_feed(key, kind, extra)
        return _futures_symbol_feed(key, kind, extra, venue)
    if venue is Market.OPTIONS:
        return _by_underlying(key, kind, extra, contracts)
    return _pair_feed(symbol, kind, extra, contracts)
