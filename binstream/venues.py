"""The four Binance venues binstream streams from, and how each one routes its streams.

Pure, no I/O. A :class:`Venue` knows its limits (streams per connection, control messages
per second), its kline intervals and depth speeds, where its REST API lives, and which
path (route) of its host carries each stream::

    >>> venue = venue_for("usdm")
    >>> venue.route_of("btcusdt@depth@100ms"), venue.route_of("btcusdt@aggTrade")
    (<Route.PUBLIC: 'public'>, <Route.MARKET: 'market'>)
    >>> venue_for("coinm").route_of("btcusd_perp@depth")
    <Route.NONE: ''>

Routing, as Binance documents it (USD-M "Important WebSocket Change Notice", 2026-03-06,
effective 2026-04-23; the options market-stream pages, 2026):

* USD-M futures and options share ``fstream.binance.com``. ``/public`` carries the
  high-frequency book data (``@depth…``, ``@bookTicker``, ``!bookTicker``, ``@rpiDepth``;
  for options also ``@optionTicker`` and ``@optionTrade``), ``/market`` everything else,
  ``/private`` the user data. A stream sent to the wrong route is acknowledged and then
  never delivers; a connection with no route only delivers ``/public`` streams.
* ``<symbol>@trade`` on USD-M goes to ``/market``: the change notice lists ``/public`` as
  book data only, and trades are "regular market data" like ``@aggTrade``.
* COIN-M (``dstream.binance.com``) and spot are not routed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .errors import InvalidStreamError


class Market(StrEnum):
    """A Binance venue, as ``--market`` names it."""

    SPOT = "spot"
    USDM = "usdm"
    COINM = "coinm"
    OPTIONS = "options"


class Route(StrEnum):
    """The path a routed host serves a stream on; ``NONE`` on hosts that do not route."""

    NONE = ""
    PUBLIC = "public"
    MARKET = "market"
    PRIVATE = "private"


class FuturesType(StrEnum):
    """python-binance's ``FuturesType``: which futures venue a socket method opens."""

    USD_M = "usdm"
    COIN_M = "coinm"

    @property
    def market(self) -> Market:
        """The :class:`Market` this futures type streams from."""
        return Market(self.value)


class ContractType(StrEnum):
    """python-binance's ``ContractType``: the contract of a continuous kline stream."""

    PERPETUAL = "perpetual"
    CURRENT_QUARTER = "current_quarter"
    NEXT_QUARTER = "next_quarter"


_SPOT_INTERVALS = (
    "1s",
    "1m",
    "3m",
    "5m",
    "15m",
    "30m",
    "1h",
    "2h",
    "4h",
    "6h",
    "8h",
    "12h",
    "1d",
    "3d",
    "1w",
    "1M",
)
#: Options klines: no 1s, 8h or 1M (Binance's options market-stream docs).
_OPTIONS_INTERVALS = tuple(i for i in _SPOT_INTERVALS if i not in ("1s", "8h", "1M"))

_USDM_PUBLIC = ("depth", "bookTicker", "rpiDepth")
_OPTIONS_PUBLIC = ("depth", "bookTicker", "optionTicker", "optionTrade")


@dataclass(frozen=True)
class Venue:
    """What binstream needs to know about one venue to stream from it."""

    market: Market
    #: Streams one connection may carry.
    max_streams: int
    #: Control messages (SUBSCRIBE, ...) a connection may send per second.
    max_messages_per_second: int
    #: True when the host serves streams under ``/public`` and ``/market``.
    routed: bool
    kline_intervals: tuple[str, ...]
    #: Depth update speeds the venue accepts; the first is the default (left implicit).
    depth_speeds: tuple[str, ...]
    #: REST path prefix (``/api/v3``, ``/fapi/v1``, ...).
    rest_prefix: str
    #: Characters besides letters and digits a symbol may hold.
    symbol_extra: str
    #: Stream types served on ``/public``; everything else goes to ``/market``.
    public_types: tuple[str, ...] = ()
    #: Largest depth snapshot the REST API returns.
    snapshot_limit: int = 1000

    @property
    def subscribe_interval(self) -> float:
        """Seconds between two control messages: 80% of the venue's allowance."""
        return 1.0 / (self.max_messages_per_second * 0.8)

    @property
    def is_futures(self) -> bool:
        """USD-M or COIN-M."""
        return self.market in (Market.USDM, Market.COINM)

    def route_of(self, stream: str) -> Route:
        """The route that carries ``stream`` (a canonical name) on this venue's host."""
        if not self.routed:
            return Route.NONE
        if stream.lower() == "!bookticker":
            return Route.PUBLIC
        kind = stream.split("@")[1] if "@" in stream and not stream.startswith("!") else ""
        if kind.startswith("depth"):
            kind = "depth"
        return Route.PUBLIC if kind in self.public_types else Route.MARKET


VENUES: dict[Market, Venue] = {
    Market.SPOT: Venue(
        Market.SPOT,
        1024,
        5,
        False,
        _SPOT_INTERVALS,
        ("1000ms", "100ms"),
        "/api/v3",
        "",
        snapshot_limit=5000,
    ),
    Market.USDM: Venue(
        Market.USDM,
        200,
        10,
        True,
        _SPOT_INTERVALS[1:],
        ("250ms", "100ms", "500ms"),
        "/fapi/v1",
        "_",
        _USDM_PUBLIC,
    ),
    Market.COINM: Venue(
        Market.COINM,
        200,
        10,
        False,
        _SPOT_INTERVALS[1:],
        ("250ms", "100ms", "500ms"),
        "/dapi/v1",
        "_",
    ),
    Market.OPTIONS: Venue(
        Market.OPTIONS,
        200,
        10,
        True,
        _OPTIONS_INTERVALS,
        ("500ms", "100ms"),
        "/eapi/v1",
        "-",
        _OPTIONS_PUBLIC,
        100,
    ),
}


def market_value(value: object) -> Market:
    """Coerce ``"usdm"``, a :class:`Market` or a :class:`FuturesType` to a :class:`Market`."""
    if isinstance(value, FuturesType):
        return value.market
    if isinstance(value, Market):
        return value
    raw = str(getattr(value, "name", value) if not isinstance(value, str) else value)
    aliases = {"usd_m": "usdm", "coin_m": "coinm", "futures": "usdm", "option": "options"}
    key = aliases.get(raw.lower().replace("-", "_"), raw.lower())
    try:
        return Market(key)
    except ValueError:
        choices = ", ".join(m.value for m in Market)
        raise InvalidStreamError(f"invalid market {value!r}: choose one of {choices}") from None


def venue_for(market: object) -> Venue:
    """The :class:`Venue` of ``market`` (a name, :class:`Market` or :class:`FuturesType`)."""
    return VENUES[market_value(market)]


def futures_market(futures_type: object) -> Market:
    """python-binance's ``futures_type`` (its own enum, ours, 1/2 or a name) as a Market."""
    if isinstance(futures_type, int) and not isinstance(futures_type, bool):
        futures_type = {1: Market.USDM, 2: Market.COINM}.get(futures_type, futures_type)
    name = getattr(futures_type, "name", None)
    if isinstance(name, str) and name in ("USD_M", "COIN_M"):
        return Market.USDM if name == "USD_M" else Market.COINM
    market = market_value(futures_type)
    if market not in (Market.USDM, Market.COINM):
        raise InvalidStreamError(f"invalid futures_type {futures_type!r}: use USD_M or COIN_M")
    return market
