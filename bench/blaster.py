"""A frame-blasting websockets server for benchmarks (loopback only).

Every connection gets ``--count`` pre-encoded Binance-shaped frames as fast as the socket
takes them, or paced at ``--rate`` messages per second with the send time (µs) stamped in
``E``. The first line on stdout is the port; then one ``accept <unix time>`` line per
connection, so the runner can time clients from their connection, not their start-up.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time

import orjson
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed


def aggtrade(i: int) -> dict:
    return {"e": "aggTrade", "E": 1700000000000 + i, "s": "BNBBTC", "a": 100000 + i,
            "p": "0.00900100", "q": "1.25000000", "f": 200000 + i, "l": 200000 + i,
            "T": 1700000000000 + i, "m": bool(i % 2), "M": True}  # fmt: skip


def depth20(i: int) -> dict:
    bids = [[f"0.{9000000 - k * 100:08d}", f"{k + 1}.00000000"] for k in range(20)]
    asks = [[f"0.{9000100 + k * 100:08d}", f"{k + 2}.00000000"] for k in range(20)]
    return {"lastUpdateId": 1000 + i, "bids": bids, "asks": asks}


PAYLOADS = {"aggTrade": aggtrade, "depth20": depth20}


def frames_for(kind: str, path: str) -> list[bytes]:
    make = PAYLOADS[kind]
    raw = [orjson.dumps(make(i)) for i in range(1000)]
    if path.startswith("/stream"):
        names = path.split("streams=", 1)[1].split("/")
        return [b'{"stream":' + orjson.dumps(names[i % len(names)]) + b',"data":' + f + b"}"
                for i, f in enumerate(raw)]  # fmt: skip
    return raw


async def blast(ws: ServerConnection, count: int, kind: str, rate: float) -> None:
    assert ws.request is not None
    print(f"accept {time.time():.6f}", flush=True)
    frames = frames_for(kind, ws.request.path)
    if rate <= 0:
        for i in range(count):
            await ws.send(frames[i % 1000], text=True)
    else:
        template = frames[0].replace(b'"E":1700000000000', b'"E":__TS__', 1)
        interval = 0.001
        per_tick = max(1, int(rate * interval))
        sent = 0
        next_tick = time.perf_counter()
        while sent < count:
            for _ in range(min(per_tick, count - sent)):
                stamp = str(time.time_ns() // 1000).encode()
                await ws.send(template.replace(b"__TS__", stamp), text=True)
                sent += 1
            next_tick += interval
            delay = next_tick - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
    await ws.wait_closed()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=200_000)
    parser.add_argument("--payload", choices=sorted(PAYLOADS), default="aggTrade")
    parser.add_argument("--rate", type=float, default=0.0)
    parser.add_argument("--seconds", type=float, default=240.0, help="stop after this long")
    args = parser.parse_args()

    async def handler(ws: ServerConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            await blast(ws, args.count, args.payload, args.rate)

    async with serve(handler, "127.0.0.1", 0, compression=None, max_queue=None,
                     write_limit=2**20) as server:  # fmt: skip
        port = next(iter(server.sockets)).getsockname()[1]
        print(port, flush=True)
        try:
            await asyncio.wait_for(asyncio.Future(), args.seconds)
        except TimeoutError:
            sys.exit(0)


if __name__ == "__main__":
    asyncio.run(main())
