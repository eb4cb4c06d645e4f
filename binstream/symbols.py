"""Which symbols a market lists, from its exchangeInfo, and the streams that name others.

Binance acknowledges a subscription to a symbol it does not list and then sends nothing:
the commonest "the stream is dead" report. This module answers, without any I/O, whether
the symbol a stream is about exists (and trades) in a market, and which listed symbols
are close to one that does not. :mod:`binstream.asyncio.symbol_check` fetches the
exchangeInfo it reads.

Example::

    >>> d = SymbolDirectory.from_exchange_info("spot", {"symbols": [
    ...     {"symbol": "BNBBTC", "status": "TRADING"}, {"symbol": "ETHBTC", "status": "TRADING"},
    ...     {"symbol": "LUNABTC", "status": "BREAK"}]})
    >>> d.problem("nosuchusdt@trade")
    'unknown symbol NOSUCHUSDT on spot'
    >>> d.problem("bnbbtx@trade")
    'unknown symbol BNBBTX on spot (did you mean BNBBTC?)'
    >>> d.problem("lunabtc@trade")
    'symbol LUNABTC is not trading on spot (status BREAK)'
    >>> d.problem("bnbbtc@depth@100ms") is None and d.problem("!miniTicker@arr") is None
    True
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

#: Statuses under which a symbol's streams carry data.
LIVE_STATUSES = frozenset({"TRADING", "PENDING_TRADING", "PRE_TRADING", "AUCTION_MATCH"})


def stream_subject(stream: str) -> str | None:
    """The symbol, pair or underlying ``stream`` is about, upper-case; None for
    all-market streams (``!miniTicker@arr``).

    Continuous klines name a pair and a contract (``btcusdt_perpetual``): the pair is
    the subject.
    """
    if stream.startswith("!") or "@" not in stream:
        return None
    subject, kind = stream.split("@", 2)[:2]
    if kind.lower().startswith("continuouskline_"):
        subject = subject.rpartition("_")[0] or subject
    return subject.upper() or None


class SymbolDirectory:
    """The symbols of one market as its exchangeInfo lists them, with their status.

    ``subjects`` are the other names a stream may be about: futures pairs (``BTCUSD``
    of ``BTCUSD_PERP``), options underlyings and their base assets.
    """

    def __init__(
        self, market: str, statuses: Mapping[str, str], subjects: Iterable[str] = ()
    ) -> None:
        self.market = market
        self.statuses = dict(statuses)
        self.subjects = frozenset(subjects) - self.statuses.keys()

    @classmethod
    def from_exchange_info(cls, market: str, info: Mapping[str, Any]) -> SymbolDirectory:
        """Read Binance's exchangeInfo answer of spot, USD-M, COIN-M or options."""
        statuses: dict[str, str] = {}
        subjects: set[str] = set()
        for row in info.get("symbols") or ():
            symbol = str(row.get("symbol", "")).upper()
            statuses[symbol] = str(row.get("status") or row.get("contractStatus") or "TRADING")
            if row.get("pair"):
                subjects.add(str(row["pair"]).upper())
        for row in info.get("optionSymbols") or ():
            statuses[str(row.get("symbol", "")).upper()] = str(row.get("status") or "TRADING")
            underlying = str(row.get("underlying") or "").upper()
            if underlying:
                subjects.add(underlying)
                subjects.add(underlying.removesuffix(str(row.get("quoteAsset") or "USDT")))
        for row in info.get("optionContracts") or ():
            for key in ("underlying", "baseAsset"):
                if row.get(key):
                    subjects.add(str(row[key]).upper())
        statuses.pop("", None)
        subjects.discard("")
        return cls(market, statuses, subjects)

    def __len__(self) -> int:
        return len(self.statuses)

    def knows(self, subject: str) -> bool:
        """Whether ``subject`` (upper-case) is a listed symbol, pair or underlying."""
        return subject in self.statuses or subject in self.subjects

    def close_matches(self, subject: str, n: int = 3) -> list[str]:
        """Listed symbols spelt like ``subject``, the closest first."""
        pool = [s for s, status in self.statuses.items() if status in LIVE_STATUSES]
        return difflib.get_close_matches(subject, pool, n=n, cutoff=0.6)

    def problem(self, stream: str) -> str | None:
        """Why ``stream`` would be silent (its symbol is unknown or not trading), or None."""
        subject = stream_subject(stream)
        if subject is None:
            return None
        status = self.statuses.get(subject)
        if status is not None:
            if status in LIVE_STATUSES:
                return None
            return f"symbol {subject} is not trading on {self.market} (status {status})"
        if subject in self.subjects:
            return None
        matches = self.close_matches(subject)
        hint = f" (did you mean {', '.join(matches)}?)" if matches else ""
        return f"unknown symbol {subject} on {self.market}{hint}"


def problems(streams: Iterable[str], directory: SymbolDirectory) -> list[str]:
    """What is wrong with ``streams``' symbols, one message per symbol, in order."""
    found: dict[str, str] = {}
    for stream in streams:
        subject = stream_subject(stream)
        if subject is None or subject in found:
            continue
        problem = directory.problem(stream)
        if problem is not None:
            found[subject] = problem
    return list(found.values())
