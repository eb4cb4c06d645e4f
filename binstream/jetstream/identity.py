"""Deterministic ``Nats-Msg-Id`` values: the same Binance event gets the same id on every
publisher, so JetStream's duplicate window keeps it once.

The id is ``<subject>:<key>``, the key built from what identifies the event in Binance's
data:

=====================================================  =======================================
event                                                  key
=====================================================  =======================================
``trade`` (spot, futures, options)                     ``t<trade id>``
``aggTrade``                                           ``a<aggregate trade id>``
``depthUpdate`` (diffs; futures partials)              ``u<first update id>-<last update id>``
spot partial depth (``lastUpdateId``)                  ``L<lastUpdateId>``
``bookTicker``, SBE ``bestBidAsk``, options ``depth``  ``u<update id>``
``forceOrder``                                         ``f<symbol>:<trade time>:<event time>``
arrays (``!ticker@arr``, ``!markPrice@arr``)           ``E<latest event time>:<n elements>``
everything else with an event time ``E``               ``E<event time>``
anything without one of these                          ``h<blake2b of the payload bytes>``
=====================================================  =======================================

Keys keyed by event time rely on Binance pushing a stream at most once per millisecond
(tickers, klines and mark prices push every 250 ms to 3 s).

Example::

    >>> message_id("binance.spot.bnbbtc.trade", {"e": "trade", "E": 1, "t": 42}, b"")
    'binance.spot.bnbbtc.trade:t42'
    >>> message_id("binance.spot.bnbbtc.depth_100ms", {"e": "depthUpdate", "U": 5, "u": 9}, b"")
    'binance.spot.bnbbtc.depth_100ms:u5-9'
    >>> message_id("binance.spot.bnbbtc.depth5", {"lastUpdateId": 77, "bids": []}, b"")
    'binance.spot.bnbbtc.depth5:L77'
"""

from __future__ import annotations

import hashlib
from typing import Any


def _event_key(payload: dict[str, Any]) -> str | None:
    event = payload.get("e")
    if event == "aggTrade" and "a" in payload:
        return f"a{payload['a']}"
    if event == "trade" and "t" in payload:
        return f"t{payload['t']}"
    if "U" in payload and "u" in payload:
        return f"u{payload['U']}-{payload['u']}"
    if "lastUpdateId" in payload:
        return f"L{payload['lastUpdateId']}"
    if "u" in payload and (event in (None, "bookTicker", "bestBidAsk", "depth")):
        return f"u{payload['u']}"
    if event == "forceOrder" and isinstance(payload.get("o"), dict):
        order = payload["o"]
        return f"f{order.get('s')}:{order.get('T')}:{payload.get('E')}"
    if "E" in payload:
        return f"E{payload['E']}"
    return None


def message_key(payload: Any, data: bytes) -> str:
    """The part of the id that names the event within its subject (see the table above)."""
    key: str | None = None
    if isinstance(payload, dict):
        key = _event_key(payload)
    elif isinstance(payload, list) and payload and all(isinstance(p, dict) for p in payload):
        times = [p["E"] for p in payload if isinstance(p.get("E"), int)]
        if times:
            key = f"E{max(times)}:{len(payload)}"
    if key is None:
        key = "h" + hashlib.blake2b(data, digest_size=12).hexdigest()
    return key


def message_id(subject: str, payload: Any, data: bytes) -> str:
    """The ``Nats-Msg-Id`` of one message: ``<subject>:<key>``."""
    return f"{subject}:{message_key(payload, data)}"
