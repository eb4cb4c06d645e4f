"""Stream names, enums and symbol validation for Binance spot market streams.

Pure functions, no I/O. Every builder returns the exact stream name Binance expects::

    >>> kline_stream("BNBBTC", KlineInterval.M1)
    'bnbbtc@kline_1m'
    >>> depth_stream("bnbbtc", DepthLevel.D10, UpdateSpeed.MS100)
    'bnbbtc@depth10@100ms'
    >>> normalize_stream("BNBBTC@aggtrade")
    'bnbbtc@aggTrade'
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from enum import Enum, IntEnum, StrEnum

from .errors import InvalidStreamError, InvalidSymbolError

log = logging.getLogger("binstream")

MAX_SYMBOL_LENGTH = 20


class DepthLevel(IntEnum):
    """Partial book depth levels Binance serves (``<symbol>@depth<N>``)."""

    D5 = 5
    D10 = 10
    D20 = 20


class UpdateSpeed(StrEnum):
    """Update speed suffix of depth streams."""

    MS100 = "100ms"
    MS1000 = "1000ms"


class KlineInterval(StrEnum):
    """Kline/candlestick intervals (``<symbol>@kline_<interval>``)."""

    S1 = "1s"
    M1 = "1m"
    M3 = "3m"
    M5 = "5m"
    M15 = "15m"
    M30 = "30m"
    H1 = "1h"
    H2 = "2h"
    H4 = "4h"
    H6 = "6h"
    H8 = "8h"
    H12 = "12h"
    D1 = "1d"
    D3 = "3d"
    W1 = "1w"
    MO1 = "1M"


class TickerWindow(StrEnum):
    """Rolling-window ticker sizes (``<symbol>@ticker_<window>``)."""

    H1 = "1h"
    H4 = "4h"
    D1 = "1d"


# python-binance compatible constants, so drop-in code keeps working.
KLINE_INTERVAL_1SECOND = "1s"
KLINE_INTERVAL_1MINUTE = "1m"
KLINE_INTERVAL_3MINUTE = "3m"
KLINE_INTERVAL_5MINUTE = "5m"
KLINE_INTERVAL_15MINUTE = "15m"
KLINE_INTERVAL_30MINUTE = "30m"
KLINE_INTERVAL_1HOUR = "1h"
KLINE_INTERVAL_2HOUR = "2h"
KLINE_INTERVAL_4HOUR = "4h"
KLINE_INTERVAL_6HOUR = "6h"
KLINE_INTERVAL_8HOUR = "8h"
KLINE_INTERVAL_12HOUR = "12h"
KLINE_INTERVAL_1DAY = "1d"
KLINE_INTERVAL_3DAY = "3d"
KLINE_INTERVAL_1WEEK = "1w"
KLINE_INTERVAL_1MONTH = "1M"
WEBSOCKET_DEPTH_5 = "5"
WEBSOCKET_DEPTH_10 = "10"
WEBSOCKET_DEPTH_20 = "20"

#: The all-market 24 h ticker array ``!ticker@arr`` was retired on 2026-03-26.
#: ``ticker_socket()`` and ``binstream ticker`` (no symbol) use this live stream instead.
ALL_MARKET_TICKER_STREAM = "!ticker_1d@arr"
ALL_MARKET_MINI_TICKER_STREAM = "!miniTicker@arr"

_SIMPLE_TYPES = {
    t.lower(): t for t in ("trade", "aggTrade", "miniTicker", "ticker", "bookTicker", "avgPrice")
}
_RETIRED = {
    "!ticker@arr": "retired by Binance on 2026-03-26; use !ticker_1d@arr or !miniTicker@arr",
    "!bookticker": "retired by Binance; use <symbol>@bookTicker",
}
_TZ_RE = re.compile(r"^[+-]\d{1,2}(:\d{2})?$")
_WELL_FORMED_TYPE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_WELL_FORMED_SUFFIX = re.compile(r"^[A-Za-z0-9_:+\-]+$")


def _choices(enum: Iterable[Enum]) -> str:
    return ", ".join(str(m.value) for m in enum)


def normalize_symbol(symbol: str) -> str:
    """Return ``symbol`` lowercased after checking its shape.

    Binance symbols are letters and digits; since 2025-12 they may be non-ASCII
    letters too, so any Unicode letter or digit is accepted::

        >>> normalize_symbol("BNBBTC")
        'bnbbtc'

    Raises :class:`InvalidSymbolError` for separators, spaces, empty or over-long input,
    with a suggestion when one can be made.
    """
    if not isinstance(symbol, str):
        raise InvalidSymbolError(f"symbol must be a string, got {type(symbol).__name__}")
    stripped = symbol.strip()
    if not stripped:
        raise InvalidSymbolError("symbol is empty: give a pair such as bnbbtc")
    if not stripped.isalnum():
        suggestion = "".join(ch for ch in stripped if ch.isalnum()).lower()
        hint = f"; did you mean {suggestion!r}?" if suggestion else ""
        raise InvalidSymbolError(
            f"invalid symbol {symbol!r}: use letters and digits only, with no separator{hint}"
        )
    if len(stripped) > MAX_SYMBOL_LENGTH:
        raise InvalidSymbolError(
            f"invalid symbol {symbol!r}: longer than {MAX_SYMBOL_LENGTH} characters"
        )
    return stripped.lower()


def _enum_value(enum: type[Enum], value: object, what: str) -> Enum:
    if isinstance(value, enum):
        return value
    raw = value.value if isinstance(value, Enum) else value
    for member in enum:
        if str(member.value) == str(raw):
            return member
    raise InvalidStreamError(f"invalid {what} {raw!r}: choose one of {_choices(enum)}")


def depth_level(value: object) -> DepthLevel:
    """Coerce ``5``, ``"10"`` or a :class:`DepthLevel` to a :class:`DepthLevel`."""
    return _enum_value(DepthLevel, value, "depth")  # type: ignore[return-value]


def update_speed(value: object) -> UpdateSpeed:
    """Coerce ``"100ms"``, ``100`` or an :class:`UpdateSpeed` to an :class:`UpdateSpeed`."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = f"{value}ms"
    return _enum_value(UpdateSpeed, value, "update speed")  # type: ignore[return-value]


def kline_interval(value: object) -> KlineInterval:
    """Coerce ``"1m"`` or a :class:`KlineInterval` to a :class:`KlineInterval`."""
    return _enum_value(KlineInterval, value, "kline interval")  # type: ignore[return-value]


def ticker_window(value: object) -> TickerWindow:
    """Coerce ``"1h"`` or a :class:`TickerWindow` to a :class:`TickerWindow`."""
    return _enum_value(TickerWindow, value, "ticker window")  # type: ignore[return-value]


def timezone_offset(value: str) -> str:
    """Validate a kline timezone suffix such as ``+08:00`` (range -12:00 to +14:00)."""
    if not _TZ_RE.match(value):
        raise InvalidStreamError(f"invalid timezone {value!r}: use an offset such as +08:00")
    hours = int(value[1:].split(":")[0])
    minutes = int(value.split(":")[1]) if ":" in value else 0
    if minutes >= 60 or (value[0] == "+" and hours > 14) or (value[0] == "-" and hours > 12):
        raise InvalidStreamError(f"invalid timezone {value!r}: offsets run from -12:00 to +14:00")
    return value


def trade_stream(symbol: str) -> str:
    """``<symbol>@trade``: every trade."""
    return f"{normalize_symbol(symbol)}@trade"


def aggtrade_stream(symbol: str) -> str:
    """``<symbol>@aggTrade``: trades aggregated per taker order."""
    return f"{normalize_symbol(symbol)}@aggTrade"


def kline_stream(
    symbol: str, interval: object = KlineInterval.M1, timezone: str | None = None
) -> str:
    """``<symbol>@kline_<interval>[@<timezone>]``: candlestick updates."""
    name = f"{normalize_symbol(symbol)}@kline_{kline_interval(interval).value}"
    if timezone:
        name += f"@{timezone_offset(timezone)}"
    return name


def mini_ticker_stream(symbol: str | None = None) -> str:
    """``<symbol>@miniTicker``, or ``!miniTicker@arr`` for every symbol."""
    if symbol is None:
        return ALL_MARKET_MINI_TICKER_STREAM
    return f"{normalize_symbol(symbol)}@miniTicker"


def ticker_stream(symbol: str | None = None, window: object | None = None) -> str:
    """24 h or rolling-window ticker for one symbol, or the all-market array.

    With no symbol and no window this is :data:`ALL_MARKET_TICKER_STREAM`
    (``!ticker_1d@arr``), because Binance retired ``!ticker@arr``.
    """
    if symbol is None:
        if window is None:
            return ALL_MARKET_TICKER_STREAM
        return f"!ticker_{ticker_window(window).value}@arr"
    if window is None:
        return f"{normalize_symbol(symbol)}@ticker"
    return f"{normalize_symbol(symbol)}@ticker_{ticker_window(window).value}"


def book_ticker_stream(symbol: str) -> str:
    """``<symbol>@bookTicker``: best bid and ask in real time."""
    return f"{normalize_symbol(symbol)}@bookTicker"


def avg_price_stream(symbol: str) -> str:
    """``<symbol>@avgPrice``: the 5-minute average price."""
    return f"{normalize_symbol(symbol)}@avgPrice"


def depth_stream(symbol: str, depth: object | None = None, speed: object | None = None) -> str:
    """Partial book (``depth`` of 5, 10, 20) or diff book (``depth=None``) stream name.

    ``speed`` is ``100ms`` or ``1000ms``; 1000 ms is Binance's default and is left implicit.
    """
    name = f"{normalize_symbol(symbol)}@depth"
    if depth is not None and str(getattr(depth, "value", depth)) not in ("", "0"):
        name += str(depth_level(depth).value)
    if speed is not None:
        chosen = update_speed(speed)
        if chosen is UpdateSpeed.MS100:
            name += "@100ms"
    return name


def _check_kline_suffix(symbol: str, rest: str, extra: list[str]) -> str:
    interval = rest[len("kline_") :]
    try:
        kline_interval(interval)
    except InvalidStreamError:
        raise InvalidStreamError(
            f"invalid stream {symbol}@{rest}: kline interval {interval!r} is not one of "
            f"{_choices(KlineInterval)}"
        ) from None
    name = f"{symbol}@kline_{interval}"
    if extra:
        if len(extra) > 1:
            raise InvalidStreamError(f"invalid stream {name}@{'@'.join(extra)}: too many parts")
        name += f"@{timezone_offset(extra[0])}"
    return name


def _check_depth_suffix(symbol: str, rest: str, extra: list[str]) -> str:
    level = rest[len("depth") :]
    if level and level not in ("5", "10", "20"):
        raise InvalidStreamError(
            f"invalid stream {symbol}@{rest}: depth level {level!r} is not one of "
            f"{_choices(DepthLevel)} (or leave it out for the diff stream {symbol}@depth)"
        )
    name = f"{symbol}@depth{level}"
    if extra:
        if len(extra) > 1 or extra[0] not in ("100ms", "1000ms"):
            raise InvalidStreamError(
                f"invalid stream {name}@{'@'.join(extra)}: update speed must be "
                f"{_choices(UpdateSpeed)}"
            )
        name += f"@{extra[0]}"
    return name


def normalize_stream(name: str, *, warn_unknown: bool = True) -> str:
    """Validate a raw Binance stream name and return its canonical form.

    Symbols are lowercased and known stream types get Binance's spelling
    (``aggtrade`` → ``aggTrade``). A well-formed name of a type binstream does not
    know yet (``bnbbtc@referencePrice``) passes through with a logged warning.
    """
    if not isinstance(name, str) or not name.strip():
        raise InvalidStreamError("stream name is empty: use <symbol>@<type>, e.g. bnbbtc@trade")
    raw = name.strip()
    if raw.lower() in _RETIRED:
        raise InvalidStreamError(f"stream {raw!r} was {_RETIRED[raw.lower()]}")
    if raw.startswith("!"):
        return _normalize_all_market(raw)
    if "@" not in raw:
        raise InvalidStreamError(
            f"invalid stream {raw!r}: expected <symbol>@<type>, e.g. {raw.lower()}@trade"
        )
    symbol_part, rest, *extra = raw.split("@")
    try:
        symbol = normalize_symbol(symbol_part)
    except InvalidSymbolError as exc:
        raise InvalidStreamError(f"invalid stream {raw!r}: {exc}") from None
    key = rest.lower()
    if key in _SIMPLE_TYPES and not extra:
        return f"{symbol}@{_SIMPLE_TYPES[key]}"
    if key.startswith("kline_"):
        return _check_kline_suffix(symbol, rest, extra)
    if key.startswith("depth") and (key == "depth" or key[5:].isdigit()):
        return _check_depth_suffix(symbol, key, extra)
    if key.startswith("ticker_") and not extra:
        window = rest[len("ticker_") :]
        if window not in {w.value for w in TickerWindow}:
            raise InvalidStreamError(
                f"invalid stream {raw!r}: ticker window {window!r} is not one of "
                f"{_choices(TickerWindow)}"
            )
        return f"{symbol}@ticker_{window}"
    if _WELL_FORMED_TYPE.match(rest) and all(_WELL_FORMED_SUFFIX.match(e) for e in extra):
        canonical = "@".join([symbol, rest, *extra])
        if warn_unknown:
            log.warning("stream type %r is not known to binstream; passing it through", rest)
        return canonical
    raise InvalidStreamError(f"invalid stream {raw!r}: stream type {rest!r} is malformed")


def _normalize_all_market(raw: str) -> str:
    if raw.lower() == "!miniticker@arr":
        return ALL_MARKET_MINI_TICKER_STREAM
    match = re.match(r"^!ticker_([^@]+)@arr$", raw, re.IGNORECASE)
    if match:
        window = match.group(1)
        if window not in {w.value for w in TickerWindow}:
            raise InvalidStreamError(
                f"invalid stream {raw!r}: ticker window {window!r} is not one of "
                f"{_choices(TickerWindow)}"
            )
        return f"!ticker_{window}@arr"
    raise InvalidStreamError(
        f"invalid stream {raw!r}: all-market streams are {ALL_MARKET_MINI_TICKER_STREAM} and "
        "!ticker_<1h|4h|1d>@arr"
    )


def normalize_streams(names: Iterable[str], *, warn_unknown: bool = True) -> list[str]:
    """Normalise several stream names, dropping exact duplicates while keeping order."""
    seen: dict[str, None] = {}
    for name in names:
        seen.setdefault(normalize_stream(name, warn_unknown=warn_unknown), None)
    if not seen:
        raise InvalidStreamError("no stream given: name at least one, e.g. bnbbtc@trade")
    return list(seen)
