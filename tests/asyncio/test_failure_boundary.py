"""One failure boundary per link: whatever escapes a stage ends the socket, loudly.

A library that renames something binstream relies on, or a bug of binstream's own, must
never leave a consumer waiting forever. Each test makes one stage raise an unexpected
exception (the failure is injected into binstream's code, never into the network: the
exchange is real) and checks what a user sees: one ``BinanceWebsocketUnableToConnect``
dict naming the stage and the cause, ``state == FAILED``, ``recv()`` raising.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import pytest

from binstream import BinanceSocketManager, SocketOptions, SocketState, StreamSocket
from binstream.asyncio.link import Link
from binstream.asyncio.market_session import MarketSession
from binstream.asyncio.options import ReconnectPolicy
from binstream.errors import StreamClosedError
from binstream.server import Faults, LocalExchange
from binstream.transport import Transport

from ..conftest import cli_env, spawn

pytestmark = pytest.mark.usefixtures("transport")


class Renamed(AttributeError):
    """What a library release that renamed something would raise."""


def manager(url: str, **options: Any) -> BinanceSocketManager:
    policy = ReconnectPolicy(max_retries=5, backoff_base=0.02, backoff_cap=0.2)
    return BinanceSocketManager(
        endpoint=url, options=SocketOptions(user_timeout=5, reconnect=policy, **options)
    )


async def ends_with_failure(socket: StreamSocket, stage: str) -> dict[str, Any]:
    """Read until the socket ends; the last message must be the give-up naming ``stage``."""
    last: Any = None
    async with asyncio.timeout(10):
        while True:
            try:
                message = await socket.recv()
            except StreamClosedError:
                break
            last = message
    assert socket.state is SocketState.FAILED
    assert last is not None and last["e"] == "error"
    assert last["type"] == "BinanceWebsocketUnableToConnect"
    assert last["m"].startswith(f"{stage} failed: Renamed"), last["m"]
    with pytest.raises(StreamClosedError):
        await socket.recv()
    return last


def fail(*_: Any, **__: Any) -> Any:
    raise Renamed("'Protocol' object has no attribute 'parser'")


async def test_connecting(exchange: LocalExchange, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        "binstream.asyncio.link.resolve", lambda name: Transport("broken", "0", fail)
    )
    async with manager(exchange.url).trade_socket("bnbbtc") as ts:
        await ends_with_failure(ts, "connecting")


async def test_handshake(exchange: LocalExchange, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(MarketSession, "on_open", fail)
    async with manager(exchange.url).trade_socket("bnbbtc") as ts:
        await ends_with_failure(ts, "handshake")


async def test_reading(exchange: LocalExchange, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken_queue(*_: Any) -> None:
        fail()

    monkeypatch.setattr(MarketSession, "_queue", staticmethod(broken_queue))
    async with manager(exchange.url).trade_socket("bnbbtc") as ts:
        await ends_with_failure(ts, "reading")


async def test_subscribing(exchange: LocalExchange, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken_sender(*_: Any) -> None:
        fail()

    monkeypatch.setattr(MarketSession, "_send_requests", broken_sender)
    bm = manager(exchange.url)
    async with bm.multiplex_socket(["bnbbtc@trade", "ethbtc@trade"]) as ts:
        await ends_with_failure(ts, "subscribing")


async def test_watchdog(exchange: LocalExchange, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken_watchdog(self: Link, limit: float) -> None:
        await asyncio.sleep(0.05)
        fail()

    monkeypatch.setattr(Link, "_watchdog", broken_watchdog)
    async with manager(exchange.url, stall_timeout=5).trade_socket("bnbbtc") as ts:
        await ends_with_failure(ts, "stall watchdog")


async def test_rotation(exchange: LocalExchange, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("binstream.rotation.Switch.from_new", fail)
    exchange.faults = Faults(shutdown_after=5, times=1)
    async with manager(exchange.url).trade_socket("bnbbtc") as ts:
        await ends_with_failure(ts, "rotation")


async def test_the_command_line_says_one_line_and_exits_1(exchange: LocalExchange) -> None:
    """No traceback, no hang: one line naming what failed, exit 1."""
    script = (
        "import sys, binstream.asyncio.market_session as m\n"
        "def fail(*a, **k): raise AttributeError('renamed in a later release')\n"
        "m.shape_of = m.check_frame = m.plain_frame = fail\n"
        "from binstream.__main__ import main\n"
        "sys.argv = ['binstream', *sys.argv[1:]]\n"
        "main()\n"
    )
    proc = await spawn(
        sys.executable, "-c", script, "trade", "bnbbtc", "--endpoint", exchange.url, "-n", "5",
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=cli_env(),
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 1
    assert out == b""
    lines = err.decode().splitlines()
    assert lines == [
        "binstream: gave up: reading failed: AttributeError: renamed in a later release"
    ], lines
