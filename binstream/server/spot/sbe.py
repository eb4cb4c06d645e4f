"""The local exchange's SBE streams: the JSON streams' payloads of one step, encoded as
messages of Binance's stream schema 1:0 (see :mod:`binstream.sbe` for the layout).

Served under ``/sbe`` from the same simulated market as the JSON streams (same trades,
same book). Each SBE stream reads the JSON feed that carries its data:

=========================  ===========================  =======================
SBE stream                 JSON feed it encodes         template
=========================  ===========================  =======================
``<symbol>@trade``         ``<symbol>@trade``           10000 (a step's trades)
``<symbol>@bestBidAsk``    ``<symbol>@bookTicker``      10001
``<symbol>@depth20``       ``<symbol>@depth20@100ms``   10002
``<symbol>@depth``         ``<symbol>@depth@100ms``     10003
=========================  ===========================  =======================

Times become microseconds; prices and quantities mantissas with the event's exponent.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from typing import Any

from ...sbe import BEST_BID_ASK, DEPTH_DIFF, DEPTH_SNAPSHOT, SCHEMA_ID, SCHEMA_VERSION, TRADES

#: The JSON feed each SBE stream type encodes.
JSON_FEED = {"trade": "trade", "bestBidAsk": "bookTicker", "depth20": "depth20@100ms",
             "depth": "depth@100ms"}  # fmt: skip

_HEADER = struct.Struct("<HHHH")


def json_feed_name(name: str) -> str | None:
    """The JSON stream whose payloads SBE stream ``name`` encodes; None if not an SBE one."""
    symbol, _, kind = name.partition("@")
    feed = JSON_FEED.get(kind)
    return f"{symbol}@{feed}" if feed else None


def _scale(texts: Iterable[str]) -> int:
    """The exponent every one of ``texts`` (decimal strings) is exact at."""
    return -max((len(t.partition(".")[2]) for t in texts), default=0)


def _mantissa(text: str, exponent: int) -> int:
    whole, _, fraction = text.partition(".")
    sign = -1 if whole.startswith("-") else 1
    digits = whole.lstrip("-") + fraction.ljust(-exponent, "0")
    return sign * int(digits or "0")


def _symbol(symbol: str) -> bytes:
    raw = symbol.encode()
    return bytes([len(raw)]) + raw


def _levels(rows: Sequence[Sequence[str]], pe: int, qe: int) -> bytes:
    out = [struct.pack("<HH", 16, len(rows))]
    out += [struct.pack("<qq", _mantissa(p, pe), _mantissa(q, qe)) for p, q in rows]
    return b"".join(out)


def _message(template: int, root: bytes, body: bytes) -> bytes:
    return _HEADER.pack(len(root), template, SCHEMA_ID, SCHEMA_VERSION) + root + body


def encode(kind: str, symbol: str, payloads: Sequence[dict[str, Any]], now_ms: int) -> list[bytes]:
    """The SBE frames of one step of stream type ``kind`` from its JSON feed's payloads."""
    if not payloads:
        return []
    if kind == "trade":
        pe = _scale(p["p"] for p in payloads)
        qe = _scale(p["q"] for p in payloads)
        first = payloads[0]
        root = struct.pack("<qqbb", first["E"] * 1000, first["T"] * 1000, pe, qe)
        body = [struct.pack("<HI", 25, len(payloads))]
        body += [struct.pack("<qqqB", p["t"], _mantissa(p["p"], pe), _mantissa(p["q"], qe),
                             1 if p["m"] else 0) for p in payloads]  # fmt: skip
        return [_message(TRADES, root, b"".join(body) + _symbol(symbol))]
    frames = []
    for p in payloads:
        if kind == "bestBidAsk":
            pe, qe = _scale((p["b"], p["a"])), _scale((p["B"], p["A"]))
            root = struct.pack("<qqbbqqqq", now_ms * 1000, p["u"], pe, qe, _mantissa(p["b"], pe),
                               _mantissa(p["B"], qe), _mantissa(p["a"], pe),
                               _mantissa(p["A"], qe))  # fmt: skip
            frames.append(_message(BEST_BID_ASK, root, _symbol(symbol)))
            continue
        bids, asks = (p["bids"], p["asks"]) if kind == "depth20" else (p["b"], p["a"])
        pe = _scale(row[0] for row in (*bids, *asks))
        qe = _scale(row[1] for row in (*bids, *asks))
        if kind == "depth20":
            root = struct.pack("<qqbb", now_ms * 1000, p["lastUpdateId"], pe, qe)
            template = DEPTH_SNAPSHOT
        else:
            root = struct.pack("<qqqbb", p["E"] * 1000, p["U"], p["u"], pe, qe)
            template = DEPTH_DIFF
        levels = _levels(bids, pe, qe) + _levels(asks, pe, qe)
        frames.append(_message(template, root, levels + _symbol(symbol)))
    return frames
