"""The command line on the derivatives markets, as a user runs it: real processes against
the local exchange."""

from __future__ import annotations

import asyncio
import json

import pytest

from binstream.server import LocalExchange

from ..conftest import cli_env, run_cli


async def test_every_market_streams_from_one_binstream_serve(exchange: LocalExchange) -> None:
    env = cli_env(BINSTREAM_ENDPOINT=exchange.url)
    multiplex, book, marks, liquidations, options, explicit = await asyncio.gather(
        run_cli("multiplex", "--market", "usdm", "btcusdt@aggTrade", "btcusdt@depth@100ms",
                "-n", "30", env=env),
        run_cli("book", "btcusdt", "--market", "usdm", "--levels", "3", "-n", "3", "--json",
                env=env),
        run_cli("mark-price", "-n", "1", env=env),
        run_cli("liquidations", "-n", "1", "--timeout", "20", env=env),
        run_cli("depth", "btc-261225-100000-c", "--market", "options", "-n", "1", env=env),
        run_cli("kline", "btcusd", "--market", "coinm", "--contract", "perpetual", "-n", "1",
                "--endpoint", exchange.market_url("coinm")),
    )  # fmt: skip
    for result in (multiplex, book, marks, liquidations, options, explicit):
        assert result.code == 0, result.stderr
    assert {json.loads(line)["stream"] for line in multiplex.lines} == {
        "btcusdt@aggTrade", "btcusdt@depth@100ms"}  # fmt: skip
    views = [json.loads(line) for line in book.lines]
    assert all(v["e"] == "book" and len(v["bids"]) == 3 for v in views)
    assert {m["s"] for m in json.loads(marks.lines[0])} >= {"BTCUSDT", "ETHUSDT"}
    assert json.loads(liquidations.lines[0])["e"] == "forceOrder"
    assert json.loads(options.lines[0])["e"] == "depth"
    assert json.loads(explicit.lines[0])["e"] == "continuous_kline"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["kline", "btcusdt", "--market", "usdm", "-i", "1s"], "usdm kline intervals are 1m"),
        (["depth", "btcusdt", "--market", "usdm", "--speed", "1000ms"], "100ms, 500ms"),
        (["depth", "bnbbtc", "--speed", "250ms"], "update speed must be"),
        (["ticker", "--market", "usdm", "--window", "1h"], "rolling windows exist on spot"),
        (["book", "x", "--market", "options"], "options have no diff-depth"),
        (["trade", "btcusdt", "--market", "usdm", "--tld", "us"], "binance.com only"),
        (["mark-price", "--market", "options"], "name an underlying"),
        (["liquidations", "--market", "options"], "usdm and coinm only"),
        (["kline", "bnbbtc", "--contract", "perpetual"], "usdm and coinm only"),
        (["multiplex", "--market", "coinm", "btcusd_perp@depth@1s"], "coinm depth speeds"),
        (["trade", "btc/usdt", "--market", "usdm"], "invalid usdm symbol"),
        (["trade", "btcusdt", "--market", "mars"], "mars"),
    ],
)
@pytest.mark.transport_independent
@pytest.mark.usefixtures("transport")
async def test_what_a_market_does_not_accept_exits_2_with_one_line(
    args: list[str], message: str
) -> None:
    result = await run_cli(*args, "--endpoint", "ws://127.0.0.1:9/x")
    assert result.code == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr


@pytest.mark.transport_independent
@pytest.mark.usefixtures("transport")
async def test_demo_on_a_futures_market() -> None:
    result = await run_cli("demo", "--market", "usdm", "--json", "-n", "6")
    assert result.code == 0, result.stderr
    assert all(json.loads(line)["stream"].startswith(("btcusdt", "ethusdt", "!")) for line in
               result.lines)  # fmt: skip


@pytest.mark.transport_independent
async def test_a_derivatives_market_pointed_at_the_spot_root_says_where_it_lives(
    exchange: LocalExchange,
) -> None:
    """``--endpoint`` names a market's own base URL; the local exchange's spot root is not
    the USD-M one, and its refusal says where that is."""
    result = await run_cli("mark-price", "--market", "usdm", "btcusdt", "--endpoint",
                           exchange.url, "-n", "1", "--retries", "0")  # fmt: skip
    assert result.code == 1 and result.stderr.count("\n") == 1, result.stderr
    assert f"--endpoint {exchange.url}/usdm" in result.stderr
    assert "/usdm, /coinm, /options" in result.stderr
