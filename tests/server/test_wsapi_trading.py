"""The local exchange's WebSocket API beyond the user data stream: market data, and the
demo account trading against the simulated book, as Binance's SDK and python-binance use
it (``order.place``, ``order.test``, ``order.cancel``, ``openOrders.status``,
``account.status``, ``depth``, ``exchangeInfo``, ``time``, ``ping``)."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect

from binstream.server import LocalExchange
from binstream.server.demo import DEMO_API_KEY, DEMO_API_SECRET
from binstream.signing import Credentials

pytestmark = pytest.mark.transport_independent

DEMO = Credentials(DEMO_API_KEY, secret=DEMO_API_SECRET)
_ids = itertools.count(1)


@pytest.fixture
async def api(exchange: LocalExchange) -> AsyncIterator[ClientConnection]:
    async with connect(exchange.url + "/ws-api/v3") as ws:
        yield ws


async def call(ws: ClientConnection, method: str, params: dict[str, Any] | None = None,
               signed: bool = False) -> dict[str, Any]:  # fmt: skip
    """One request and its reply (events that arrive first are skipped)."""
    request_id = f"t-{next(_ids)}"
    if signed:
        params = DEMO.signed({**(params or {}), "apiKey": DEMO_API_KEY,
                              "timestamp": int(time.time() * 1000)})  # fmt: skip
    message: dict[str, Any] = {"id": request_id, "method": method}
    if params is not None:
        message["params"] = params
    await ws.send(orjson.dumps(message).decode())
    async with asyncio.timeout(5):
        while True:
            reply = orjson.loads(await ws.recv())
            if reply.get("id") == request_id:
                return reply


def balance(status: dict[str, Any], asset: str) -> tuple[str, str]:
    entry = next(b for b in status["result"]["balances"] if b["asset"] == asset)
    return entry["free"], entry["locked"]


async def test_market_data_methods(api: ClientConnection, exchange: LocalExchange) -> None:
    assert (await call(api, "ping"))["result"] == {}
    assert abs((await call(api, "time"))["result"]["serverTime"] - time.time() * 1000) < 5000
    depth = await call(api, "depth", {"symbol": "BNBBTC", "limit": 5})
    assert depth["status"] == 200 and len(depth["result"]["bids"]) == 5
    info = await call(api, "exchangeInfo", {"symbol": "ETHBTC"})
    assert [s["symbol"] for s in info["result"]["symbols"]] == ["ETHBTC"]
    unknown = await call(api, "depth", {"symbol": "NOPE"})
    assert unknown["status"] == 400 and unknown["error"] == {"code": -1121,
                                                             "msg": "Invalid symbol."}  # fmt: skip


async def test_rate_limits_are_returned_unless_turned_off(
    api: ClientConnection, exchange: LocalExchange
) -> None:
    """Binance returns rateLimits by default; returnRateLimits=false omits them."""
    default = await call(api, "ping")
    assert default["rateLimits"][0]["rateLimitType"] == "REQUEST_WEIGHT"
    off = await call(api, "ping", {"returnRateLimits": False})
    assert "rateLimits" not in off
    async with connect(exchange.url + "/ws-api/v3?returnRateLimits=false") as quiet:
        assert "rateLimits" not in await call(quiet, "time")
        assert "rateLimits" in await call(quiet, "time", {"returnRateLimits": True})


async def test_a_resting_order_is_listed_cancelled_and_its_funds_unlocked(
    api: ClientConnection, exchange: LocalExchange
) -> None:
    market = exchange.markets["BNBBTC"]
    below = market.best_bid()[0] - 10 * market.tick  # far from the asks: it rests
    before = balance(await call(api, "account.status", signed=True), "BTC")
    placed = await call(api, "order.place", {
        "symbol": "BNBBTC", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
        "price": f"{below / 1e8:.8f}", "quantity": "1.00000000",
        "newClientOrderId": "resting-1"}, signed=True)  # fmt: skip
    assert placed["status"] == 200, placed
    assert placed["result"]["status"] == "NEW" and placed["result"]["fills"] == []
    assert placed["rateLimits"][1]["rateLimitType"] == "ORDERS"
    held = balance(await call(api, "account.status", signed=True), "BTC")
    assert float(held[1]) == pytest.approx(below / 1e8) and float(held[0]) < float(before[0])
    listed = await call(api, "openOrders.status", {"symbol": "BNBBTC"}, signed=True)
    assert [o["clientOrderId"] for o in listed["result"]] == ["resting-1"]
    which = {"symbol": "BNBBTC", "origClientOrderId": "resting-1"}
    cancelled = await call(api, "order.cancel", which, signed=True)
    assert cancelled["result"]["status"] == "CANCELED"
    assert balance(await call(api, "account.status", signed=True), "BTC") == before
    again = await call(api, "order.cancel", {"symbol": "BNBBTC", "orderId": 999999}, signed=True)
    assert again["error"]["code"] == -2011


async def test_a_market_order_trades_against_the_book_and_the_streams_show_it(
    api: ClientConnection, exchange: LocalExchange
) -> None:
    async with connect(exchange.url + "/ws/bnbbtc@trade") as trades:
        await call(api, "userDataStream.subscribe.signature", signed=True)
        best_ask = exchange.markets["BNBBTC"].best_ask()[0]
        placed = await call(api, "order.place", {"symbol": "BNBBTC", "side": "BUY",
                            "type": "MARKET", "quantity": "0.05000000"}, signed=True)  # fmt: skip
        result = placed["result"]
        assert result["status"] == "FILLED" and result["executedQty"] == "0.05000000"
        assert {f["price"] for f in result["fills"]} == {f"{best_ask / 1e8:.8f}"}
        ours = {f["tradeId"] for f in result["fills"]}
        seen: set[int] = set()
        async with asyncio.timeout(5):
            while not ours <= seen:
                seen.add(orjson.loads(await trades.recv())["t"])
        reports: list[dict[str, Any]] = []
        async with asyncio.timeout(5):
            while not any(r["X"] == "FILLED" for r in reports):
                event = orjson.loads(await api.recv()).get("event", {})
                if event.get("e") == "executionReport" and event["c"] == result["clientOrderId"]:
                    reports.append(event)
    assert reports[0]["x"] == "NEW" and reports[-1]["x"] == "TRADE"


async def test_a_resting_order_fills_when_the_market_comes_to_it(
    api: ClientConnection, exchange: LocalExchange
) -> None:
    exchange.pause()
    market = exchange.markets["ETHBTC"]
    price = market.best_ask()[0] - market.tick
    placed = await call(api, "order.place", {
        "symbol": "ETHBTC", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
        "price": f"{price / 1e8:.8f}", "quantity": "0.01000000"}, signed=True)  # fmt: skip
    assert placed["result"]["status"] == "NEW"
    market.fair = price // market.tick - 1  # the asks come down to our price
    exchange.step()
    exchange.step()
    listed = await call(api, "openOrders.status", {"symbol": "ETHBTC"}, signed=True)
    assert listed["result"] == []


async def test_order_test_checks_and_changes_nothing(
    api: ClientConnection, exchange: LocalExchange
) -> None:
    before = await call(api, "account.status", signed=True)
    ok = await call(api, "order.test", {"symbol": "BNBBTC", "side": "SELL", "type": "MARKET",
                                        "quantity": "1.00000000"}, signed=True)  # fmt: skip
    assert ok["status"] == 200 and ok["result"] == {}
    after = await call(api, "account.status", signed=True)
    assert before["result"]["balances"] == after["result"]["balances"]


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"symbol": "NOPE", "side": "BUY", "type": "MARKET", "quantity": "1"}, -1121),
        ({"symbol": "BNBBTC", "side": "BUY", "type": "MARKET", "quantity": "0.001"}, -1013),
        ({"symbol": "BNBBTC", "side": "BUY", "type": "LIMIT", "quantity": "1",
          "price": "0.009"}, -1102),
        ({"symbol": "BNBBTC", "side": "SELL", "type": "MARKET", "quantity": "100000"}, -2010),
        ({"symbol": "BNBBTC", "side": "UP", "type": "MARKET", "quantity": "1"}, -1117),
        ({"symbol": "BNBBTC", "side": "BUY", "type": "STOP", "quantity": "1"}, -1116),
    ],
    ids=["symbol", "lot-size", "no-time-in-force", "balance", "side", "type"],
)  # fmt: skip
async def test_bad_orders_get_binances_errors(
    api: ClientConnection, params: dict[str, Any], code: int
) -> None:
    reply = await call(api, "order.place", params, signed=True)
    assert reply["status"] == 400 and reply["error"]["code"] == code, reply


async def test_a_maker_only_order_that_would_take_is_rejected(
    api: ClientConnection, exchange: LocalExchange
) -> None:
    ask = exchange.markets["BNBBTC"].best_ask()[0] + exchange.markets["BNBBTC"].tick * 5
    reply = await call(api, "order.place", {"symbol": "BNBBTC", "side": "BUY",
                       "type": "LIMIT_MAKER", "quantity": "0.01", "price": f"{ask / 1e8:.8f}"},
                       signed=True)  # fmt: skip
    assert reply["error"] == {"code": -2010, "msg": "Order would immediately match and take."}


async def test_trading_needs_a_valid_signature(api: ClientConnection) -> None:
    params = DEMO.signed({"symbol": "BNBBTC", "apiKey": DEMO_API_KEY,
                          "timestamp": int(time.time() * 1000)})  # fmt: skip
    params["signature"] = "0" * 64
    reply = await call(api, "openOrders.status", params)
    assert reply["error"]["code"] == -1022
