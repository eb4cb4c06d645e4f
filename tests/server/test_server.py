"""The local exchange speaks Binance's protocol: URL shapes, control messages, REST."""

from __future__ import annotations

import asyncio
import itertools
import json
import urllib.error
import urllib.request
from typing import Any

import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from binstream.server import LocalExchange


def http_get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


async def rest(exchange: LocalExchange, path: str) -> tuple[int, Any]:
    return await asyncio.to_thread(http_get, exchange.rest_url + path)


async def request(ws: Any, payload: Any) -> Any:
    await ws.send(payload if isinstance(payload, str) else orjson.dumps(payload).decode())
    while True:
        reply = orjson.loads(await ws.recv())
        if "id" in reply or "code" in reply:
            return reply


async def test_live_subscribe_unsubscribe_and_list(exchange: LocalExchange) -> None:
    async with connect(exchange.url + "/ws") as ws:
        assert await request(
            ws, {"method": "SUBSCRIBE", "params": ["bnbbtc@aggTrade"], "id": 1}
        ) == {
            "result": None,
            "id": 1,
        }
        while (await asyncio.wait_for(ws.recv(), 5)).find('"aggTrade"') < 0:
            pass
        listed = await request(ws, {"method": "LIST_SUBSCRIPTIONS", "id": 3})
        assert listed == {"result": ["bnbbtc@aggTrade"], "id": 3}
        await asyncio.sleep(0.25)  # stay under 5 control messages per second
        assert await request(
            ws, {"method": "UNSUBSCRIBE", "params": ["bnbbtc@aggTrade"], "id": 4}
        ) == {
            "result": None,
            "id": 4,
        }
        assert await request(ws, {"method": "GET_PROPERTY", "params": ["combined"], "id": 5}) == {
            "result": False,
            "id": 5,
        }


@pytest.mark.parametrize(
    ("payload", "code", "text"),
    [
        ("{not json", 3, "Invalid JSON"),
        ({"method": "SUBSCRIBE", "params": ["bnbbtc@trade"]}, 2, "request ID"),
        ({"method": "NOPE", "params": [], "id": 1}, 2, "unknown variant"),
        ({"method": "SUBSCRIBE", "params": [1], "id": 1}, 2, "params"),
        ({"method": "SUBSCRIBE", "params": ["bnb btc"], "id": 1}, 2, "invalid stream"),
        ({"method": "SET_PROPERTY", "params": ["combined", "yes"], "id": 1}, 1, "Boolean"),
        ({"method": "GET_PROPERTY", "params": ["colour"], "id": 1}, 0, "Unknown property"),
    ],
)
async def test_control_errors_have_binance_shapes(
    exchange: LocalExchange, payload: Any, code: int, text: str
) -> None:
    async with connect(exchange.url + "/ws") as ws:
        reply = await request(ws, payload)
    assert reply["code"] == code and text in reply["msg"]


async def test_too_many_control_messages_close_the_connection(exchange: LocalExchange) -> None:
    async with connect(exchange.url + "/ws") as ws:
        for i in range(7):
            await ws.send(orjson.dumps({"method": "LIST_SUBSCRIPTIONS", "id": i}).decode())
        with pytest.raises(ConnectionClosed) as info:
            while True:
                await asyncio.wait_for(ws.recv(), 5)
    assert info.value.rcvd is not None and info.value.rcvd.code == 1008


async def test_unknown_streams_stay_silent_like_binance(exchange: LocalExchange) -> None:
    async with connect(exchange.url + "/stream?streams=nosuch@trade/bnbbtc@trade") as ws:
        for _ in range(5):
            message = orjson.loads(await asyncio.wait_for(ws.recv(), 5))
            assert message["stream"] == "bnbbtc@trade"


async def test_bad_paths_are_rejected_over_http(exchange: LocalExchange) -> None:
    with pytest.raises(InvalidStatus) as info:
        async with connect(exchange.url + "/elsewhere"):
            pass
    assert info.value.response.status_code == 404
    too_many = "/".join(f"s{i}@trade" for i in range(1025))
    with pytest.raises(InvalidStatus) as info:
        async with connect(exchange.url + "/stream?streams=" + too_many, max_size=None):
            pass
    assert info.value.response.status_code in (400, 414)


async def test_rest_depth_and_exchange_info(exchange: LocalExchange) -> None:
    status, book = await rest(exchange, "/api/v3/depth?symbol=BNBBTC&limit=5")
    assert status == 200 and len(book["bids"]) == 5 and isinstance(book["lastUpdateId"], int)
    assert all(isinstance(p, str) and isinstance(q, str) for p, q in book["bids"] + book["asks"])
    assert book["bids"][0][0] < book["asks"][0][0]
    assert await rest(exchange, "/api/v3/depth?symbol=NOPE") == (
        400,
        {"code": -1121, "msg": "Invalid symbol."},
    )
    status, error = await rest(exchange, "/api/v3/depth?symbol=BNBBTC&limit=0")
    assert status == 400 and error["code"] == -1100
    status, info = await rest(exchange, "/api/v3/exchangeInfo")
    bnbbtc = next(entry for entry in info["symbols"] if entry["symbol"] == "BNBBTC")
    assert status == 200 and (bnbbtc["status"], bnbbtc["baseAsset"], bnbbtc["quoteAsset"]) == (
        "TRADING", "BNB", "BTC")  # fmt: skip


async def test_diff_depth_ids_chain_with_the_rest_snapshot(exchange: LocalExchange) -> None:
    async with connect(exchange.url + "/ws/bnbbtc@depth") as ws:
        events = [orjson.loads(await ws.recv()) for _ in range(3)]
        status, snapshot = await rest(exchange, "/api/v3/depth?symbol=BNBBTC&limit=1000")
        events += [orjson.loads(await ws.recv()) for _ in range(40)]
    assert status == 200
    for previous, current in itertools.pairwise(events):
        assert current["U"] == previous["u"] + 1
    last = snapshot["lastUpdateId"]
    later = [e for e in events if e["u"] > last]
    assert later and later[0]["U"] <= last + 1 <= later[0]["u"]
