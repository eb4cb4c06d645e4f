"""A local order book rebuilt from a recording alone. Pure: no I/O but what it is handed.

A recording of a diff-depth stream made with snapshots (``binstream record``, the
default) holds the stream's events and, at the start and after every gap, the REST
snapshot the recorder fetched. Fed in file order through the same procedure a live book
follows (:class:`~binstream.book.OrderBook`, or :class:`~binstream.book.FuturesOrderBook`
for a futures recording), they give the book the live one had after each event.

:func:`rebuild_book` yields a view after every applied event, shaped as ``binstream book``
prints it live (``{"e": "book", "s", "E", "lastUpdateId", "bids", "asks"}``), and passes
the recording's gaps and notices through.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import orjson

from .book import Action, FuturesOrderBook, OrderBook
from .continuity import is_diff_depth
from .recording import Entry, Header


class NoBookStreamError(ValueError):
    """The recording holds no diff-depth stream of the symbol asked for."""


@dataclass
class BookReplay:
    """The rebuilt book's stream, and how many of its snapshots the recording held."""

    stream: str
    symbol: str
    snapshots: int = 0


def book_stream(header: Header, symbol: str) -> str:
    """The diff-depth stream of ``symbol`` in a recording; :class:`NoBookStreamError` names
    the streams it has otherwise."""
    wanted = symbol.lower()
    for name in header.streams:
        if is_diff_depth(name) and name.split("@", 1)[0].lower() == wanted:
            return name
    have = ", ".join(header.streams) or "none"
    raise NoBookStreamError(
        f"the recording has no diff-depth stream of {symbol.upper()} (its streams: {have}); "
        f"record {symbol.lower()}@depth@100ms (or {symbol.lower()}@depth with --sbe) to "
        "rebuild a book"
    )


def rebuild_book(
    header: Header, entries: Iterable[Entry], symbol: str, levels: int, state: BookReplay
) -> Iterator[Entry]:
    """Entries of book views (``frame`` is the view's JSON), with the recording's gaps and
    notices passed through, for ``symbol`` rebuilt from ``entries``."""
    futures = header.market in ("usdm", "coinm")
    book = FuturesOrderBook() if futures else OrderBook()
    stream = state.stream
    name = symbol.upper()
    for entry in entries:
        if entry.notice is not None:
            yield entry
            continue
        if entry.gap is not None:
            if entry.stream in (None, stream):
                book.reset()  # events were missed: wait for the snapshot taken after it
                yield entry
            continue
        if entry.snapshot:
            if entry.stream == stream:
                state.snapshots += 1
                book.apply_snapshot(entry.decoded())
            continue
        try:  # a JSON frame, or an SBE frame's events
            messages = entry.messages()
        except ValueError:  # an SBE frame not of the schema: skipped, as a live socket does
            continue
        for message in messages:
            if header.combined:
                if not isinstance(message, dict) or message.get("stream") != stream:
                    continue
                event = message.get("data")
            else:
                event = message
            if not isinstance(event, dict) or event.get("e") != "depthUpdate":
                continue
            if book.feed(event) is Action.APPLIED:
                view = {"e": "book", "s": name, "E": event.get("E"), **book.top(levels)}
                yield Entry(entry.time_ms, frame=orjson.dumps(view).decode(), line=entry.line,
                            _decoded=view)  # fmt: skip
