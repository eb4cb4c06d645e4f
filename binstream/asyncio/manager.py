"""The asyncio socket manager, a drop-in for python-binance's ``BinanceSocketManager``."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any

from ..derivative_streams import normalize_market_streams
from ..endpoints import Endpoints
from ..errors import InvalidStreamError, MissingKeysError
from ..sbe import normalize_sbe_stream
from ..streams import (
    ALL_MARKET_MINI_TICKER_STREAM,
    KlineInterval,
    aggtrade_stream,
    avg_price_stream,
    book_ticker_stream,
    depth_stream,
    kline_stream,
    mini_ticker_stream,
    normalize_streams,
    ticker_stream,
    trade_stream,
)
from ..transport import resolve as resolve_transport
from ..venues import Market, market_value
from .buffer import OverflowPolicy
from .derivative_sockets import DerivativesSockets
from .options import ReconnectPolicy, SocketOptions, retries_value
from .stream_socket import StreamSocket
from .symbol_check import SYMBOL_CATALOG

if TYPE_CHECKING:
    from ..signing import Credentials
    from .book_socket import BookSocket

log = logging.getLogger("binstream")

#: Why ``book_ticker_socket()`` cannot work, and what does.
BOOK_TICKER_GONE = (
    "Binance no longer serves the all-market !bookTicker stream on spot; use "
    "symbol_book_ticker_socket(symbol) (start_symbol_book_ticker_socket on the threaded "
    "manager) for one symbol, or multiplex_socket() with '<symbol>@bookTicker' streams for "
    "several"
)

KEEPALIVE_TIMEOUT = 5 * 60


class BinanceSocketManager(DerivativesSockets):
    """Open Binance streams (spot, USD-M and COIN-M futures, options) from asyncio code.

    ``client`` may be a python-binance ``AsyncClient`` or any object with ``tld``,
    ``testnet``, ``API_KEY`` and ``API_SECRET`` attributes; keyword options override it.
    ``endpoint`` (or ``$BINSTREAM_ENDPOINT``) points everything at another server, such as
    binstream's local exchange: spot at its root, the derivatives markets under ``/usdm``,
    ``/coinm`` and ``/options`` as ``binstream serve`` lays them out; ``endpoints`` maps a
    market (``"usdm"``) to its own base URL instead. ``transport`` picks the websocket
    library: ``"auto"`` (websockets, measured the faster of the two),
    ``"websockets"`` or ``"picows"``; both behave the same (see :mod:`binstream.transport`).
    Sockets check their symbols against the market's exchangeInfo first (one request per
    market, cached) and raise :class:`~binstream.UnknownSymbolError` on ``async with``
    rather than wait forever on a stream Binance acknowledges and never sends;
    ``check_symbols=False`` skips that (offline, or ahead of a listing). A stream that
    sends nothing for several times its pace is announced by a ``silent`` lifecycle event
    (``silence=SECONDS`` watches streams without a pace too, such as trades), and a
    connection whose streams are all silent reconnects (see :mod:`binstream.silence`).

    One socket per stream path: asking for a path that is already open returns the same
    socket object, as python-binance does; once closed, the next call opens a fresh one.

    Example::

        async def main():
            bm = BinanceSocketManager(endpoint="ws://127.0.0.1:9000")
            async with bm.trade_socket("BNBBTC") as ts:
                for _ in range(3):
                    print(await ts.recv())
    """

    def __init__(
        self,
        client: Any = None,
        user_timeout: float | None = KEEPALIVE_TIMEOUT,
        max_queue_size: int = 1000,
        verbose: bool = False,
        *,
        tld: str | None = None,
        testnet: bool | None = None,
        endpoint: str | None = None,
        rest_endpoint: str | None = None,
        market_data_only: bool = False,
        max_retries: float | int | str | None = 5,
        overflow: OverflowPolicy = "block",
        stall_timeout: float | None = None,
        backoff_base: float = 0.2,
        backoff_cap: float = 30.0,
        max_age: float | None = 23 * 3600.0,
        api_key: str | None = None,
        api_secret: str | None = None,
        private_key: Any = None,
        private_key_pass: str | None = None,
        options: SocketOptions | None = None,
        transport: str | None = None,
        endpoints: dict[str, str] | None = None,
        check_symbols: bool = True,
        silence: float | None = None,
    ) -> None:
        if verbose:  # python-binance's switch: the library's debug log
            log.setLevel(logging.DEBUG)
        self.tld = tld if tld is not None else getattr(client, "tld", "com")
        self.testnet = bool(testnet if testnet is not None else getattr(client, "testnet", False))
        self._endpoint = endpoint
        overrides = dict(endpoints or {})
        #: ``endpoints={"sbe": URL}``: the SBE streams' base URL.
        self._sbe_endpoint = overrides.pop("sbe", None)
        self._endpoint_overrides = {market_value(k): v for k, v in overrides.items()}
        self.endpoints = Endpoints.resolve(
            tld=self.tld,
            testnet=self.testnet,
            market_data_only=market_data_only,
            endpoint=self._endpoint_overrides.get(Market.SPOT, endpoint),
            rest_endpoint=rest_endpoint,
        )
        self._market_endpoints: dict[Market, Endpoints] = {Market.SPOT: self.endpoints}
        for market in self._endpoint_overrides:
            self.endpoints_for(market)  # a bad URL fails here, not on first use
        self._api_key = api_key if api_key is not None else getattr(client, "API_KEY", None)
        self._api_secret = (
            api_secret if api_secret is not None else getattr(client, "API_SECRET", None)
        )
        self._private_key = (
            private_key if private_key is not None else getattr(client, "PRIVATE_KEY", None)
        )
        self._private_key_pass = private_key_pass
        self.options = options or SocketOptions(
            user_timeout=user_timeout,
            max_queue_size=max_queue_size,
            overflow=overflow,
            reconnect=ReconnectPolicy(
                max_retries=retries_value(max_retries),
                backoff_base=backoff_base,
                backoff_cap=backoff_cap,
            ),
            stall_timeout=stall_timeout,
            max_age=max_age,
            check_symbols=check_symbols,
            silence=silence,
        )
        #: The websocket library in use (``auto`` resolved): see :mod:`binstream.transport`.
        self.transport = resolve_transport(transport or self.options.transport)
        self.options = replace(self.options, transport=self.transport.name)
        self._sockets: dict[str, StreamSocket] = {}

    def endpoints_for(self, market: object) -> Endpoints:
        """The base URLs of ``market`` (``"spot"``, ``"usdm"``, ``"coinm"``, ``"options"``)."""
        chosen = market_value(market)
        found = self._market_endpoints.get(chosen)
        if found is None:
            from ..endpoints import market_url

            endpoint = self._endpoint_overrides.get(chosen)
            if endpoint is None and self._endpoint:
                endpoint = market_url(self._endpoint, chosen)
            found = Endpoints.resolve(
                tld=self.tld, testnet=self.testnet, endpoint=endpoint, market=chosen
            )
            self._market_endpoints[chosen] = found
        return found

    def __repr__(self) -> str:
        return f"<BinanceSocketManager {self.endpoints.stream} sockets={len(self._sockets)}>"

    async def __aenter__(self) -> BinanceSocketManager:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def sockets(self) -> dict[str, StreamSocket]:
        """Open sockets by path (a copy)."""
        return dict(self._sockets)

    async def close(self) -> None:
        """Close every socket this manager opened."""
        for socket in list(self._sockets.values()):
            await socket.close()
        self._sockets.clear()

    async def check_symbols(self, streams: Iterable[str], market: object = Market.SPOT) -> None:
        """Raise :class:`~binstream.UnknownSymbolError` if ``streams`` of ``market`` name a
        symbol its exchangeInfo does not list or trade (sockets check theirs on
        ``async with`` and before connecting; ``check_symbols=False`` turns that off)."""
        chosen = market_value(market)
        names = normalize_market_streams([streams] if isinstance(streams, str) else streams, chosen)
        await SYMBOL_CATALOG.check(self.endpoints_for(chosen), names)

    # -- SBE market data ------------------------------------------------------------------

    def sbe_socket(self, streams: str | Iterable[str], *, raw: bool = False) -> StreamSocket:
        """Binance's SBE market-data streams (``<symbol>@trade``, ``@bestBidAsk``,
        ``@depth20``, ``@depth``) from the SBE host, decoded (:mod:`binstream.sbe`): dicts
        with the JSON streams' keys, one per trade, prices as exact decimal strings, times
        in microseconds; several streams come wrapped as ``{"stream", "data"}``, as on a
        combined JSON connection. ``raw=True`` hands out the binary frames untouched.

        Needs an API key (Binance asks for an Ed25519 key; no signature), sent in the
        ``X-MBX-APIKEY`` header: ``api_key=`` or the client's. The host is Binance's
        (``stream-sbe.binance.com:9443``, or the testnet's), ``endpoints={"sbe": URL}``, or
        ``<endpoint>/sbe`` when ``endpoint`` names a local exchange.
        """
        asked = [streams] if isinstance(streams, str) else streams
        names = list(dict.fromkeys(normalize_sbe_stream(name) for name in asked))
        if not names:
            raise InvalidStreamError("no SBE stream given: name one, e.g. bnbbtc@trade")
        if not self._api_key:
            raise MissingKeysError(
                "SBE streams need an API key (Binance asks for an Ed25519 key): api_key=, or "
                "the client's API_KEY"
            )
        from ..endpoints import endpoint_from_env, sbe_base

        root = self._endpoint or endpoint_from_env(Market.SPOT)
        base = self._sbe_endpoint or sbe_base(testnet=self.testnet, root=root)
        combined = len(names) > 1
        path = (
            "sbe:"
            + ("streams=" + "/".join(names) if combined else names[0])
            + (":raw" if raw else "")
        )
        existing = self._sockets.get(path)
        if existing is not None and not existing.closed:
            return existing
        spot = self.endpoints
        sbe = Endpoints(base, spot.rest, spot.ws_api, Market.SPOT)
        headers = {"X-MBX-APIKEY": self._api_key}
        plans = [replace(plan, binary=True, headers=headers)
                 for plan in sbe.plan(names, combined=combined)]  # fmt: skip
        check = partial(SYMBOL_CATALOG.check, spot) if self.options.check_symbols else None
        options = replace(self.options, raw_frames=True) if raw else self.options
        socket = StreamSocket(path, plans, options, on_close=self._forget, symbol_check=check)
        self._sockets[path] = socket
        return socket

    # -- the generic factory -------------------------------------------------------------

    def socket(
        self, streams: str | Iterable[str], market: object = Market.SPOT, combined: bool = False
    ) -> StreamSocket:
        """A socket for one stream name or several (validated, deduplicated, sharded and,
        on USD-M and options, routed) of ``market``; ``combined=True`` wraps even a single
        stream's messages as ``{"stream", "data"}``."""
        chosen = market_value(market)
        names = normalize_market_streams([streams] if isinstance(streams, str) else streams, chosen)
        return self._venue_socket(names, chosen, combined)

    def _get_socket(self, names: list[str], combined: bool = False) -> StreamSocket:
        return self._venue_socket(names, Market.SPOT, combined)

    def _venue_socket(
        self, names: list[str], market: Market, combined: bool = False
    ) -> StreamSocket:
        combined = combined or len(names) > 1
        # python-binance's stream names: the stream itself, or "streams=a/b" when combined;
        # other markets' are prefixed, "usdm:btcusdt@aggTrade", so they never collide.
        path = "streams=" + "/".join(names) if combined else names[0]
        if market is not Market.SPOT:
            path = f"{market.value}:{path}"
        existing = self._sockets.get(path)
        if existing is not None and not existing.closed:
            return existing
        endpoints = self.endpoints_for(market)
        plans = endpoints.plan(names, combined=combined)
        check = partial(SYMBOL_CATALOG.check, endpoints) if self.options.check_symbols else None
        socket = StreamSocket(path, plans, self.options, on_close=self._forget, symbol_check=check)
        self._sockets[path] = socket
        return socket

    def _forget(self, socket: StreamSocket) -> None:
        if self._sockets.get(socket.path) is socket:
            del self._sockets[socket.path]

    # -- python-binance's factory methods ------------------------------------------------

    def trade_socket(self, symbol: str) -> StreamSocket:
        """Every trade of ``symbol`` (``<symbol>@trade``)."""
        return self._get_socket([trade_stream(symbol)])

    def aggtrade_socket(self, symbol: str) -> StreamSocket:
        """Aggregated trades of ``symbol`` (``<symbol>@aggTrade``)."""
        return self._get_socket([aggtrade_stream(symbol)])

    def kline_socket(
        self, symbol: str, interval: object = KlineInterval.M1, *, timezone: str | None = None
    ) -> StreamSocket:
        """Candlesticks of ``symbol``; ``interval`` defaults to 1 minute."""
        return self._get_socket([kline_stream(symbol, interval, timezone)])

    def depth_socket(
        self, symbol: str, depth: object | None = None, interval: object | None = None
    ) -> StreamSocket:
        """Diff book (``depth=None``) or partial book of 5, 10 or 20 levels.

        ``interval`` is the update speed: 100 (ms) or 1000 (default).
        """
        return self._get_socket([depth_stream(symbol, depth, interval)])

    def symbol_ticker_socket(self, symbol: str) -> StreamSocket:
        """24 h rolling ticker of ``symbol`` (``<symbol>@ticker``)."""
        return self._get_socket([ticker_stream(symbol)])

    def symbol_rolling_window_ticker_socket(self, symbol: str, window: object) -> StreamSocket:
        """Rolling-window ticker of ``symbol`` over 1h, 4h or 1d."""
        return self._get_socket([ticker_stream(symbol, window)])

    def ticker_socket(self) -> StreamSocket:
        """All-market tickers.

        Binance retired ``!ticker@arr`` on 2026-03-26; this opens ``!ticker_1d@arr``, the
        rolling 1-day window, whose entries carry the same statistics fields.
        """
        return self._get_socket([ticker_stream()])

    def miniticker_socket(self, update_time: int = 1000) -> StreamSocket:
        """All-market mini tickers (``!miniTicker@arr``, pushed every second)."""
        if update_time != 1000:
            log.warning("!miniTicker@arr updates every 1000ms; update_time is ignored")
        return self._get_socket([ALL_MARKET_MINI_TICKER_STREAM])

    def symbol_miniticker_socket(self, symbol: str) -> StreamSocket:
        """Mini ticker of ``symbol`` (``<symbol>@miniTicker``)."""
        return self._get_socket([mini_ticker_stream(symbol)])

    def symbol_book_ticker_socket(self, symbol: str) -> StreamSocket:
        """Best bid and ask of ``symbol`` in real time (``<symbol>@bookTicker``)."""
        return self._get_socket([book_ticker_stream(symbol)])

    def book_ticker_socket(self) -> StreamSocket:
        """python-binance's all-market ``!bookTicker``, which Binance no longer serves on spot.

        Raises :class:`~binstream.InvalidStreamError` naming what to use instead.
        """
        raise InvalidStreamError(BOOK_TICKER_GONE)

    def avg_price_socket(self, symbol: str) -> StreamSocket:
        """Five-minute average price of ``symbol`` (``<symbol>@avgPrice``)."""
        return self._get_socket([avg_price_stream(symbol)])

    def book_socket(
        self,
        symbol: str,
        levels: int = 20,
        *,
        speed: str = "100ms",
        snapshot_limit: int | None = None,
        check_interval: float | None = None,
        futures_type: object | None = None,
        market: object | None = None,
        sbe: bool = False,
    ) -> BookSocket:
        """A local order book for ``symbol``, kept correct from diff events and snapshots.

        Spot by default; ``futures_type=FuturesType.USD_M`` (or ``market="usdm"``,
        ``"coinm"``) keeps a futures contract's book by Binance's futures procedure
        (``pu`` chaining, ``/fapi/v1/depth`` snapshots of at most 1000 levels). Yields
        ``{"e": "book", "s", "E", "lastUpdateId", "bids", "asks"}`` with the best
        ``levels`` per side (decimal strings, best first) after every update. ``sbe=True``
        reads the SBE diff-depth stream (:meth:`sbe_socket`; ``E`` is then in
        microseconds).
        """
        from ..venues import futures_market
        from .book_socket import BookSocket

        chosen = market if market is not None else (
            futures_market(futures_type) if futures_type is not None else Market.SPOT
        )  # fmt: skip
        return BookSocket(
            self,
            symbol,
            levels,
            speed=speed,
            snapshot_limit=snapshot_limit,
            check_interval=check_interval,
            market=chosen,
            sbe=sbe,
        )

    def user_socket(
        self,
        *,
        logon: bool = False,
        recv_window: int | None = None,
        credentials: Credentials | None = None,
    ) -> StreamSocket:
        """Account events (balances, orders, fills) over the WebSocket API.

        Keys come from the constructor (``api_key`` with ``api_secret`` or ``private_key``;
        a python-binance client's ``API_KEY``/``API_SECRET``/``PRIVATE_KEY``) or from
        ``$BINANCE_API_KEY`` with ``$BINANCE_API_SECRET`` or ``$BINANCE_PRIVATE_KEY``.
        ``logon=True`` authenticates the session with ``session.logon`` first (Ed25519
        keys only). Yields each event's inner dict, e.g. ``{"e": "executionReport", ...}``.
        Raises :class:`~binstream.MissingKeysError` when no keys are found.
        """
        from ..endpoints import ConnectionPlan
        from ..signing import credentials_from
        from .user import UserStreamConfig, UserStreamSession

        if credentials is None:
            credentials = credentials_from(
                self._api_key, self._api_secret, self._private_key, self._private_key_pass
            )
        path = "userData"
        existing = self._sockets.get(path)
        if existing is not None and not existing.closed:
            return existing
        plan = ConnectionPlan(self.endpoints.ws_api, (path,), (), combined=False)
        socket = StreamSocket(
            path,
            [plan],
            self.options,
            on_close=self._forget,
            session_factory=lambda: UserStreamSession(
                UserStreamConfig(credentials, logon=logon, recv_window=recv_window)
            ),
        )
        self._sockets[path] = socket
        return socket

    # -- account streams of futures, options and portfolio margin (listenKey) ------------

    def _listen_key_socket(
        self,
        name: str,
        market: Market,
        events: Iterable[str] | None,
        keepalive_interval: float | None,
        portfolio: bool = False,
    ) -> StreamSocket:
        from ..endpoints import ConnectionPlan
        from ..signing import api_key_from
        from .listen_key import KEEPALIVE_INTERVAL, ListenKeyConfig, ListenKeySession

        api_key = api_key_from(self._api_key)
        endpoints = self.endpoints_for(market)
        options: dict[str, Any] = {
            "events": tuple(events) if events else None,
            "keepalive_interval": keepalive_interval or KEEPALIVE_INTERVAL,
        }
        if portfolio:
            local = bool(self._endpoint or self._endpoint_overrides.get(market))
            config = ListenKeyConfig.portfolio_margin(endpoints, api_key, local, **options)
        else:
            config = ListenKeyConfig.for_market(endpoints, api_key, **options)
        existing = self._sockets.get(name)
        if existing is not None and not existing.closed:
            return existing
        plan = ConnectionPlan(config.stream, (name,), (), combined=False)
        socket = StreamSocket(name, [plan], self.options, on_close=self._forget,
                              session_factory=lambda: ListenKeySession(config))  # fmt: skip
        self._sockets[name] = socket
        return socket

    def futures_user_socket(
        self, *, events: Iterable[str] | None = None, keepalive_interval: float | None = None
    ) -> StreamSocket:
        """USD-M futures account events over a listenKey (``ORDER_TRADE_UPDATE``,
        ``TRADE_LITE``, ``ACCOUNT_UPDATE``, ``MARGIN_CALL``, ...), from the ``/private``
        route; ``events`` keeps only those types. The key is made, kept alive every 30
        minutes, renewed when it lapses, and closed with the socket (see
        :mod:`binstream.asyncio.listen_key`). Needs the API key only."""
        return self._listen_key_socket("futures", Market.USDM, events, keepalive_interval)

    def futures_socket(self, **options: Any) -> StreamSocket:
        """python-binance's other name for :meth:`futures_user_socket` (the same stream)."""
        return self.futures_user_socket(**options)

    def coin_futures_user_socket(self, *, keepalive_interval: float | None = None) -> StreamSocket:
        """COIN-M futures account events over a listenKey (``<dstream>/ws/<key>``)."""
        return self._listen_key_socket("coin_futures", Market.COINM, None, keepalive_interval)

    def coin_futures_socket(self, **options: Any) -> StreamSocket:
        """python-binance's other name for :meth:`coin_futures_user_socket`."""
        return self.coin_futures_user_socket(**options)

    def options_user_socket(
        self, *, events: Iterable[str] | None = None, keepalive_interval: float | None = None
    ) -> StreamSocket:
        """Options account events over a listenKey (``/eapi/v1/listenKey``, ``/private``)."""
        return self._listen_key_socket("options_user", Market.OPTIONS, events, keepalive_interval)

    def portfolio_margin_socket(self, *, keepalive_interval: float | None = None) -> StreamSocket:
        """Portfolio margin account events (``/papi/v1/listenKey``, ``<fstream>/pm/ws/<key>``)."""
        return self._listen_key_socket("portfolio_margin", Market.USDM, None, keepalive_interval,
                                       portfolio=True)  # fmt: skip

    def margin_socket(self, *, validity_ms: int | None = None) -> StreamSocket:
        """Cross margin account events over the WebSocket API with a listenToken (Binance
        retired the margin listenKey in 2026-02; see :mod:`binstream.asyncio.margin`). Needs the API
        key only; the token is renewed before it expires."""
        return self._margin_socket("margin", None, validity_ms)

    def isolated_margin_socket(
        self, symbol: str, *, validity_ms: int | None = None
    ) -> StreamSocket:
        """Isolated margin account events of ``symbol`` (a listenToken with
        ``isIsolated=TRUE``)."""
        return self._margin_socket(symbol.upper(), symbol.upper(), validity_ms)

    def _margin_socket(
        self, path: str, symbol: str | None, validity_ms: int | None
    ) -> StreamSocket:
        from ..endpoints import ConnectionPlan
        from ..signing import api_key_from
        from .margin import MAX_VALIDITY_MS, MarginStreamConfig, MarginStreamSession

        config = MarginStreamConfig(self.endpoints.rest, api_key_from(self._api_key), symbol,
                                    validity_ms or MAX_VALIDITY_MS)  # fmt: skip
        existing = self._sockets.get(path)
        if existing is not None and not existing.closed:
            return existing
        plan = ConnectionPlan(self.endpoints.ws_api, (path,), (), combined=False)
        socket = StreamSocket(path, [plan], self.options, on_close=self._forget,
                              session_factory=lambda: MarginStreamSession(config))  # fmt: skip
        self._sockets[path] = socket
        return socket

    def multiplex_socket(self, streams: Iterable[str]) -> StreamSocket:
        """One combined socket for raw stream names such as ``bnbbtc@aggTrade``.

        Messages arrive as ``{"stream": name, "data": payload}``. Past 1024 streams the
        socket opens several connections and merges them.
        """
        return self._get_socket(normalize_streams(streams), combined=True)
