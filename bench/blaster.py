"""A frame-blasting websocket server for benchmarks (loopback only).

Every connection gets ``--count`` Binance-shaped frames as fast as the socket takes them,
or paced at ``--rate`` messages per second with the send time (µs) stamped in ``E``. The
first line on stdout is the port; then one ``accept <unix time>`` line per connection, so
the runner can time clients from their connection, not their start-up.

The server is not built on a websocket library: it answers the HTTP upgrade itself and
writes frames that were encoded and framed once, up front, straight to the transport in
large chunks. A websockets server spends ~15 µs per ``send`` and capped the first version
of this bench at ~60k msg/s, below the fastest clients; this one sends millions per
second, so what is measured is the client. It understands just enough of what clients
send (close, ping, text) to end connections cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import random
import struct
import sys
import time
from urllib.parse import unquote

import orjson

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CYCLE = 1000


def aggtrade(i: int) -> dict:
    return {"e": "aggTrade", "E": 1700000000000 + i, "s": "BNBBTC", "a": 100000 + i,
            "p": "0.00900100", "q": "1.25000000", "f": 200000 + i, "l": 200000 + i,
            "T": 1700000000000 + i, "m": bool(i % 2), "M": True}  # fmt: skip


def depth20(i: int) -> dict:
    bids = [[f"0.{9000000 - k * 100:08d}", f"{k + 1}.00000000"] for k in range(20)]
    asks = [[f"0.{9000100 + k * 100:08d}", f"{k + 2}.00000000"] for k in range(20)]
    return {"lastUpdateId": 1000 + i, "bids": bids, "asks": asks}


def futures_aggtrade(i: int) -> dict:
    """USD-M aggTrade: the same fields as spot's but the ignored ``M``."""
    return {"e": "aggTrade", "E": 1700000000000 + i, "a": 100000 + i, "s": "BTCUSDT",
            "p": "95000.10", "q": "0.125", "f": 200000 + i, "l": 200000 + i,
            "T": 1700000000000 + i, "m": bool(i % 2)}  # fmt: skip


def futures_depth20(i: int) -> dict:
    """USD-M partial book: the diff event's shape, with ``pu``."""
    bids = [[f"{95000 - k * 0.1:.1f}", f"{k + 1}.000"] for k in range(20)]
    asks = [[f"{95000.1 + k * 0.1:.1f}", f"{k + 2}.000"] for k in range(20)]
    return {"e": "depthUpdate", "E": 1700000000000 + i, "T": 1700000000000 + i,
            "s": "BTCUSDT", "U": 1000 + 3 * i, "u": 1002 + 3 * i, "pu": 999 + 3 * i,
            "b": bids, "a": asks}  # fmt: skip


def trade(i: int) -> dict:
    """A spot trade, as the JSON @trade stream sends it."""
    return {"e": "trade", "E": 1700000000000 + i, "s": "BNBBTC", "t": 100000 + i,
            "p": "0.00900100", "q": "1.25000000", "T": 1700000000000 + i, "m": bool(i % 2),
            "M": True}  # fmt: skip


def depth_diff(i: int) -> dict:
    """A spot diff-depth event of 10 level changes, as the JSON @depth stream sends it.

    Like a live market's, and unlike a repeated template: the prices are ticks near a mid
    that drifts, each quantity is drawn afresh, and about a third of the changes remove a
    level (quantity zero). Seeded by ``i``, so every run sends the same events.
    """
    draw = random.Random(i)
    mid = 9_000_000 + 100 * ((i // 40) % 50)

    def level(price: int) -> list[str]:
        size = 0 if draw.random() < 0.3 else draw.randrange(1, 5_000_000_000)
        return [f"0.{price:08d}", f"{size // 10**8}.{size % 10**8:08d}"]

    bids = [level(mid - 100 * k) for k in sorted(draw.sample(range(1, 40), 5))]
    asks = [level(mid + 100 * k) for k in sorted(draw.sample(range(40), 5))]
    return {"e": "depthUpdate", "E": 1700000000000 + i, "s": "BNBBTC", "U": 1000 + 2 * i,
            "u": 1001 + 2 * i, "b": bids, "a": asks}  # fmt: skip


def sbe_trade(i: int) -> bytes:
    """:func:`trade` as an SBE TradesStreamEvent of one trade (schema 1:0)."""
    from binstream.server.spot.sbe import encode

    return encode("trade", "BNBBTC", [trade(i)], 0)[0]


def sbe_depth_diff(i: int) -> bytes:
    """:func:`depth_diff` as an SBE DepthDiffStreamEvent."""
    from binstream.server.spot.sbe import encode

    return encode("depth", "BNBBTC", [depth_diff(i)], 0)[0]


PAYLOADS = {"aggTrade": aggtrade, "depth20": depth20, "usdmAggTrade": futures_aggtrade,
            "usdmDepth20": futures_depth20, "trade": trade, "depthDiff": depth_diff}  # fmt: skip
#: Binary payloads (SBE), sent as binary frames.
BINARY_PAYLOADS = {"sbeTrade": sbe_trade, "sbeDepthDiff": sbe_depth_diff}


def frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """One unmasked, final server frame."""
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", 0x80 | opcode, n)
    elif n < 65536:
        header = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return header + payload


def payloads_for(kind: str, path: str, start: int = 0) -> list[bytes]:
    """``CYCLE`` encoded messages (ids from ``start``); a combined path gets them wrapped,
    streams in turn."""
    if kind in BINARY_PAYLOADS:  # SBE: binary frames carry no combined wrapper
        return [BINARY_PAYLOADS[kind](start + i) for i in range(CYCLE)]
    make = PAYLOADS[kind]
    raw = [orjson.dumps(make(start + i)) for i in range(CYCLE)]
    if "/stream" in path:
        names = unquote(path.split("streams=", 1)[1]).split("/") if "streams=" in path else ["x"]
        return [b'{"stream":' + orjson.dumps(names[i % len(names)]) + b',"data":' + f + b"}"
                for i, f in enumerate(raw)]  # fmt: skip
    return raw


class Blast(asyncio.Protocol):
    """One client connection: handshake, then frames until ``count`` are written."""

    def __init__(self, count: int, kind: str, rate: float, unique: bool = False) -> None:
        self.count = count
        self.kind = kind
        self.opcode = 0x2 if kind in BINARY_PAYLOADS else 0x1
        self.rate = rate
        self.unique = unique
        self.transport: asyncio.Transport | None = None
        self.inbox = b""
        self.upgraded = False
        self.closing = False
        self.can_write = asyncio.Event()
        self.can_write.set()
        self.task: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.set_write_buffer_limits(high=2**20)

    def pause_writing(self) -> None:
        self.can_write.clear()

    def resume_writing(self) -> None:
        self.can_write.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        self.can_write.set()
        if self.task is not None:
            self.task.cancel()

    def data_received(self, data: bytes) -> None:
        self.inbox += data
        if not self.upgraded:
            head, sep, rest = self.inbox.partition(b"\r\n\r\n")
            if not sep:
                return
            self.inbox = rest
            self._upgrade(head)
        self._read_frames()

    def _upgrade(self, head: bytes) -> None:
        assert self.transport is not None
        lines = head.decode("latin-1").split("\r\n")
        path = lines[0].split(" ")[1]
        headers = {
            k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])
        }
        key = headers.get("sec-websocket-key", "").encode()
        accept = base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()
        self.transport.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + f"Sec-WebSocket-Accept: {accept}\r\n\r\n".encode()
        )
        self.upgraded = True
        print(f"accept {time.time():.6f}", flush=True)
        self.task = asyncio.get_running_loop().create_task(self._blast(path))

    def _read_frames(self) -> None:
        """Handle masked client frames: answer pings and close; ignore the rest."""
        assert self.transport is not None
        while len(self.inbox) >= 2:
            opcode = self.inbox[0] & 0x0F
            length = self.inbox[1] & 0x7F
            offset = 2
            if length == 126:
                if len(self.inbox) < 4:
                    return
                length = struct.unpack("!H", self.inbox[2:4])[0]
                offset = 4
            elif length == 127:
                if len(self.inbox) < 10:
                    return
                length = struct.unpack("!Q", self.inbox[2:10])[0]
                offset = 10
            end = offset + 4 + length
            if len(self.inbox) < end:
                return
            mask = self.inbox[offset : offset + 4]
            body = bytes(b ^ mask[i % 4] for i, b in enumerate(self.inbox[offset + 4 : end]))
            self.inbox = self.inbox[end:]
            if opcode == 0x8:
                self.closing = True
                self.transport.write(frame(body[:2] or b"\x03\xe8", 0x8))
                self.transport.close()
                return
            if opcode == 0x9:
                self.transport.write(frame(body, 0xA))

    async def _write(self, data: bytes) -> bool:
        assert self.transport is not None
        if self.closing:
            return False
        self.transport.write(data)
        if not self.can_write.is_set():
            await self.can_write.wait()
        return not self.closing

    async def _blast(self, path: str) -> None:
        payloads = payloads_for(self.kind, path)
        if self.unique:  # every message its own ids (a JetStream publisher keeps each once)
            for start in range(0, self.count, CYCLE):
                batch = payloads if start == 0 else payloads_for(self.kind, path, start)
                frames = [frame(p, self.opcode) for p in batch[: self.count - start]]
                if not await self._write(b"".join(frames)):
                    return
            return
        if self.rate <= 0:
            frames = [frame(p, self.opcode) for p in payloads]
            cycle = b"".join(frames)
            full, rest = divmod(self.count, CYCLE)
            for _ in range(full):
                if not await self._write(cycle):
                    return
            await self._write(b"".join(frames[:rest]))
            return
        # Each message keeps its own ids; ``E`` becomes the send time in µs.
        templates = [p.replace(b'"E":%d' % (1700000000000 + i), b'"E":__TS__', 1)
                     for i, p in enumerate(payloads)]  # fmt: skip
        interval = 0.001
        per_tick = max(1, int(self.rate * interval))
        sent = 0
        next_tick = time.perf_counter()
        while sent < self.count:
            due = min(per_tick, self.count - sent)
            stamp = str(time.time_ns() // 1000).encode()
            chunk = b"".join(frame(templates[(sent + k) % CYCLE].replace(b"__TS__", stamp))
                             for k in range(due))  # fmt: skip
            if not await self._write(chunk):
                return
            sent += due
            next_tick += interval
            delay = next_tick - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=200_000)
    parser.add_argument(
        "--payload", choices=sorted([*PAYLOADS, *BINARY_PAYLOADS]), default="aggTrade"
    )
    parser.add_argument("--rate", type=float, default=0.0)
    parser.add_argument("--seconds", type=float, default=240.0, help="stop after this long")
    parser.add_argument("--unique", action="store_true", help="no two messages share ids")
    args = parser.parse_args()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: Blast(args.count, args.payload, args.rate, args.unique), "127.0.0.1", 0
    )
    port = server.sockets[0].getsockname()[1]
    print(port, flush=True)
    try:
        await asyncio.wait_for(asyncio.Future(), args.seconds)
    except TimeoutError:
        sys.exit(0)


if __name__ == "__main__":
    asyncio.run(main())
