"""`binstream` names a stream that sends nothing, in one stderr line, while the others go
on; --silence watches streams without a pace of their own."""

from __future__ import annotations

import asyncio
import json
import signal
import sys

import pytest

from binstream.server import DEMO_API_KEY, LocalExchange

from ..conftest import cli_env, line_with, spawn

pytestmark = pytest.mark.usefixtures("transport")


async def silent_line(
    exchange: LocalExchange, *args: str, endpoint: str = "", env: dict[str, str] | None = None
) -> tuple[str, int, int]:
    """Run a multiplex until its first silence notice; the line, stdout lines, exit code."""
    proc = await spawn(
        sys.executable, "-m", "binstream", "multiplex", *args, "--endpoint",
        endpoint or exchange.url, "--json", "--no-symbol-check",
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=env or cli_env(),
    )  # fmt: skip
    assert proc.stderr is not None and proc.stdout is not None
    lines = 0

    async def count() -> None:
        nonlocal lines
        assert proc.stdout is not None
        async for _ in proc.stdout:
            lines += 1

    counter = asyncio.create_task(count())
    try:
        line = await line_with(proc.stderr, "silent")
        proc.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(proc.wait(), 10)
    finally:
        if proc.returncode is None:
            proc.kill()
        await counter
    return line, lines, code


async def test_a_silent_stream_is_one_line_and_the_rest_streams_on(exchange: LocalExchange) -> None:
    line, printed, code = await silent_line(exchange, "bnbbtc@trade", "nosuchbtc@kline_1s")
    assert line == "binstream: nosuchbtc@kline_1s is silent: no message for 5s\n"
    assert printed > 0 and code == 130


@pytest.mark.transport_independent
async def test_silence_option_watches_trades_and_says_it_as_json(
    exchange: LocalExchange,
) -> None:
    line, _, _ = await silent_line(exchange, "bnbbtc@trade", "nosuchbtc@trade", "--silence",
                                   "1", "--errors", "json")  # fmt: skip
    assert json.loads(line) == {"e": "status", "status": "silent", "streams": ["nosuchbtc@trade"],
                                "m": "nosuchbtc@trade is silent: no message for 1s"}  # fmt: skip


@pytest.mark.transport_independent
async def test_sbe_streams_are_watched_too(exchange: LocalExchange) -> None:
    """The command line reads SBE frames undecoded; their streams are still told apart."""
    line, printed, _ = await silent_line(exchange, "bnbbtc@trade", "nosuchbtc@trade", "--sbe",
                                         "--silence", "1", endpoint=f"{exchange.url}/sbe",
                                         env=cli_env(BINANCE_API_KEY=DEMO_API_KEY))  # fmt: skip
    assert line == "binstream: nosuchbtc@trade is silent: no message for 1s\n"
    assert printed > 0
