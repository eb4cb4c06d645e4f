"""python-binance 1.0.37 against the local exchange: every spot market socket, the
DepthCacheManager, exchangeInfo through get_symbol_info, ws_create_order, and its futures
and options market sockets (USD-M and options on the /usdm host's routes, as on Binance's
fstream host; COIN-M on /coinm).

Run by tests/server/test_thirdparty.py with a Python that has python-binance: ``python THIS URL
KEY SECRET``. python-binance has no endpoint option for streams; its URLs are public
attributes, set here as its users do for a testnet. Prints one line per check, ``OK`` at
the end; exits non-zero on any failure. The URLs are set on the classes before anything is
built, so nothing python-binance makes can reach for Binance's real hosts.
"""

import asyncio
import sys

from binance import AsyncClient, BinanceSocketManager, DepthCacheManager


async def first(socket):
    async with socket as stream:
        message = await asyncio.wait_for(stream.recv(), 15)
    assert message and (isinstance(message, list) or message.get("e") != "error"), message
    return message


async def main():
    url, key, secret = sys.argv[1:4]
    AsyncClient.API_URL = url.replace("ws://", "http://") + "/api"
    AsyncClient.WS_API_URL = url + "/ws-api/v3"
    BinanceSocketManager.STREAM_URL = url + "/"
    BinanceSocketManager.FSTREAM_URL = url + "/usdm/"
    BinanceSocketManager.DSTREAM_URL = url + "/coinm/"
    client = AsyncClient(key, secret)
    try:
        bm = BinanceSocketManager(client)
        sockets = {
            "trade": bm.trade_socket("BNBBTC"),
            "aggtrade": bm.aggtrade_socket("BNBBTC"),
            "kline": bm.kline_socket("BNBBTC"),
            "depth5": bm.depth_socket("BNBBTC", depth=5),
            "diff depth": bm.depth_socket("BNBBTC"),
            "ticker": bm.symbol_ticker_socket("BNBBTC"),
            "miniticker all": bm.miniticker_socket(),
            "miniticker": bm.symbol_miniticker_socket("BNBBTC"),
            "book ticker": bm.symbol_book_ticker_socket("BNBBTC"),
            "multiplex": bm.multiplex_socket(["bnbbtc@aggTrade", "ethbtc@ticker"]),
        }
        from binance.enums import FuturesType

        sockets.update({
            "futures aggtrade": bm.aggtrade_futures_socket("BTCUSDT"),
            "futures depth": bm.futures_depth_socket("BTCUSDT"),
            "futures continuous kline": bm.kline_futures_socket("BTCUSDT"),
            "futures mark price": bm.symbol_mark_price_socket("BTCUSDT"),
            "futures book ticker": bm.symbol_ticker_futures_socket("BTCUSDT"),
            "coin-m aggtrade": bm.aggtrade_futures_socket("BTCUSD_PERP", FuturesType.COIN_M),
            "coin-m index price": bm.index_price_socket("BTCUSD"),
            "options ticker": bm.options_ticker_socket("BTC-261225-100000-C"),
            "options depth": bm.options_depth_socket("BTC-261225-100000-C"),
            "options mark price": bm.options_mark_price_socket("BTCUSDT"),
        })  # fmt: skip
        for name, socket in sockets.items():
            message = await first(socket)
            print(name, "ok", type(message).__name__)
        dcm = DepthCacheManager(client, "BNBBTC", limit=100, bm=bm)
        async with dcm as cache_socket:
            cache = await asyncio.wait_for(cache_socket.recv(), 15)
        bid, ask = cache.get_bids()[0][0], cache.get_asks()[0][0]
        assert 0 < bid < ask, (bid, ask)
        print("depth cache ok", bid < ask)
        info = await client.get_symbol_info("BNBBTC")
        filters = {f["filterType"]: f for f in info["filters"]}
        print("symbol info", filters["PRICE_FILTER"]["tickSize"], filters["LOT_SIZE"]["stepSize"])
        order = await client.ws_create_order(
            symbol="BNBBTC", side="BUY", type="MARKET", quantity="0.05"
        )
        assert order["status"] == "FILLED", order
        print("ws_create_order", order["status"], order["executedQty"])
    finally:
        await client.close_connection()
    print("OK")


asyncio.run(main())
