"""The futures local order book: Binance's futures procedure as a pure state machine,
and the book socket against the local exchange's true book through gaps and drops."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from binstream import BinanceSocketManager, FuturesType
from binstream.book import Action, BookError, FuturesOrderBook, OrderBook, compare
from binstream.server import Faults, LocalExchange
from binstream.venues import Market

from ..conftest import FAST

# -- the procedure, pure ------------------------------------------------------------------


def test_events_chain_through_pu_not_u_plus_one() -> None:
    book = FuturesOrderBook()
    assert book.feed({"U": 5, "u": 9, "pu": 3, "b": [["1.0", "5"]], "a": []}) is (
        Action.NEED_SNAPSHOT
    )
    assert book.feed({"U": 12, "u": 15, "pu": 9, "b": [["1.0", "6"]], "a": []}) is Action.BUFFERED
    # The snapshot falls inside the first event: it is applied, then the second chains.
    assert book.apply_snapshot({"lastUpdateId": 7, "bids": [["0.9", "1"]], "asks": []}) is (
        Action.LIVE
    )
    assert book.top(2)["bids"] == [["1.0", "6"], ["0.9", "1"]]
    # ids skip (U is not previous u + 1): the spot rule would call this a gap; pu says not.
    assert book.feed({"U": 20, "u": 22, "pu": 15, "b": [], "a": []}) is Action.APPLIED
    assert book.feed({"U": 20, "u": 22, "pu": 15, "b": [], "a": []}) is Action.IGNORED
    assert book.feed({"U": 30, "u": 31, "pu": 27, "b": [], "a": []}) is Action.RESYNC
    assert not book.live and book.resyncs == 1
    spot = OrderBook()
    spot.apply_snapshot({"lastUpdateId": 15, "bids": [], "asks": []})
    assert spot.feed({"U": 20, "u": 22, "b": [], "a": []}) is Action.RESYNC


def test_a_snapshot_older_than_the_buffer_asks_for_another() -> None:
    book = FuturesOrderBook()
    book.feed({"U": 50, "u": 55, "pu": 45, "b": [], "a": []})
    assert book.apply_snapshot({"lastUpdateId": 40, "bids": [], "asks": []}) is (
        Action.NEED_SNAPSHOT
    )
    assert book.apply_snapshot({"lastUpdateId": 45, "bids": [], "asks": []}) is Action.LIVE
    assert book.last_update_id == 55
    with pytest.raises(BookError, match="pu"):
        book.feed({"U": 1, "u": 2})


@hs.composite
def market_runs(draw: Any) -> list[dict[str, Any]]:
    """Consecutive events of a true book: each changes a few levels, ids skip."""
    events, update_id = [], 100
    for _ in range(draw(hs.integers(5, 60))):
        changes = draw(hs.dictionaries(hs.integers(1, 12), hs.integers(0, 3), min_size=1))
        first = update_id + draw(hs.integers(1, 4))
        last = first + draw(hs.integers(0, 5))
        events.append({"U": first, "u": last, "pu": update_id,
                       "b": [[f"{p}.0", str(q)] for p, q in changes.items()], "a": [],
                       "drop": draw(hs.integers(0, 9)) == 0,
                       "snapshot_after": draw(hs.integers(0, 3))})  # fmt: skip
        update_id = last
    return events


@settings(max_examples=60, deadline=None)
@given(market_runs())
def test_the_book_equals_the_truth_whatever_is_lost(events: list[dict[str, Any]]) -> None:
    truth: dict[str, str] = {}
    truths = {100: {}}
    for event in events:
        for price, qty in event["b"]:
            if qty == "0":
                truth.pop(price, None)
            else:
                truth[price] = qty
        truths[event["u"]] = dict(truth)
    book = FuturesOrderBook()
    wanted_at: int | None = None  # index after which the driver takes its snapshot
    for index, event in enumerate(events):
        if not event["drop"]:
            action = book.feed(event)
            if action in (Action.NEED_SNAPSHOT, Action.RESYNC) and wanted_at is None:
                wanted_at = index + event["snapshot_after"]
        if wanted_at is not None and index >= wanted_at:
            snapshot_id = event["u"]
            bids = [[p, q] for p, q in truths[snapshot_id].items()]
            result = book.apply_snapshot({"lastUpdateId": snapshot_id, "bids": bids, "asks": []})
            wanted_at = None if result is Action.LIVE else index + 1
        if book.live:
            expected = truths[book.last_update_id]
            view = book.top(50)["bids"]
            assert {p: q for p, q in view} == expected


# -- the book socket against the exchange's true book -----------------------------------


@pytest.fixture
async def book_exchange() -> Any:
    async with LocalExchange(interval=FAST, seed=5, book_history=5000) as ex:
        yield ex


@pytest.mark.usefixtures("transport")
# COIN-M differs from USD-M in its venue only, not in the transport: one run of it.
@pytest.mark.parametrize(
    "market", [Market.USDM, pytest.param(Market.COINM, marks=pytest.mark.transport_independent)]
)
async def test_futures_book_matches_the_exchange_through_drops_and_gaps(
    book_exchange: LocalExchange, market: Market
) -> None:
    book_exchange.faults = Faults(gap_every=5, drop_after=40, drop_close_frame=False)
    bm = BinanceSocketManager(endpoint=book_exchange.url, user_timeout=5, backoff_base=0.02)
    symbol = "BTCUSDT" if market is Market.USDM else "BTCUSD_PERP"
    futures_type = FuturesType.USD_M if market is Market.USDM else FuturesType.COIN_M
    views, errors = [], []
    async with bm.book_socket(symbol.lower(), levels=10, futures_type=futures_type) as book:
        assert isinstance(book.book, FuturesOrderBook)
        assert book.socket.urls[0].endswith("@depth@100ms")
        while len(views) < 60:
            message = await book.recv()
            (errors if message["e"] == "error" else views).append(message)
        assert book.book.resyncs >= 3
    assert any(e["type"] == "BinanceWebsocketClosed" for e in errors)
    history = book_exchange.venues[market].books[symbol]
    checked = 0
    for view in views:
        truth = history.get(view["lastUpdateId"])
        if truth is not None:
            assert compare(view, {"bids": truth["bids"][:10], "asks": truth["asks"][:10]}) == []
            checked += 1
    assert checked >= len(views) // 2
    ids = [v["lastUpdateId"] for v in views]
    assert ids == sorted(ids)
