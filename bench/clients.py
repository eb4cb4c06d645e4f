"""Benchmark clients, one per process: ``python -m bench.clients KIND URL COUNT``.

Each reads COUNT messages and exits. ``*-latency`` kinds print p50/p99/max of
``now - E`` (µs) as JSON on stderr. Output-writing kinds write JSON lines to stdout.
Like the CLI, each is timed to its exit, except python-binance's: leaving its socket context
takes 10 s, so they print ``done <unix time>`` on stderr when the last message is in, and
that is when their clock stops.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from typing import Any

import orjson


def report_done() -> None:
    sys.stderr.write(f"done {time.time()}\n")
    sys.stderr.flush()


def report_latency(samples: list[int]) -> None:
    samples.sort()
    n = len(samples)
    out = {"p50": samples[n // 2], "p99": samples[int(n * 0.99)], "max": samples[-1]}
    sys.stderr.write(orjson.dumps(out).decode() + "\n")


async def floor(url: str, count: int, output: bool, latency: bool) -> None:
    from websockets.asyncio.client import connect

    write = sys.stdout.buffer.write
    samples: list[int] = []
    async with connect(url, compression=None, max_size=None) as ws:
        n = 0
        pending: list[bytes] = []
        async for frame in ws:
            message = orjson.loads(frame)
            if latency and not output:
                samples.append(time.time_ns() // 1000 - message["E"])
            if output:
                pending.append(orjson.dumps(message, option=orjson.OPT_APPEND_NEWLINE))
                if len(pending) >= (1 if latency else 256):  # a latency run writes each line
                    write(b"".join(pending))
                    pending.clear()
            n += 1
            if n == count:
                break
        if pending:
            write(b"".join(pending))
    sys.stdout.flush()
    if latency and not output:
        report_latency(samples)


async def ceiling(url: str, count: int) -> None:
    """What a Python process can reach here: picows counting text frames, nothing else."""
    import picows

    done = asyncio.Event()
    seen = 0
    text = picows.WSMsgType.TEXT

    class Counter(picows.WSListener):  # type: ignore[misc]
        def on_ws_frame(self, transport: Any, frame: Any) -> None:
            nonlocal seen
            if frame.msg_type == text:
                seen += 1
                if seen == count:
                    done.set()

    transport, _ = await picows.ws_connect(Counter, url, max_frame_size=2**24)
    await done.wait()
    transport.disconnect()


async def decode_floor(url: str, count: int) -> None:
    """What a client that hands out decoded messages reaches here: picows, and orjson
    decoding each text frame, nothing else (no queue, no policy, no consumer). The managers'
    rate is bounded by this, whatever their machinery costs."""
    import picows

    done = asyncio.Event()
    seen = 0
    text = picows.WSMsgType.TEXT
    loads = orjson.loads

    class Decoder(picows.WSListener):  # type: ignore[misc]
        def on_ws_frame(self, transport: Any, frame: Any) -> None:
            nonlocal seen
            if frame.msg_type == text:
                loads(frame.get_payload_as_bytes())
                seen += 1
                if seen == count:
                    done.set()

    transport, _ = await picows.ws_connect(Decoder, url, max_frame_size=2**24)
    await done.wait()
    transport.disconnect()


async def picows_lines(url: str, count: int) -> None:
    """The least a JSON lines writer on picows that checks what it writes can do here:
    picows' text frames, each checked by binstream's frame check (valid JSON, not a reply,
    not a shutdown notice), written to stdout in batches. No reconnects, queues, policies
    or threads: how close picows can come to the ceiling with the work a tail must do."""
    import picows

    from binstream.cli.malloctune import keep_batch_memory
    from binstream.cli.render.jsonlines import write_lines
    from binstream.framecheck import plain_frame

    keep_batch_memory()  # as the CLI does: the same allocator for the same batches

    done = asyncio.Event()
    seen = 0
    text = picows.WSMsgType.TEXT
    lines: list[str] = []
    fd = sys.stdout.fileno()

    def flush() -> None:
        if lines:
            write_lines(fd, lines)
            lines.clear()

    class Writer(picows.WSListener):  # type: ignore[misc]
        def on_ws_frame(self, transport: Any, frame: Any) -> None:
            nonlocal seen
            if frame.msg_type is text and frame.fin:
                payload = frame.get_payload_as_utf8_text()
                if plain_frame(payload):
                    lines.append(payload)
                seen += 1
                if frame.last_in_buffer or len(lines) >= 256:
                    flush()
                if seen == count:
                    flush()
                    done.set()

    transport, _ = await picows.ws_connect(Writer, url, max_frame_size=2**24)
    await done.wait()
    transport.disconnect()


def _run_on_uvloop(main: Any) -> None:
    """Run ``main`` on uvloop when installed, as the CLI does."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)


def split_url(url: str) -> tuple[str, list[str]]:
    """``ws://host:port/ws/a`` or ``.../stream?streams=a/b`` → (base, [streams])."""
    if "/stream?streams=" in url:
        base, _, names = url.partition("/stream?streams=")
        return base, names.split("/")
    base, _, stream = url.partition("/ws/")
    return base, [stream]


async def bsm(url: str, count: int, latency: bool, transport: str) -> None:
    from binstream import BinanceSocketManager

    base, streams = split_url(url)
    bm = BinanceSocketManager(endpoint=base, transport=transport)
    samples: list[int] = []
    socket_for = bm.multiplex_socket if len(streams) > 1 else bm.socket
    async with socket_for(streams) as socket:
        for _ in range(count):
            message = await socket.recv()
            if latency:
                samples.append(time.time_ns() // 1000 - message["E"])
    if latency:
        report_latency(samples)


async def bsm_sbe(url: str, count: int) -> None:
    """``sbe_socket().recv()`` on an SBE host (a blaster sending binary frames)."""
    from binstream import BinanceSocketManager

    base, streams = split_url(url)
    bm = BinanceSocketManager(endpoints={"sbe": base}, api_key="bench", check_symbols=False)
    async with bm.sbe_socket(streams) as socket:
        for _ in range(count):
            await socket.recv()


def twm(url: str, count: int, transport: str, sbe: bool = False) -> None:
    """The threaded manager's callbacks; ``sbe``: ``start_sbe_socket`` on an SBE host."""
    import threading

    from binstream import ThreadedWebsocketManager

    base, streams = split_url(url)
    done = threading.Event()
    seen = 0

    def callback(message: Any) -> None:
        nonlocal seen
        seen += 1
        if seen == count:
            done.set()

    if sbe:
        options: dict[str, Any] = {"endpoints": {"sbe": base}, "api_key": "bench",
                                   "check_symbols": False}  # fmt: skip
    else:
        options = {"endpoint": base}
    with ThreadedWebsocketManager(transport=transport, **options) as manager:
        if sbe:
            manager.start_sbe_socket(callback, streams)
        elif len(streams) > 1:
            manager.start_multiplex_socket(callback, streams)
        else:
            manager.start_socket(callback, streams[0])
        if not done.wait(120):
            sys.stderr.write(f"received {seen} of {count}\n")
            raise SystemExit(3)


def python_binance_socket(manager: Any, streams: list[str]) -> Any:
    if len(streams) > 1:
        return manager.multiplex_socket(streams)
    stream = streams[0]
    symbol = stream.split("@")[0]
    if stream.endswith("@aggTrade"):
        return manager.aggtrade_socket(symbol)
    return manager.depth_socket(symbol, depth="20")


def python_binance_bsm(url: str, count: int) -> None:
    from binance import AsyncClient, BinanceSocketManager

    base, streams = split_url(url)

    async def main() -> None:
        client = AsyncClient()  # no network: the constructor does not call the API
        manager = BinanceSocketManager(client)
        manager.STREAM_URL = base + "/"
        async with python_binance_socket(manager, streams) as reader:
            for _ in range(count):
                await reader.recv()
            report_done()
            os._exit(0)  # leaving the socket's context takes python-binance 10 s: not measured

    asyncio.run(main())


def python_binance_twm(url: str, count: int) -> None:
    import threading

    from binance import AsyncClient, ThreadedWebsocketManager
    from binance.ws import streams

    base, names = split_url(url)
    streams.BinanceSocketManager.STREAM_URL = base + "/"

    async def create(*args: Any, **kwargs: Any) -> Any:  # never ping the real API
        return AsyncClient()

    AsyncClient.create = create  # type: ignore[method-assign]
    done = threading.Event()
    seen = 0

    def callback(message: Any) -> None:
        nonlocal seen
        if isinstance(message, dict) and message.get("e") == "error":
            sys.stderr.write(f"python-binance error: {message}\n")
            done.set()
            return
        seen += 1
        if seen == count:
            report_done()
            done.set()

    twm = ThreadedWebsocketManager()
    twm.start()
    if len(names) > 1:
        twm.start_multiplex_socket(callback=callback, streams=names)
    elif names[0].endswith("@aggTrade"):
        twm.start_aggtrade_socket(callback=callback, symbol=names[0].split("@")[0])
    else:
        twm.start_depth_socket(callback=callback, symbol=names[0].split("@")[0], depth="20")
    done.wait(120)
    sys.stderr.write(f"received {seen} of {count}\n")
    sys.stderr.flush()
    os._exit(0 if seen >= count else 3)  # as above: python-binance's teardown is not measured


def main() -> None:
    kind, url, count_text = sys.argv[1:4]
    count = int(count_text)
    transport = "picows" if kind.endswith("-picows") else "auto"
    if kind.startswith("floor"):
        asyncio.run(floor(url, count, "output" in kind, "latency" in kind))
    elif kind == "ceiling":
        asyncio.run(ceiling(url, count))
    elif kind == "decode-floor":
        asyncio.run(decode_floor(url, count))
    elif kind == "picows-lines":
        _run_on_uvloop(picows_lines(url, count))
    elif kind == "bsm-sbe":
        asyncio.run(bsm_sbe(url, count))
    elif kind.startswith("bsm"):
        asyncio.run(bsm(url, count, "latency" in kind, transport))
    elif kind.startswith("twm"):
        twm(url, count, transport, sbe=kind == "twm-sbe")
    elif kind == "pb-bsm":
        python_binance_bsm(url, count)
    elif kind == "pb-twm":
        python_binance_twm(url, count)
    else:
        raise SystemExit(f"unknown client {kind}")


if __name__ == "__main__":
    main()
