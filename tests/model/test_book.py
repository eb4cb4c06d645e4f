"""The local order book: a pure state machine checked against a reference model, and the
driver checked against the exchange's true book while connections drop and events go missing.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from binstream import BinanceSocketManager
from binstream.book import Action, BookError, OrderBook, compare
from binstream.server import Faults, LocalExchange

from ..conftest import FAST, check_views, run_cli

pytestmark = pytest.mark.usefixtures("transport")  # every test runs on each transport

Book = dict[Decimal, Decimal]


def price(ticks: int) -> str:
    return f"{Decimal(ticks) / 100:.2f}"


@hs.composite
def histories(draw: Any) -> tuple[tuple[Book, Book], list[dict[str, Any]], int]:
    """A true sequence: initial book at id 100, then contiguous diff events."""
    bids: Book = {}
    asks: Book = {}
    for ticks in draw(hs.sets(hs.integers(1, 50), min_size=1, max_size=10)):
        bids[Decimal(price(ticks))] = Decimal(draw(hs.integers(1, 9)))
    for ticks in draw(hs.sets(hs.integers(51, 100), min_size=1, max_size=10)):
        asks[Decimal(price(ticks))] = Decimal(draw(hs.integers(1, 9)))
    events = []
    last = 100
    for _ in range(draw(hs.integers(1, 25))):
        size = draw(hs.integers(1, 4))
        changes_b = [[price(draw(hs.integers(1, 50))), str(draw(hs.integers(0, 9)))]
                     for _ in range(draw(hs.integers(0, 3)))]  # fmt: skip
        changes_a = [[price(draw(hs.integers(51, 100))), str(draw(hs.integers(0, 9)))]
                      for _ in range(draw(hs.integers(0, 3)))]  # fmt: skip
        events.append({"e": "depthUpdate", "U": last + 1, "u": last + size, "b": changes_b,
                       "a": changes_a})  # fmt: skip
        last += size
    start = draw(hs.integers(0, len(events) - 1))  # the client connects before event `start`
    return (bids, asks), events, start


def apply(book: tuple[Book, Book], event: dict[str, Any]) -> tuple[Book, Book]:
    bids, asks = dict(book[0]), dict(book[1])
    for side, changes in ((bids, event["b"]), (asks, event["a"])):
        for p, q in changes:
            if Decimal(q) == 0:
                side.pop(Decimal(p), None)
            else:
                side[Decimal(p)] = Decimal(q)
    return bids, asks


def snapshot(book: tuple[Book, Book], update_id: int) -> dict[str, Any]:
    return {
        "lastUpdateId": update_id,
        "bids": [[str(p), str(q)] for p, q in sorted(book[0].items(), reverse=True)],
        "asks": [[str(p), str(q)] for p, q in sorted(book[1].items())],
    }


def machine_book(machine: OrderBook) -> tuple[Book, Book]:
    view = machine.top(10_000)
    return (
        {Decimal(p): Decimal(q) for p, q in view["bids"]},
        {Decimal(p): Decimal(q) for p, q in view["asks"]},
    )


# The book procedure sits above the transport (drops are tested on each in test_reconnect).
@pytest.mark.transport_independent
@settings(max_examples=300, deadline=None)
@given(
    histories(),
    hs.lists(
        hs.tuples(hs.sampled_from(["drop", "duplicate", "swap"]), hs.integers(0, 30)), max_size=4
    ),
    hs.booleans(),
)
def test_book_is_never_silently_wrong(
    history: tuple[tuple[Book, Book], list[dict[str, Any]], int],
    perturbations: list[tuple[str, int]],
    stale_first_snapshot: bool,
) -> None:
    initial, events, start = history
    truth: dict[int, tuple[Book, Book]] = {100: initial}
    state = initial
    for event in events:
        state = apply(state, event)
        truth[event["u"]] = state
    delivered = list(events[start:])
    for kind, index in perturbations:
        if not delivered:
            break
        index %= len(delivered)
        if kind == "drop":
            delivered.pop(index)
        elif kind == "duplicate":
            delivered.insert(index, delivered[index])
        elif index + 1 < len(delivered):
            delivered[index], delivered[index + 1] = delivered[index + 1], delivered[index]
    machine = OrderBook()
    newest = 100 if start == 0 else events[start - 1]["u"]
    offered_stale = False
    for event in delivered:
        newest = max(newest, event["u"])
        action = machine.feed(event)
        while action in (Action.NEED_SNAPSHOT, Action.RESYNC) and not machine.live:
            if stale_first_snapshot and not offered_stale and machine.buffer[0]["U"] > 100:
                offered_stale = True
                action = machine.apply_snapshot(snapshot(initial, 100))
                assert action is Action.NEED_SNAPSHOT  # older than the buffered events
                continue
            action = machine.apply_snapshot(snapshot(truth[newest], newest))
        if machine.live:
            assert machine.last_update_id in truth
            assert machine_book(machine) == truth[machine.last_update_id]
    if not perturbations and delivered:
        assert machine.live and machine.last_update_id == events[-1]["u"]


def test_zero_quantity_removes_and_strings_are_kept() -> None:
    book = OrderBook()
    book.feed({"U": 11, "u": 12, "b": [["1.50", "0"]], "a": []})
    assert book.apply_snapshot({"lastUpdateId": 11, "bids": [["1.50", "2.000"], ["1.40", "1"]],
                                "asks": [["1.60", "3"]]}) is Action.LIVE  # fmt: skip
    assert book.top(5) == {"lastUpdateId": 12, "bids": [["1.40", "1"]], "asks": [["1.60", "3"]]}
    assert book.feed({"U": 13, "u": 13, "b": [["1.55", "0.10000000"]], "a": []}) is Action.APPLIED
    assert book.best_bid() == (Decimal("1.55"), Decimal("0.1"))


def test_malformed_input_is_a_clear_error() -> None:
    with pytest.raises(BookError, match="U and u"):
        OrderBook().feed({"b": []})
    with pytest.raises(BookError, match="lastUpdateId"):
        OrderBook().apply_snapshot({"bids": []})
    book = OrderBook()
    book.apply_snapshot({"lastUpdateId": 1, "bids": [], "asks": []})
    with pytest.raises(BookError, match="malformed bid"):
        book.feed({"U": 2, "u": 2, "b": [["x", "1"]], "a": []})


def test_compare_reports_the_first_difference() -> None:
    a = {"bids": [["1.0", "1"]], "asks": [["2.0", "1"]]}
    assert compare(a, {"bids": [["1.00", "1.0"]], "asks": [["2", "1"]]}) == []
    assert compare(a, {"bids": [["1.0", "2"]], "asks": [["2.0", "1"]]}) == [
        "bids[0]: local 1.0 x 1, exchange 1.0 x 2"
    ]


@pytest.fixture
async def book_exchange() -> Any:
    async with LocalExchange(interval=FAST, seed=5, book_history=5000) as ex:
        yield ex


# The book procedure sits above the transport (drops are tested on each in test_reconnect).
@pytest.mark.transport_independent
async def test_book_socket_matches_the_exchange_through_drops_and_gaps(
    book_exchange: LocalExchange,
) -> None:
    book_exchange.faults = Faults(gap_every=7, drop_after=60, drop_close_frame=False)
    bm = BinanceSocketManager(endpoint=book_exchange.url, user_timeout=5, backoff_base=0.02)
    views = []
    errors = []
    async with bm.book_socket("bnbbtc", levels=10) as book:
        while len(views) < 150:
            message = await book.recv()
            (errors if message["e"] == "error" else views).append(message)
        assert book.book.resyncs >= 3
    assert any(e["type"] == "BinanceWebsocketClosed" for e in errors)
    ids = [v["lastUpdateId"] for v in views]
    assert check_views(book_exchange, views, 10) == len(views)
    assert ids == sorted(ids)


# The book procedure sits above the transport (drops are tested on each in test_reconnect).
@pytest.mark.transport_independent
async def test_book_check_mode_finds_no_divergence(book_exchange: LocalExchange) -> None:
    bm = BinanceSocketManager(endpoint=book_exchange.url, user_timeout=5)
    async with bm.book_socket("bnbbtc", levels=5, check_interval=0.05) as book:
        for _ in range(120):
            message = await book.recv()
            assert message["e"] == "book", message
        assert book.checks >= 2 and book.divergences == 0


# The CLI over the book socket: the book procedure is tested on both transports above.
@pytest.mark.transport_independent
async def test_cli_book_json_matches_the_exchange(book_exchange: LocalExchange) -> None:
    book_exchange.faults = Faults(gap_every=5, drop_after=40)
    result = await run_cli("book", "bnbbtc", "--endpoint", book_exchange.url, "--json",
                           "-n", "80", "--levels", "5")  # fmt: skip
    assert result.code == 0, result.stderr
    views = [json.loads(line) for line in result.lines]
    assert len(views) == 80 and all(len(v["bids"]) == 5 for v in views)
    assert check_views(book_exchange, views, 5) == 80
    assert "connection closed by server (code 1011" in result.stderr  # the drop, said


async def test_cli_book_unknown_symbol_exits_2(book_exchange: LocalExchange) -> None:
    result = await run_cli("book", "bnbbtx", "--endpoint", book_exchange.url, "--json")
    assert result.code == 2
    assert result.stderr.startswith(
        "binstream: error: unknown symbol BNBBTX on spot (did you mean BNBBTC"
    )
    assert result.stderr.count("\n") == 1
    # Without the check, the REST snapshot is what refuses it.
    result = await run_cli("book", "nosuch", "--endpoint", book_exchange.url, "--json",
                           "--no-symbol-check")  # fmt: skip
    assert result.code == 1
    assert "Invalid symbol. (-1121)" in result.stderr and "Traceback" not in result.stderr


async def test_cli_book_table(book_exchange: LocalExchange) -> None:
    result = await run_cli("book", "bnbbtc", "--endpoint", book_exchange.url, "-f", "table",
                           "-n", "5", "--levels", "3")  # fmt: skip
    assert result.code == 0 and "spread" in result.stdout and "bid total" in result.stdout
