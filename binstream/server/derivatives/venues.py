"""The local exchange's derivatives venues: their contracts, routes and REST API.

``binstream serve`` lays the venues out on one port, each under its own path, with the
same shapes Binance uses below it::

    /usdm/public/ws/<stream>, /usdm/public/stream?streams=...   USD-M book data
    /usdm/market/ws/<stream>, /usdm/market/stream?streams=...   USD-M everything else
    /usdm/ws/..., /usdm/stream...                               unrouted: /public data only
    /usdm/fapi/v1/{ping,time,depth,exchangeInfo,klines,premiumIndex}
    /coinm/ws/..., /coinm/stream...                             COIN-M (not routed)
    /coinm/dapi/v1/...
    /options/public/..., /options/market/...                    options
    /options/eapi/v1/...

As on Binance, a stream asked for on the wrong route is acknowledged and then silent.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any

from ...venues import VENUES, Market, Route
from ..apierror import ApiError, limit_param, symbol_param
from ..feed import Feed, Tick, window_of
from ..market import INTERVAL_MS, Step, kline_row, now_ms
from . import contracts as d
from .account import AccountStreams
from .feed import derivatives_feed_for

_PREFIXES = {"/usdm": Market.USDM, "/coinm": Market.COINM, "/options": Market.OPTIONS}
_ROUTES = {"/public": Route.PUBLIC, "/market": Route.MARKET, "/private": Route.PRIVATE}


def split_path(path: str) -> tuple[Market, Route, str]:
    """``/usdm/public/stream`` → (USDM, PUBLIC, ``/stream``); spot paths have no prefix."""
    market = Market.SPOT
    for prefix, venue in _PREFIXES.items():
        if path == prefix or path.startswith(prefix + "/"):
            market, path = venue, path[len(prefix) :]
            break
    route = Route.NONE
    for prefix, found in _ROUTES.items():
        if market is not Market.SPOT and (path == prefix or path.startswith(prefix + "/")):
            route, path = found, path[len(prefix) :]
            break
    return market, route, path


class DerivativesVenue:
    """One derivatives venue of the local exchange."""

    def __init__(
        self,
        market: Market,
        specs: Iterable[d.ContractSpec] | None = None,
        seed: int | None = None,
        book_history: int = 0,
        listen_key_ttl: float = 3600.0,
    ) -> None:
        self.market = market
        self.venue = VENUES[market]
        chosen = d.DEFAULT_CONTRACTS[market] if specs is None else tuple(specs)
        self.contracts: dict[str, d.Contract] = {}
        for index, spec in enumerate(chosen):
            contract = d.Contract(market, spec, None if seed is None else seed + 100 + index)
            self.contracts[contract.symbol] = contract
        self.recent: dict[str, deque[Step]] = {s: deque(maxlen=30) for s in self.contracts}
        #: With ``book_history=N``: per contract, the top 50 levels after each of the last N
        #: steps, by update id (tests compare client books with the true book).
        self.book_history = book_history
        self.books: dict[str, dict[int, dict[str, Any]]] = {s: {} for s in self.contracts}
        #: The venue's market runs from its first request on: an exchange serving only
        #: spot clients spends nothing on the derivatives venues.
        self.active = False
        #: listenKeys, the demo account and account-stream connections.
        self.accounts = AccountStreams(market, self.contracts, listen_key_ttl)
        #: Portfolio margin's own listenKeys (``/papi/v1``, ``/pm/ws/``), on the USD-M host.
        self.portfolio = AccountStreams(market, self.contracts, listen_key_ttl)

    def step(self, number: int, t: int) -> Tick:
        """Advance every contract once; the tick the streams render from."""
        self.accounts.step(number, t)
        self.portfolio.step(number, t)
        for symbol, contract in self.contracts.items():
            self.recent[symbol].append(contract.step(number, t))
            if self.book_history:
                history = self.books[symbol]
                history[contract.market.update_id] = contract.market.snapshot(50)
                while len(history) > self.book_history:
                    del history[next(iter(history))]
        markets = {s: c.market for s, c in self.contracts.items()}
        return Tick(markets, window_of(self.recent), t, number, self.contracts)

    def accepts_route(self, route: Route) -> bool:
        """Whether a connection may open on ``route``."""
        return route is Route.NONE or self.venue.routed

    def listen_key_of(
        self, route: Route, path: str, params: dict[str, str]
    ) -> tuple[AccountStreams, str] | None:
        """The account streams and listenKey an account-stream URL names, or None for a
        market-stream URL: ``/private/ws?listenKey=K`` or ``/private/ws/K`` (USD-M,
        options), ``/ws/K`` (COIN-M), ``/pm/ws/K`` (portfolio margin, on the USD-M host)."""
        if route is Route.PRIVATE:
            key = params.get("listenKey") or path.removeprefix("/ws").strip("/") or ""
            return self.accounts, key
        if path.startswith("/pm/ws/") and self.market is Market.USDM:
            return self.portfolio, path[len("/pm/ws/") :]
        if self.market is Market.COINM and path.startswith("/ws/"):
            candidate = path[4:]
            if candidate in self.accounts.keys:
                return self.accounts, candidate
        return None

    def rest_write(
        self, method: str, path: str, params: dict[str, str], headers: dict[str, str]
    ) -> tuple[int, Any] | None:
        """Answer a POST, PUT or DELETE under the venue (the listenKey calls), or None."""
        stores = {self.venue.rest_prefix + "/listenKey": self.accounts}
        if self.market is Market.USDM:  # portfolio margin, on the same host here
            stores["/papi/v1/listenKey"] = self.portfolio
        store = stores.get(path)
        if store is None:
            return None
        api_key = headers.get("x-mbx-apikey")
        key = params.get("listenKey")
        try:
            if method == "POST":
                return 200, store.create(api_key)
            if method == "PUT":
                return 200, store.keepalive(api_key, key)
            if method == "DELETE":
                return 200, store.close(api_key, key)
        except ApiError as exc:
            return exc.status, {"code": exc.code, "msg": exc.msg}
        return 405, {"code": -1, "msg": f"{method} is not allowed on {path}"}

    def feed(self, name: str, route: Route) -> Feed | None:
        """What ``name`` sends on a connection of ``route``: None (silence, after the
        acknowledgement) when Binance serves the stream on another route."""
        if self.venue.routed:
            wanted = self.venue.route_of(name)
            served = Route.PUBLIC if route is Route.NONE else route
            if wanted is not served:
                return None
        return derivatives_feed_for(name, self.market, self.contracts)

    # -- REST ----------------------------------------------------------------------------

    def rest(self, path: str, params: dict[str, str]) -> tuple[int, Any] | None:
        """Answer ``<prefix>/<path>`` (``/fapi/v1/depth``), or None when not served."""
        prefix = self.venue.rest_prefix
        if not path.startswith(prefix + "/"):
            return None
        name = path[len(prefix) + 1 :]
        if name == "ping":
            return 200, {}
        if name == "time":
            return 200, {"serverTime": now_ms()}
        if name == "exchangeInfo":
            return 200, self.exchange_info()
        if name in ("depth", "klines", "premiumIndex"):
            try:
                return getattr(self, f"_{name.lower()}")(params)  # type: ignore[no-any-return]
            except ApiError as exc:
                return exc.status, {"code": exc.code, "msg": exc.msg}
        return None

    def _depth(self, params: dict[str, str]) -> tuple[int, Any]:
        contract = symbol_param(params, self.contracts)
        limit = limit_param(params, 500, self.venue.snapshot_limit)
        book = contract.market.snapshot(limit)
        t = now_ms()
        if self.market is Market.OPTIONS:
            return 200, {
                "T": t,
                "u": book["lastUpdateId"],
                "bids": book["bids"],
                "asks": book["asks"],
            }
        body: dict[str, Any] = {"lastUpdateId": book["lastUpdateId"], "E": t, "T": t}
        if self.market is Market.COINM:
            body.update(symbol=contract.symbol, pair=contract.spec.pair)
        body.update(bids=book["bids"], asks=book["asks"])
        return 200, body

    def _klines(self, params: dict[str, str]) -> tuple[int, Any]:
        contract = symbol_param(params, self.contracts)
        interval = params.get("interval", "")
        if interval not in self.venue.kline_intervals or interval not in INTERVAL_MS:
            return 400, {"code": -1120, "msg": "Invalid interval."}
        limit = limit_param(params, 500, 1500)
        return 200, [kline_row(k) for k in contract.market.kline_history(interval, limit)]

    def _premiumindex(self, params: dict[str, str]) -> tuple[int, Any]:
        t = now_ms()
        chosen = (
            [self.contracts[params["symbol"]]]
            if params.get("symbol") in self.contracts
            else list(self.contracts.values())
        )
        rows = []
        for c in chosen:
            mark = d.mark_price_payload(c, t)
            rows.append(
                {
                    "symbol": c.symbol,
                    "markPrice": mark["p"],
                    "indexPrice": mark["i"],
                    "estimatedSettlePrice": mark["P"],
                    "lastFundingRate": mark["r"],
                    "nextFundingTime": mark["T"],
                    "interestRate": "0.00010000",
                    "time": t,
                }
            )
        return 200, rows[0] if params.get("symbol") else rows

    def exchange_info(self) -> dict[str, Any]:
        """The venue's ``exchangeInfo``: its contracts and limits."""
        limits = [
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": 2400,
            }
        ]
        if self.market is Market.OPTIONS:
            return {
                "timezone": "UTC",
                "serverTime": now_ms(),
                "rateLimits": limits,
                "optionSymbols": [self._option_symbol(c) for c in self.contracts.values()],
            }
        return {
            "timezone": "UTC",
            "serverTime": now_ms(),
            "rateLimits": limits,
            "symbols": [self._future_symbol(c) for c in self.contracts.values()],
        }

    def _future_symbol(self, c: d.Contract) -> dict[str, Any]:
        quote = "USD" if self.market is Market.COINM else "USDT"
        base = c.spec.pair.removesuffix(quote)
        info: dict[str, Any] = {
            "symbol": c.symbol,
            "pair": c.spec.pair,
            "contractType": c.spec.contract_type,
            "deliveryDate": 4133404800000 if c.spec.contract_type == "PERPETUAL" else 1798185600000,
            "onboardDate": 1569398400000,
            "status": "TRADING",
            "baseAsset": base,
            "quoteAsset": quote,
            "marginAsset": base if self.market is Market.COINM else quote,
            "pricePrecision": 8,
            "quantityPrecision": 8,
            "filters": [
                {"filterType": "PRICE_FILTER", "tickSize": f"{c.market.tick / 1e8:.8f}"},
                {"filterType": "LOT_SIZE", "stepSize": f"{c.market.lot / 1e8:.8f}"},
            ],
        }
        if self.market is Market.COINM:
            info["contractSize"] = c.spec.contract_size
        return info

    @staticmethod
    def _option_symbol(c: d.Contract) -> dict[str, Any]:
        return {
            "symbol": c.symbol,
            "side": c.spec.side,
            "strikePrice": c.spec.strike,
            "underlying": c.spec.underlying,
            "unit": 1,
            "expiryDate": 1798185600000,
            "quoteAsset": "USDT",
            "status": "TRADING",
            "filters": [{"filterType": "PRICE_FILTER", "tickSize": f"{c.market.tick / 1e8:.8f}"}],
        }
