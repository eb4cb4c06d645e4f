"""Which payloads each Binance stream name gets from one step of the simulated market."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from . import market as m

Renderer = Callable[[Mapping[str, m.SymbolMarket], Mapping[str, m.Step], int], list[Any]]


def _tz_offset_ms(tz: str) -> int:
    sign = -1 if tz.startswith("-") else 1
    hours, _, minutes = tz[1:].partition(":")
    return sign * (int(hours) * 3_600_000 + int(minutes or 0) * 60_000)


def _symbol_renderer(symbol: str, kind: str, extra: list[str]) -> Renderer | None:
    if kind == "trade" and not extra:
        return lambda mk, st, t: m.trade_payloads(mk[symbol], st[symbol])
    if kind == "aggTrade" and not extra:
        return lambda mk, st, t: m.aggtrade_payloads(mk[symbol], st[symbol])
    if kind == "bookTicker" and not extra:
        return lambda mk, st, t: [m.book_ticker_payload(mk[symbol])]
    if kind == "miniTicker" and not extra:
        return lambda mk, st, t: [m.mini_ticker_payload(mk[symbol], t)]
    if kind == "ticker" and not extra:
        return lambda mk, st, t: [m.ticker_payload(mk[symbol], t)]
    if kind == "avgPrice" and not extra:
        return lambda mk, st, t: [m.avg_price_payload(mk[symbol], t)]
    if kind.startswith("ticker_") and kind[7:] in m.TICKER_WINDOWS and not extra:
        window = kind[7:]
        return lambda mk, st, t: [m.window_ticker_payload(mk[symbol], window, t)]
    if kind.startswith("kline_") and kind[6:] in m.KLINE_INTERVALS and len(extra) <= 1:
        interval = kind[6:]
        offset = _tz_offset_ms(extra[0]) if extra else 0

        def kline(mk: Mapping[str, m.SymbolMarket], st: Mapping[str, m.Step], t: int) -> list[Any]:
            market = mk[symbol]
            closed = [
                m.kline_payload(market, k, t)
                for k in st[symbol].closed_klines
                if k.interval == interval
            ]
            return [*closed, m.kline_payload(market, market.kline(interval, offset, t), t)]

        return kline
    speeds: tuple[list[str], ...] = ([], ["100ms"], ["1000ms"])
    if kind == "depth" and extra in speeds:

        def diff(mk: Mapping[str, m.SymbolMarket], st: Mapping[str, m.Step], t: int) -> list[Any]:
            payload = m.diff_depth_payload(mk[symbol], st[symbol])
            return [payload] if payload else []

        return diff
    if kind in ("depth5", "depth10", "depth20") and extra in speeds:
        levels = int(kind[5:])
        return lambda mk, st, t: [m.partial_depth_payload(mk[symbol], levels)]
    return None


def renderer_for(name: str, markets: Mapping[str, m.SymbolMarket]) -> Renderer | None:
    """A function producing ``name``'s payloads per step, or None if Binance would send none.

    Like Binance, names are case-sensitive: symbols must be lowercase and types spelled
    as documented (``aggTrade``); an unknown symbol or type simply never sends anything.
    """
    if name == "!miniTicker@arr":
        return lambda mk, st, t: [[m.mini_ticker_payload(x, t) for x in mk.values()]]
    if name.startswith("!ticker_") and name.endswith("@arr"):
        window = name[len("!ticker_") : -len("@arr")]
        if window in m.TICKER_WINDOWS:
            return lambda mk, st, t: [[m.window_ticker_payload(x, window, t) for x in mk.values()]]
        return None
    symbol, _, rest = name.partition("@")
    if not rest or symbol != symbol.lower():
        return None
    key = symbol.upper()
    if key not in markets:
        return None
    kind, *extra = rest.split("@")
    return _symbol_renderer(key, kind, extra)


def is_well_formed(name: str) -> bool:
    """Binance rejects SUBSCRIBE params that are not plausible stream names."""
    if not name or len(name) > 200 or any(ch.isspace() or ch in "/?&#" for ch in name):
        return False
    return "@" in name


def is_diff_depth(name: str) -> bool:
    """True for ``<symbol>@depth`` and ``<symbol>@depth@<speed>`` (not partial depth)."""
    parts = name.split("@")
    return len(parts) >= 2 and parts[1] == "depth"
