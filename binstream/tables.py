"""Recordings as normalised tables: one row per trade, per book level change, per kline...

Pure: no I/O. :class:`TableBuilder` takes a recording's entries and fills columns, table by
table; a writer (:mod:`binstream.export`) takes the columns away in batches
(:meth:`TableBuilder.take`) and stores them as Parquet or CSV.

Every row has ``market``, ``symbol``, ``stream``, the local ``receive_time`` and the
exchange's ``event_time`` (None where Binance sends none). Prices and quantities stay the
decimal strings Binance sent (column kind ``decimal``): a writer turns them into exact
decimals, never floats. Times are kept as Binance sends them, milliseconds since the epoch
(``time_ms``), and the receive time in microseconds (``time_us``). SBE recordings' events
carry microseconds (:mod:`binstream.sbe`): their tables' kinds are ``columns(table,
micro=True)``, every time in microseconds.

Tables: ``trades``, ``agg_trades``, ``book_tickers``, ``depth_updates`` (one row per level
change), ``depth_snapshots`` (the REST snapshots a recording holds, one row per level),
``book_snapshots`` (partial depth streams, one row per level), ``klines``, ``tickers``,
``mini_tickers``, ``avg_prices``, ``mark_prices``, ``liquidations``, ``gaps`` (where
messages are missing, with the update ids a diff-depth stream skipped), and
``other_events`` (any other payload, as JSON text, so nothing recorded is left out).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

import orjson

from .continuity import is_diff_depth
from .recording import Entry, Header
from .sbe import event_stream

#: Column kinds: text, whole numbers, flags, exact decimals (as Binance's strings), times.
KINDS = ("str", "int", "bool", "decimal", "time_ms", "time_us")

_COMMON = {
    "market": "str",
    "symbol": "str",
    "stream": "str",
    "receive_time": "time_us",
    "event_time": "time_ms",
}

#: Every table's columns and their kinds, after the common ones.
TABLES: dict[str, dict[str, str]] = {
    "trades": {"trade_id": "int", "price": "decimal", "quantity": "decimal",
               "buyer_is_maker": "bool", "trade_time": "time_ms"},
    "agg_trades": {"agg_trade_id": "int", "price": "decimal", "quantity": "decimal",
                   "first_trade_id": "int", "last_trade_id": "int", "buyer_is_maker": "bool",
                   "trade_time": "time_ms"},
    "book_tickers": {"update_id": "int", "bid_price": "decimal", "bid_quantity": "decimal",
                     "ask_price": "decimal", "ask_quantity": "decimal",
                     "transaction_time": "time_ms"},
    "depth_updates": {"transaction_time": "time_ms", "first_update_id": "int",
                      "last_update_id": "int", "previous_update_id": "int", "side": "str",
                      "price": "decimal", "quantity": "decimal"},
    "depth_snapshots": {"last_update_id": "int", "side": "str", "level": "int",
                        "price": "decimal", "quantity": "decimal"},
    "book_snapshots": {"last_update_id": "int", "side": "str", "level": "int",
                       "price": "decimal", "quantity": "decimal"},
    "klines": {"interval": "str", "open_time": "time_ms", "close_time": "time_ms",
               "first_trade_id": "int", "last_trade_id": "int", "open": "decimal",
               "high": "decimal", "low": "decimal", "close": "decimal", "volume": "decimal",
               "quote_volume": "decimal", "trades": "int", "is_closed": "bool",
               "taker_buy_volume": "decimal", "taker_buy_quote_volume": "decimal"},
    "tickers": {"window": "str", "price_change": "decimal", "price_change_percent": "decimal",
                "weighted_average_price": "decimal", "last_price": "decimal",
                "last_quantity": "decimal", "open_price": "decimal", "high_price": "decimal",
                "low_price": "decimal", "volume": "decimal", "quote_volume": "decimal",
                "open_time": "time_ms", "close_time": "time_ms", "first_trade_id": "int",
                "last_trade_id": "int", "trades": "int"},
    "mini_tickers": {"close": "decimal", "open": "decimal", "high": "decimal",
                     "low": "decimal", "volume": "decimal", "quote_volume": "decimal"},
    "avg_prices": {"interval": "str", "average_price": "decimal", "trade_time": "time_ms"},
    "mark_prices": {"mark_price": "decimal", "index_price": "decimal",
                    "estimated_settle_price": "decimal", "funding_rate": "decimal",
                    "next_funding_time": "time_ms"},
    "liquidations": {"side": "str", "order_type": "str", "time_in_force": "str",
                     "quantity": "decimal", "price": "decimal", "average_price": "decimal",
                     "status": "str", "last_filled_quantity": "decimal",
                     "filled_quantity": "decimal", "trade_time": "time_ms"},
    "gaps": {"reason": "str", "first_missing": "int", "last_missing": "int"},
    "other_events": {"event_type": "str", "payload": "str"},
}  # fmt: skip

_TICKERS = {"24hrTicker": "1d", "1hTicker": "1h", "4hTicker": "4h", "1dTicker": "1d"}
#: The table of each event type that fills a row from its own fields.
_EVENT_TABLES = {"trade": "trades", "aggTrade": "agg_trades", "bookTicker": "book_tickers",
                 "bestBidAsk": "book_tickers", "24hrMiniTicker": "mini_tickers",
                 "avgPrice": "avg_prices", "markPriceUpdate": "mark_prices"}  # fmt: skip
#: Where each column comes from: the key in Binance's payload (a kline's ``k``, a
#: liquidation's ``o``). Empty strings (a delivery contract's funding rate) become None.
_KEYS: dict[str, tuple[tuple[str, str], ...]] = {
    "trades": (("trade_id", "t"), ("price", "p"), ("quantity", "q"), ("buyer_is_maker", "m"),
               ("trade_time", "T")),
    "agg_trades": (("agg_trade_id", "a"), ("price", "p"), ("quantity", "q"),
                   ("first_trade_id", "f"), ("last_trade_id", "l"), ("buyer_is_maker", "m"),
                   ("trade_time", "T")),
    "book_tickers": (("update_id", "u"), ("bid_price", "b"), ("bid_quantity", "B"),
                     ("ask_price", "a"), ("ask_quantity", "A"), ("transaction_time", "T")),
    "klines": (("interval", "i"), ("open_time", "t"), ("close_time", "T"),
               ("first_trade_id", "f"), ("last_trade_id", "L"), ("open", "o"), ("high", "h"),
               ("low", "l"), ("close", "c"), ("volume", "v"), ("quote_volume", "q"),
               ("trades", "n"), ("is_closed", "x"), ("taker_buy_volume", "V"),
               ("taker_buy_quote_volume", "Q")),
    "tickers": (("price_change", "p"), ("price_change_percent", "P"),
                ("weighted_average_price", "w"), ("last_price", "c"), ("last_quantity", "Q"),
                ("open_price", "o"), ("high_price", "h"), ("low_price", "l"), ("volume", "v"),
                ("quote_volume", "q"), ("open_time", "O"), ("close_time", "C"),
                ("first_trade_id", "F"), ("last_trade_id", "L"), ("trades", "n")),
    "mini_tickers": (("close", "c"), ("open", "o"), ("high", "h"), ("low", "l"),
                     ("volume", "v"), ("quote_volume", "q")),
    "avg_prices": (("interval", "i"), ("average_price", "w"), ("trade_time", "T")),
    "mark_prices": (("mark_price", "p"), ("index_price", "i"), ("estimated_settle_price", "P"),
                    ("funding_rate", "r"), ("next_funding_time", "T")),
    "liquidations": (("side", "S"), ("order_type", "o"), ("time_in_force", "f"),
                     ("quantity", "q"), ("price", "p"), ("average_price", "ap"),
                     ("status", "X"), ("last_filled_quantity", "l"), ("filled_quantity", "z"),
                     ("trade_time", "T")),
}  # fmt: skip


#: In tables with repeated columns, the key of the list of run lengths: how many rows each
#: value of a repeated column stands for. A diff-depth event's ids, times and names are
#: the same for all its levels, so they are kept once per event.
RUNS = "_runs"
#: The columns kept once per run, by table.
REPEATED: dict[str, frozenset[str]] = {
    "depth_updates": frozenset(
        (
            "market",
            "symbol",
            "stream",
            "receive_time",
            "event_time",
            "transaction_time",
            "first_update_id",
            "last_update_id",
            "previous_update_id",
        )
    ),
}


def expanded(table: str, data: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """``data`` with every repeated column written out, one value per row."""
    runs = data.get(RUNS)
    if runs is None:
        return data
    out = {}
    for column, values in data.items():
        if column == RUNS:
            continue
        if column in REPEATED[table]:
            values = [value for value, run in zip(values, runs, strict=True) for _ in range(run)]
        out[column] = values
    return out


def columns(table: str, micro: bool = False) -> dict[str, str]:
    """A table's columns and kinds, the common ones first; ``micro``: an SBE recording's,
    whose exchange times are microseconds too."""
    kinds = {**_COMMON, **TABLES[table]}
    if micro:
        return {column: "time_us" if kind == "time_ms" else kind for column, kind in kinds.items()}
    return kinds


@functools.lru_cache(maxsize=4096)
def _partial_depth(stream: str) -> bool:
    """``<symbol>@depth5``/``10``/``20`` (any speed): a partial book stream."""
    _, _, kind = stream.partition("@")
    return kind.startswith("depth") and not is_diff_depth(stream)


class TableBuilder:
    """Columns of every table, filled from a recording's entries; take them in batches."""

    def __init__(self, header: Header) -> None:
        self.header = header
        self.market = header.market
        self.single = None if header.combined or not header.streams else header.streams[0]
        self.data: dict[str, dict[str, list[Any]]] = {}
        self.rows: dict[str, int] = {}

    def _table(self, name: str) -> dict[str, list[Any]]:
        table = self.data.get(name)
        if table is None:
            table = self.data[name] = {column: [] for column in columns(name)}
            if name in REPEATED:
                table[RUNS] = []
            self.rows[name] = 0
        return table

    def take(self, name: str) -> dict[str, list[Any]]:
        """The rows of ``name`` gathered so far, removed from the builder; a table with
        repeated columns (:data:`REPEATED`) keeps them once per run, with :data:`RUNS`
        (:func:`expanded` writes them out)."""
        table = self.data.pop(name, None)
        self.rows.pop(name, None)
        return table if table is not None else {column: [] for column in columns(name)}

    def add_all(self, entries: Iterable[Entry]) -> None:
        """Every entry, in order."""
        for entry in entries:
            self.add(entry)

    def add(self, entry: Entry) -> None:
        """One entry: a message (its rows), a snapshot or a gap; notices are not rows."""
        received = int(entry.time_ms * 1000)
        if entry.gap is not None:
            self._gap(entry, received)
            return
        if entry.binary is not None:  # an SBE frame: its events name their stream
            for event in entry.events():
                self._event(event, event_stream(event), received)
            return
        if entry.frame is None:
            return
        message = entry.decoded()
        if entry.snapshot:
            stream = entry.stream or ""
            self._levels("depth_snapshots", message, stream, stream.split("@")[0].upper(),
                         received, message.get("E"))  # fmt: skip
            return
        if self.single is None and isinstance(message, dict) and "data" in message:
            stream, payload = str(message.get("stream", "")), message["data"]
        else:
            stream, payload = self.single or "", message
        for event in payload if isinstance(payload, list) else (payload,):
            if isinstance(event, dict):
                self._event(event, stream, received)

    def _row(
        self, name: str, stream: str | None, symbol: str | None, received: int, event_time: Any
    ) -> Any:
        table = self._table(name)
        table["market"].append(self.market)
        table["symbol"].append(symbol)
        table["stream"].append(stream)
        table["receive_time"].append(received)
        table["event_time"].append(event_time)
        self.rows[name] += 1
        return table

    def _gap(self, entry: Entry, received: int) -> None:
        stream = entry.stream  # None: a dropped connection, every stream of it
        symbol = stream.split("@")[0].upper() if stream else None
        table = self._row("gaps", stream, symbol, received, None)
        table["reason"].append(entry.gap)
        first, last = entry.missing if entry.missing is not None else (None, None)
        table["first_missing"].append(first)
        table["last_missing"].append(last)

    def _levels(
        self, name: str, book: dict[str, Any], stream: str, symbol: str, received: int,
        event_time: Any,
    ) -> None:  # fmt: skip
        bids = book.get("bids", book.get("b", ()))
        asks = book.get("asks", book.get("a", ()))
        last_id = book.get("lastUpdateId", book.get("u"))
        for side, levels in (("bid", bids), ("ask", asks)):
            count = len(levels)
            if not count:
                continue
            table = self._table(name)
            table["market"].extend([self.market] * count)
            table["symbol"].extend([symbol] * count)
            table["stream"].extend([stream] * count)
            table["receive_time"].extend([received] * count)
            table["event_time"].extend([event_time] * count)
            table["last_update_id"].extend([last_id] * count)
            table["side"].extend([side] * count)
            table["level"].extend(range(count))
            table["price"].extend([level[0] for level in levels])
            table["quantity"].extend([level[1] for level in levels])
            self.rows[name] += count

    def _depth(self, event: dict[str, Any], stream: str, received: int) -> None:
        # The hot path of a depth recording: the event's own values once (RUNS), then one
        # row per level.
        bids, asks = event.get("b") or [], event.get("a") or []
        levels = bids + asks
        count = len(levels)
        if not count:
            return
        table = self._table("depth_updates")
        table[RUNS].append(count)
        table["market"].append(self.market)
        table["symbol"].append(event.get("s") or stream.split("@")[0].upper())
        table["stream"].append(stream)
        table["receive_time"].append(received)
        table["event_time"].append(event.get("E"))
        table["transaction_time"].append(event.get("T"))
        table["first_update_id"].append(event.get("U"))
        table["last_update_id"].append(event.get("u"))
        table["previous_update_id"].append(event.get("pu"))
        table["side"] += ["bid"] * len(bids) + ["ask"] * len(asks)
        prices, quantities = zip(*levels, strict=True)
        table["price"] += prices
        table["quantity"] += quantities
        self.rows["depth_updates"] += count

    def _event(self, event: dict[str, Any], stream: str, received: int) -> None:
        kind = event.get("e")
        if kind == "depthUpdate" and not _partial_depth(stream):
            self._depth(event, stream, received)
            return
        symbol = str(event.get("s") or stream.split("@")[0].upper())
        when = event.get("E")
        if (kind is None and "lastUpdateId" in event) or kind in ("depthUpdate", "depthSnapshot"):
            self._levels("book_snapshots", event, stream, symbol, received, when)
            return
        source: Any = event
        if kind is None and "b" in event and "B" in event:
            table = "book_tickers"  # spot's bookTicker payload names no event
        elif kind in _TICKERS:
            table = "tickers"
        elif kind in ("kline", "continuous_kline") and isinstance(event.get("k"), dict):
            table, source = "klines", event["k"]
            if kind == "continuous_kline":
                symbol = str(event.get("ps"))
        elif kind == "forceOrder" and isinstance(event.get("o"), dict):
            table, source = "liquidations", event["o"]
            symbol = str(source.get("s") or symbol)
        else:
            table = _EVENT_TABLES.get(str(kind), "other_events")
        row = self._row(table, stream, symbol, received, when)
        if table == "other_events":
            row["event_type"].append(None if kind is None else str(kind))
            row["payload"].append(orjson.dumps(event).decode())
            return
        if table == "tickers":
            row["window"].append(_TICKERS[str(kind)])
        for column, key in _KEYS[table]:
            value = source.get(key)
            row[column].append(None if value == "" else value)
