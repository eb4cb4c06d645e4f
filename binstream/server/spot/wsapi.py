"""The local exchange's WebSocket API: user data stream subscriptions with real signatures.

Requests and replies follow Binance's spot WS-API::

    → {"id": "1", "method": "userDataStream.subscribe.signature",
       "params": {"apiKey": ..., "timestamp": ms, "signature": ...}}
    ← {"id": "1", "status": 200, "result": {"subscriptionId": 0}, "rateLimits": [...]}
    ← {"subscriptionId": 0, "event": {"e": "executionReport", ...}}

Signatures are verified exactly as Binance does (HMAC-SHA256 hex, or Ed25519 / RSA
PKCS#1 v1.5 SHA-256 base64 over the sorted ``k=v&...`` payload), timestamps against
``recvWindow``, and failures get Binance's error codes and messages.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import logging
import random
from dataclasses import dataclass, field
from typing import Any

import orjson
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from ...signing import signature_payload
from .. import market as m
from ..apierror import ApiError, missing
from ..demo import DEMO_API_KEY, DEMO_API_SECRET
from .account import SpotAccount
from .exchangeinfo import UnknownSymbolError, exchange_info
from .trading import Trading

#: Methods that count against the ORDERS rate limits.
ORDER_METHODS = frozenset(("order.place", "order.test", "order.cancel"))

log = logging.getLogger("binstream.server")

MAX_FUTURE_MS = 1000


@dataclass(eq=False)
class _Session:
    ws: ServerConnection
    return_rate_limits: bool = True
    requests: int = 0
    orders: int = 0
    logged_in: SpotAccount | None = None
    subscriptions: dict[int, SpotAccount] = field(default_factory=dict)
    #: Subscriptions made with a listenToken end at its expiration time (ms).
    expirations: dict[int, int] = field(default_factory=dict)
    next_id: itertools.count[int] = field(default_factory=itertools.count)


class UserDataService:
    """The ``/ws-api/v3`` endpoint of :class:`~binstream.server.LocalExchange`."""

    def __init__(self, exchange: Any, accounts: Any = None) -> None:
        self.exchange = exchange
        self.accounts: dict[str, SpotAccount] = {}
        self.add_account(SpotAccount(DEMO_API_KEY, secret=DEMO_API_SECRET))
        for account in accounts or ():
            self.add_account(account)
        self.sessions: set[_Session] = set()
        #: listenTokens of margin accounts: token → (account, isolated symbol, expiry ms).
        self.listen_tokens: dict[str, tuple[SpotAccount, str | None, int]] = {}
        self.clock_offset_ms = 0  # simulate a server clock ahead (+) or behind (-)
        self.event_probability = 0.3
        self.rng = random.Random(4242)
        self.subscribe_count = 0
        self.trading = Trading(exchange.markets, self.now)

    def add_account(self, account: SpotAccount) -> SpotAccount:
        self.accounts[account.api_key] = account
        return account

    def start(self) -> None:
        pass

    async def stop(self) -> None:
        for session in list(self.sessions):
            with contextlib.suppress(Exception):
                await session.ws.close(1001, "server stopping")

    def now(self) -> int:
        return m.now_ms() + self.clock_offset_ms

    # -- fault injection ------------------------------------------------------------------

    def terminate_streams(self) -> None:
        """Send ``eventStreamTerminated`` on every subscription and end them."""
        for session in list(self.sessions):
            for sub_id in list(session.subscriptions):
                del session.subscriptions[sub_id]
                event = {"e": "eventStreamTerminated", "E": self.now()}
                self._send(session, {"subscriptionId": sub_id, "event": event})

    def drop_all(self) -> int:
        """Drop every WS-API connection without a close frame."""
        count = 0
        for session in list(self.sessions):
            if session.ws.transport is not None:
                session.ws.transport.abort()
                count += 1
        return count

    # -- connection handling --------------------------------------------------------------

    async def handle(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        query = ws.request.path.partition("?")[2]
        session = _Session(ws, return_rate_limits="returnratelimits=false" not in query.lower())
        self.sessions.add(session)
        try:
            async for frame in ws:
                reply = self._dispatch(session, frame)
                await ws.send(orjson.dumps(reply).decode())
        except ConnectionClosed:
            pass
        finally:
            self.sessions.discard(session)

    def _send(self, session: _Session, message: dict[str, Any]) -> None:
        async def send() -> None:
            with contextlib.suppress(ConnectionClosed):
                await session.ws.send(orjson.dumps(message).decode())

        self.exchange._spawn(send())

    def _dispatch(self, session: _Session, frame: str | bytes) -> dict[str, Any]:
        try:
            request = orjson.loads(frame)
        except orjson.JSONDecodeError:
            error = ApiError(400, -1100, "Illegal characters found in a parameter.")
            return self._error(None, error)
        if not isinstance(request, dict):
            return self._error(None, ApiError(400, -1100, "Request must be a JSON object."))
        request_id = request.get("id")
        params = request.get("params") or {}
        method = str(request.get("method"))
        session.requests += 1
        if method in ORDER_METHODS:
            session.orders += 1
        try:
            result = self._call(session, method, params)
        except ApiError as error:
            reply = self._error(request_id, error)
        else:
            reply = {"id": request_id, "status": 200, "result": result}
        wanted = params.get("returnRateLimits") if isinstance(params, dict) else None
        if wanted is not False and (wanted is True or session.return_rate_limits):
            reply["rateLimits"] = self._rate_limits(session, method)
        return reply

    @staticmethod
    def _rate_limits(session: _Session, method: str) -> list[dict[str, Any]]:
        """Binance's usage counters: request weight per minute, and orders for trading."""
        limits = [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
                   "limit": 6000, "count": session.requests * 2}]  # fmt: skip
        if method in ORDER_METHODS:
            limits += [
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10,
                 "limit": 100, "count": session.orders},
                {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1,
                 "limit": 200000, "count": session.orders},
            ]  # fmt: skip
        return limits

    @staticmethod
    def _error(request_id: Any, error: ApiError) -> dict[str, Any]:
        return {
            "id": request_id,
            "status": error.status,
            "error": {"code": error.code, "msg": error.msg},
        }

    def _call(self, session: _Session, method: str, params: dict[str, Any]) -> Any:
        if method == "ping":
            return {}
        if method == "time":
            return {"serverTime": self.now()}
        if method == "userDataStream.subscribe.signature":
            account = self._authenticate(params)
            return {"subscriptionId": self._subscribe(session, account)}
        if method == "session.logon":
            account = self._authenticate(params)
            if not account.is_ed25519:
                raise ApiError(400, -4056, "HMAC_SHA256 API key is not supported.")
            session.logged_in = account
            now = self.now()
            return {
                "apiKey": account.api_key,
                "authorizedSince": now,
                "connectedSince": now,
                "returnRateLimits": False,
                "serverTime": now,
                "userDataStream": bool(session.subscriptions),
            }
        if method == "userDataStream.subscribe.listenToken":
            token = self.listen_tokens.get(str(params.get("listenToken") or ""))
            if token is None or token[2] <= self.now():
                raise ApiError(400, -1209, "Invalid listenToken.")
            subscription = self._subscribe(session, token[0])
            session.expirations[subscription] = token[2]
            return {"subscriptionId": subscription, "expirationTime": token[2]}
        if method == "userDataStream.subscribe":
            if session.logged_in is None:
                raise ApiError(401, -2015, "Invalid API-key, IP, or permissions for action.")
            return {"subscriptionId": self._subscribe(session, session.logged_in)}
        if method == "userDataStream.unsubscribe":
            sub_id = params.get("subscriptionId")
            if sub_id is None:
                session.subscriptions.clear()
            else:
                session.subscriptions.pop(int(sub_id), None)
            return {}
        if method == "session.subscriptions":
            return [{"subscriptionId": s} for s in session.subscriptions]
        if method == "depth":
            return self._depth(params)
        if method == "exchangeInfo":
            return self._exchange_info(params)
        if method in ("order.place", "order.test"):
            account = self._trader(session, params)
            account.trades_itself = True
            order, events = self.trading.place(account, params, test=method == "order.test")
            self._deliver(events)
            if order is None:
                return {}
            return order.result(str(params.get("newOrderRespType") or "FULL"))
        if method == "order.cancel":
            order, events = self.trading.cancel(self._trader(session, params), params)
            self._deliver(events)
            return {"origClientOrderId": order.client_id, **order.summary(),
                    "transactTime": order.update_time}  # fmt: skip
        if method == "openOrders.status":
            account = self._trader(session, params)
            symbol = params.get("symbol")
            if symbol is not None and symbol not in self.exchange.markets:
                raise ApiError(400, -1121, "Invalid symbol.")
            return self.trading.open_orders(account, symbol)
        if method == "account.status":
            return self._account_status(self._trader(session, params))
        raise ApiError(400, -1100, f"Unknown method: {method}.")

    def _trader(self, session: _Session, params: dict[str, Any]) -> SpotAccount:
        """The account of a signed request, or of the session's ``session.logon``."""
        if "signature" not in params and session.logged_in is not None:
            return session.logged_in
        account = self._authenticate(params)
        if not account.can_trade:
            raise ApiError(401, -2015, "Invalid API-key, IP, or permissions for action.")
        return account

    def _depth(self, params: dict[str, Any]) -> dict[str, Any]:
        symbol = params.get("symbol")
        if not symbol:
            raise missing("symbol")
        market = self.exchange.markets.get(symbol)
        if market is None:
            raise ApiError(400, -1121, "Invalid symbol.")
        try:
            limit = int(params.get("limit", 100))
        except (TypeError, ValueError):
            raise ApiError(400, -1100, "Illegal characters found in parameter 'limit'.") from None
        if limit < 1:
            raise ApiError(400, -1100, "Illegal characters found in parameter 'limit'.")
        return market.snapshot(min(limit, 5000))

    def _exchange_info(self, params: dict[str, Any]) -> dict[str, Any]:
        symbols = params.get("symbols") or ([params["symbol"]] if "symbol" in params else None)
        try:
            info = exchange_info(self.exchange.markets, symbols)
        except UnknownSymbolError:
            raise ApiError(400, -1121, "Invalid symbol.") from None
        info["serverTime"] = self.now()
        return info

    def _account_status(self, account: SpotAccount) -> dict[str, Any]:
        now = self.now()
        return {
            "makerCommission": 0, "takerCommission": 0, "buyerCommission": 0,
            "sellerCommission": 0, "canTrade": account.can_trade, "canWithdraw": False,
            "canDeposit": False,
            "commissionRates": {"maker": "0.00000000", "taker": "0.00000000",
                                "buyer": "0.00000000", "seller": "0.00000000"},
            "brokered": False, "requireSelfTradePrevention": False, "preventSor": False,
            "updateTime": now, "accountType": "SPOT",
            "balances": [{"asset": asset, "free": m.fmt(free), "locked": m.fmt(locked)}
                         for asset, (free, locked) in sorted(account.balances.items())],
            "permissions": ["SPOT"], "uid": abs(hash(account.api_key)) % 10**9,
        }  # fmt: skip

    def _deliver(self, events: list[tuple[SpotAccount, dict[str, Any]]]) -> None:
        """User data events to every subscription of their account."""
        for account, event in events:
            for session in list(self.sessions):
                for sub_id, subscribed in session.subscriptions.items():
                    if subscribed is account:
                        self._send(session, {"subscriptionId": sub_id, "event": event})

    def _authenticate(self, params: dict[str, Any]) -> SpotAccount:
        for name in ("apiKey", "timestamp", "signature"):
            if not params.get(name):
                raise missing(name)
        api_key = str(params["apiKey"])
        if not api_key.isalnum() or len(api_key) > 100:
            raise ApiError(401, -2014, "API-key format invalid.")
        account = self.accounts.get(api_key)
        if account is None or not account.ip_allowed or not account.can_read:
            raise ApiError(401, -2015, "Invalid API-key, IP, or permissions for action.")
        try:
            timestamp = int(params["timestamp"])
            recv_window = int(params.get("recvWindow", 5000))
        except (TypeError, ValueError):
            raise missing("timestamp") from None
        if not 0 < recv_window <= 60000:
            raise ApiError(400, -1131, "recvWindow must be less than 60000")
        now = self.now()
        if timestamp > now + MAX_FUTURE_MS:
            raise ApiError(
                400, -1021, "Timestamp for this request was 1000ms ahead of the server's time."
            )
        if now - timestamp > recv_window:
            raise ApiError(400, -1021, "Timestamp for this request is outside of the recvWindow.")
        if not account.verify(signature_payload(params), str(params["signature"])):
            raise ApiError(400, -1022, "Signature for this request is not valid.")
        return account

    def _subscribe(self, session: _Session, account: SpotAccount) -> int:
        for sub_id, existing in session.subscriptions.items():
            if existing is account:
                return sub_id
        sub_id = next(session.next_id)
        session.subscriptions[sub_id] = account
        self.subscribe_count += 1
        return sub_id

    # -- account activity -------------------------------------------------------------------

    def listen_token(self, api_key: str | None, params: dict[str, str]) -> dict[str, Any]:
        """``POST /sapi/v1/userListenToken``: a margin (or isolated margin) account's
        listenToken, valid ``validity`` ms (default and most: 24 hours)."""
        if not api_key or not api_key.isalnum():
            raise ApiError(401, -2014, "API-key format invalid.")
        account = self.accounts.get(api_key)
        if account is None:
            raise ApiError(401, -2015, "Invalid API-key, IP, or permissions for action.")
        isolated = str(params.get("isIsolated", "false")).lower() == "true"
        symbol = params.get("symbol")
        if isolated and not symbol:
            raise missing("symbol")
        if isolated and symbol not in self.exchange.markets:
            raise ApiError(400, -1121, "Invalid symbol.")
        try:
            validity = min(int(params.get("validity", 86_400_000)), 86_400_000)
        except ValueError:
            raise ApiError(
                400, -1100, "Illegal characters found in parameter 'validity'."
            ) from None
        token = base64.b64encode(random.randbytes(48)).decode()
        expires = self.now() + max(validity, 1)
        self.listen_tokens[token] = (account, symbol if isolated else None, expires)
        return {"token": token, "expirationTime": expires}

    def on_step(self, steps: dict[str, m.Step]) -> None:
        """Fill resting orders the market moved through; let each subscribed account that
        no client trades with show some demo activity."""
        now = self.now()
        for session in list(self.sessions):
            for sub_id, ends in list(session.expirations.items()):
                if ends <= now:  # a listenToken subscription not renewed in time
                    del session.expirations[sub_id]
                    session.subscriptions.pop(sub_id, None)
                    event = {"e": "eventStreamTerminated", "E": now}
                    self._send(session, {"subscriptionId": sub_id, "event": event})
        self._deliver(self.trading.on_step())
        for session in list(self.sessions):
            for sub_id, account in list(session.subscriptions.items()):
                if account.trades_itself:
                    continue
                if self.rng.random() < self.event_probability:
                    for event in self._activity(account):
                        self._send(session, {"subscriptionId": sub_id, "event": event})

    def _activity(self, account: SpotAccount) -> list[dict[str, Any]]:
        market = self.exchange.markets.get("BNBBTC") or next(iter(self.exchange.markets.values()))
        if self.rng.random() < 0.1:
            delta = m.units("0.01000000", 8)
            account.balances.setdefault("BTC", [0, 0])[0] += delta
            now = self.now()
            return [{"e": "balanceUpdate", "E": now, "a": "BTC", "d": m.fmt(delta), "T": now}]
        return self._order(account, market)

    def _order(self, account: SpotAccount, market: m.SymbolMarket) -> list[dict[str, Any]]:
        base, quote = market.symbol[:-3], market.symbol[-3:]
        price = market.best_bid()[0]
        qty = market.lot * self.rng.randint(1, 20)
        cost = price * qty // 10**m.QTY_DECIMALS
        quote_balance = account.balances.setdefault(quote, [0, 0])
        base_balance = account.balances.setdefault(base, [0, 0])
        if quote_balance[0] < cost:
            return []
        account.order_id += 1
        now = self.now()
        order: dict[str, Any] = {
            "symbol": market.symbol,
            "id": account.order_id,
            "price": price,
            "qty": qty,
            "time": now,
            "filled": 0,
            "quote": 0,
        }
        quote_balance[0] -= cost
        quote_balance[1] += cost
        events = [
            self._execution(order, "NEW", "NEW", 0, 0, now),
            self._position(account, (base, quote), now),
        ]
        first = qty // 2 // market.lot * market.lot or qty
        for fill in (first, qty - first):
            if fill <= 0:
                continue
            account.trade_id += 1
            fill_cost = price * fill // 10**m.QTY_DECIMALS
            order["filled"] += fill
            order["quote"] += fill_cost
            quote_balance[1] -= fill_cost
            base_balance[0] += fill
            status = "FILLED" if order["filled"] == qty else "PARTIALLY_FILLED"
            events.append(self._execution(order, "TRADE", status, fill, account.trade_id, now))
            events.append(self._position(account, (base, quote), now))
        leftover = cost - order["quote"]
        if leftover:
            quote_balance[1] -= leftover
            quote_balance[0] += leftover
        return events

    def _execution(
        self, order: dict[str, Any], kind: str, status: str, fill: int, trade_id: int, now: int
    ) -> dict[str, Any]:
        price = order["price"]
        return {
            "e": "executionReport", "E": now, "s": order["symbol"],
            "c": f"binstream{order['id']}", "S": "BUY", "o": "LIMIT", "f": "GTC",
            "q": m.fmt(order["qty"]), "p": m.fmt(price), "P": "0.00000000", "F": "0.00000000",
            "g": -1, "C": "", "x": kind, "X": status, "r": "NONE", "i": order["id"],
            "l": m.fmt(fill), "z": m.fmt(order["filled"]), "L": m.fmt(price if fill else 0),
            "n": "0", "N": None, "T": now, "t": trade_id if fill else -1, "I": 0,
            "w": status == "NEW", "m": bool(fill), "M": bool(fill), "O": order["time"],
            "Z": m.fmt(order["quote"]), "Y": m.fmt(price * fill // 10**m.QTY_DECIMALS),
            "Q": "0.00000000", "W": order["time"], "V": "EXPIRE_MAKER",
        }  # fmt: skip

    @staticmethod
    def _position(account: SpotAccount, assets: tuple[str, ...], now: int) -> dict[str, Any]:
        return {
            "e": "outboundAccountPosition",
            "E": now,
            "u": now,
            "B": [
                {"a": a, "f": m.fmt(account.balances[a][0]), "l": m.fmt(account.balances[a][1])}
                for a in assets
            ],
        }
