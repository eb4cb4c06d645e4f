"""Which payloads each Binance stream name gets, and how often, from the simulated market.

One market step stands for 100 ms of exchange time (with the default ``--interval`` of
0.1 s that is real time; a faster clock speeds every stream up alike). Each stream sends
at Binance's documented update speed, counted in steps:

=====================================================  ==========  =====
stream                                                 speed       steps
=====================================================  ==========  =====
``@trade``, ``@aggTrade``, ``@bookTicker``             real time   1
``@depth@100ms``, ``@depth<N>@100ms``                  100 ms      1
``@depth``, ``@depth<N>`` (and ``@1000ms``)            1000 ms     10
``@miniTicker``, ``@ticker``, ``@ticker_<w>``          1000 ms     10
``!miniTicker@arr``, ``!ticker_<w>@arr``               1000 ms     10
``!miniTicker@arr@3000ms``                             3000 ms     30
``@kline_1s``                                          1000 ms     10
``@kline_<other>``                                     2000 ms     20
``@avgPrice``                                          1000 ms     10
=====================================================  ==========  =====

A slower stream covers every step since its last message: a diff-depth event's ``U``/``u``
span them all (so the ids still chain with the REST snapshot), a closing kline is never
skipped, and the all-market arrays carry only the symbols that traded in between.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from . import market as m

#: Exchange time one market step stands for.
STEP_MS = 100


@dataclass
class Tick:
    """What a stream renders from: the markets, and per symbol the merged step of every
    step since the stream's last message (``window``)."""

    markets: Mapping[str, m.SymbolMarket]
    window: Callable[[str, int], m.Step]
    time: int
    #: The exchange's step number (the first step is 1).
    number: int = 0
    #: Derivatives venues: their contracts by symbol (``Contract`` objects).
    contracts: Mapping[str, Any] | None = None


Render = Callable[[Tick], list[Any]]


@dataclass(frozen=True)
class Feed:
    """A stream's payloads (``render``) and how often it sends, in steps (``every``)."""

    render: Render
    every: int = 1
    #: A speed that is no whole number of steps (futures' 250 ms): send when it comes
    #: round, covering the steps since the last time (see :func:`span`).
    period_ms: int = 0
    #: The venue whose market renders it, when not the connection's own (options streams
    #: on the USD-M host, as on Binance); a :class:`~binstream.venues.Market`.
    venue: Any = None

    def due(self, number: int) -> bool:
        """Whether the stream sends at step ``number``."""
        if self.period_ms:
            return span(number, self.period_ms) > 0
        return number % self.every == 0


def span(number: int, period_ms: int) -> int:
    """Steps covered by a stream of ``period_ms`` that sends at step ``number``, or 0 when
    it does not send then (250 ms: steps 3, 5, 8, 10, ... covering 3, 2, 3, 2 steps)."""
    count = number * STEP_MS // period_ms
    if count == (number - 1) * STEP_MS // period_ms:
        return 0
    previous = -(-(count - 1) * period_ms // STEP_MS)
    return number - previous


def _tz_offset_ms(tz: str) -> int:
    sign = -1 if tz.startswith("-") else 1
    hours, _, minutes = tz[1:].partition(":")
    return sign * (int(hours) * 3_600_000 + int(minutes or 0) * 60_000)


def _steps(speed: str | None, default: int) -> int:
    """``100ms`` → 1, ``1000ms`` → 10, ``3000ms`` → 30, none → ``default``; 0 for any other
    suffix (the caller checks what its stream accepts)."""
    if speed is None:
        return default
    if speed.endswith("ms") and speed[:-2].isdigit() and int(speed[:-2]) % STEP_MS == 0:
        return int(speed[:-2]) // STEP_MS
    return 0


def _kline_feed(symbol: str, interval: str, offset: int) -> Feed:
    every = 10 if interval == "1s" else 20

    def render(tick: Tick) -> list[Any]:
        market = tick.markets[symbol]
        closed = [
            m.kline_payload(market, k, tick.time)
            for k in tick.window(symbol, every).closed_klines
            if k.interval == interval
        ]
        current = market.kline(interval, offset, tick.time)
        return [*closed, m.kline_payload(market, current, tick.time)]

    return Feed(render, every)


def _symbol_feed(symbol: str, kind: str, extra: list[str]) -> Feed | None:
    if len(extra) > 1:
        return None
    speed = extra[0] if extra else None
    if kind == "trade" and not extra:
        return Feed(lambda tick: m.trade_payloads(tick.markets[symbol], tick.window(symbol, 1)))
    if kind == "aggTrade" and not extra:
        return Feed(lambda tick: m.aggtrade_payloads(tick.markets[symbol], tick.window(symbol, 1)))
    if kind == "bookTicker" and not extra:
        return Feed(lambda tick: [m.book_ticker_payload(tick.markets[symbol])])
    if kind == "miniTicker" and not extra:
        return Feed(lambda tick: [m.mini_ticker_payload(tick.markets[symbol], tick.time)], 10)
    if kind == "ticker" and not extra:
        return Feed(lambda tick: [m.ticker_payload(tick.markets[symbol], tick.time)], 10)
    if kind == "avgPrice" and not extra:
        return Feed(lambda tick: [m.avg_price_payload(tick.markets[symbol], tick.time)], 10)
    if kind.startswith("ticker_") and kind[7:] in m.TICKER_WINDOWS and not extra:
        window = kind[7:]
        return Feed(
            lambda tick: [m.window_ticker_payload(tick.markets[symbol], window, tick.time)], 10
        )
    if kind.startswith("kline_") and kind[6:] in m.KLINE_INTERVALS:
        return _kline_feed(symbol, kind[6:], _tz_offset_ms(speed) if speed else 0)
    if kind == "depth":
        every = _steps(speed, 10)
        if every not in (1, 10):
            return None

        def diff(tick: Tick) -> list[Any]:
            payload = m.diff_depth_payload(tick.markets[symbol], tick.window(symbol, every))
            return [payload] if payload else []

        return Feed(diff, every)
    if kind in ("depth5", "depth10", "depth20"):
        every = _steps(speed, 10)
        if every not in (1, 10):
            return None
        levels = int(kind[5:])
        return Feed(lambda tick: [m.partial_depth_payload(tick.markets[symbol], levels)], every)
    return None


def _changed(tick: Tick, every: int) -> list[m.SymbolMarket]:
    """The markets that traded within the last ``every`` steps."""
    return [mk for symbol, mk in tick.markets.items() if tick.window(symbol, every).fills]


def _array_feed(name: str) -> Feed | None:
    """``!miniTicker@arr`` and ``!ticker_<w>@arr``, with an optional ``@1000ms``/``@3000ms``
    (python-binance asks for ``!miniTicker@arr@1000ms``)."""
    base, at, speed = name.partition("@arr")
    if at != "@arr" or (speed and not speed.startswith("@")):
        return None
    every = _steps(speed[1:] if speed else None, 10)
    if every not in (10, 30):
        return None
    if base == "!miniTicker":
        return Feed(lambda tick: _array([m.mini_ticker_payload(x, tick.time)
                                         for x in _changed(tick, every)]), every)  # fmt: skip
    window = base.removeprefix("!ticker_")
    if base.startswith("!ticker_") and window in m.TICKER_WINDOWS:
        return Feed(lambda tick: _array([m.window_ticker_payload(x, window, tick.time)
                                         for x in _changed(tick, every)]), every)  # fmt: skip
    return None


def _array(tickers: list[Any]) -> list[Any]:
    """One array message, or none when no symbol changed."""
    return [tickers] if tickers else []


def feed_for(name: str, markets: Mapping[str, m.SymbolMarket]) -> Feed | None:
    """What ``name`` sends and how often, or None if Binance would send nothing.

    Like Binance, names are case-sensitive: symbols must be lowercase and types spelled
    as documented (``aggTrade``); an unknown symbol or type simply never sends anything.
    """
    if name.startswith("!"):
        return _array_feed(name)
    symbol, _, rest = name.partition("@")
    if not rest or symbol != symbol.lower():
        return None
    key = symbol.upper()
    if key not in markets:
        return None
    kind, *extra = rest.split("@")
    return _symbol_feed(key, kind, extra)


def is_well_formed(name: str) -> bool:
    """Binance rejects SUBSCRIBE params that are not plausible stream names."""
    if not name or len(name) > 200 or any(ch.isspace() or ch in "/?&#" for ch in name):
        return False
    return "@" in name


def is_diff_depth(name: str) -> bool:
    """True for ``<symbol>@depth`` and ``<symbol>@depth@<speed>`` (not partial depth)."""
    parts = name.split("@")
    return len(parts) >= 2 and parts[1] == "depth"


def window_of(recent: Mapping[str, Any]) -> Callable[[str, int], m.Step]:
    """A ``window(symbol, steps)`` over each symbol's ``recent`` steps: the last ``steps``
    of them merged, once per (symbol, steps) in a tick."""
    cache: dict[tuple[str, int], m.Step] = {}

    def window(symbol: str, steps: int) -> m.Step:
        merged = cache.get((symbol, steps))
        if merged is None:
            merged = cache[symbol, steps] = m.merge_steps(list(recent[symbol])[-steps:])
        return merged

    return window
