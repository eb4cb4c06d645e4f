"""Orders of the local exchange's accounts, trading against the simulated book.

``order.place`` validates like Binance (mandatory parameters, order types, the symbol's
PRICE_FILTER, LOT_SIZE and NOTIONAL filters, balances), locks funds, fills what crosses
the book at once (taking its liquidity, so the streams show the trades) and rests the
rest; a resting order fills when the market moves through its price. Every change
produces the user data stream's ``executionReport`` and ``outboundAccountPosition``
events. Commissions are zero.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from .. import market as m
from ..apierror import ApiError, missing
from .account import SpotAccount
from .exchangeinfo import split_symbol

Events = list[tuple[SpotAccount, dict[str, Any]]]
ZERO = "0.00000000"


@dataclass(eq=False)
class SpotOrder:
    """One order of one account."""

    account: SpotAccount
    market: m.SymbolMarket
    order_id: int
    client_id: str
    side: str
    type: str
    time_in_force: str
    price: int
    qty: int
    time: int
    filled: int = 0
    quote: int = 0
    status: str = "NEW"
    update_time: int = 0
    fills: list[m.Fill] = field(default_factory=list)
    #: Funds still locked for it: quote for a buy, base for a sell.
    locked: int = 0

    @property
    def buy(self) -> bool:
        return self.side == "BUY"

    @property
    def remaining(self) -> int:
        return self.qty - self.filled

    def summary(self) -> dict[str, Any]:
        """The order as ``openOrders.status`` and ``order.cancel`` show it."""
        return {
            "symbol": self.market.symbol, "orderId": self.order_id, "orderListId": -1,
            "clientOrderId": self.client_id, "price": m.fmt(self.price),
            "origQty": m.fmt(self.qty, m.QTY_DECIMALS),
            "executedQty": m.fmt(self.filled, m.QTY_DECIMALS),
            "cummulativeQuoteQty": m.fmt(self.quote), "status": self.status,
            "timeInForce": self.time_in_force, "type": self.type, "side": self.side,
            "stopPrice": ZERO, "icebergQty": ZERO, "time": self.time,
            "updateTime": self.update_time or self.time, "isWorking": True,
            "workingTime": self.time, "origQuoteOrderQty": ZERO,
            "selfTradePreventionMode": "EXPIRE_MAKER",
        }  # fmt: skip

    def result(self, response_type: str) -> dict[str, Any]:
        """``order.place``'s answer in the ``newOrderRespType`` asked for."""
        ack = {
            "symbol": self.market.symbol,
            "orderId": self.order_id,
            "orderListId": -1,
            "clientOrderId": self.client_id,
            "transactTime": self.update_time or self.time,
        }
        if response_type == "ACK":
            return ack
        summary = self.summary()
        result = {
            **ack,
            **{
                k: summary[k]
                for k in (
                    "price",
                    "origQty",
                    "executedQty",
                    "origQuoteOrderQty",
                    "cummulativeQuoteQty",
                    "status",
                    "timeInForce",
                    "type",
                    "side",
                    "workingTime",
                    "selfTradePreventionMode",
                )
            },
        }
        if response_type == "FULL":
            result["fills"] = [
                {
                    "price": m.fmt(f.price),
                    "qty": m.fmt(f.qty, m.QTY_DECIMALS),
                    "commission": ZERO,
                    "commissionAsset": split_symbol(self.market.symbol)[1],
                    "tradeId": f.trade_id,
                }
                for f in self.fills
            ]
        return result  # fmt: skip


def _number(params: dict[str, Any], name: str) -> int:
    value = params.get(name)
    if value is None or value == "":
        raise missing(name)
    try:
        return m.units(str(value), m.PRICE_DECIMALS)
    except ValueError:
        raise ApiError(400, -1100, f"Illegal characters found in parameter '{name}'.") from None


class Trading:
    """Every account's orders on the exchange's markets."""

    def __init__(self, markets: dict[str, m.SymbolMarket], now: Any) -> None:
        self.markets = markets
        self.now = now
        self.open: dict[int, SpotOrder] = {}
        self._ids = itertools.count(1)

    # -- requests ---------------------------------------------------------------------------

    def place(self, account: SpotAccount, params: dict[str, Any], test: bool = False
              ) -> tuple[SpotOrder | None, Events]:  # fmt: skip
        """Validate and (unless ``test``) place an order; the events it caused."""
        symbol = str(params.get("symbol") or "")
        if not symbol:
            raise missing("symbol")
        market = self.markets.get(symbol)
        if market is None:
            raise ApiError(400, -1121, "Invalid symbol.")
        side = str(params.get("side") or "")
        if side not in ("BUY", "SELL"):
            raise missing("side") if not side else ApiError(400, -1117, "Invalid side.")
        kind = str(params.get("type") or "")
        if kind not in ("LIMIT", "MARKET", "LIMIT_MAKER"):
            raise missing("type") if not kind else ApiError(400, -1116, "Invalid orderType.")
        qty = _number(params, "quantity")
        if kind == "MARKET":
            price, tif = 0, "GTC"
        else:
            price = _number(params, "price")
            tif = "GTC" if kind == "LIMIT_MAKER" else str(params.get("timeInForce") or "")
            if not tif:
                raise missing("timeInForce")
            if tif not in ("GTC", "IOC", "FOK"):
                raise ApiError(400, -1115, "Invalid timeInForce.")
            if price <= 0 or price % market.tick:
                raise ApiError(400, -1013, "Filter failure: PRICE_FILTER")
        if qty <= 0 or qty % market.lot:
            raise ApiError(400, -1013, "Filter failure: LOT_SIZE")
        reference = price or (market.best_ask()[0] if side == "BUY" else market.best_bid()[0])
        notional = reference * qty // 10**m.QTY_DECIMALS
        if kind == "MARKET" and side == "BUY":  # room for sweeping a few levels up
            notional = notional * 105 // 100
        if notional < market.tick:
            raise ApiError(400, -1013, "Filter failure: NOTIONAL")
        crosses = (price >= market.best_ask()[0]) if side == "BUY" else (
            price <= market.best_bid()[0])  # fmt: skip
        if kind == "LIMIT_MAKER" and crosses:
            raise ApiError(400, -2010, "Order would immediately match and take.")
        base, quote = split_symbol(symbol)
        lock_asset, lock_amount = (quote, notional) if side == "BUY" else (base, qty)
        balance = account.balances.setdefault(lock_asset, [0, 0])
        if balance[0] < lock_amount:
            raise ApiError(400, -2010, "Account has insufficient balance for requested action.")
        if test:
            return None, []
        now = self.now()
        account.order_id += 1
        client_id = str(params.get("newClientOrderId") or f"binstream-{account.order_id}")
        order = SpotOrder(
            account, market, next(self._ids), client_id, side, kind, tif, price, qty, now
        )
        balance[0] -= lock_amount
        balance[1] += lock_amount
        order.locked = lock_amount
        events: Events = [(account, self._report(order, "NEW", None))]
        self._match(order, events)
        if order.status in ("NEW", "PARTIALLY_FILLED"):
            if kind == "MARKET" or tif in ("IOC", "FOK"):
                self._end(order, "EXPIRED", events)
            else:
                self.open[order.order_id] = order
        else:
            self._release(order)
        events.append((account, self._position(account, (base, quote))))
        return order, events

    def cancel(self, account: SpotAccount, params: dict[str, Any]) -> tuple[SpotOrder, Events]:
        """Cancel one open order, by ``orderId`` or ``origClientOrderId``."""
        symbol = str(params.get("symbol") or "")
        if not symbol:
            raise missing("symbol")
        order_id, client_id = params.get("orderId"), params.get("origClientOrderId")
        if order_id is None and client_id is None:
            raise missing("orderId")
        for order in self.open.values():
            if (
                order.account is account
                and order.market.symbol == symbol
                and (order.order_id == order_id or order.client_id == client_id)
            ):
                events: Events = []
                self._end(order, "CANCELED", events)
                events.append((account, self._position(account, split_symbol(symbol))))
                return order, events
        raise ApiError(400, -2011, "Unknown order sent.")

    def open_orders(self, account: SpotAccount, symbol: str | None) -> list[dict[str, Any]]:
        """``openOrders.status``: the account's open orders, of one symbol or all."""
        return [o.summary() for o in self.open.values()
                if o.account is account and symbol in (None, o.market.symbol)]  # fmt: skip

    def on_step(self) -> Events:
        """Resting orders the market has moved through fill now."""
        events: Events = []
        for order in list(self.open.values()):
            self._match(order, events)
            if order.status == "FILLED":
                self._release(order)
                events.append((order.account, self._position(
                    order.account, split_symbol(order.market.symbol))))  # fmt: skip
        return events

    # -- matching and accounting ------------------------------------------------------------

    def _match(self, order: SpotOrder, events: Events) -> None:
        limit = order.price if order.type != "MARKET" else None
        fills = order.market.take(order.buy, order.remaining, limit, self.now())
        base, quote = split_symbol(order.market.symbol)
        balances = order.account.balances
        for fill in fills:
            cost = fill.price * fill.qty // 10**m.QTY_DECIMALS
            order.filled += fill.qty
            order.quote += cost
            order.fills.append(fill)
            spent = min(cost if order.buy else fill.qty, order.locked)
            order.locked -= spent
            if order.buy:
                balances[quote][1] -= spent
                balances.setdefault(base, [0, 0])[0] += fill.qty
            else:
                balances[base][1] -= spent
                balances.setdefault(quote, [0, 0])[0] += cost
            order.status = "FILLED" if order.remaining == 0 else "PARTIALLY_FILLED"
            order.update_time = self.now()
            events.append((order.account, self._report(order, "TRADE", fill)))
        if order.status == "FILLED":
            self.open.pop(order.order_id, None)

    def _release(self, order: SpotOrder) -> None:
        """Unlock what ``order`` still holds (it has ended)."""
        base, quote = split_symbol(order.market.symbol)
        balance = order.account.balances[quote if order.buy else base]
        balance[1] -= order.locked
        balance[0] += order.locked
        order.locked = 0

    def _end(self, order: SpotOrder, status: str, events: Events) -> None:
        """Cancel or expire what is left of ``order`` and unlock its funds."""
        self._release(order)
        order.status = status
        order.update_time = self.now()
        self.open.pop(order.order_id, None)
        events.append((order.account, self._report(order, status, None)))

    def _report(self, order: SpotOrder, kind: str, fill: m.Fill | None) -> dict[str, Any]:
        now = self.now()
        price = fill.price if fill else 0
        qty = fill.qty if fill else 0
        execution = "TRADE" if fill else ("NEW" if kind == "NEW" else kind)
        return {
            "e": "executionReport", "E": now, "s": order.market.symbol, "c": order.client_id,
            "S": order.side, "o": order.type, "f": order.time_in_force,
            "q": m.fmt(order.qty, m.QTY_DECIMALS), "p": m.fmt(order.price), "P": ZERO,
            "F": ZERO, "g": -1, "C": "", "x": execution, "X": order.status, "r": "NONE",
            "i": order.order_id, "l": m.fmt(qty, m.QTY_DECIMALS),
            "z": m.fmt(order.filled, m.QTY_DECIMALS), "L": m.fmt(price), "n": "0", "N": None,
            "T": now, "t": fill.trade_id if fill else -1, "I": 0,
            "w": order.status in ("NEW", "PARTIALLY_FILLED"), "m": False, "M": True,
            "O": order.time, "Z": m.fmt(order.quote),
            "Y": m.fmt(price * qty // 10**m.QTY_DECIMALS), "Q": ZERO, "W": order.time,
            "V": "EXPIRE_MAKER",
        }  # fmt: skip

    def _position(self, account: SpotAccount, assets: tuple[str, ...]) -> dict[str, Any]:
        now = self.now()
        return {"e": "outboundAccountPosition", "E": now, "u": now, "B": [
            {"a": a, "f": m.fmt(account.balances[a][0]), "l": m.fmt(account.balances[a][1])}
            for a in assets if a in account.balances]}  # fmt: skip
