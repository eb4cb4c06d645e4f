"""`binstream` against symbols the market does not list: one line and exit 2, on every
market, before anything is written; --no-symbol-check subscribes blind."""

from __future__ import annotations

import json

import pytest

from binstream.server import LocalExchange

from ..conftest import run_cli

pytestmark = pytest.mark.usefixtures("transport")


async def test_unknown_symbol_is_one_line_and_exit_2(exchange: LocalExchange) -> None:
    result = await run_cli("trade", "nosuchusdt", "--endpoint", exchange.url, "--json")
    assert (result.code, result.stdout) == (2, "")
    assert result.stderr == "binstream: error: unknown symbol NOSUCHUSDT on spot\n"
    assert exchange.connections_total == 0


@pytest.mark.transport_independent
async def test_multiplex_names_the_dead_stream_and_errors_json(exchange: LocalExchange) -> None:
    result = await run_cli("multiplex", "bnbbtc@trade", "ethbtx@trade", "--endpoint",
                           exchange.url, "--errors", "json")  # fmt: skip
    assert result.code == 2
    error = json.loads(result.stderr)
    assert error["type"] == "UnknownSymbolError"
    assert error["m"].startswith("unknown symbol ETHBTX on spot (did you mean ETHBTC")


@pytest.mark.transport_independent
@pytest.mark.parametrize(
    ("market", "stream", "said"),
    [
        ("usdm", "btcusdx@aggTrade", "unknown symbol BTCUSDX on USD-M (did you mean BTCUSDT"),
        ("coinm", "btcusdt@aggTrade", "unknown symbol BTCUSDT on COIN-M (did you mean BTCUSD_PERP"),
        ("options", "BTC-991231-1-C@optionTrade", "unknown symbol BTC-991231-1-C on options"),
    ],
)
async def test_every_market_is_checked(
    exchange: LocalExchange, market: str, stream: str, said: str
) -> None:
    result = await run_cli("multiplex", stream, "--market", market, "--endpoint",
                           exchange.market_url(market), "--json")  # fmt: skip
    assert result.code == 2 and result.stderr.startswith(f"binstream: error: {said}")


async def test_record_writes_no_file_for_an_unknown_symbol(
    exchange: LocalExchange, tmp_path: object
) -> None:
    out = tmp_path / "r.jsonl"  # type: ignore[operator]
    result = await run_cli("record", "nosuchusdt@trade", "-o", str(out), "--endpoint", exchange.url)
    assert result.code == 2 and "unknown symbol NOSUCHUSDT" in result.stderr
    assert not out.exists()


async def test_no_symbol_check_subscribes_blind(exchange: LocalExchange) -> None:
    result = await run_cli("multiplex", "bnbbtc@trade", "nosuchusdt@trade", "--endpoint",
                           exchange.url, "--json", "-n", "3", "--no-symbol-check")  # fmt: skip
    assert result.code == 0, result.stderr
    assert {json.loads(line)["stream"] for line in result.lines} == {"bnbbtc@trade"}
