"""Stream names of the derivatives venues: USD-M and COIN-M futures, and options.

Pure, no I/O. :func:`normalize_venue_stream` checks a name against what the venue serves
(no ``1s`` klines on futures, depth speeds 100/250/500 ms, options symbols with dashes)
and returns Binance's spelling; the builders return exact names::

    >>> normalize_venue_stream("BTCUSDT@depth@100ms", "usdm")
    'btcusdt@depth@100ms'
    >>> continuous_kline_stream("BTCUSDT", "perpetual", "1m")
    'btcusdt_perpetual@continuousKline_1m'
    >>> mark_price_stream(None, fast=True)
    '!markPrice@arr@1s'
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from .errors import InvalidStreamError, InvalidSymbolError
from .streams import MAX_SYMBOL_LENGTH
from .venues import ContractType, Market, Venue, venue_for

log = logging.getLogger("binstream")

_FUTURES_SIMPLE = {
    t.lower(): t for t in ("aggTrade", "trade", "miniTicker", "ticker", "bookTicker", "forceOrder")
}
_USDM_ONLY = {t.lower(): t for t in ("compositeIndex", "assetIndex")}
_FUTURES_ALL = {
    "!miniticker@arr": "!miniTicker@arr",
    "!ticker@arr": "!ticker@arr",
    "!bookticker": "!bookTicker",
    "!markprice@arr": "!markPrice@arr",
    "!markprice@arr@1s": "!markPrice@arr@1s",
    "!forceorder@arr": "!forceOrder@arr",
}
_USDM_ALL = {"!contractinfo": "!contractInfo", "!assetindex@arr": "!assetIndex@arr"}
_OPTIONS_ALL = {"!optionsymbol": "!optionSymbol", "!index@arr": "!index@arr"}
_OPTIONS_SIMPLE = {t.lower(): t for t in ("optionTrade", "bookTicker", "optionMarkPrice")}
_EXPIRY = re.compile(r"^\d{6}$")
_WELL_FORMED_TYPE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_WELL_FORMED_SUFFIX = re.compile(r"^[A-Za-z0-9_:+\-]+$")
CONTRACTS = tuple(c.value for c in ContractType)
DEPTH_LEVELS = ("5", "10", "20")


def normalize_venue_symbol(symbol: str, venue: Venue) -> str:
    """``symbol`` lowercased, checked against the venue's symbol shape.

    Futures symbols may hold ``_`` (``btcusd_perp``, ``btcusd_250926``); options symbols
    ``-`` (``btc-250926-60000-c``).
    """
    if not isinstance(symbol, str):
        raise InvalidSymbolError(f"symbol must be a string, got {type(symbol).__name__}")
    stripped = symbol.strip()
    if not stripped:
        raise InvalidSymbolError("symbol is empty: give a contract such as btcusdt")
    allowed = venue.symbol_extra
    bad = [ch for ch in stripped if not (ch.isalnum() or ch in allowed)]
    if bad or stripped[0] in allowed or stripped[-1] in allowed:
        kinds = {
            Market.USDM: "btcusdt",
            Market.COINM: "btcusd_perp",
            Market.OPTIONS: "btc-250926-60000-c",
        }
        raise InvalidSymbolError(
            f"invalid {venue.market.value} symbol {symbol!r}: use letters and digits"
            + (f" (and {allowed!r})" if allowed else "")
            + f", e.g. {kinds.get(venue.market, 'bnbbtc')}"
        )
    if len(stripped) > MAX_SYMBOL_LENGTH + 10:
        raise InvalidSymbolError(f"invalid symbol {symbol!r}: too long")
    return stripped.lower()


def _speed_suffix(venue: Venue, name: str, extra: list[str]) -> str:
    if not extra:
        return ""
    if len(extra) > 1 or extra[0] not in venue.depth_speeds:
        raise InvalidStreamError(
            f"invalid stream {name}@{'@'.join(extra)}: {venue.market.value} depth speeds are "
            + ", ".join(venue.depth_speeds)
        )
    return f"@{extra[0]}"


def _interval(venue: Venue, name: str, interval: str) -> str:
    if interval not in venue.kline_intervals:
        raise InvalidStreamError(
            f"invalid stream {name}: {venue.market.value} kline intervals are "
            + ", ".join(venue.kline_intervals)
        )
    return interval


def _all_market(raw: str, venue: Venue) -> str:
    table = dict(_OPTIONS_ALL) if venue.market is Market.OPTIONS else dict(_FUTURES_ALL)
    if venue.market is Market.USDM:
        table.update(_USDM_ALL)
    found = table.get(raw.lower())
    if found is None:
        raise InvalidStreamError(
            f"invalid stream {raw!r}: {venue.market.value} all-market streams are "
            + ", ".join(sorted(set(table.values())))
        )
    return found


def _futures_type(symbol: str, kind: str, extra: list[str], venue: Venue, raw: str) -> str | None:
    key = kind.lower()
    simple = {**_FUTURES_SIMPLE, **(_USDM_ONLY if venue.market is Market.USDM else {})}
    if key in simple and not extra:
        return f"{symbol}@{simple[key]}"
    if key in ("markprice", "indexprice") and extra in ([], ["1s"]):
        if key == "indexprice" and venue.market is not Market.COINM:
            raise InvalidStreamError(f"invalid stream {raw!r}: @indexPrice is a COIN-M stream")
        name = "markPrice" if key == "markprice" else "indexPrice"
        return f"{symbol}@{name}" + ("@1s" if extra else "")
    if key == "rpidepth" and venue.market is Market.USDM:
        if extra != ["500ms"]:
            raise InvalidStreamError(f"invalid stream {raw!r}: use {symbol}@rpiDepth@500ms")
        return f"{symbol}@rpiDepth@500ms"
    if key.startswith("continuouskline_"):
        pair, _, contract = symbol.rpartition("_")
        if not pair or contract not in CONTRACTS:
            raise InvalidStreamError(
                f"invalid stream {raw!r}: continuous klines are <pair>_<contract>@"
                f"continuousKline_<interval>, contract one of {', '.join(CONTRACTS)}"
            )
        interval = _interval(venue, raw, kind[len("continuousKline_") :])
        if extra:
            raise InvalidStreamError(f"invalid stream {raw!r}: too many parts")
        return f"{symbol}@continuousKline_{interval}"
    return None


def _options_type(symbol: str, kind: str, extra: list[str], raw: str) -> str | None:
    key = kind.lower()
    if key in _OPTIONS_SIMPLE and not extra:
        return f"{symbol}@{_OPTIONS_SIMPLE[key]}"
    if key == "optionticker":
        if extra and (len(extra) > 1 or not _EXPIRY.match(extra[0])):
            raise InvalidStreamError(
                f"invalid stream {raw!r}: use <symbol>@optionTicker or "
                "<underlying>@optionTicker@<YYMMDD>"
            )
        return f"{symbol}@optionTicker" + (f"@{extra[0]}" if extra else "")
    if key == "optionopeninterest":
        if len(extra) != 1 or not _EXPIRY.match(extra[0]):
            raise InvalidStreamError(
                f"invalid stream {raw!r}: use <underlying>@optionOpenInterest@<YYMMDD>"
            )
        return f"{symbol}@optionOpenInterest@{extra[0]}"
    return None


def normalize_venue_stream(name: str, market: object, *, warn_unknown: bool = True) -> str:
    """Validate a stream name of a derivatives venue and return Binance's spelling.

    Raises :class:`InvalidStreamError` naming what the venue accepts. A well-formed name of
    a type binstream does not know passes through with a logged warning (it is routed to
    ``/market``).
    """
    venue = venue_for(market)
    if not isinstance(name, str) or not name.strip():
        raise InvalidStreamError("stream name is empty: use <symbol>@<type>, e.g. btcusdt@aggTrade")
    raw = name.strip()
    if raw.startswith("!"):
        return _all_market(raw, venue)
    if "@" not in raw:
        raise InvalidStreamError(
            f"invalid stream {raw!r}: expected <symbol>@<type>, e.g. {raw.lower()}@aggTrade"
        )
    symbol_part, kind, *extra = raw.split("@")
    try:
        symbol = normalize_venue_symbol(symbol_part, venue)
    except InvalidSymbolError as exc:
        raise InvalidStreamError(f"invalid stream {raw!r}: {exc}") from None
    key = kind.lower()
    if key.startswith("kline_"):
        interval = _interval(venue, raw, kind[len("kline_") :])
        if extra:
            raise InvalidStreamError(f"invalid stream {raw!r}: too many parts")
        return f"{symbol}@kline_{interval}"
    if key == "depth" or (key.startswith("depth") and key[5:].isdigit()):
        level = key[5:]
        if level and level not in DEPTH_LEVELS:
            raise InvalidStreamError(
                f"invalid stream {raw!r}: depth level {level!r} is not one of 5, 10, 20 "
                f"(or leave it out for the diff stream {symbol}@depth)"
            )
        return f"{symbol}@depth{level}" + _speed_suffix(venue, f"{symbol}@depth{level}", extra)
    found = (
        _options_type(symbol, kind, extra, raw)
        if venue.market is Market.OPTIONS
        else _futures_type(symbol, kind, extra, venue, raw)
    )
    if found is not None:
        return found
    if _WELL_FORMED_TYPE.match(kind) and all(_WELL_FORMED_SUFFIX.match(e) for e in extra):
        if warn_unknown:
            log.warning(
                "stream type %r is not known to binstream on %s; passing it to /market",
                kind,
                venue.market.value,
            )
        return "@".join([symbol, kind, *extra])
    raise InvalidStreamError(f"invalid stream {raw!r}: stream type {kind!r} is malformed")


def normalize_market_streams(
    names: Iterable[str], market: object, *, warn_unknown: bool = True
) -> list[str]:
    """Normalise several names of any venue (spot included), dropping exact duplicates."""
    from .streams import normalize_stream

    venue = venue_for(market)
    seen: dict[str, None] = {}
    for name in names:
        if venue.market is Market.SPOT:
            canonical = normalize_stream(name, warn_unknown=warn_unknown)
        else:
            canonical = normalize_venue_stream(name, venue.market, warn_unknown=warn_unknown)
        seen.setdefault(canonical, None)
    if not seen:
        raise InvalidStreamError("no stream given: name at least one, e.g. btcusdt@aggTrade")
    return list(seen)


# -- builders used by the managers and the command line ---------------------------------


def futures_depth_stream(symbol: str, depth: object | None, speed: object | None = None) -> str:
    """``<symbol>@depth<N>[@speed]`` or the diff ``<symbol>@depth[@speed]`` (futures)."""
    name = f"{symbol}@depth"
    if depth is not None and str(getattr(depth, "value", depth)) not in ("", "0"):
        name += str(getattr(depth, "value", depth))
    if speed is not None:
        text = str(getattr(speed, "value", speed))
        name += f"@{text if text.endswith('ms') else text + 'ms'}"
    return name


def continuous_kline_stream(pair: str, contract: object, interval: object) -> str:
    """``<pair>_<contract>@continuousKline_<interval>``."""
    contract_name = str(getattr(contract, "value", contract)).lower()
    if contract_name not in CONTRACTS:
        raise InvalidStreamError(
            f"invalid contract {contract!r}: choose one of {', '.join(CONTRACTS)}"
        )
    interval_name = getattr(interval, "value", interval)
    return f"{pair.strip().lower()}_{contract_name}@continuousKline_{interval_name}"


def mark_price_stream(symbol: str | None, fast: bool = True) -> str:
    """``<symbol>@markPrice[@1s]``, or ``!markPrice@arr[@1s]`` for every symbol."""
    base = "!markPrice@arr" if symbol is None else f"{symbol.strip().lower()}@markPrice"
    return base + ("@1s" if fast else "")


def force_order_stream(symbol: str | None) -> str:
    """``<symbol>@forceOrder`` (liquidations), or ``!forceOrder@arr``."""
    return "!forceOrder@arr" if symbol is None else f"{symbol.strip().lower()}@forceOrder"
