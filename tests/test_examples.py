"""The examples in examples/ run against the local exchange."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from binstream.server import LocalExchange

from .conftest import cli_env, spawn

pytestmark = pytest.mark.usefixtures("transport")  # every test runs on each transport

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


async def run_example(name: str, *args: str) -> tuple[int, str, str]:
    proc = await spawn(
        sys.executable, str(EXAMPLES / name), *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=cli_env(),
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_threaded_example(exchange: LocalExchange) -> None:
    code, out, err = await run_example(
        "threaded_manager.py", "--endpoint", exchange.url, "--seconds", "1"
    )
    assert code == 0, err
    assert "message type: kline" in out and "message type: depthUpdate" in out
    assert "bnbbtc@bookTicker" in out and "bnbbtc@miniTicker" in out


async def test_socket_manager_example(exchange: LocalExchange) -> None:
    code, out, err = await run_example("socket_manager.py", "--endpoint", exchange.url)
    assert code == 0, err
    assert out.count("'e': 'trade'") == 10
