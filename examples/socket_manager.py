"""python-binance's BinanceSocketManager example, on binstream.

binstream serve --port 9000 &
python examples/socket_manager.py --endpoint ws://127.0.0.1:9000
"""

from __future__ import annotations

import argparse
import asyncio

from binstream import BinanceSocketManager


async def main(endpoint: str | None, count: int) -> None:
    bm = BinanceSocketManager(endpoint=endpoint, user_timeout=60)
    # start any sockets here, i.e. a trade socket
    ts = bm.trade_socket("BNBBTC")
    # then start receiving messages
    async with ts as tscm:
        for _ in range(count):
            res = await tscm.recv()
            if res.get("e") == "error":
                print("error:", res["type"], res["m"])
            else:
                print(res)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", default=None)
    parser.add_argument("--count", type=int, default=10)
    args = parser.parse_args()
    asyncio.run(main(args.endpoint, args.count))
