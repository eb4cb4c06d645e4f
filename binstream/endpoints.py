"""Where streams live: base URLs for every venue and the URL shapes Binance uses.

Pure, no I/O::

    >>> ep = Endpoints.resolve(endpoint="ws://127.0.0.1:9000")
    >>> ep.stream_urls(["bnbbtc@trade"])
    ['ws://127.0.0.1:9000/ws/bnbbtc@trade']
    >>> ep.rest
    'http://127.0.0.1:9000'
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from urllib.parse import quote, urlsplit

from .errors import EndpointError
from .venues import VENUES, Market, Route, Venue, market_value

#: Binance accepts at most this many streams on one connection.
MAX_STREAMS_PER_CONNECTION = 1024
#: Streams beyond this URL length are added with SUBSCRIBE after connecting.
MAX_URL_LENGTH = 4000

ENDPOINT_ENV = "BINSTREAM_ENDPOINT"
REST_ENDPOINT_ENV = "BINSTREAM_REST_ENDPOINT"


def market_endpoint_env(market: Market) -> str:
    """``$BINSTREAM_USDM_ENDPOINT`` and the like: one market's base URL."""
    return f"BINSTREAM_{market.value.upper()}_ENDPOINT"


#: (stream, REST, WebSocket API) of each derivatives venue, live and testnet.
_DERIVATIVES = {
    Market.USDM: (
        ("wss://fstream.binance.com", "https://fapi.binance.com",
         "wss://ws-fapi.binance.com/ws-fapi/v1"),
        ("wss://fstream.binancefuture.com", "https://testnet.binancefuture.com",
         "wss://testnet.binancefuture.com/ws-fapi/v1"),
    ),
    Market.COINM: (
        ("wss://dstream.binance.com", "https://dapi.binance.com",
         "wss://ws-dapi.binance.com/ws-dapi/v1"),
        ("wss://dstream.binancefuture.com", "https://testnet.binancefuture.com",
         "wss://testnet.binancefuture.com/ws-dapi/v1"),
    ),
    Market.OPTIONS: (
        ("wss://fstream.binance.com", "https://eapi.binance.com",
         "wss://ws-fapi.binance.com/ws-fapi/v1"),
        ("wss://fstream.binancefuture.com", "https://testnet.binancefuture.com",
         "wss://testnet.binancefuture.com/ws-fapi/v1"),
    ),
}  # fmt: skip
#: Binance's SBE market-data hosts, live and testnet (sbe-market-data-streams.md).
SBE_HOSTS = ("wss://stream-sbe.binance.com:9443", "wss://stream-sbe.testnet.binance.vision")
#: Where ``binstream serve`` serves the SBE streams, below its root.
LOCAL_SBE_PATH = "/sbe"


def sbe_base(*, testnet: bool = False, root: str | None = None) -> str:
    """The SBE streams' base URL: Binance's SBE host, or ``<root>/sbe`` on a local exchange
    whose root (``$BINSTREAM_ENDPOINT``, a manager's ``endpoint``) is given."""
    if root:
        return check_ws_url(root).rstrip("/") + LOCAL_SBE_PATH
    return SBE_HOSTS[1 if testnet else 0]


#: The path of each market on binstream's local exchange (``binstream serve``).
LOCAL_PATHS = {Market.SPOT: "", Market.USDM: "/usdm", Market.COINM: "/coinm",
               Market.OPTIONS: "/options"}  # fmt: skip

_TLD_RE = re.compile(r"^[a-z]{2,6}(\.[a-z]{2,6})?$")
_SAFE_IN_NAME = "@!_:+-"


def endpoint_from_env(market: object) -> str | None:
    """The base URL the environment names for ``market``, if any.

    ``$BINSTREAM_<MARKET>_ENDPOINT`` names one market's base; ``$BINSTREAM_ENDPOINT`` a
    whole local exchange, laid out as ``binstream serve`` does (spot at the root, the
    other markets under :data:`LOCAL_PATHS`).
    """
    chosen = market_value(market)
    if chosen is not Market.SPOT:
        own = os.environ.get(market_endpoint_env(chosen), "").strip()
        if own:
            return own
    root = os.environ.get(ENDPOINT_ENV, "").strip()
    return market_url(root, chosen) if root else None


def market_url(root: str, market: object) -> str:
    """Where ``market`` lives on a server laid out as ``binstream serve`` is: spot at
    ``root``, the others under :data:`LOCAL_PATHS` (``ws://h:p`` → ``ws://h:p/usdm``)."""
    return root.rstrip("/") + LOCAL_PATHS[market_value(market)]


@dataclass(frozen=True)
class Endpoints:
    """The three base URLs a client needs: market streams, REST and the WebSocket API,
    for one market (spot unless told otherwise)."""

    stream: str
    rest: str
    ws_api: str
    market: Market = Market.SPOT

    @property
    def venue(self) -> Venue:
        """Limits and routing of this market."""
        return VENUES[self.market]

    def route_base(self, route: Route) -> str:
        """``<stream>/public``, ``<stream>/market``, or the base itself when not routed."""
        return f"{self.stream}/{route.value}" if route is not Route.NONE else self.stream

    def rest_url(self, path: str) -> str:
        """The URL of a REST path of this market: ``depth`` → ``<rest>/fapi/v1/depth``."""
        return f"{self.rest}{self.venue.rest_prefix}/{path.lstrip('/')}"

    @classmethod
    def resolve(
        cls,
        *,
        tld: str = "com",
        testnet: bool = False,
        market_data_only: bool = False,
        endpoint: str | None = None,
        rest_endpoint: str | None = None,
        use_env: bool = True,
        market: object = Market.SPOT,
    ) -> Endpoints:
        """Pick base URLs from the options, most specific first.

        ``endpoint`` overrides everything: the market's stream base, which may carry a
        path (``ws://127.0.0.1:9000/usdm``); REST is the same host and path over http, the
        WS-API below it. Without it, ``$BINSTREAM_<MARKET>_ENDPOINT`` names a derivatives
        market's base, and ``$BINSTREAM_ENDPOINT`` a whole local exchange: spot at its
        root, the other markets under ``/usdm``, ``/coinm`` and ``/options``.
        """
        chosen = market_value(market)
        if endpoint is None and use_env:
            endpoint = endpoint_from_env(chosen)
        if rest_endpoint is None and use_env:
            rest_endpoint = os.environ.get(REST_ENDPOINT_ENV) or None
        if endpoint:
            base = check_ws_url(endpoint)
            scheme = "https" if base.startswith("wss://") else "http"
            rest = rest_endpoint or f"{scheme}://{base.split('://', 1)[1]}"
            ws_api = {Market.SPOT: "/ws-api/v3", Market.COINM: "/ws-dapi/v1"}.get(
                chosen, "/ws-fapi/v1"
            )
            return cls(base, check_http_url(rest), f"{base}{ws_api}", chosen)
        if chosen is not Market.SPOT:
            if (tld or "com").lower() != "com":
                raise EndpointError(
                    f"Binance serves {chosen.value} on binance.com only; drop --tld {tld}"
                )
            stream, rest, ws_api = _DERIVATIVES[chosen][1 if testnet else 0]
            return cls(stream, rest_endpoint or rest, ws_api, chosen)
        if testnet:
            return cls(
                stream="wss://stream.testnet.binance.vision",
                rest=rest_endpoint or "https://testnet.binance.vision",
                ws_api="wss://ws-api.testnet.binance.vision/ws-api/v3",
            )
        tld = (tld or "com").lower()
        if not _TLD_RE.match(tld):
            raise EndpointError(f"invalid tld {tld!r}: use com or us")
        if market_data_only and tld == "com":
            return cls(
                stream="wss://data-stream.binance.vision",
                rest=rest_endpoint or "https://data-api.binance.vision",
                ws_api="wss://ws-api.binance.com:443/ws-api/v3",
            )
        return cls(
            stream=f"wss://stream.binance.{tld}:9443",
            rest=rest_endpoint or f"https://api.binance.{tld}",
            ws_api=f"wss://ws-api.binance.{tld}:443/ws-api/v3",
        )

    def raw_url(self, stream: str) -> str:
        """``<base>[/<route>]/ws/<stream>``: payloads arrive unwrapped."""
        base = self.route_base(self.venue.route_of(stream))
        return f"{base}/ws/{quote_stream(stream)}"

    def combined_url(self, streams: Sequence[str], route: Route | None = None) -> str:
        """``<base>[/<route>]/stream?streams=a/b``: payloads arrive as ``{"stream", "data"}``.

        ``route`` defaults to the first stream's; :meth:`plan` never mixes routes.
        """
        if route is None:
            route = self.venue.route_of(streams[0]) if streams else Route.NONE
        names = "/".join(quote_stream(s) for s in streams)
        return f"{self.route_base(route)}/stream?streams={names}"

    def stream_urls(self, streams: Sequence[str]) -> list[str]:
        """The URL of each connection :meth:`plan` opens for ``streams``."""
        return [plan.url for plan in self.plan(streams)]

    def plan(self, streams: Sequence[str], combined: bool | None = None) -> list[ConnectionPlan]:
        """How to carry ``streams``: one raw connection for one stream, else combined ones.

        ``combined=True`` asks for the ``{"stream", "data"}`` wrapper even for one stream.
        On a routed host (USD-M, options) each route gets its own connections. Each
        combined connection carries at most the venue's limit (1024 streams on spot, 200
        on derivatives); those that do not fit in a URL of reasonable length are added
        with ``SUBSCRIBE`` once connected.
        """
        venue = self.venue
        if len(streams) == 1 and not combined:
            route = venue.route_of(streams[0])
            return [ConnectionPlan(self.raw_url(streams[0]), tuple(streams), (), False,
                                   route, self.stream, venue)]  # fmt: skip
        by_route: dict[Route, list[str]] = {}
        for name in streams:
            by_route.setdefault(venue.route_of(name), []).append(name)
        plans = []
        for route, names in by_route.items():
            for chunk in shard(names, venue.max_streams):
                in_url, later = split_for_url(chunk)
                url = self.combined_url(in_url, route)
                plans.append(ConnectionPlan(url, tuple(chunk), tuple(later), True, route,
                                            self.stream, venue))  # fmt: skip
        return plans


@dataclass(frozen=True)
class ConnectionPlan:
    """One connection to open: its URL, every stream it carries and those to subscribe to,
    the route it is on, its market's base URL and the market's limits."""

    url: str
    streams: tuple[str, ...]
    subscribe: tuple[str, ...]
    combined: bool
    route: Route = Route.NONE
    base: str = ""
    venue: Venue = VENUES[Market.SPOT]
    #: SBE: events come as binary frames (decoded with :mod:`binstream.sbe`).
    binary: bool = False
    #: Headers of the upgrade request (the SBE host's API key: never shown).
    headers: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    def sibling(self, route: Route) -> ConnectionPlan:
        """An empty combined connection on ``route`` of the same host, to SUBSCRIBE on."""
        base = self.base or self.url.split("/stream", 1)[0].split("/ws", 1)[0]
        path = f"/{route.value}" if route is not Route.NONE else ""
        return replace(self, url=f"{base}{path}/stream", streams=(), subscribe=(),
                       combined=True, route=route, base=base)  # fmt: skip


def shard(streams: Sequence[str], size: int = MAX_STREAMS_PER_CONNECTION) -> list[list[str]]:
    """Split ``streams`` into chunks Binance accepts on one connection each."""
    return [list(streams[i : i + size]) for i in range(0, len(streams), size)]


def split_for_url(
    streams: Sequence[str], limit: int = MAX_URL_LENGTH
) -> tuple[list[str], list[str]]:
    """Split a shard into the streams that fit in the URL and those to SUBSCRIBE to later."""
    in_url: list[str] = []
    length = 0
    for index, name in enumerate(streams):
        length += len(quote_stream(name)) + 1
        if length > limit and in_url:
            return in_url, list(streams[index:])
        in_url.append(name)
    return in_url, []


def quote_stream(stream: str) -> str:
    """Percent-encode non-ASCII symbols; keep Binance's own punctuation readable."""
    return quote(stream, safe=_SAFE_IN_NAME)


def check_ws_url(url: str) -> str:
    """Validate a ``ws://`` or ``wss://`` base URL and return it without a trailing slash."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise EndpointError(f"invalid endpoint {url!r}: {exc}") from None
    if parts.scheme in ("http", "https"):
        suggestion = url.replace(parts.scheme + "://", "ws" + parts.scheme[4:] + "://", 1)
        raise EndpointError(f"invalid endpoint {url!r}: use a websocket URL such as {suggestion}")
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise EndpointError(
            f"invalid endpoint {url!r}: expected ws://host:port or wss://host, "
            "e.g. ws://127.0.0.1:9000"
        )
    if parts.query or parts.fragment:
        raise EndpointError(f"invalid endpoint {url!r}: give the base URL only, without ?query")
    return url.strip().rstrip("/")


def check_http_url(url: str) -> str:
    """Validate an ``http://`` or ``https://`` base URL for REST calls."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018
    except ValueError as exc:
        raise EndpointError(f"invalid REST endpoint {url!r}: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise EndpointError(f"invalid REST endpoint {url!r}: expected http://host:port")
    return url.strip().rstrip("/")
