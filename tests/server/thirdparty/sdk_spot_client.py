"""Binance's official SDK (binance-sdk-spot) against the local exchange, default settings.

Run by tests/server/test_thirdparty.py with a Python that has the SDK: ``python THIS URL KEY
SECRET``. Prints one line per check and ``OK`` at the end; exits non-zero on any failure.
"""

import asyncio
import sys

from binance_common.configuration import (
    ConfigurationWebSocketAPI,
    ConfigurationWebSocketStreams,
)
from binance_sdk_spot.spot import Spot


async def wait_for(stream, count):
    got = []
    done = asyncio.Event()

    def on_message(data):
        got.append(data)
        if len(got) >= count:
            done.set()

    stream.on("message", on_message)
    await asyncio.wait_for(done.wait(), 15)
    return got


async def streams(url):
    spot = Spot(config_ws_streams=ConfigurationWebSocketStreams(stream_url=url))
    connection = await spot.websocket_streams.create_connection()
    try:
        trades = await wait_for(await connection.trade(symbol="bnbbtc"), 3)
        print("trade", type(trades[0]).__name__, trades[0].e, trades[0].s)
        depth = await wait_for(await connection.diff_book_depth(symbol="bnbbtc"), 2)
        print("diff depth", type(depth[0]).__name__, depth[0].u >= depth[0].U)
        klines = await wait_for(await connection.kline(symbol="bnbbtc", interval="1m"), 1)
        print("kline", type(klines[0]).__name__, klines[0].k.i)
        listed = await connection.list_subscribe()
        print("subscriptions", listed)
    finally:
        await connection.close_connection(close_session=True)


def result(response):
    """The typed result: some of the SDK's models wrap it in ``result``, some do not."""
    data = response.data()
    return getattr(data, "result", None) or data


async def ws_api(url, key, secret):
    config = ConfigurationWebSocketAPI(
        api_key=key, api_secret=secret, stream_url=url + "/ws-api/v3"
    )
    spot = Spot(config_ws_api=config)
    connection = await spot.websocket_api.create_connection()
    try:
        print("time", result(await connection.time()).server_time > 0)
        depth = result(await connection.depth(symbol="BNBBTC", limit=5))
        print("depth", len(depth.bids))
        # SDK 13.3.0's typed exchangeInfo model reads the symbols at the top level, not in
        # the WS-API's "result": checked through python-binance's REST call instead.
        print("ping", result(await connection.ping()) is not None)
        order = result(
            await connection.order_place(symbol="BNBBTC", side="BUY", type="MARKET", quantity=0.05)
        )
        print("order", order.status, order.executed_qty)
        account = result(await connection.account_status())
        print("account", account.can_trade, len(account.balances))
        orders = result(await connection.open_orders_status(symbol="BNBBTC"))
        print("open orders", type(orders).__name__)
    finally:
        await connection.close_connection(close_session=True)


async def main():
    url, key, secret = sys.argv[1:4]
    await streams(url)
    await ws_api(url, key, secret)
    print("OK")


asyncio.run(main())
