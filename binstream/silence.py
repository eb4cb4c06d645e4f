"""Streams that have gone silent: the pace Binance pushes each stream at, and a watch that
says when one has sent nothing for several times its pace.

Binance acknowledges a subscription and may then send nothing (a retired stream, a route
that does not carry it, a symbol that stopped trading). Streams pushed on a clock (depth,
klines, tickers, mark prices) have a known pace, from Binance's docs as of 2026; one
that has sent nothing for :data:`PACES_BEFORE_SILENT` paces (at least
:data:`SHORTEST_SILENCE` seconds) since it was subscribed is silent. Streams without a
pace (trades, bookTicker) may be quiet for good reasons: they are watched only with an
explicit threshold (``--silence``). Pure: the caller supplies the clock.

Example::

    >>> pace_of("bnbbtc@depth20@100ms", "spot"), pace_of("btcusdt@markPrice", "usdm")
    (0.1, 3.0)
    >>> pace_of("bnbbtc@trade", "spot") is None
    True
    >>> watch = SilenceWatch(lambda stream: 3.0)
    >>> watch.watch(["a@depth", "b@depth"], now=0.0)
    >>> watch.heard(["a@depth"], now=2.0)
    >>> watch.due(now=3.5)
    ['b@depth']
    >>> watch.due(now=9.0), watch.all_silent()
    (['a@depth'], True)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

#: A stream is silent after this many of its paces without a message...
PACES_BEFORE_SILENT = 5
#: ...and never sooner than this many seconds.
SHORTEST_SILENCE = 3.0

_SPEEDS = {"100ms": 0.1, "250ms": 0.25, "500ms": 0.5, "1000ms": 1.0, "1s": 1.0, "3000ms": 3.0}


def pace_of(stream: str, market: str = "spot") -> float | None:
    """Seconds between two messages of ``stream`` as Binance pushes it, or None when it
    sends only when something happens (trades, bookTicker, liquidations)."""
    parts = stream.split("@")
    if stream.startswith("!"):  # all-market: !miniTicker@arr, !markPrice@arr@1s
        parts = ["", parts[0][1:], *parts[1:]]
    kind = parts[1].lower() if len(parts) > 1 else ""
    speed = _SPEEDS.get(parts[-1].lower()) if len(parts) > 2 else None
    spot = market == "spot"
    if kind.startswith("depth") or kind == "rpidepth":
        default = 1.0 if spot else 0.5 if market == "options" else 0.25
        return speed or default
    if kind.startswith(("kline_", "continuouskline_")):
        if not spot:
            return 0.25
        return 1.0 if kind.endswith("_1s") else 2.0
    if kind.startswith(("ticker", "miniticker")):
        if stream.startswith("!") or spot:
            return speed or 1.0
        return 2.0
    if kind in ("markprice", "indexprice"):
        return 1.0 if speed else 3.0
    if kind in ("avgprice", "optionticker", "optionmarkprice", "index", "compositeindex",
                "assetindex"):  # fmt: skip
        return 1.0
    if kind == "optionopeninterest":
        return 60.0
    return None


def silence_threshold(stream: str, market: str, quiet_after: float | None) -> float | None:
    """Seconds without a message after which ``stream`` is silent: several of its paces,
    or ``quiet_after`` for a stream without one (None: it is not watched)."""
    pace = pace_of(stream, market)
    if pace is None:
        return quiet_after
    return max(PACES_BEFORE_SILENT * pace, SHORTEST_SILENCE)


class SilenceWatch:
    """Which streams of a connection have gone silent.

    ``threshold(stream)`` gives each stream's limit (None: not watched). A stream is said
    silent once by :meth:`due`, and again only after it was heard from and went quiet
    again.
    """

    def __init__(self, threshold: Callable[[str], float | None]) -> None:
        self._threshold = threshold
        #: stream → (threshold, last heard or watched since, said silent).
        self._streams: dict[str, tuple[float | None, float, bool]] = {}

    def watch(self, streams: Iterable[str], now: float) -> None:
        """Watch ``streams`` from ``now`` (their subscription was confirmed)."""
        for name in streams:
            self._streams[name] = (self._threshold(name), now, False)

    def keep_only(self, streams: Iterable[str], now: float) -> None:
        """Follow a change of subscriptions: new streams watched from ``now``, gone ones
        forgotten."""
        wanted = dict.fromkeys(streams)
        for name in [n for n in self._streams if n not in wanted]:
            del self._streams[name]
        self.watch([n for n in wanted if n not in self._streams], now)

    def heard(self, streams: Iterable[str], now: float) -> None:
        """``streams`` delivered a message by ``now``."""
        found = self._streams
        for name in streams:
            entry = found.get(name)
            if entry is not None:
                found[name] = (entry[0], now, False)

    def heard_all(self, now: float) -> None:
        """Every stream delivered (a single-stream connection got a message)."""
        self.heard(list(self._streams), now)

    def due(self, now: float) -> list[str]:
        """Streams that have just gone silent (each said once per silence)."""
        found = []
        for name, (limit, since, said) in self._streams.items():
            if limit is not None and not said and now - since >= limit:
                self._streams[name] = (limit, since, True)
                found.append(name)
        return found

    def silent(self) -> list[str]:
        """Streams silent now."""
        return [name for name, (_, _, said) in self._streams.items() if said]

    def all_silent(self) -> bool:
        """Every stream of the connection is watched and silent (and there is one)."""
        entries = self._streams.values()
        return bool(entries) and all(said for _, _, said in entries)

    def threshold(self, stream: str) -> float | None:
        """The limit ``stream`` is watched with (None: not watched or not known)."""
        entry = self._streams.get(stream)
        return None if entry is None else entry[0]
