"""A local order book kept correct by Binance's procedure. Pure: no I/O, no asyncio.

The procedure (Binance spot docs, "How to manage a local order book correctly"):

1. buffer diff-depth events from ``<symbol>@depth[@100ms]``;
2. take a REST snapshot (``GET /api/v3/depth``); if its ``lastUpdateId`` is below the first
   buffered event's ``U``, take another;
3. drop buffered events with ``u <= lastUpdateId``; the first one left must have
   ``U <= lastUpdateId + 1 <= u``;
4. apply events in order: an event with ``u <= local id`` is old (ignored), one with
   ``U > local id + 1`` means events were missed: start again from a new snapshot;
5. a quantity of ``"0"`` removes the level.

Prices and quantities stay exact: keys are :class:`~decimal.Decimal`, values keep Binance's
own strings. A sorted dict makes an update O(changed levels · log N)::

    >>> book = OrderBook()
    >>> book.feed({"U": 11, "u": 12, "b": [["1.0", "5"]], "a": []})
    <Action.NEED_SNAPSHOT: 'need_snapshot'>
    >>> book.apply_snapshot({"lastUpdateId": 10, "bids": [["0.9", "1"]], "asks": [["1.1", "2"]]})
    <Action.LIVE: 'live'>
    >>> book.top(1)["bids"]
    [['1.0', '5']]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from sortedcontainers import SortedDict

ZERO = Decimal(0)


class Action(StrEnum):
    """What the caller should do after feeding the book."""

    NEED_SNAPSHOT = "need_snapshot"  # fetch a REST snapshot and call apply_snapshot
    BUFFERED = "buffered"  # waiting for a snapshot; nothing to show yet
    LIVE = "live"  # the snapshot was applied; the book is valid
    APPLIED = "applied"  # the event changed the book; show it
    IGNORED = "ignored"  # an old or duplicate event; nothing changed
    RESYNC = "resync"  # a gap: the book was reset, fetch a new snapshot


class BookError(ValueError):
    """A malformed snapshot or event (missing ids, bad numbers)."""


def _levels(raw: Any, what: str) -> list[tuple[Decimal, str, str]]:
    try:
        return [(Decimal(price), str(price), str(qty)) for price, qty in raw]
    except (InvalidOperation, TypeError, ValueError) as exc:
        raise BookError(f"malformed {what} levels: {exc}") from None


def _snapshot_id(snapshot: Mapping[str, Any]) -> int:
    try:
        return int(snapshot["lastUpdateId"])
    except (KeyError, TypeError, ValueError):
        raise BookError("snapshot without an integer lastUpdateId") from None


class OrderBook:
    """The local book for one symbol, fed with diff events and REST snapshots."""

    def __init__(self, max_buffer: int = 10_000) -> None:
        self.bids: SortedDict = SortedDict()  # Decimal price -> (price str, qty str)
        self.asks: SortedDict = SortedDict()
        self.last_update_id: int | None = None
        self.buffer: list[Mapping[str, Any]] = []
        self.max_buffer = max_buffer
        self.resyncs = 0

    @property
    def live(self) -> bool:
        """True once a snapshot was applied and no gap was seen since."""
        return self.last_update_id is not None

    def reset(self) -> None:
        """Forget everything (e.g. the connection dropped: events were missed)."""
        self.bids.clear()
        self.asks.clear()
        self.last_update_id = None
        self.buffer.clear()

    # -- events --------------------------------------------------------------------------

    def feed(self, event: Mapping[str, Any]) -> Action:
        """Process one diff-depth event (``{"U", "u", "b", "a", ...}``)."""
        try:
            first, last = int(event["U"]), int(event["u"])
        except (KeyError, TypeError, ValueError):
            raise BookError("diff event without integer U and u") from None
        if self.last_update_id is None:
            if len(self.buffer) >= self.max_buffer:
                self.buffer.pop(0)
            self.buffer.append(event)
            return Action.NEED_SNAPSHOT if len(self.buffer) == 1 else Action.BUFFERED
        if last <= self.last_update_id:
            return Action.IGNORED
        if first > self.last_update_id + 1:
            self._gap(event)
            return Action.RESYNC
        self._apply(event)
        self.last_update_id = last
        return Action.APPLIED

    def _gap(self, event: Mapping[str, Any]) -> None:
        self.resyncs += 1
        self.reset()
        self.buffer.append(event)

    def _apply(self, event: Mapping[str, Any]) -> None:
        self._update(self.bids, _levels(event.get("b", ()), "bid"))
        self._update(self.asks, _levels(event.get("a", ()), "ask"))

    @staticmethod
    def _update(side: SortedDict, levels: Iterable[tuple[Decimal, str, str]]) -> None:
        for key, price, qty in levels:
            if Decimal(qty) == ZERO:
                side.pop(key, None)
            else:
                side[key] = (price, qty)

    # -- snapshots -----------------------------------------------------------------------

    def apply_snapshot(self, snapshot: Mapping[str, Any]) -> Action:
        """Start from a REST snapshot; returns LIVE, or NEED_SNAPSHOT when it is too old."""
        snapshot_id = _snapshot_id(snapshot)
        if self.buffer and snapshot_id < int(self.buffer[0]["U"]):
            return Action.NEED_SNAPSHOT  # older than what we hold: events in between are lost
        pending = [e for e in self.buffer if int(e["u"]) > snapshot_id]
        if pending and int(pending[0]["U"]) > snapshot_id + 1:
            self.buffer = pending
            self.resyncs += 1
            return Action.NEED_SNAPSHOT
        self._load(snapshot, snapshot_id)
        for event in pending:
            if self.feed(event) is Action.RESYNC:
                return Action.NEED_SNAPSHOT
        return Action.LIVE

    def _load(self, snapshot: Mapping[str, Any], snapshot_id: int) -> None:
        """Replace the book with ``snapshot``'s levels; the buffer has been dealt with."""
        self.bids.clear()
        self.asks.clear()
        self._update(self.bids, _levels(snapshot.get("bids", ()), "bid"))
        self._update(self.asks, _levels(snapshot.get("asks", ()), "ask"))
        self.last_update_id = snapshot_id
        self.buffer = []

    # -- views ---------------------------------------------------------------------------

    def top(self, levels: int) -> dict[str, Any]:
        """The best ``levels`` on each side, best first, as Binance-style strings."""
        bids = [list(self.bids.peekitem(-1 - i)[1]) for i in range(min(levels, len(self.bids)))]
        asks = [list(self.asks.peekitem(i)[1]) for i in range(min(levels, len(self.asks)))]
        return {"lastUpdateId": self.last_update_id, "bids": bids, "asks": asks}

    def best_bid(self) -> tuple[Decimal, Decimal] | None:
        if not self.bids:
            return None
        key, (_, qty) = self.bids.peekitem(-1)
        return key, Decimal(qty)

    def best_ask(self) -> tuple[Decimal, Decimal] | None:
        if not self.asks:
            return None
        key, (_, qty) = self.asks.peekitem(0)
        return key, Decimal(qty)


class FuturesOrderBook(OrderBook):
    """The local book of a futures contract, kept by Binance's futures procedure.

    Futures update ids skip, so events chain through ``pu`` (the previous event's ``u``)
    rather than ``U``; the steps (Binance USD-M docs, "How to manage a local order book
    correctly"): buffer events; take a snapshot (``/fapi/v1/depth``); drop events with
    ``u < lastUpdateId``; the first applied event has ``U <= lastUpdateId <= u``; every
    later event's ``pu`` equals the previous event's ``u``, else start again::

        >>> book = FuturesOrderBook()
        >>> book.feed({"U": 5, "u": 9, "pu": 3, "b": [["1.0", "5"]], "a": []})
        <Action.NEED_SNAPSHOT: 'need_snapshot'>
        >>> book.apply_snapshot({"lastUpdateId": 7, "bids": [], "asks": [["1.1", "2"]]})
        <Action.LIVE: 'live'>
        >>> book.feed({"U": 12, "u": 14, "pu": 9, "b": [], "a": []})
        <Action.APPLIED: 'applied'>
        >>> book.feed({"U": 20, "u": 22, "pu": 17, "b": [], "a": []})
        <Action.RESYNC: 'resync'>
    """

    def __init__(self, max_buffer: int = 10_000) -> None:
        super().__init__(max_buffer)
        #: ``u`` of the last applied event; None right after a snapshot.
        self.previous_u: int | None = None

    def reset(self) -> None:
        super().reset()
        self.previous_u = None

    def feed(self, event: Mapping[str, Any]) -> Action:
        """Process one diff-depth event (``{"U", "u", "pu", "b", "a", ...}``)."""
        try:
            first, last = int(event["U"]), int(event["u"])
            previous = int(event["pu"])
        except (KeyError, TypeError, ValueError):
            raise BookError("futures diff event without integer U, u and pu") from None
        if self.last_update_id is None:
            if len(self.buffer) >= self.max_buffer:
                self.buffer.pop(0)
            self.buffer.append(event)
            return Action.NEED_SNAPSHOT if len(self.buffer) == 1 else Action.BUFFERED
        if self.previous_u is None:  # the first event after the snapshot
            if last < self.last_update_id:
                return Action.IGNORED
            if not (first <= self.last_update_id or previous == self.last_update_id):
                self._gap(event)
                return Action.RESYNC
        elif previous != self.previous_u:
            if last <= self.previous_u:
                return Action.IGNORED  # a repeat of what was applied
            self._gap(event)
            return Action.RESYNC
        self._apply(event)
        self.last_update_id = self.previous_u = last
        return Action.APPLIED

    def apply_snapshot(self, snapshot: Mapping[str, Any]) -> Action:
        """Start from a REST snapshot; NEED_SNAPSHOT when it is older than what is buffered."""
        snapshot_id = _snapshot_id(snapshot)
        pending = [e for e in self.buffer if int(e["u"]) >= snapshot_id]
        if pending:
            head = pending[0]
            if int(head["U"]) > snapshot_id and int(head["pu"]) != snapshot_id:
                self.buffer = pending
                return Action.NEED_SNAPSHOT  # events between the snapshot and them are lost
        self._load(snapshot, snapshot_id)
        self.previous_u = None
        for event in pending:
            if self.feed(event) is Action.RESYNC:
                return Action.NEED_SNAPSHOT
        return Action.LIVE


def compare(
    local: Mapping[str, Sequence[Sequence[str]]], reference: Mapping[str, Sequence[Sequence[str]]]
) -> list[str]:
    """Differences between two top-of-book views, as readable lines (empty when equal).

    Only the depth both views cover is compared; numbers are compared as decimals.
    """
    problems = []
    for side in ("bids", "asks"):
        ours, theirs = local[side], reference[side]
        depth = min(len(ours), len(theirs))
        for index in range(depth):
            a = (Decimal(ours[index][0]), Decimal(ours[index][1]))
            b = (Decimal(theirs[index][0]), Decimal(theirs[index][1]))
            if a != b:
                problems.append(
                    f"{side}[{index}]: local {ours[index][0]} x {ours[index][1]}, "
                    f"exchange {theirs[index][0]} x {theirs[index][1]}"
                )
                break
    return problems
