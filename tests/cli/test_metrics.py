"""`--metrics HOST:PORT`: a running process scraped over HTTP, its text read back with
prometheus_client's own parser."""

from __future__ import annotations

import asyncio
import signal
import sys
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from binstream import BinanceSocketManager, SocketOptions
from binstream.server import LocalExchange

from ..conftest import cli_env, line_with, run_cli, spawn

pytestmark = pytest.mark.usefixtures("transport")


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of ``url``'s metrics: (name, sorted labels) → value."""
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@asynccontextmanager
async def running(*args: str) -> AsyncIterator[str]:
    """``binstream ARGS --metrics 127.0.0.1:0`` until the block ends; yields the URL."""
    proc = await spawn(sys.executable, "-m", "binstream", *args, "--metrics", "127.0.0.1:0",
                       stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
                       stderr=asyncio.subprocess.PIPE, env=cli_env())  # fmt: skip
    assert proc.stderr is not None
    try:
        line = await line_with(proc.stderr, "metrics at")
        yield line.rsplit(" ", 1)[1].strip()
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), 10) == 130
    finally:
        if proc.returncode is None:
            proc.kill()


async def until(url: str, ready: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Scrape ``url`` until ``ready(samples)`` holds."""
    async with asyncio.timeout(15):
        while True:
            samples = await asyncio.to_thread(scrape, url)
            if ready(samples):
                return samples
            await asyncio.sleep(0.2)


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_a_streaming_command_serves_per_stream_counters(exchange: LocalExchange) -> None:
    streams = ["bnbbtc@trade", "bnbbtc@depth@100ms", "nosuchbtc@depth@100ms"]
    async with running("multiplex", *streams, "--endpoint", exchange.url, "--json",
                       "--no-symbol-check") as url:  # fmt: skip
        samples = await until(url, lambda s: any(n == "binstream_silent_streams" and v == 1
                                                 for (n, _), v in s.items()))  # fmt: skip
    trades = value(samples, "binstream_messages_total", stream="bnbbtc@trade")
    assert trades > 0
    assert value(samples, "binstream_received_bytes_total", stream="bnbbtc@trade") > 50 * trades
    assert value(samples, "binstream_messages_total", stream="nosuchbtc@depth@100ms") == 0
    lag = value(samples, "binstream_receive_lag_seconds_count", stream="bnbbtc@trade")
    assert 0 < lag <= trades
    assert value(samples, "binstream_receive_lag_seconds_bucket", stream="bnbbtc@trade",
                 le="+Inf") == lag  # fmt: skip
    socket = next(dict(labels)["socket"] for (name, labels) in samples
                  if name == "binstream_socket_messages_total")  # fmt: skip
    assert socket.startswith("streams=bnbbtc@trade/")
    assert value(samples, "binstream_connected", socket=socket) == 1
    assert value(samples, "binstream_queue_capacity", socket=socket) > 0
    assert value(samples, "binstream_connection_budget_limit") == 300


@pytest.mark.transport_independent
async def test_serve_reports_its_connections(exchange: LocalExchange) -> None:
    async with running("serve", "--interval", "0.01") as url:
        samples = await until(url, lambda s: value(s, "binstream_exchange_steps_total") > 5)
    assert value(samples, "binstream_exchange_connections") == 0


@pytest.mark.transport_independent
async def test_bad_metrics_addresses_are_one_line(exchange: LocalExchange) -> None:
    result = await run_cli("trade", "bnbbtc", "--endpoint", exchange.url, "--metrics", "nowhere")
    assert result.code == 2 and "--metrics" in result.stderr and "Traceback" not in result.stderr
    taken = f"127.0.0.1:{exchange.port}"  # the exchange's own port is in use
    result = await run_cli("trade", "bnbbtc", "--endpoint", exchange.url, "--metrics", taken)
    assert result.code == 1
    assert result.stderr.startswith(f"binstream: error: cannot serve metrics on {taken}: ")


async def test_the_library_counts_per_stream_on_request(exchange: LocalExchange) -> None:
    options = SocketOptions(user_timeout=5, stream_stats=True)
    bm = BinanceSocketManager(endpoint=exchange.url, options=options)
    async with bm.multiplex_socket(["bnbbtc@trade", "ethbtc@trade"]) as socket:
        for _ in range(20):
            await socket.recv()
        traffic = socket.stats.traffic
        assert traffic is not None
        counted = sum(t.messages for t in traffic.streams.values())
        assert counted >= 20 and socket.stats.received == counted
