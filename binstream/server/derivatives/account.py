"""Account streams of the local exchange's derivatives venues: listenKeys and a demo account.

The listenKey lifecycle is Binance's (USD-M, COIN-M, options and portfolio margin docs,
2026): ``POST <prefix>/listenKey`` with ``X-MBX-APIKEY`` returns the account's active key
(extended) or a new one; ``PUT`` extends it (``-1125`` when it does not exist), ``DELETE``
closes it and its connections. A key lives ``ttl`` seconds (60 minutes on Binance; tests
shorten it); when it lapses, its connections get ``listenKeyExpired`` and nothing more.

The demo account (``DEMO_API_KEY``) trades on its own against the simulated book: market
and limit orders, partial and full fills, a position per contract with its entry price and
unrealised PnL, a wallet balance that pays fees and realises PnL, and funding every
``FUNDING_STEPS``. Every change reaches the account's streams as Binance words it:
``ORDER_TRADE_UPDATE``, ``TRADE_LITE`` and ``ACCOUNT_UPDATE`` (reason ``ORDER`` or
``FUNDING_FEE``).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from ...venues import Market
from ..apierror import ApiError
from ..demo import DEMO_API_KEY
from ..market import PRICE_DECIMALS, QTY_DECIMALS, Fill, fmt
from . import contracts as d

#: Steps between two funding payments of the demo account (Binance: 8 hours).
FUNDING_STEPS = 600
#: Chance per step that the demo account acts (places or cancels an order).
ACTIVITY = 0.15
FEE_RATE_BPS = 4  # 0.04 % taker fee


@dataclass
class ListenKey:
    """One listenKey: whose it is and until when it lives (monotonic seconds)."""

    key: str
    api_key: str
    expires: float
    expired: bool = False


@dataclass
class Position:
    """A one-way position: signed amount (lots) and entry price (price units)."""

    amount: int = 0
    entry: int = 0
    realised: int = 0


@dataclass
class FuturesOrder:
    """A resting order of the demo account."""

    order_id: int
    client_id: str
    symbol: str
    buy: bool
    kind: str
    quantity: int
    price: int
    filled: int = 0
    cost: int = 0  # sum of price × qty of fills, for the average price


@dataclass
class FuturesAccount:
    """A futures account: wallet, positions, open orders."""

    api_key: str
    wallet: int  # in the margin asset's units (8 decimals)
    asset: str
    positions: dict[str, Position] = field(default_factory=dict)
    orders: dict[int, FuturesOrder] = field(default_factory=dict)


class AccountStreams:
    """The listenKeys, accounts and account connections of one derivatives venue."""

    def __init__(self, market: Market, contracts: dict[str, d.Contract], ttl: float) -> None:
        self.market = market
        self.contracts = contracts
        self.ttl = ttl
        self.keys: dict[str, ListenKey] = {}
        asset = "USD" if market is Market.COINM else "USDT"
        wallet = 10 * 10**PRICE_DECIMALS if market is Market.COINM else 100_000 * 10**PRICE_DECIMALS
        self.accounts: dict[str, FuturesAccount] = {
            DEMO_API_KEY: FuturesAccount(DEMO_API_KEY, wallet, asset)
        }
        #: Live connections per listenKey: callables taking one event dict.
        self.listeners: dict[str, list[Any]] = {}
        #: Counts of listenKey calls answered, for tests: "POST", "PUT", "DELETE".
        self.calls: dict[str, int] = {"POST": 0, "PUT": 0, "DELETE": 0}
        self._ids = iter(range(8_000_000_000, 2**62))
        self._trades = iter(range(5_000_000, 2**62))
        self.steps = 0

    # -- listenKeys ----------------------------------------------------------------------

    def _account(self, api_key: str | None) -> FuturesAccount:
        if not api_key:
            raise ApiError(401, -2014, "API-key format invalid.")
        if len(api_key) < 16 or not api_key.isalnum():
            raise ApiError(401, -2014, "API-key format invalid.")
        account = self.accounts.get(api_key)
        if account is None:
            raise ApiError(401, -2015, "Invalid API-key, IP, or permissions for action.")
        return account

    def create(self, api_key: str | None) -> dict[str, str]:
        """``POST``: the account's active key (extended) or a new one."""
        account = self._account(api_key)
        self.calls["POST"] += 1
        now = time.monotonic()
        for entry in self.keys.values():
            if entry.api_key == account.api_key and not entry.expired and entry.expires > now:
                entry.expires = now + self.ttl
                return {"listenKey": entry.key}
        key = secrets.token_urlsafe(45).replace("-", "a").replace("_", "b")[:60]
        self.keys[key] = ListenKey(key, account.api_key, now + self.ttl)
        return {"listenKey": key}

    def keepalive(self, api_key: str | None, key: str | None) -> dict[str, Any]:
        """``PUT``: extend the key; ``-1125`` when it is unknown or lapsed."""
        account = self._account(api_key)
        self.calls["PUT"] += 1
        entry = self._find(account, key)
        if entry is None:
            raise ApiError(400, -1125, "This listenKey does not exist.")
        entry.expires = time.monotonic() + self.ttl
        return {"listenKey": entry.key} if self.market is Market.USDM else {}

    def close(self, api_key: str | None, key: str | None) -> dict[str, Any]:
        """``DELETE``: the key and its connections end."""
        account = self._account(api_key)
        self.calls["DELETE"] += 1
        entry = self._find(account, key)
        if entry is not None:
            del self.keys[entry.key]
            for close in list(self.listeners.pop(entry.key, [])):
                close(None)
        return {}

    def _find(self, account: FuturesAccount, key: str | None) -> ListenKey | None:
        """The key named (or, as USD-M allows, the account's active one)."""
        now = time.monotonic()
        candidates = [self.keys.get(key)] if key else [
            e for e in self.keys.values() if e.api_key == account.api_key]  # fmt: skip
        for entry in candidates:
            if (
                entry
                and entry.api_key == account.api_key
                and not entry.expired
                and entry.expires > now
            ):
                return entry
        return None

    def valid(self, key: str) -> bool:
        """Whether ``key`` may stream now."""
        entry = self.keys.get(key)
        return entry is not None and not entry.expired and entry.expires > time.monotonic()

    def drop_connections(self) -> int:
        """Close every account-stream connection (a close frame); their keys stay valid."""
        count = 0
        for listeners in self.listeners.values():
            for listener in list(listeners):
                listener(None)
                count += 1
        return count

    def expire_now(self, key: str | None = None) -> None:
        """Let ``key`` (or every key) lapse at once, as a missed keepalive would (tests)."""
        for entry in list(self.keys.values()):
            if key is None or entry.key == key:
                entry.expires = 0.0

    # -- the clock ----------------------------------------------------------------------

    def step(self, number: int, t: int) -> None:
        """Expire lapsed keys; let the demo account act; pay funding now and then."""
        now = time.monotonic()
        for entry in list(self.keys.values()):
            if not entry.expired and entry.expires <= now:
                entry.expired = True
                self._send(entry.key, {"e": "listenKeyExpired", "E": t, "listenKey": entry.key})
        if not any(self.listeners.values()):
            return
        self.steps += 1
        for account in self.accounts.values():
            self._fill_resting(account, t)
            if self._rng.random() < ACTIVITY:
                self._act(account, t)
            if self.steps % FUNDING_STEPS == 0:
                self._funding(account, t)

    @property
    def _rng(self) -> Any:
        return next(iter(self.contracts.values())).rng

    # -- what the demo account does ------------------------------------------------------

    def _act(self, account: FuturesAccount, t: int) -> None:
        rng = self._rng
        # Futures trade their perpetuals; options (no contract type) any option.
        tradable = [c for c in self.contracts.values() if c.spec.contract_type in ("PERPETUAL", "")]
        contract = rng.choice(tradable)
        market = contract.market
        position = account.positions.setdefault(contract.symbol, Position())
        # Lean against the position so it stays small: buy when short, sell when long.
        buy = rng.random() < (
            0.5 - 0.1 * (1 if position.amount > 0 else -1 if position.amount < 0 else 0)
        )
        quantity = market.lot * rng.randint(1, 20)
        order_id = next(self._ids)
        client_id = f"demo{order_id}"
        if rng.random() < 0.5:
            order = FuturesOrder(order_id, client_id, contract.symbol, buy, "MARKET", quantity, 0)
            self._order_event(account, order, "NEW", "NEW", t)
            self._fill(account, order, market.take(buy, quantity, None, t), t)
        else:
            best = market.best_bid()[0] if buy else market.best_ask()[0]
            price = best - market.tick if buy else best + market.tick
            order = FuturesOrder(
                order_id, client_id, contract.symbol, buy, "LIMIT", quantity, price
            )
            account.orders[order_id] = order
            self._order_event(account, order, "NEW", "NEW", t)

    def _fill_resting(self, account: FuturesAccount, t: int) -> None:
        """Resting orders the market reached fill against it (partly, then fully)."""
        for order in list(account.orders.values()):
            market = self.contracts[order.symbol].market
            best = market.best_ask()[0] if order.buy else market.best_bid()[0]
            reached = best <= order.price if order.buy else best >= order.price
            if not reached:
                if self._rng.random() < 0.01:  # the demo trader gives up on it
                    del account.orders[order.order_id]
                    self._order_event(account, order, "CANCELED", "CANCELED", t)
                continue
            wanted = order.quantity - order.filled
            chunk = max(market.lot, wanted // 2) if wanted > market.lot else wanted
            self._fill(account, order, market.take(order.buy, chunk, order.price, t), t)

    def _fill(
        self, account: FuturesAccount, order: FuturesOrder, fills: list[Fill], t: int
    ) -> None:
        contract = self.contracts[order.symbol]
        for fill in fills:
            order.filled += fill.qty
            order.cost += fill.price * fill.qty
            # COIN-M fees are paid in coin: kept at zero in this simulation.
            notional = fill.price * fill.qty // 10**QTY_DECIMALS
            fee = 0 if self.market is Market.COINM else notional * FEE_RATE_BPS // 10_000
            realised = self._apply(account, contract, order.buy, fill)
            account.wallet += realised - fee
            done = order.filled >= order.quantity
            status = "FILLED" if done else "PARTIALLY_FILLED"
            trade_id = next(self._trades)
            self._order_event(account, order, "TRADE", status, t, fill, fee, realised, trade_id)
            if self.market is not Market.OPTIONS:
                self._send_account(account, {"e": "TRADE_LITE", "E": t, "T": t,
                                             "s": order.symbol, "q": fmt(fill.qty, QTY_DECIMALS),
                                             "p": fmt(order.price), "m": order.kind == "LIMIT",
                                             "c": order.client_id,
                                             "S": "BUY" if order.buy else "SELL",
                                             "L": fmt(fill.price), "l": fmt(fill.qty, QTY_DECIMALS),
                                             "t": trade_id, "i": order.order_id})  # fmt: skip
            self._account_update(account, contract, "ORDER", t)
            if done:
                account.orders.pop(order.order_id, None)
                return

    @staticmethod
    def _apply(account: FuturesAccount, contract: d.Contract, buy: bool, fill: Fill) -> int:
        """Move the position by one fill; returns the PnL it realised (price units)."""
        position = account.positions.setdefault(contract.symbol, Position())
        signed = fill.qty if buy else -fill.qty
        realised = 0
        if position.amount and (position.amount > 0) != buy:
            closing = min(abs(position.amount), fill.qty)
            per_lot = (
                fill.price - position.entry if position.amount > 0 else position.entry - fill.price
            )
            realised = per_lot * closing // 10**QTY_DECIMALS
        new_amount = position.amount + signed
        if new_amount == 0:
            position.entry = 0
        elif position.amount == 0 or (position.amount > 0) != (new_amount > 0):
            position.entry = fill.price
        elif (position.amount > 0) == buy:
            position.entry = (position.entry * abs(position.amount) + fill.price * fill.qty) // abs(
                new_amount
            )
        position.amount = new_amount
        position.realised += realised
        return realised

    def _funding(self, account: FuturesAccount, t: int) -> None:
        for symbol, position in account.positions.items():
            if not position.amount:
                continue
            contract = self.contracts[symbol]
            notional = contract.mark_price() * abs(position.amount) // 10**QTY_DECIMALS
            payment = int(notional * contract.funding_rate)
            account.wallet += -payment if position.amount > 0 else payment
            self._account_update(account, contract, "FUNDING_FEE", t)

    # -- events -------------------------------------------------------------------------

    def _order_event(self, account: FuturesAccount, order: FuturesOrder, execution: str,
                     status: str, t: int, fill: Fill | None = None, fee: int = 0, realised: int = 0,
                     trade_id: int = 0) -> None:  # fmt: skip
        average = order.cost // order.filled if order.filled else 0
        o = {"s": order.symbol, "c": order.client_id, "S": "BUY" if order.buy else "SELL",
             "o": order.kind, "f": "GTC", "q": fmt(order.quantity, QTY_DECIMALS),
             "p": fmt(order.price), "ap": fmt(average), "sp": "0", "x": execution, "X": status,
             "i": order.order_id, "l": fmt(fill.qty if fill else 0, QTY_DECIMALS),
             "z": fmt(order.filled, QTY_DECIMALS), "L": fmt(fill.price if fill else 0),
             "N": account.asset, "n": fmt(fee), "T": t, "t": trade_id, "b": "0", "a": "0",
             "m": order.kind == "LIMIT" and fill is not None, "R": False, "wt": "CONTRACT_PRICE",
             "ot": order.kind, "ps": "BOTH", "cp": False, "rp": fmt(realised), "pP": False,
             "si": 0, "ss": 0, "V": "EXPIRE_TAKER", "pm": "NONE", "gtd": 0}  # fmt: skip
        self._send_account(account, {"e": "ORDER_TRADE_UPDATE", "E": t, "T": t, "o": o})

    def _account_update(
        self, account: FuturesAccount, contract: d.Contract, reason: str, t: int
    ) -> None:
        position = account.positions.get(contract.symbol, Position())
        mark = contract.mark_price()
        unrealised = (
            (mark - position.entry) * position.amount // 10**QTY_DECIMALS if position.amount else 0
        )
        wallet = fmt(account.wallet)
        update = {"e": "ACCOUNT_UPDATE", "E": t, "T": t, "a": {
            "m": reason,
            "B": [{"a": account.asset, "wb": wallet, "cw": wallet, "bc": "0"}],
            "P": [{"s": contract.symbol, "pa": fmt(position.amount, QTY_DECIMALS),
                   "ep": fmt(position.entry), "bep": fmt(position.entry),
                   "cr": fmt(position.realised), "up": fmt(unrealised), "mt": "cross",
                   "iw": "0", "ps": "BOTH"}],
        }}  # fmt: skip
        self._send_account(account, update)

    def _send_account(self, account: FuturesAccount, event: dict[str, Any]) -> None:
        for entry in self.keys.values():
            if entry.api_key == account.api_key and not entry.expired:
                self._send(entry.key, event)

    def _send(self, key: str, event: dict[str, Any]) -> None:
        for listener in list(self.listeners.get(key, [])):
            listener(event)
