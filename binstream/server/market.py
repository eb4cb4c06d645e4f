"""A small, self-consistent market simulator behind the local exchange.

Each :class:`SymbolMarket` keeps an order book in integer ticks and lots (never floats),
moves it by a random walk, lets taker orders cross it, and derives every Binance payload
from that one state: trades and aggTrades from the fills, klines and tickers from the
trades, bookTicker and partial depth from the book, and diff-depth events whose
``U``/``u`` ids chain exactly with the REST snapshot's ``lastUpdateId``.
"""

from __future__ import annotations

import heapq
import random
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ..streams import KlineInterval, TickerWindow

PRICE_DECIMALS = 8
QTY_DECIMALS = 8
#: Levels market makers keep on each side, one per tick from the best price outwards.
BOOK_DEPTH = 60
#: Chance per step that the fair price moves, and by how much: about 0.002 % of the price
#: (at least one tick), so every symbol moves alike whatever its tick size.
MOVE_PROBABILITY = 0.2
MOVE_SIZE = 0.00002
#: How strongly the fair price is pulled back towards where it started: at a relative
#: deviation d, an up-move has probability 0.5 - PULL * d (clipped to 0.1-0.9). Prices
#: wander a few percent and never run away, however long the exchange runs.
PULL = 4.0

INTERVAL_MS = {
    "1s": 1_000,
    "1m": 60_000,
    "3m": 180_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": 3_600_000,
    "2h": 7_200_000,
    "4h": 14_400_000,
    "6h": 21_600_000,
    "8h": 28_800_000,
    "12h": 43_200_000,
    "1d": 86_400_000,
    "3d": 259_200_000,
    "1w": 604_800_000,
}
WINDOW_MS = {"1h": 3_600_000, "4h": 14_400_000, "1d": 86_400_000}
#: Closed klines kept per interval for ``GET /api/v3/klines``.
KLINE_HISTORY = 500


def now_ms() -> int:
    """Wall-clock milliseconds, as Binance stamps events."""
    return time.time_ns() // 1_000_000


@dataclass
class SymbolSpec:
    """A simulated symbol: its name, starting price and increments."""

    symbol: str
    price: str
    tick: str = "0.00000100"
    lot: str = "0.01000000"


DEFAULT_SYMBOLS = (
    SymbolSpec("BNBBTC", "0.00900000", "0.00000100", "0.01000000"),
    SymbolSpec("ETHBTC", "0.03500000", "0.00000100", "0.00100000"),
    SymbolSpec("NEOBTC", "0.00010000", "0.00000010", "0.01000000"),
    SymbolSpec("BTCUSDT", "95000.00000000", "0.01000000", "0.00001000"),
    SymbolSpec("ETHUSDT", "3500.00000000", "0.01000000", "0.00010000"),
    SymbolSpec("BNBUSDT", "650.00000000", "0.01000000", "0.00100000"),
    SymbolSpec("币安人生USDT", "0.12000000", "0.00001000", "1.00000000"),
)


def units(value: str, decimals: int) -> int:
    whole, _, frac = value.partition(".")
    frac = (frac + "0" * decimals)[:decimals]
    return int(whole) * 10**decimals + int(frac or 0)


def fmt(units: int, decimals: int = PRICE_DECIMALS) -> str:
    """Integer units → Binance decimal string with ``decimals`` places."""
    sign = "-" if units < 0 else ""
    units = abs(units)
    return f"{sign}{units // 10**decimals}.{units % 10**decimals:0{decimals}d}"


@dataclass
class Fill:
    trade_id: int
    price: int
    qty: int
    time: int
    buyer_maker: bool
    agg_id: int = 0


@dataclass
class Kline:
    interval: str
    open_time: int
    close_time: int
    first_id: int = -1
    last_id: int = -1
    open: int = 0
    high: int = 0
    low: int = 0
    close: int = 0
    volume: int = 0
    quote: int = 0
    trades: int = 0
    taker_volume: int = 0
    taker_quote: int = 0


@dataclass
class Stats:
    """Ticker statistics since the simulator started (all windows share them)."""

    open_time: int
    open: int
    high: int
    low: int
    last: int
    last_qty: int = 0
    volume: int = 0
    quote: int = 0
    first_id: int = -1
    last_id: int = -1
    count: int = 0


@dataclass
class Step:
    """What changed in one step of one symbol."""

    time: int
    fills: list[list[Fill]] = field(default_factory=list)
    first_update_id: int = 0
    last_update_id: int = 0
    #: The book's update id before this step: a futures event's ``pu``.
    prev_update_id: int = 0
    bid_changes: dict[int, int] = field(default_factory=dict)
    ask_changes: dict[int, int] = field(default_factory=dict)
    closed_klines: list[Kline] = field(default_factory=list)


def merge_steps(steps: list[Step]) -> Step:
    """One step standing for several consecutive ones (oldest first): their fills and
    closed klines in order, the book changes as they ended, the update ids they span."""
    if len(steps) == 1:
        return steps[0]
    merged = Step(time=steps[-1].time, first_update_id=steps[0].first_update_id,
                  last_update_id=steps[-1].last_update_id,
                  prev_update_id=steps[0].prev_update_id)  # fmt: skip
    for step in steps:
        merged.fills += step.fills
        merged.bid_changes.update(step.bid_changes)
        merged.ask_changes.update(step.ask_changes)
        merged.closed_klines += step.closed_klines
    return merged


class SymbolMarket:
    """One symbol's book, trades and statistics."""

    def __init__(self, spec: SymbolSpec, seed: int | None = None, id_stride: int = 1) -> None:
        self.symbol = spec.symbol.upper()
        #: Update ids advance by 1 per book change on spot; futures ids skip (up to
        #: ``id_stride``), so only ``pu`` chains consecutive events, as on Binance.
        self.id_stride = id_stride
        self.tick = units(spec.tick, PRICE_DECIMALS)
        self.lot = units(spec.lot, QTY_DECIMALS)
        self.rng = random.Random(seed if seed is not None else hash(self.symbol) & 0xFFFF)
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.update_id = 1000
        self.trade_id = 100
        self.agg_id = 10
        self.last_trade_time = now_ms()
        mid = units(spec.price, PRICE_DECIMALS) // self.tick
        #: Where the price started and where it is now, in ticks.
        self.start = mid
        self.fair = mid
        #: The fair price stays within these (in ticks): positive, within 2x of the start.
        self.floor = max(mid // 2, BOOK_DEPTH + 2)
        self.ceiling = max(mid * 2, self.floor + 1)
        for level in range(1, BOOK_DEPTH + 1):
            self.bids[(mid - level) * self.tick] = self._random_qty()
            self.asks[(mid + level) * self.tick] = self._random_qty()
        price = mid * self.tick
        started = now_ms()
        self.stats = Stats(open_time=started, open=price, high=price, low=price, last=price)
        self.klines: dict[str, Kline] = {}
        #: Closed klines per kline key (interval and offset), oldest first: REST history.
        self.closed: dict[str, deque[Kline]] = {}
        self.kline("1m", 0, started)  # 1m history from the start
        #: What outside orders changed since the last step (see :meth:`take`).
        self._pending: Step | None = None
        self.prices: list[tuple[int, int, int]] = []  # (time, price, qty) for avgPrice

    def _random_qty(self) -> int:
        return self.lot * self.rng.randint(1, 400)

    # -- views ---------------------------------------------------------------------------

    def best_bid(self) -> tuple[int, int]:
        price = max(self.bids)
        return price, self.bids[price]

    def best_ask(self) -> tuple[int, int]:
        price = min(self.asks)
        return price, self.asks[price]

    def top(self, levels: int) -> tuple[list[list[str]], list[list[str]]]:
        bids = sorted(self.bids.items(), reverse=True)[:levels]
        asks = sorted(self.asks.items())[:levels]
        return (
            [[fmt(p), fmt(q, QTY_DECIMALS)] for p, q in bids],
            [[fmt(p), fmt(q, QTY_DECIMALS)] for p, q in asks],
        )

    def snapshot(self, limit: int) -> dict[str, Any]:
        """The REST ``/api/v3/depth`` answer: consistent with the diff stream's ids."""
        bids, asks = self.top(limit)
        return {"lastUpdateId": self.update_id, "bids": bids, "asks": asks}

    # -- evolution -----------------------------------------------------------------------

    def step(self, time_ms: int | None = None) -> Step:
        """Advance the market once: the price walks, makers re-quote, maybe a taker trades."""
        t = time_ms or now_ms()
        step = self._pending or self._new_step(t)
        step.time, self._pending = t, None
        rng = self.rng
        self._walk()
        self._quote(step)
        for _ in range(rng.randint(0, 3)):
            self._resize_level(step, rng.random() < 0.5)
        if rng.random() < 0.7:
            step.fills.append(self._take(step, t, buy=rng.random() < 0.5))
        step.last_update_id = self.update_id
        self._roll_klines(step, t)
        return step

    def _new_step(self, t: int) -> Step:
        return Step(time=t, first_update_id=self.update_id + 1, prev_update_id=self.update_id)

    def _walk(self) -> None:
        """Move the fair price now and then, pulled back towards the start."""
        rng = self.rng
        if rng.random() >= MOVE_PROBABILITY:
            return
        deviation = (self.fair - self.start) / self.start
        up = min(0.9, max(0.1, 0.5 - PULL * deviation))
        size = max(1, round(self.fair * MOVE_SIZE))
        fair = self.fair + (size if rng.random() < up else -size)
        self.fair = min(self.ceiling, max(self.floor, fair))

    def _quote(self, step: Step) -> None:
        """Market makers keep a level at every tick from one tick either side of the fair
        price outwards, BOOK_DEPTH deep: what takers ate is refilled, what the price moved
        past is withdrawn. The spread is two ticks between trades."""
        tick = self.tick
        top_bid, top_ask = (self.fair - 1) * tick, (self.fair + 1) * tick
        low_bid, high_ask = top_bid - (BOOK_DEPTH - 1) * tick, top_ask + (BOOK_DEPTH - 1) * tick
        for price in [p for p in self.bids if p > top_bid or p < low_bid]:
            self._set(step, True, price, 0)
        for price in [p for p in self.asks if p < top_ask or p > high_ask]:
            self._set(step, False, price, 0)
        for level in range(BOOK_DEPTH):
            bid, ask = top_bid - level * tick, top_ask + level * tick
            if bid not in self.bids:
                self._set(step, True, bid, self._random_qty())
            if ask not in self.asks:
                self._set(step, False, ask, self._random_qty())

    def _set(self, step: Step, side_bids: bool, price: int, qty: int) -> None:
        book = self.bids if side_bids else self.asks
        if qty:
            book[price] = qty
        else:
            book.pop(price, None)
        first = not step.bid_changes and not step.ask_changes
        (step.bid_changes if side_bids else step.ask_changes)[price] = qty
        self.update_id += 1 if self.id_stride == 1 else self.rng.randint(1, self.id_stride)
        if first:
            step.first_update_id = self.update_id

    def _resize_level(self, step: Step, bids: bool) -> None:
        """A maker changes its size at one of the levels near the top."""
        book = self.bids if bids else self.asks
        best = max(book) if bids else min(book)
        offset = self.rng.randint(0, 12) * self.tick
        price = best - offset if bids else best + offset
        if price in book:
            self._set(step, bids, price, self._random_qty())

    def check(self) -> None:
        """Raise AssertionError unless the book looks like a market (for tests)."""
        best_bid, best_ask = max(self.bids), min(self.asks)
        assert min(self.bids) > 0, "bids must be positive"
        assert best_bid < best_ask, "the book is crossed"
        assert best_ask - best_bid <= 4 * self.tick, "the spread is wider than a few ticks"
        assert len(self.bids) >= BOOK_DEPTH // 2 and len(self.asks) >= BOOK_DEPTH // 2
        assert self.floor * self.tick <= best_bid + self.tick
        assert best_ask <= (self.ceiling + 1) * self.tick

    def _take(self, step: Step, t: int, buy: bool) -> list[Fill]:
        book = self.asks if buy else self.bids
        # At most the two best levels: the spread stays a few ticks wide until makers refill.
        best_two = heapq.nsmallest(2, book) if buy else heapq.nlargest(2, book)
        wanted = min(self._random_qty() * self.rng.randint(1, 3), sum(book[p] for p in best_two))
        return self._sweep(step, t, buy, wanted, None)

    def _sweep(self, step: Step, t: int, buy: bool, wanted: int, limit: int | None) -> list[Fill]:
        """Fill a taker order of ``wanted`` lots against the book, best price first, up to
        ``limit`` (None: any price); the book keeps a few levels whatever happens."""
        book = self.asks if buy else self.bids
        fills: list[Fill] = []
        while wanted > 0 and len(book) > 3:
            price = min(book) if buy else max(book)
            if limit is not None and (price > limit if buy else price < limit):
                break
            qty = min(wanted, book[price])
            self.trade_id += 1
            self.agg_id += 1
            fills.append(Fill(self.trade_id, price, qty, t, not buy, self.agg_id))
            wanted -= qty
            self._set(step, not buy, price, book[price] - qty)
        self._record(fills, t)
        return fills

    def take(self, buy: bool, qty: int, limit: int | None, t: int | None = None) -> list[Fill]:
        """An order from outside the simulation (the WS-API's) taking liquidity now.

        It fills against the book at once; its trades and book changes are published with
        the next step, so the streams and the REST snapshot stay consistent.
        """
        t = t or now_ms()
        if self._pending is None:
            self._pending = self._new_step(t)
        fills = self._sweep(self._pending, t, buy, qty, limit)
        if fills:
            self._pending.fills.append(fills)
        return fills

    def _record(self, fills: list[Fill], t: int) -> None:
        stats = self.stats
        for fill in fills:
            quote = fill.price * fill.qty // 10**QTY_DECIMALS
            stats.last, stats.last_qty = fill.price, fill.qty
            stats.high, stats.low = max(stats.high, fill.price), min(stats.low, fill.price)
            stats.volume += fill.qty
            stats.quote += quote
            stats.count += 1
            if stats.first_id < 0:
                stats.first_id = fill.trade_id
            stats.last_id = fill.trade_id
            self.prices.append((t, fill.price, fill.qty))
            for kline in self.klines.values():
                self._kline_add(kline, fill, quote)
        if fills:
            self.last_trade_time = t
            cutoff = t - 300_000
            while self.prices and self.prices[0][0] < cutoff:
                self.prices.pop(0)

    @staticmethod
    def _kline_add(kline: Kline, fill: Fill, quote: int) -> None:
        if kline.trades == 0:
            kline.first_id = fill.trade_id
            kline.open = kline.high = kline.low = fill.price
        kline.last_id = fill.trade_id
        kline.close = fill.price
        kline.high, kline.low = max(kline.high, fill.price), min(kline.low, fill.price)
        kline.volume += fill.qty
        kline.quote += quote
        kline.trades += 1
        if not fill.buyer_maker:
            kline.taker_volume += fill.qty
            kline.taker_quote += quote

    def kline(self, interval: str, offset_ms: int = 0, t: int | None = None) -> Kline:
        """The current kline of ``interval`` (created on first use)."""
        key = f"{interval}{offset_ms}"
        t = t or now_ms()
        kline = self.klines.get(key)
        if kline is None:
            kline = self._new_kline(interval, offset_ms, t)
            self.klines[key] = kline
        return kline

    def kline_history(self, interval: str, limit: int, t: int | None = None) -> list[Kline]:
        """The last ``limit`` klines of ``interval``, the forming one last (REST ``klines``).

        Klines exist from the moment an interval is first asked for (stream or REST), and
        1m ones from the market's start: history is what this market has really traded.
        """
        current = self.kline(interval, 0, t)
        closed = list(self.closed.get(f"{interval}0", ()))
        return [*closed, current][-limit:]

    def _new_kline(self, interval: str, offset_ms: int, t: int) -> Kline:
        span = INTERVAL_MS.get(interval)
        if span is None:  # 1M: calendar month start, good enough for a simulator
            lt = time.gmtime((t + offset_ms) / 1000)
            start = int(time.mktime((lt.tm_year, lt.tm_mon, 1, 0, 0, 0, 0, 0, 0))) * 1000
            span = 30 * 86_400_000
        else:
            start = (t + offset_ms) // span * span - offset_ms
        last = self.stats.last
        return Kline(interval, start, start + span - 1, open=last, high=last, low=last, close=last)

    def _roll_klines(self, step: Step, t: int) -> None:
        for key, kline in list(self.klines.items()):
            if t > kline.close_time:
                step.closed_klines.append(kline)
                self.closed.setdefault(key, deque(maxlen=KLINE_HISTORY)).append(kline)
                offset = int(key[len(kline.interval) :])
                self.klines[key] = self._new_kline(kline.interval, offset, t)

    def avg_price(self) -> int:
        qty = sum(q for _, _, q in self.prices)
        if not qty:
            return self.stats.last
        return sum(p * q for _, p, q in self.prices) // qty


# -- payload rendering (Binance field names) ------------------------------------------


def trade_payloads(market: SymbolMarket, step: Step) -> list[dict[str, Any]]:
    return [
        {
            "e": "trade",
            "E": step.time,
            "s": market.symbol,
            "t": f.trade_id,
            "p": fmt(f.price),
            "q": fmt(f.qty, QTY_DECIMALS),
            "T": f.time,
            "m": f.buyer_maker,
            "M": True,
        }
        for order in step.fills
        for f in order
    ]


def aggtrade_payloads(market: SymbolMarket, step: Step) -> list[dict[str, Any]]:
    # Each fill takes one whole price level, so one aggTrade stands for one fill.
    return [
        {
            "e": "aggTrade",
            "E": step.time,
            "s": market.symbol,
            "a": f.agg_id,
            "p": fmt(f.price),
            "q": fmt(f.qty, QTY_DECIMALS),
            "f": f.trade_id,
            "l": f.trade_id,
            "T": f.time,
            "m": f.buyer_maker,
            "M": True,
        }
        for order in step.fills
        for f in order
    ]


def diff_depth_payload(market: SymbolMarket, step: Step) -> dict[str, Any] | None:
    if step.last_update_id < step.first_update_id:
        return None
    return {
        "e": "depthUpdate",
        "E": step.time,
        "s": market.symbol,
        "U": step.first_update_id,
        "u": step.last_update_id,
        "b": [[fmt(p), fmt(q, QTY_DECIMALS)] for p, q in sorted(step.bid_changes.items())],
        "a": [[fmt(p), fmt(q, QTY_DECIMALS)] for p, q in sorted(step.ask_changes.items())],
    }


def partial_depth_payload(market: SymbolMarket, levels: int) -> dict[str, Any]:
    return market.snapshot(levels)


def book_ticker_payload(market: SymbolMarket) -> dict[str, Any]:
    (bp, bq), (ap, aq) = market.best_bid(), market.best_ask()
    return {
        "u": market.update_id,
        "s": market.symbol,
        "b": fmt(bp),
        "B": fmt(bq, QTY_DECIMALS),
        "a": fmt(ap),
        "A": fmt(aq, QTY_DECIMALS),
    }


def kline_row(kline: Kline) -> list[Any]:
    """One kline as ``GET /api/v3/klines`` (and ``/fapi/v1/klines``) answers it."""
    return [kline.open_time, fmt(kline.open), fmt(kline.high), fmt(kline.low), fmt(kline.close),
            fmt(kline.volume, QTY_DECIMALS), kline.close_time, fmt(kline.quote), kline.trades,
            fmt(kline.taker_volume, QTY_DECIMALS), fmt(kline.taker_quote), "0"]  # fmt: skip


def kline_payload(market: SymbolMarket, kline: Kline, t: int) -> dict[str, Any]:
    return {
        "e": "kline",
        "E": t,
        "s": market.symbol,
        "k": {
            "t": kline.open_time,
            "T": kline.close_time,
            "s": market.symbol,
            "i": kline.interval,
            "f": kline.first_id,
            "L": kline.last_id,
            "o": fmt(kline.open),
            "c": fmt(kline.close),
            "h": fmt(kline.high),
            "l": fmt(kline.low),
            "v": fmt(kline.volume, QTY_DECIMALS),
            "n": kline.trades,
            "x": t > kline.close_time,
            "q": fmt(kline.quote),
            "V": fmt(kline.taker_volume, QTY_DECIMALS),
            "Q": fmt(kline.taker_quote),
            "B": "0",
        },
    }


def price_change(stats: Stats) -> tuple[str, str, str]:
    change = stats.last - stats.open
    percent = change * 100_000 // stats.open if stats.open else 0  # 3 decimals
    weighted = stats.quote * 10**QTY_DECIMALS // stats.volume if stats.volume else stats.last
    return fmt(change), fmt(percent, 3), fmt(weighted)


def mini_ticker_payload(market: SymbolMarket, t: int) -> dict[str, Any]:
    s = market.stats
    return {
        "e": "24hrMiniTicker",
        "E": t,
        "s": market.symbol,
        "c": fmt(s.last),
        "o": fmt(s.open),
        "h": fmt(s.high),
        "l": fmt(s.low),
        "v": fmt(s.volume, QTY_DECIMALS),
        "q": fmt(s.quote),
    }


def ticker_payload(market: SymbolMarket, t: int) -> dict[str, Any]:
    s = market.stats
    change, percent, weighted = price_change(s)
    (bp, bq), (ap, aq) = market.best_bid(), market.best_ask()
    return {
        "e": "24hrTicker",
        "E": t,
        "s": market.symbol,
        "p": change,
        "P": percent,
        "w": weighted,
        "x": fmt(s.open),
        "c": fmt(s.last),
        "Q": fmt(s.last_qty, QTY_DECIMALS),
        "b": fmt(bp),
        "B": fmt(bq, QTY_DECIMALS),
        "a": fmt(ap),
        "A": fmt(aq, QTY_DECIMALS),
        "o": fmt(s.open),
        "h": fmt(s.high),
        "l": fmt(s.low),
        "v": fmt(s.volume, QTY_DECIMALS),
        "q": fmt(s.quote),
        "O": t - 86_400_000,
        "C": t,
        "F": s.first_id,
        "L": s.last_id,
        "n": s.count,
    }


def window_ticker_payload(market: SymbolMarket, window: str, t: int) -> dict[str, Any]:
    s = market.stats
    change, percent, weighted = price_change(s)
    return {
        "e": f"{window}Ticker",
        "E": t,
        "s": market.symbol,
        "p": change,
        "P": percent,
        "o": fmt(s.open),
        "h": fmt(s.high),
        "l": fmt(s.low),
        "c": fmt(s.last),
        "w": weighted,
        "v": fmt(s.volume, QTY_DECIMALS),
        "q": fmt(s.quote),
        "O": (t - WINDOW_MS[window]) // 60_000 * 60_000,
        "C": t,
        "F": s.first_id,
        "L": s.last_id,
        "n": s.count,
    }


def avg_price_payload(market: SymbolMarket, t: int) -> dict[str, Any]:
    return {
        "e": "avgPrice",
        "E": t,
        "s": market.symbol,
        "i": "5m",
        "w": fmt(market.avg_price()),
        "T": market.last_trade_time,
    }


KLINE_INTERVALS = {k.value for k in KlineInterval}
TICKER_WINDOWS = {w.value for w in TickerWindow}
