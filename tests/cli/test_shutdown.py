"""Shutdown leaves nothing behind: run under -X dev -W error and asyncio debug mode."""

from __future__ import annotations

import asyncio
import sys
import textwrap

import pytest

from binstream.server import LocalExchange

from ..conftest import cli_env, spawn

pytestmark = pytest.mark.usefixtures("transport")  # every test runs on each transport

SCRIPT = textwrap.dedent(
    """
    import asyncio, gc, sys, threading
    from binstream import BinanceSocketManager, ThreadedWebsocketManager

    URL = sys.argv[1]

    async def main():
        bm = BinanceSocketManager(endpoint=URL, backoff_base=0.01)
        sockets = [bm.trade_socket("bnbbtc"), bm.depth_socket("ethbtc", 5),
                   bm.multiplex_socket(["bnbbtc@aggTrade", "neobtc@ticker"])]
        for socket in sockets:
            socket.start()
        for socket in sockets:  # a burst is flowing on every socket
            for _ in range(20):
                await socket.recv()
        await bm.close()
        book = bm.book_socket("bnbbtc", 5)
        async with book:
            await book.recv()
        leftovers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        assert leftovers == [], leftovers

    asyncio.run(main(), debug=True)

    with ThreadedWebsocketManager(endpoint=URL) as twm:
        got = threading.Event()
        twm.start_trade_socket(callback=lambda m: got.set(), symbol="bnbbtc")
        assert got.wait(10)
    gc.collect()
    threads = [t.name for t in threading.enumerate() if t.name.startswith("binstream")]
    assert threads == [], threads
    print("clean")
    """
)


async def test_no_leaked_tasks_threads_or_sockets(exchange: LocalExchange) -> None:
    proc = await spawn(
        sys.executable, "-X", "dev", "-W", "error", "-c", SCRIPT, exchange.url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=cli_env(),
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    text = err.decode()
    assert proc.returncode == 0, text
    assert out.decode().strip() == "clean"
    for warning in ("ResourceWarning", "Task was destroyed", "never awaited", "Traceback"):
        assert warning not in text, text
