"""Binance's SBE market-data streams (schema ``stream_1_0.xml``): frames decoded to dicts.

What this relies on, from Binance's spot API docs (``sbe-market-data-streams.md``,
``faqs/sbe_faq.md`` and ``sbe/schemas/stream_1_0.xml``, as of 2026):

- A frame is one message: an 8-byte header (``blockLength``, ``templateId``, ``schemaId``,
  ``version``, each uint16, little-endian), the root block of ``blockLength`` bytes, its
  repeating groups (a dimension header, then ``numInGroup`` entries of the group's
  ``blockLength`` bytes each), then the ``symbol`` as a ``varString8`` (a uint8 length and
  UTF-8 bytes). Fields sit back to back, unaligned.
- Templates: 10000 ``TradesStreamEvent`` (``<symbol>@trade``, a group of trades per event),
  10001 ``BestBidAskStreamEvent`` (``@bestBidAsk``), 10002 ``DepthSnapshotStreamEvent``
  (``@depth20``), 10003 ``DepthDiffStreamEvent`` (``@depth``).
- Prices and quantities are int64 mantissas with an int8 exponent given before them;
  times are microseconds.
- Schema id 1; the FAQ says a decoder of a version must read a later version of the same id
  (SBE's extension rules: longer blocks and extra trailing data are skipped). So a newer
  version decodes; another schema id, an unknown template, a short block or a cut frame is
  a :class:`SbeError`, never a wrong number.

Each event becomes a dict with the keys of its JSON stream (``p``, ``q``, ``b``, ``U``,
``u``, ...), prices and quantities as exact decimal strings, and ``E``/``T`` kept in
microseconds (as JSON streams give them with ``timeUnit=MICROSECOND``). A trades event is one
dict per trade. :func:`decode` is the reference; ``binstream._sbe`` (C) gives the same.

Example::

    >>> decimal_text(899, -5), decimal_text(-15, -1), decimal_text(12, 2), decimal_text(5, 0)
    ('0.00899', '-1.5', '1200', '5')
"""

from __future__ import annotations

import struct
from typing import Any

from .errors import InvalidStreamError
from .streams import normalize_symbol

#: The stream schema's id and the version this decoder was written from.
SCHEMA_ID = 1
SCHEMA_VERSION = 0
TRADES = 10000
BEST_BID_ASK = 10001
DEPTH_SNAPSHOT = 10002
DEPTH_DIFF = 10003
#: The stream type of each template, as stream names spell it.
STREAM_TYPES = {TRADES: "trade", BEST_BID_ASK: "bestBidAsk", DEPTH_SNAPSHOT: "depth20",
                DEPTH_DIFF: "depth"}  # fmt: skip
#: The SBE streams binstream knows, by type.
SBE_STREAM_TYPES = frozenset(STREAM_TYPES.values())

_HEADER = struct.Struct("<HHHH")
#: Root block lengths of schema 1:0 (a later version may only make them longer).
_ROOT = {TRADES: 18, BEST_BID_ASK: 50, DEPTH_SNAPSHOT: 18, DEPTH_DIFF: 26}
_TRADES_ROOT = struct.Struct("<qqbb")
_BBA_ROOT = struct.Struct("<qqbbqqqq")
_SNAPSHOT_ROOT = struct.Struct("<qqbb")
_DIFF_ROOT = struct.Struct("<qqqbb")
_GROUP32 = struct.Struct("<HI")
_GROUP16 = struct.Struct("<HH")
_TRADE = struct.Struct("<qqqB")
_LEVEL = struct.Struct("<qq")


class SbeError(ValueError):
    """A frame that is not a message of the stream schema this decoder reads."""


def decimal_text(mantissa: int, exponent: int) -> str:
    """The exact decimal ``mantissa × 10**exponent`` as text (``899, -5`` → ``0.00899``)."""
    if exponent >= 0:
        return str(mantissa * 10**exponent) if mantissa else "0"
    digits = str(abs(mantissa)).rjust(1 - exponent, "0")
    sign = "-" if mantissa < 0 else ""
    return f"{sign}{digits[:exponent]}.{digits[exponent:]}"


def _need(frame: bytes, end: int, what: str) -> None:
    if end > len(frame):
        raise SbeError(f"SBE frame cut short: {what} needs {end} bytes, the frame has {len(frame)}")


def _bool(value: int) -> bool:
    if value > 1:
        raise SbeError(f"SBE boolEnum holds {value}, not 0 or 1")
    return value == 1


def _group(
    frame: bytes, at: int, dimension: struct.Struct, smallest: int, what: str, entries: str
) -> tuple[int, int, int]:
    """A repeating group at ``at``: ``(first entry, entry length, count)``, checked."""
    _need(frame, at + dimension.size, f"the {what} group's header")
    entry, count = dimension.unpack_from(frame, at)
    if entry < smallest:
        raise SbeError(
            f"SBE {entries} entries are {entry} bytes, fewer than the schema's {smallest}"
        )
    at += dimension.size
    _need(frame, at + entry * count, f"{count} {what}")
    return at, entry, count


def _levels(frame: bytes, at: int, pe: int, qe: int, what: str) -> tuple[list[list[str]], int]:
    at, block, count = _group(frame, at, _GROUP16, 16, what, what)
    levels = []
    for _ in range(count):
        price, qty = _LEVEL.unpack_from(frame, at)
        levels.append([decimal_text(price, pe), decimal_text(qty, qe)])
        at += block
    return levels, at


def _symbol(frame: bytes, at: int) -> str:
    _need(frame, at + 1, "the symbol's length")
    size = frame[at]
    _need(frame, at + 1 + size, "the symbol")
    try:
        return frame[at + 1 : at + 1 + size].decode("utf-8")
    except UnicodeDecodeError:
        raise SbeError("SBE symbol is not UTF-8") from None


def header(frame: bytes) -> tuple[int, int, int, int]:
    """``(blockLength, templateId, schemaId, version)``, checked against the schema."""
    _need(frame, 8, "the message header")
    block, template, schema, version = _HEADER.unpack_from(frame, 0)
    if schema != SCHEMA_ID:
        raise SbeError(f"SBE schema {schema}:{version} is not the stream schema {SCHEMA_ID}")
    root = _ROOT.get(template)
    if root is None:
        raise SbeError(f"unknown SBE template {template} (the stream schema has 10000-10003)")
    if block < root:
        raise SbeError(f"SBE template {template} block is {block} bytes, fewer than {root}")
    _need(frame, 8 + block, "the root block")
    return block, template, schema, version


def decode(frame: bytes) -> list[dict[str, Any]]:
    """The events of one SBE frame (one dict per trade); :class:`SbeError` if it is not a
    message of the stream schema."""
    block, template, _, _ = header(frame)
    at = 8 + block
    if template == TRADES:
        event_time, transact_time, pe, qe = _TRADES_ROOT.unpack_from(frame, 8)
        at, entry, count = _group(frame, at, _GROUP32, 25, "trades", "trade")
        rows = []
        for _ in range(count):
            rows.append(_TRADE.unpack_from(frame, at))
            at += entry
        symbol = _symbol(frame, at)
        return [
            {
                "e": "trade",
                "E": event_time,
                "s": symbol,
                "t": trade_id,
                "p": decimal_text(price, pe),
                "q": decimal_text(qty, qe),
                "T": transact_time,
                "m": _bool(maker),
                "M": True,
            }
            for trade_id, price, qty, maker in rows
        ]
    if template == BEST_BID_ASK:
        event_time, update_id, pe, qe, bid, bid_qty, ask, ask_qty = _BBA_ROOT.unpack_from(frame, 8)
        return [{"e": "bestBidAsk", "E": event_time, "s": _symbol(frame, at), "u": update_id,
                 "b": decimal_text(bid, pe), "B": decimal_text(bid_qty, qe),
                 "a": decimal_text(ask, pe), "A": decimal_text(ask_qty, qe)}]  # fmt: skip
    if template == DEPTH_SNAPSHOT:
        event_time, update_id, pe, qe = _SNAPSHOT_ROOT.unpack_from(frame, 8)
        bids, at = _levels(frame, at, pe, qe, "bids")
        asks, at = _levels(frame, at, pe, qe, "asks")
        return [{"e": "depthSnapshot", "E": event_time, "s": _symbol(frame, at),
                 "lastUpdateId": update_id, "bids": bids, "asks": asks}]  # fmt: skip
    event_time, first, last, pe, qe = _DIFF_ROOT.unpack_from(frame, 8)
    bids, at = _levels(frame, at, pe, qe, "bids")
    asks, at = _levels(frame, at, pe, qe, "asks")
    return [{"e": "depthUpdate", "E": event_time, "s": _symbol(frame, at), "U": first,
             "u": last, "b": bids, "a": asks}]  # fmt: skip


_TYPES_BY_KEY = {t.lower(): t for t in SBE_STREAM_TYPES}
#: The stream type of each decoded event's ``e``.
EVENT_STREAM_TYPES = {"trade": "trade", "bestBidAsk": "bestBidAsk", "depthSnapshot": "depth20",
                      "depthUpdate": "depth"}  # fmt: skip


def normalize_sbe_stream(name: str) -> str:
    """An SBE stream name in Binance's spelling (``BNBBTC@bestbidask`` →
    ``bnbbtc@bestBidAsk``); :class:`~binstream.errors.InvalidStreamError` naming the four
    SBE streams otherwise."""
    symbol, _, kind = name.strip().partition("@")
    found = _TYPES_BY_KEY.get(kind.lower())
    if not symbol or found is None:
        raise InvalidStreamError(
            f"invalid SBE stream {name!r}: SBE streams are <symbol>@trade, <symbol>@bestBidAsk,"
            " <symbol>@depth20 and <symbol>@depth"
        )
    return f"{normalize_symbol(symbol)}@{found}"


def event_stream(event: dict[str, Any]) -> str:
    """The stream a decoded event came from (``bnbbtc@depth``): binary frames carry no
    ``{"stream": ...}`` wrapper on a combined connection."""
    return f"{str(event['s']).lower()}@{EVENT_STREAM_TYPES[event['e']]}"


#: The templates of book frames: one event each, with two lists of levels.
BOOK_TEMPLATES = frozenset({DEPTH_SNAPSHOT, DEPTH_DIFF})


def decode_batch(frames: list[Any], wrap: bool, defer_books: bool = False) -> list[Any]:
    """The events of ``frames`` (binary frames), each wrapped as ``{"stream", "data"}`` when
    ``wrap``; :class:`SbeError` for the first frame that is not of the schema.

    ``defer_books`` keeps book frames (depth20 and diff depth, one event each) as they are,
    once checked, for the consumer to decode when it reads them: a decoded book event is
    some forty containers the garbage collector would keep scanning while it waits.
    """
    out: list[Any] = []
    for frame in frames:
        if not isinstance(frame, bytes):
            raise SbeError("a text frame among the binary ones")
        events = decode(frame)
        if defer_books and _HEADER.unpack_from(frame)[1] in BOOK_TEMPLATES:
            out.append(frame)
        elif wrap:
            out += [{"stream": event_stream(event), "data": event} for event in events]
        else:
            out += events
    return out


def streams_of(frames: list[Any]) -> set[str]:
    """The streams whose events ``frames`` carry (``{"bnbbtc@depth"}``), each frame checked
    as :func:`decode` checks it."""
    return {event_stream(event) for event in decode_batch(frames, False)}


def count_events(frames: list[Any]) -> int:
    """How many events ``frames`` hold (a trades frame holds one per trade), each frame
    checked as :func:`decode` checks it."""
    return len(decode_batch(frames, False))


def json_lines(frames: list[Any], wrap: bool) -> bytes:
    """:func:`decode_batch`'s events as JSON lines, as orjson writes them."""
    import orjson

    return b"".join(orjson.dumps(event, option=orjson.OPT_APPEND_NEWLINE)
                    for event in decode_batch(frames, wrap))  # fmt: skip


try:  # the C decoders (built with the package); the same results as the ones above
    from ._sbe import count_events as fast_count_events
    from ._sbe import decode as fast_decode
    from ._sbe import decode_batch as fast_decode_batch
    from ._sbe import json_lines as fast_json_lines
    from ._sbe import streams_of as fast_streams_of

    #: Which decoder :data:`fast_decode` is: ``"c"`` or ``"python"``.
    SBE_DECODER = "c"
except ImportError:  # pragma: no cover - where no C compiler was at hand
    fast_count_events = count_events
    fast_decode = decode
    fast_decode_batch = decode_batch
    fast_json_lines = json_lines
    fast_streams_of = streams_of
    SBE_DECODER = "python"
