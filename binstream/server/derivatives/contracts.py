"""The derivatives venues of the local exchange: USD-M and COIN-M futures, and options.

Each contract is a :class:`~.market.SymbolMarket` (its book, trades, klines and statistics)
plus what only derivatives have: a mark price and an index price derived from the book, a
funding rate with its next funding time, liquidations that really trade against the book,
and for options the greeks. Payloads use the field names of Binance's derivatives docs.
Update ids skip on futures (as on Binance), so a diff-depth event chains to the previous
one only through ``pu``.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass
from typing import Any

from ...venues import Market
from ..market import QTY_DECIMALS, Kline, Step, SymbolMarket, SymbolSpec, fmt, price_change, units
from ..market import aggtrade_payloads as spot_aggtrades
from ..market import kline_payload as spot_kline
from ..market import mini_ticker_payload as spot_mini_ticker
from ..market import ticker_payload as spot_ticker

FUNDING_PERIOD_MS = 8 * 3_600_000
#: Chance per step that a contract liquidates a position (one in ~20 s at 100 ms steps).
LIQUIDATION_PROBABILITY = 0.005


@dataclass(frozen=True)
class ContractSpec:
    """A simulated contract: the book's spec and what identifies the contract."""

    spec: SymbolSpec
    pair: str
    contract_type: str = "PERPETUAL"
    #: Options only: underlying index (``BTCUSDT``), strike, ``CALL``/``PUT``, expiry YYMMDD.
    underlying: str = ""
    strike: str = ""
    side: str = ""
    expiry: str = ""
    #: COIN-M: contract size in USD.
    contract_size: int = 0


USDM_CONTRACTS = (
    ContractSpec(SymbolSpec("BTCUSDT", "95000.00000000", "0.10000000", "0.00100000"), "BTCUSDT"),
    ContractSpec(SymbolSpec("ETHUSDT", "3500.00000000", "0.01000000", "0.00100000"), "ETHUSDT"),
    ContractSpec(SymbolSpec("BNBUSDT", "650.00000000", "0.01000000", "0.01000000"), "BNBUSDT"),
    ContractSpec(
        SymbolSpec("BTCUSDT_261225", "96500.00000000", "0.10000000", "0.00100000"),
        "BTCUSDT",
        "CURRENT_QUARTER",
    ),
)
COINM_CONTRACTS = (
    ContractSpec(
        SymbolSpec("BTCUSD_PERP", "95000.00000000", "0.10000000", "1.00000000"),
        "BTCUSD",
        contract_size=100,
    ),
    ContractSpec(
        SymbolSpec("ETHUSD_PERP", "3500.00000000", "0.01000000", "1.00000000"),
        "ETHUSD",
        contract_size=10,
    ),
    ContractSpec(
        SymbolSpec("BTCUSD_261225", "96500.00000000", "0.10000000", "1.00000000"),
        "BTCUSD",
        "CURRENT_QUARTER",
        contract_size=100,
    ),
)
OPTIONS_CONTRACTS = (
    ContractSpec(
        SymbolSpec("BTC-261225-100000-C", "4500.00000000", "5.00000000", "0.01000000"),
        "BTCUSDT",
        "",
        "BTCUSDT",
        "100000",
        "CALL",
        "261225",
    ),
    ContractSpec(
        SymbolSpec("BTC-261225-90000-P", "2800.00000000", "5.00000000", "0.01000000"),
        "BTCUSDT",
        "",
        "BTCUSDT",
        "90000",
        "PUT",
        "261225",
    ),
    ContractSpec(
        SymbolSpec("ETH-261225-4000-C", "150.00000000", "0.10000000", "0.01000000"),
        "ETHUSDT",
        "",
        "ETHUSDT",
        "4000",
        "CALL",
        "261225",
    ),
)
DEFAULT_CONTRACTS = {
    Market.USDM: USDM_CONTRACTS,
    Market.COINM: COINM_CONTRACTS,
    Market.OPTIONS: OPTIONS_CONTRACTS,
}
#: Index prices of the options' underlyings (their futures' starting prices).
UNDERLYING_PRICES = {"BTCUSDT": 95000, "ETHUSDT": 3500}


class Contract:
    """One derivatives contract: its market and its derivatives state."""

    def __init__(self, venue: Market, spec: ContractSpec, seed: int | None) -> None:
        self.venue = venue
        self.spec = spec
        self.market = SymbolMarket(spec.spec, seed, id_stride=3)
        self.symbol = self.market.symbol
        self.rng = random.Random((seed or 0) + 7)
        #: (step number, forceOrder payload) of recent liquidations.
        self.liquidations: deque[tuple[int, dict[str, Any]]] = deque(maxlen=64)
        self.basis = self.rng.uniform(-0.0004, 0.0004)

    # -- derived prices ------------------------------------------------------------------

    def mark_price(self) -> int:
        """Mid of the book, in price units."""
        (bid, _), (ask, _) = self.market.best_bid(), self.market.best_ask()
        return (bid + ask) // 2

    def index_price(self) -> int:
        """The spot index the contract tracks: the mark less a small, slowly moving basis."""
        return int(self.mark_price() * (1 - self.basis))

    @property
    def funding_rate(self) -> float:
        """The interest rate plus a third of the premium (the basis)."""
        return round(0.0001 + self.basis / 3, 8)

    def step(self, number: int, t: int) -> Step:
        """Advance the book once; now and then liquidate a position against it."""
        step = self.market.step(t)
        self.basis = max(-0.001, min(0.001, self.basis + self.rng.uniform(-2e-5, 2e-5)))
        if self.venue is not Market.OPTIONS and self.rng.random() < LIQUIDATION_PROBABILITY:
            self._liquidate(number, t)
        return step

    def _liquidate(self, number: int, t: int) -> None:
        buy = self.rng.random() < 0.5
        wanted = self.market.lot * self.rng.randint(1, 50)
        fills = self.market.take(buy, wanted, None, t)
        if not fills:
            return
        filled = sum(f.qty for f in fills)
        average = sum(f.price * f.qty for f in fills) // filled
        worst = fills[-1].price
        order = {
            "s": self.symbol,
            "S": "BUY" if buy else "SELL",
            "o": "LIMIT",
            "f": "IOC",
            "q": fmt(filled, QTY_DECIMALS),
            "p": fmt(worst),
            "ap": fmt(average),
            "X": "FILLED",
            "l": fmt(fills[-1].qty, QTY_DECIMALS),
            "z": fmt(filled, QTY_DECIMALS),
            "T": t,
        }
        if self.venue is Market.COINM:
            order["ps"] = self.spec.pair
        self.liquidations.append((number + 1, {"e": "forceOrder", "E": t, "o": order}))


def next_funding_time(t: int) -> int:
    """The next 00:00, 08:00 or 16:00 UTC after ``t``."""
    return (t // FUNDING_PERIOD_MS + 1) * FUNDING_PERIOD_MS


# -- payloads ----------------------------------------------------------------------------


def _with_pair(c: Contract, payload: dict[str, Any]) -> dict[str, Any]:
    if c.venue is Market.COINM:
        payload["ps"] = c.spec.pair
    return payload


def trade_payloads(c: Contract, step: Step) -> list[dict[str, Any]]:
    """``trade`` events (futures: ``X`` is the trade's kind; options add the taker side)."""
    out = []
    for order in step.fills:
        for f in order:
            payload: dict[str, Any] = {
                "e": "trade",
                "E": step.time,
                "T": f.time,
                "s": c.symbol,
                "t": f.trade_id,
                "p": fmt(f.price),
                "q": fmt(f.qty, QTY_DECIMALS),
                "X": "MARKET",
                "m": f.buyer_maker,
            }
            if c.venue is Market.OPTIONS:
                payload["S"] = "SELL" if f.buyer_maker else "BUY"
            out.append(payload)
    return out


def aggtrade_payloads(c: Contract, step: Step) -> list[dict[str, Any]]:
    """``aggTrade`` events: spot's, without the ignored ``M`` futures do not send."""
    return [{k: v for k, v in p.items() if k != "M"} for p in spot_aggtrades(c.market, step)]


def _levels(changes: dict[int, int], reverse: bool) -> list[list[str]]:
    return [[fmt(p), fmt(q, QTY_DECIMALS)] for p, q in sorted(changes.items(), reverse=reverse)]


def diff_depth_payload(c: Contract, step: Step) -> dict[str, Any] | None:
    """A diff-depth event: ``U``/``u`` span the window, ``pu`` is the previous event's ``u``."""
    if step.last_update_id < step.first_update_id:
        return None
    if c.venue is Market.OPTIONS:
        return {
            "e": "depth",
            "E": step.time,
            "T": step.time,
            "s": c.symbol,
            "u": step.last_update_id,
            "pu": step.prev_update_id,
            "b": _levels(step.bid_changes, True),
            "a": _levels(step.ask_changes, False),
        }
    return _with_pair(
        c,
        {
            "e": "depthUpdate",
            "E": step.time,
            "T": step.time,
            "s": c.symbol,
            "U": step.first_update_id,
            "u": step.last_update_id,
            "pu": step.prev_update_id,
            "b": _levels(step.bid_changes, True),
            "a": _levels(step.ask_changes, False),
        },
    )


def partial_depth_payload(c: Contract, levels: int, t: int, prev: int) -> dict[str, Any]:
    """Top ``levels`` of the book; futures send it in the diff event's shape."""
    bids, asks = c.market.top(levels)
    if c.venue is Market.OPTIONS:
        return {
            "e": "depth",
            "E": t,
            "T": t,
            "s": c.symbol,
            "u": c.market.update_id,
            "pu": prev,
            "b": bids,
            "a": asks,
        }
    return _with_pair(
        c,
        {
            "e": "depthUpdate",
            "E": t,
            "T": t,
            "s": c.symbol,
            "U": prev + 1,
            "u": c.market.update_id,
            "pu": prev,
            "b": bids,
            "a": asks,
        },
    )


def book_ticker_payload(c: Contract, t: int) -> dict[str, Any]:
    """Best bid and ask."""
    (bp, bq), (ap, aq) = c.market.best_bid(), c.market.best_ask()
    return _with_pair(
        c,
        {
            "e": "bookTicker",
            "u": c.market.update_id,
            "E": t,
            "T": t,
            "s": c.symbol,
            "b": fmt(bp),
            "B": fmt(bq, QTY_DECIMALS),
            "a": fmt(ap),
            "A": fmt(aq, QTY_DECIMALS),
        },
    )


def mark_price_payload(c: Contract, t: int) -> dict[str, Any]:
    """``markPriceUpdate``: mark, index, estimated settle price, funding rate and time."""
    mark = c.mark_price()
    return {
        "e": "markPriceUpdate",
        "E": t,
        "s": c.symbol,
        "p": fmt(mark),
        "i": fmt(c.index_price()),
        "P": fmt(mark),
        "r": f"{c.funding_rate:.8f}" if c.spec.contract_type == "PERPETUAL" else "",
        "T": next_funding_time(t) if c.spec.contract_type == "PERPETUAL" else 0,
    }


def index_price_payload(pair: str, price: int, t: int) -> dict[str, Any]:
    """COIN-M ``indexPriceUpdate`` of a pair."""
    return {"e": "indexPriceUpdate", "E": t, "i": pair, "p": fmt(price)}


def kline_payload(c: Contract, kline: Kline, t: int) -> dict[str, Any]:
    """A kline event (the same shape as spot's, as Binance sends it on futures)."""
    return spot_kline(c.market, kline, t)


def continuous_kline_payload(c: Contract, kline: Kline, t: int) -> dict[str, Any]:
    """``continuous_kline``: klines of a pair's contract type, without the symbol."""
    inner = kline_payload(c, kline, t)["k"]
    inner.pop("s", None)
    return {
        "e": "continuous_kline",
        "E": t,
        "ps": c.spec.pair,
        "ct": c.spec.contract_type,
        "k": inner,
    }


#: Spot's 24 h ticker fields that futures' ``24hrTicker`` does not carry.
_SPOT_ONLY_TICKER = frozenset(("x", "b", "B", "a", "A"))


def ticker_payload(c: Contract, t: int) -> dict[str, Any]:
    """``24hrTicker``: spot's statistics without its bid/ask fields (and ``x``)."""
    spot = spot_ticker(c.market, t)
    return _with_pair(c, {k: v for k, v in spot.items() if k not in _SPOT_ONLY_TICKER})


def mini_ticker_payload(c: Contract, t: int) -> dict[str, Any]:
    """``24hrMiniTicker``: spot's, with the pair on COIN-M."""
    return _with_pair(c, spot_mini_ticker(c.market, t))


def composite_index_payload(c: Contract, t: int) -> dict[str, Any]:
    """``compositeIndex``: the index and its single component in this simulation."""
    price = fmt(c.index_price())
    base = c.spec.pair.removesuffix("USDT")
    return {
        "e": "compositeIndex",
        "E": t,
        "s": c.symbol,
        "p": price,
        "C": "baseAsset",
        "c": [{"b": base, "q": "USDT", "w": "1.00000000", "W": "1.00000000", "i": price}],
    }


def contract_info_payload(c: Contract, t: int) -> dict[str, Any]:
    """``contractInfo``: sent when a contract's status or brackets change."""
    return {
        "e": "contractInfo",
        "E": t,
        "s": c.symbol,
        "ps": c.spec.pair,
        "ct": c.spec.contract_type,
        "dt": 4133404800000,
        "ot": 1569398400000,
        "cs": "TRADING",
        "bks": [{"bs": 1, "bnf": 0, "bnc": 5000, "mmr": 0.01, "cf": 0, "mi": 21, "ma": 50}],
    }


def asset_index_payload(c: Contract, t: int) -> dict[str, Any]:
    """``assetIndexUpdate`` of the contract's base asset in multi-assets mode."""
    index = fmt(c.index_price())
    bid, ask = fmt(c.index_price() * 9990 // 10000), fmt(c.index_price() * 10010 // 10000)
    return {
        "e": "assetIndexUpdate",
        "E": t,
        "s": c.spec.pair.removesuffix("USDT") + "USD",
        "i": index,
        "b": "0.10000000",
        "a": "0.10000000",
        "B": bid,
        "A": ask,
        "q": "0.05000000",
        "g": "0.05000000",
        "Q": bid,
        "G": ask,
    }


# -- options -----------------------------------------------------------------------------


def _quotes(c: Contract) -> dict[str, str]:
    """Best bid and ask with sizes, and their implied volatilities."""
    (bp, bq), (ap, aq) = c.market.best_bid(), c.market.best_ask()
    return {"bo": fmt(bp), "ao": fmt(ap), "bq": fmt(bq, QTY_DECIMALS),
            "aq": fmt(aq, QTY_DECIMALS), "b": "0.50000000", "a": "0.51000000"}  # fmt: skip


def _greeks(c: Contract) -> dict[str, str]:
    sign = 1 if c.spec.side == "CALL" else -1
    return {"d": f"{0.45 * sign:.8f}", "t": "-0.50000000", "g": "0.00002000", "v": "0.30000000"}


def option_ticker_payload(c: Contract, t: int) -> dict[str, Any]:
    """An options ``24hrTicker``."""
    s = c.market.stats
    change, percent, _ = price_change(s)
    return {
        "e": "24hrTicker",
        "E": t,
        "T": t,
        "s": c.symbol,
        "o": fmt(s.open),
        "h": fmt(s.high),
        "l": fmt(s.low),
        "c": fmt(s.last),
        "V": fmt(s.volume, QTY_DECIMALS),
        "A": fmt(s.quote),
        "P": percent,
        "p": change,
        "Q": fmt(s.last_qty, QTY_DECIMALS),
        "F": max(s.first_id, 0),
        "L": max(s.last_id, 0),
        "n": s.count,
        **_quotes(c),
        **_greeks(c),
        "vo": "0.50500000",
        "mp": fmt(c.mark_price()),
        "hl": fmt(c.mark_price() * 2),
        "ll": fmt(c.market.tick),
        "eep": "0",
    }


def option_mark_payload(c: Contract, t: int) -> dict[str, Any]:
    """One entry of ``<underlying>@optionMarkPrice``."""
    return {
        "e": "markPrice",
        "E": t,
        "s": c.symbol,
        "mp": fmt(c.mark_price()),
        "i": fmt(units(str(UNDERLYING_PRICES.get(c.spec.underlying, 0)), 8)),
        "P": "0",
        **_quotes(c),
        "hl": fmt(c.mark_price() * 2),
        "ll": fmt(c.market.tick),
        "vo": "0.50500000",
        "rf": "0.00000000",
        **_greeks(c),
    }


def option_open_interest_payload(c: Contract, t: int) -> dict[str, Any]:
    """One entry of ``<underlying>@optionOpenInterest@<expiry>``."""
    contracts = c.market.stats.volume // 2
    return {
        "e": "openInterest",
        "E": t,
        "s": c.symbol,
        "o": fmt(contracts, QTY_DECIMALS),
        "h": fmt(contracts * c.mark_price() // 10**QTY_DECIMALS),
    }


def option_symbol_payload(c: Contract, t: int) -> dict[str, Any]:
    """``optionSymbol``: a listing."""
    return {
        "e": "optionSymbol",
        "E": t,
        "u": c.spec.underlying,
        "qa": "USDT",
        "s": c.symbol,
        "unit": 1,
        "mq": "0.01",
        "d": c.spec.side,
        "sp": c.spec.strike,
        "ed": 1798185600000,
    }


def index_payloads(t: int) -> list[dict[str, Any]]:
    """``!index@arr``: every underlying's index price."""
    return [
        {"e": "index", "E": t, "s": name, "p": fmt(units(str(price), 8))}
        for name, price in UNDERLYING_PRICES.items()
    ]
