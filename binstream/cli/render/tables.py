"""Live rich tables: views that fold messages into state and render it on demand.

Views know nothing of sockets: feed them payload dicts with :meth:`View.update` and
render them with rich. Example::

    from rich.console import Console
    view = TickerBoard()
    view.update({"e": "24hrTicker", "s": "BNBBTC", "c": "0.009", "P": "1.2"})
    Console(width=80).print(view)
"""

from __future__ import annotations

import time
from collections import deque
from decimal import Decimal, InvalidOperation
from typing import Any

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.table import Table
from rich.text import Text

from .numbers import align, bar, group, number, sparkline, trim

#: Above this, a time is in microseconds (SBE streams), not milliseconds.
_MICROSECONDS = 10**14


def _clock(ms: Any) -> str:
    if not isinstance(ms, int):
        return ""
    if ms > _MICROSECONDS:
        ms //= 1000
    return time.strftime("%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}"


def _price(level: Any) -> Decimal:
    try:
        return Decimal(level[0])
    except (InvalidOperation, IndexError, TypeError):
        return Decimal(0)


def unwrap(message: Any) -> tuple[str | None, Any]:
    """``{"stream", "data"}`` → (stream, data); anything else → (None, message)."""
    if type(message) is dict and "stream" in message and "data" in message:
        return message["stream"], message["data"]
    return None, message


class View:
    """Base class: ``update`` folds a message in, ``caption`` is a status line."""

    title = "binstream"

    def __init__(self) -> None:
        self.caption = ""
        #: Name of the stream when messages arrive unwrapped from a single raw stream.
        self.default_stream: str | None = None

    def update(self, message: Any) -> None:
        stream, data = unwrap(message)
        stream = stream or self.default_stream
        if isinstance(data, list):
            for item in data:
                self.update_one(stream, item)
        elif isinstance(data, dict):
            self.update_one(stream, data)

    def update_one(self, stream: str | None, data: dict[str, Any]) -> None:
        raise NotImplementedError

    def table(self) -> Table:
        return Table(title=self.title, caption=self.caption, expand=False)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        """How a view renders; each view draws itself with ``__rich__`` or overrides this
        to size itself to the terminal."""
        raise NotImplementedError


class TradeTape(View):
    """A scrolling tape of trades, newest at the bottom, green buys and red sells."""

    title = "trades"

    def __init__(self, rows: int = 20) -> None:
        super().__init__()
        self.rows: deque[dict[str, Any]] = deque(maxlen=rows)

    def update_one(self, stream: str | None, data: dict[str, Any]) -> None:
        if data.get("e") in ("trade", "aggTrade"):
            self.rows.append(data)

    def __rich__(self) -> RenderableType:
        table = self.table()
        for column in ("time", "symbol", "side", "price", "quantity"):
            table.add_column(column, justify="right" if column in ("price", "quantity") else "left")
        for trade in self.rows:
            sell = bool(trade.get("m"))  # buyer is maker: the taker sold
            style = "red" if sell else "green"
            table.add_row(
                _clock(trade.get("T")),
                str(trade.get("s", "")),
                Text("sell" if sell else "buy", style=style),
                Text(trim(trade.get("p", "")), style=style),
                trim(trade.get("q", "")),
            )
        return table


class TickerBoard(View):
    """One row per symbol, updated in place: tickers, mini tickers, book tickers, avg price.

    Numbers are trimmed and aligned on the decimal point; a column shows only once some
    stream carried its field; each symbol gets a sparkline of its last price over the run.
    ``sort`` (``symbol``, ``change``, ``volume``) and ``top`` pick the rows shown.
    """

    title = "tickers"
    COLUMNS = ("last", "trend", "change %", "bid", "ask", "high", "low", "volume", "avg 5m")

    def __init__(self, sort: str = "symbol", top: int | None = None, history: int = 24) -> None:
        super().__init__()
        self.rows: dict[str, dict[str, Any]] = {}
        self.history: dict[str, deque[Decimal]] = {}
        self.history_size = history
        self.sort = sort
        self.top = top

    def update_one(self, stream: str | None, data: dict[str, Any]) -> None:
        symbol = data.get("s")
        if not symbol:
            return
        row = self.rows.setdefault(str(symbol), {})
        kind = data.get("e")
        if kind in (None, "bookTicker") and "b" in data and "a" in data:  # spot: no "e"
            row.update(bid=data["b"], ask=data["a"])
            return
        if kind == "avgPrice":
            row["avg 5m"] = data.get("w")
            return
        fields = {"last": "c", "change %": "P", "high": "h", "low": "l", "volume": "v",
                  "bid": "b", "ask": "a"}  # fmt: skip
        for column, key in fields.items():
            if key in data:
                row[column] = data[key]
        last = number(data.get("c"))
        if last is not None:
            previous = self.history.setdefault(str(symbol), deque(maxlen=self.history_size))
            row["rising"] = None if not previous else last > previous[-1] or (
                None if last == previous[-1] else False)  # fmt: skip
            previous.append(last)

    def _chosen(self) -> list[str]:
        symbols = sorted(self.rows)
        if self.sort in ("change", "volume"):
            key = "change %" if self.sort == "change" else "volume"
            symbols.sort(key=lambda s: number(self.rows[s].get(key)) or Decimal(0), reverse=True)
        return symbols[: self.top] if self.top else symbols

    #: Which columns go first when the terminal is too narrow for all of them.
    DROP_ORDER = ("avg 5m", "low", "high", "bid", "ask", "trend", "volume", "change %")

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.render(options.max_width)

    def render(self, width: int = 200) -> RenderableType:
        """The table for a terminal ``width`` columns wide: whole numbers, never cut; the
        narrowest-value columns go first when they do not all fit."""
        symbols = self._chosen()

        def carried(column: str) -> bool:
            if column == "trend":
                return bool(self.history)
            return any(column in self.rows[s] for s in symbols)

        present = [c for c in self.COLUMNS if carried(c)]
        cells: dict[str, list[str]] = {}
        for column in present:
            if column == "trend":
                cells[column] = [sparkline(list(self.history.get(s, ())), 12) for s in symbols]
                continue
            shown = [(group if column == "volume" else trim)(self.rows[s].get(column) or "")
                     for s in symbols]  # fmt: skip
            cells[column] = align(shown, len(column))
        needed = {c: max([len(c)] + [cell_len(v) for v in cells[c]]) + 3 for c in present}
        symbol_width = max([6] + [cell_len(s) for s in symbols]) + 4
        for column in self.DROP_ORDER:
            if symbol_width + sum(needed[c] for c in present) <= width:
                break
            if column in present:
                present.remove(column)
        table = self.table()
        table.add_column("symbol", justify="left", no_wrap=True)
        for column in present:
            table.add_column(column, justify="left" if column == "trend" else "right",
                             no_wrap=True, min_width=needed[column] - 3)  # fmt: skip
        for index, symbol in enumerate(symbols):
            row = self.rows[symbol]
            out: list[RenderableType] = [symbol]
            for column in present:
                text = cells[column][index]
                style = "cyan" if column == "trend" else ""
                if column == "change %":
                    change = number(row.get("change %"))
                    style = "" if change is None or change == 0 else (
                        "green" if change > 0 else "red")  # fmt: skip
                elif column == "last" and row.get("rising") is not None:
                    style = "green" if row["rising"] else "red"
                out.append(number_cell(text, style))
            table.add_row(*out)
        return table


class DepthLadder(View):
    """Bid/ask ladder per symbol (partial book), or the latest diff event's levels."""

    title = "depth"

    def __init__(self, levels: int = 10) -> None:
        super().__init__()
        self.levels = levels
        self.books: dict[str, dict[str, Any]] = {}

    def update_one(self, stream: str | None, data: dict[str, Any]) -> None:
        if "bids" in data:  # partial book: no symbol inside, name it by stream
            key = (stream or "book").split("@")[0].upper()
            self.books[key] = {
                "bids": data["bids"],
                "asks": data["asks"],
                "id": data.get("lastUpdateId"),
            }
        elif data.get("e") in ("depthUpdate", "depth"):  # futures / options
            self.books[str(data.get("s"))] = {
                "bids": data["b"],
                "asks": data["a"],
                "id": data.get("u"),
            }

    def __rich__(self) -> RenderableType:
        tables = []
        for symbol in sorted(self.books):
            book = self.books[symbol]
            table = Table(title=f"{symbol}  (update {book['id']})", caption=self.caption)
            for column in ("bid qty", "bid", "ask", "ask qty"):
                table.add_column(column, justify="right", no_wrap=True)
            bids = sorted(book["bids"], key=_price, reverse=True)[: self.levels]
            asks = sorted(book["asks"], key=_price)[: self.levels]
            bid_qty = align([trim(q) for _, q in bids], len("bid qty"))
            bid_px = align([trim(p) for p, _ in bids], len("bid"))
            ask_px = align([trim(p) for p, _ in asks], len("ask"))
            ask_qty = align([trim(q) for _, q in asks], len("ask qty"))
            for i in range(max(len(bids), len(asks))):
                left = (bid_qty[i], bid_px[i]) if i < len(bids) else ("", "")
                right = (ask_px[i], ask_qty[i]) if i < len(asks) else ("", "")
                table.add_row(number_cell(left[0]), number_cell(left[1], "green"),
                              number_cell(right[0], "red"), number_cell(right[1]))  # fmt: skip
            tables.append(table)
        return Group(*tables) if tables else Text("waiting for depth…")


class KlineBoard(View):
    """OHLCV rows per symbol and interval, updated in place."""

    title = "klines"

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[tuple[str, str, int], dict[str, Any]] = {}

    def update_one(self, stream: str | None, data: dict[str, Any]) -> None:
        k = data.get("k")
        if data.get("e") in ("kline", "continuous_kline") and isinstance(k, dict):
            name = k.get("s") or f"{data.get('ps')} {str(data.get('ct', '')).lower()}"
            self.rows[(str(name), str(k.get("i")), int(k.get("t", 0)))] = k
            if len(self.rows) > 50:
                del self.rows[min(self.rows, key=lambda key: key[2])]

    def __rich__(self) -> RenderableType:
        table = self.table()
        for column in (
            "symbol",
            "interval",
            "open time",
            "open",
            "high",
            "low",
            "close",
            "volume",
            "trades",
            "closed",
        ):
            table.add_column(
                column, justify="left" if column in ("symbol", "interval") else "right"
            )
        for key in sorted(self.rows):
            k = self.rows[key]
            up = _number(k.get("c")) >= _number(k.get("o"))
            table.add_row(
                key[0],
                key[1],
                _clock(k.get("t")),
                trim(k.get("o")),
                trim(k.get("h")),
                trim(k.get("l")),
                Text(trim(k.get("c")), style="green" if up else "red"),
                group(k.get("v")),
                str(k.get("n")),
                "yes" if k.get("x") else "",
            )
        return table


class StreamBoard(View):
    """One row per stream: message count, event type and the latest payload in brief."""

    title = "streams"

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, dict[str, Any]] = {}

    def update(self, message: Any) -> None:
        stream, data = unwrap(message)
        row = self.rows.setdefault(stream or self.default_stream or "(raw)", {"count": 0})
        row["count"] += 1
        row["data"] = data

    def __rich__(self) -> RenderableType:
        table = Table(title=self.title, caption=self.caption, expand=True)
        widest = max((cell_len(name) for name in self.rows), default=6)
        table.add_column("stream", no_wrap=True, min_width=widest)
        table.add_column("msgs", justify="right", no_wrap=True, min_width=7)
        table.add_column("event", no_wrap=True, min_width=10)
        table.add_column("latest", overflow="ellipsis", no_wrap=True, ratio=1)
        for stream in sorted(self.rows):
            row = self.rows[stream]
            data = row["data"]
            if isinstance(data, list):
                event, brief = "array", f"{len(data)} entries"
            elif isinstance(data, dict):
                event = str(data.get("e", "book" if "bids" in data else ""))
                brief = _brief(data)
            else:
                event, brief = "", str(data)
            table.add_row(stream, f"{row['count']:,}", event, brief)
        return table


def _brief(data: dict[str, Any]) -> str:
    keys = ("s", "p", "q", "c", "b", "a", "w")
    parts = [f"{k}={data[k]}" for k in keys if k in data and not isinstance(data[k], list)]
    if "k" in data and isinstance(data["k"], dict):
        k = data["k"]
        parts.append(f"o={k.get('o')} c={k.get('c')} v={k.get('v')}")
    if data.get("bids"):
        parts.append(f"bid={data['bids'][0][0]} ask={data['asks'][0][0] if data['asks'] else ''}")
    return " ".join(parts)


class AccountView(View):
    """Balances and a tape of order executions (spot's ``outboundAccountPosition`` and
    ``executionReport``; futures' ``ACCOUNT_UPDATE`` and ``ORDER_TRADE_UPDATE``, with a
    positions table when there are positions)."""

    title = "account"

    def __init__(self, rows: int = 15) -> None:
        super().__init__()
        self.balances: dict[str, tuple[str, str]] = {}
        self.positions: dict[str, tuple[str, str, str]] = {}
        self.orders: deque[dict[str, Any]] = deque(maxlen=rows)
        self.notes: deque[str] = deque(maxlen=5)

    def update_one(self, stream: str | None, data: dict[str, Any]) -> None:
        kind = data.get("e")
        if kind == "outboundAccountPosition":
            for balance in data.get("B", []):
                self.balances[str(balance.get("a"))] = (
                    str(balance.get("f")),
                    str(balance.get("l")),
                )
        elif kind == "executionReport":
            self.orders.append(data)
        elif kind == "ORDER_TRADE_UPDATE" and isinstance(data.get("o"), dict):
            self.orders.append({**data["o"], "E": data.get("E")})
        elif kind == "ACCOUNT_UPDATE" and isinstance(data.get("a"), dict):
            for balance in data["a"].get("B", []):  # wallet balance, cross wallet balance
                self.balances[str(balance.get("a"))] = (str(balance.get("wb")),
                                                        str(balance.get("cw")))  # fmt: skip
            for position in data["a"].get("P", []):
                self.positions[str(position.get("s"))] = (
                    trim(position.get("pa")),
                    trim(position.get("ep")),
                    trim(position.get("up")),
                )
        elif kind not in (None, "TRADE_LITE"):
            self.notes.append(f"{_clock(data.get('E'))} {kind}")

    def __rich__(self) -> RenderableType:
        balances = Table(title="balances", caption=self.caption)
        heads = ("wallet", "cross wallet") if self.positions else ("free", "locked")
        for column in ("asset", *heads):
            balances.add_column(column, justify="left" if column == "asset" else "right")
        for asset in sorted(self.balances):
            balances.add_row(asset, *(trim(v) for v in self.balances[asset]))
        orders = Table(title="executions")
        for column in ("time", "symbol", "side", "status", "price", "last qty", "filled", "order"):
            orders.add_column(column, justify="left" if column in ("time", "symbol") else "right")
        for report in self.orders:
            side = str(report.get("S", ""))
            orders.add_row(
                _clock(report.get("E")),
                str(report.get("s", "")),
                Text(side, style="green" if side == "BUY" else "red"),
                str(report.get("X", "")),
                trim(report.get("p", "")),
                trim(report.get("l", "")),
                trim(report.get("z", "")),
                str(report.get("i", "")),
            )
        parts: list[RenderableType] = [balances, orders]
        held = {s: p for s, p in self.positions.items() if _number(p[0]) != 0}
        if held:
            positions = Table(title="positions")
            for column in ("symbol", "amount", "entry", "unrealised PnL"):
                positions.add_column(column, justify="left" if column == "symbol" else "right")
            for symbol in sorted(held):
                amount, entry, pnl = held[symbol]
                style = "red" if pnl.startswith("-") else "green"
                positions.add_row(symbol, amount, entry, Text(pnl, style=style))
            parts.insert(1, positions)
        if self.notes:
            parts.append(Text("\n".join(self.notes)))
        return Group(*parts)


class BookLadder(View):
    """A local order book: ladder with cumulative size and depth bars on each side, the best
    prices' row highlighted, spread and mid price; as many levels as ``levels`` and the
    terminal's height allow."""

    title = "book"
    BAR_WIDTH = 12

    def __init__(self, levels: int = 20) -> None:
        super().__init__()
        self.levels = levels
        self.book: dict[str, Any] | None = None

    def update_one(self, stream: str | None, data: dict[str, Any]) -> None:
        if data.get("e") == "book":
            self.book = data

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        height = options.height or console.size.height
        # Title, header, borders and caption take 7 lines; the status line one more.
        yield self.render(max(1, min(self.levels, height - 8)), options.max_width)

    def render(self, levels: int, width: int = 200) -> RenderableType:
        """The ladder with at most ``levels`` rows, for a terminal ``width`` columns wide:
        numbers are never cut; bars shrink, then the running totals go, when it is narrow."""
        book = self.book
        if book is None:
            return Text("syncing the book…")
        bids, asks = book["bids"][:levels], book["asks"][:levels]
        summary = ""
        if bids and asks:
            best_bid, best_ask = Decimal(bids[0][0]), Decimal(asks[0][0])
            summary = (f"spread {trim(str(best_ask - best_bid))}  "
                       f"mid {trim(str((best_bid + best_ask) / 2))}")  # fmt: skip
        table = Table(title=f"{book.get('s')}  update {book.get('lastUpdateId')}  {summary}",
                      caption=self.caption)  # fmt: skip
        bid_totals, ask_totals = _running(bids), _running(asks)
        deepest = max(bid_totals[-1:] + ask_totals[-1:], default=Decimal(1)) or Decimal(1)
        names = ("bid total", "bid qty", "bid", "ask", "ask qty", "ask total")
        columns = [
            align([trim(t) for t in bid_totals], len(names[0])),
            align([trim(q) for _, q in bids], len(names[1])),
            align([trim(p) for p, _ in bids], len(names[2])),
            align([trim(p) for p, _ in asks], len(names[3])),
            align([trim(q) for _, q in asks], len(names[4])),
            align([trim(t) for t in ask_totals], len(names[5])),
        ]
        widths = [
            max([len(n)] + [cell_len(v) for v in c]) + 3
            for n, c in zip(names, columns, strict=True)
        ]
        totals = True
        bar_width = self.BAR_WIDTH
        while sum(widths) + (2 * (bar_width + 3) if bar_width else 0) + 1 > width:
            if bar_width > 4:
                bar_width -= 1
            elif totals:
                totals, widths[0], widths[5] = False, 0, 0
            elif bar_width:
                bar_width = 0  # the last resort: no bars
            else:
                break
        shown = [n for n, w in zip(names, widths, strict=True) if w]
        if bar_width:
            table.add_column("bids", justify="right", no_wrap=True, width=bar_width)
        for name in shown:
            table.add_column(name, justify="right", no_wrap=True)
        if bar_width:
            table.add_column("asks", justify="left", no_wrap=True, width=bar_width)
        for i in range(max(len(bids), len(asks))):
            row: list[RenderableType] = []
            side = (1 if bar_width else 0) + (3 if totals else 2)
            if i < len(bids):
                if bar_width:
                    depth = bar(float(bid_totals[i] / deepest), bar_width)
                    row.append(Text(depth, style="green"))
                row += [number_cell(columns[0][i])] if totals else []
                row += [number_cell(columns[1][i]), number_cell(columns[2][i], "green")]
            else:
                row += [""] * side
            if i < len(asks):
                row += [number_cell(columns[3][i], "red"), number_cell(columns[4][i])]
                row += [number_cell(columns[5][i])] if totals else []
                if bar_width:
                    depth = bar(float(ask_totals[i] / deepest), bar_width)
                    row.append(Text(depth, style="red"))
            else:
                row += [""] * side
            table.add_row(*row, style="bold reverse" if i == 0 else None)
        return table


def number_cell(text: str, style: str = "") -> Text:
    """A cell of :func:`~.numbers.align`'s numbers: shown as it is (left-justified, so its
    padding stays), which reads right-aligned since every cell of the column is as wide."""
    return Text(text, style=style, justify="left")


def _running(levels: list[Any]) -> list[Decimal]:
    """Cumulative sizes of ``[price, qty]`` levels, best first."""
    totals, total = [], Decimal(0)
    for _, qty in levels:
        total += Decimal(qty)
        totals.append(total)
    return totals


class MarkPriceBoard(View):
    """One row per contract: mark and index price, funding rate and time to funding."""

    title = "mark price"

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, dict[str, Any]] = {}

    def update_one(self, stream: str | None, data: dict[str, Any]) -> None:
        kind = data.get("e")
        if kind == "markPriceUpdate" and data.get("s"):
            self.rows[str(data["s"])] = data
        elif kind == "markPrice" and data.get("s"):  # options: mark price and greeks
            self.rows[str(data["s"])] = {"s": data["s"], "p": data.get("mp"), "i": data.get("i"),
                                         "r": "", "T": 0, "d": data.get("d")}  # fmt: skip
        elif kind == "indexPriceUpdate" and data.get("i"):
            row = self.rows.setdefault(str(data["i"]), {"s": data["i"]})
            row["i"] = data.get("p")

    def __rich__(self) -> RenderableType:
        table = self.table()
        for column in ("symbol", "mark", "index", "funding %", "next funding", "in"):
            table.add_column(column, justify="left" if column == "symbol" else "right")
        now = int(time.time() * 1000)
        for symbol in sorted(self.rows):
            row = self.rows[symbol]
            rate = _number(row.get("r")) * 100
            funding = row.get("T") or 0
            left = max(0, int(funding) - now) // 1000 if funding else None
            table.add_row(
                symbol,
                trim(row.get("p") or ""),
                trim(row.get("i") or ""),
                Text(f"{rate:.4f}", style="green" if rate >= 0 else "red") if row.get("r") else "",
                time.strftime("%H:%M", time.gmtime(int(funding) / 1000)) if funding else "",
                f"{left // 3600}:{left // 60 % 60:02d}:{left % 60:02d}" if left is not None else "",
            )
        return table


class LiquidationTape(View):
    """Liquidation orders as they come, newest at the bottom: red long liquidations
    (forced sells), green short ones (forced buys)."""

    title = "liquidations"

    def __init__(self, rows: int = 20) -> None:
        super().__init__()
        self.rows: deque[dict[str, Any]] = deque(maxlen=rows)

    def update_one(self, stream: str | None, data: dict[str, Any]) -> None:
        order = data.get("o")
        if data.get("e") == "forceOrder" and isinstance(order, dict):
            self.rows.append(order)

    def __rich__(self) -> RenderableType:
        table = self.table()
        for column in ("time", "symbol", "side", "quantity", "avg price", "status"):
            table.add_column(column, justify="left" if column in ("time", "symbol") else "right")
        for order in self.rows:
            style = "red" if order.get("S") == "SELL" else "green"
            table.add_row(
                _clock(order.get("T")),
                str(order.get("s", "")),
                Text(str(order.get("S", "")).lower(), style=style),
                str(order.get("z") or order.get("q", "")),
                Text(str(order.get("ap", "")), style=style),
                str(order.get("X", "")).lower(),
            )
        return table


VIEWS: dict[str, type[View]] = {
    "markprice": MarkPriceBoard,
    "liquidations": LiquidationTape,
    "account": AccountView,
    "book": BookLadder,
    "trades": TradeTape,
    "tickers": TickerBoard,
    "depth": DepthLadder,
    "klines": KlineBoard,
    "streams": StreamBoard,
}


def _number(value: Any) -> Decimal:
    """A price as Binance sends it (a decimal string), for comparisons; 0 if missing."""
    try:
        return Decimal(str(value))
    except (ArithmeticError, ValueError):
        return Decimal(0)
