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
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from .errors import EndpointError

#: Binance accepts at most this many streams on one connection.
MAX_STREAMS_PER_CONNECTION = 1024
#: Streams beyond this URL length are added with SUBSCRIBE after connecting.
MAX_URL_LENGTH = 4000

ENDPOINT_ENV = "BINSTREAM_ENDPOINT"
REST_ENDPOINT_ENV = "BINSTREAM_REST_ENDPOINT"

_TLD_RE = re.compile(r"^[a-z]{2,6}(\.[a-z]{2,6})?$")
_SAFE_IN_NAME = "@!_:+-"


@dataclass(frozen=True)
class Endpoints:
    """The three base URLs a client needs: market streams, REST and the WebSocket API."""

    stream: str
    rest: str
    ws_api: str

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
    ) -> Endpoints:
        """Pick base URLs from the options, most specific first.

        ``endpoint`` (or ``$BINSTREAM_ENDPOINT``) overrides everything: one ``ws://host:port``
        locates streams, REST (``http://host:port``) and the WS-API (``/ws-api/v3``).
        """
        if endpoint is None and use_env:
            endpoint = os.environ.get(ENDPOINT_ENV) or None
        if rest_endpoint is None and use_env:
            rest_endpoint = os.environ.get(REST_ENDPOINT_ENV) or None
        if endpoint:
            base = check_ws_url(endpoint)
            scheme = "https" if base.startswith("wss://") else "http"
            rest = rest_endpoint or f"{scheme}://{base.split('://', 1)[1]}"
            return cls(stream=base, rest=check_http_url(rest), ws_api=f"{base}/ws-api/v3")
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
        """``<base>/ws/<stream>``: payloads arrive unwrapped."""
        return f"{self.stream}/ws/{quote_stream(stream)}"

    def combined_url(self, streams: Sequence[str]) -> str:
        """``<base>/stream?streams=a/b``: payloads arrive as ``{"stream", "data"}``."""
        return f"{self.stream}/stream?streams={'/'.join(quote_stream(s) for s in streams)}"

    def stream_urls(self, streams: Sequence[str]) -> list[str]:
        """The URL of each connection :meth:`plan` opens for ``streams``."""
        return [plan.url for plan in self.plan(streams)]

    def plan(self, streams: Sequence[str], combined: bool | None = None) -> list[ConnectionPlan]:
        """How to carry ``streams``: one raw connection for one stream, else combined ones.

        ``combined=True`` asks for the ``{"stream", "data"}`` wrapper even for one stream.
        Each combined connection carries at most 1024 streams; those that do not fit in a
        URL of reasonable length are added with ``SUBSCRIBE`` once connected.
        """
        if len(streams) == 1 and not combined:
            return [ConnectionPlan(self.raw_url(streams[0]), tuple(streams), (), combined=False)]
        plans = []
        for chunk in shard(streams):
            in_url, later = split_for_url(chunk)
            plans.append(
                ConnectionPlan(self.combined_url(in_url), tuple(chunk), tuple(later), combined=True)
            )
        return plans


@dataclass(frozen=True)
class ConnectionPlan:
    """One connection to open: its URL, every stream it carries and those to subscribe to."""

    url: str
    streams: tuple[str, ...]
    subscribe: tuple[str, ...]
    combined: bool


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
