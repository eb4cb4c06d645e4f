"""`--sbe` on the command line against the local exchange's /sbe: trade, depth, book,
multiplex, record, replay and serve --replay, keys missing and refused."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from binstream.recording import read_recording
from binstream.server import DEMO_API_KEY, LocalExchange

from ..conftest import cli_env, line_with, run_cli, spawn

pytestmark = pytest.mark.usefixtures("transport")


def sbe_env(exchange: LocalExchange, **extra: str) -> dict[str, str]:
    return cli_env(BINANCE_API_KEY=DEMO_API_KEY, BINSTREAM_ENDPOINT=exchange.url, **extra)


async def test_trade_and_multiplex_print_decoded_json_lines(exchange: LocalExchange) -> None:
    env = sbe_env(exchange)
    result = await run_cli("trade", "bnbbtc", "--sbe", "-n", "5", env=env)
    assert result.code == 0, result.stderr
    trades = [json.loads(line) for line in result.lines]
    assert len(trades) == 5 and all(t["e"] == "trade" and t["s"] == "BNBBTC" for t in trades)
    assert all(t["E"] > 10**15 for t in trades)  # microseconds
    result = await run_cli("multiplex", "bnbbtc@bestBidAsk", "ethbtc@depth", "--sbe", "-n",
                           "20", env=env)  # fmt: skip
    assert result.code == 0, result.stderr
    assert {json.loads(line)["stream"] for line in result.lines} == {
        "bnbbtc@bestBidAsk", "ethbtc@depth"}  # fmt: skip


@pytest.mark.transport_independent
async def test_endpoint_names_the_sbe_host_and_depth_and_book_work(
    exchange: LocalExchange,
) -> None:
    env = cli_env(BINANCE_API_KEY=DEMO_API_KEY)
    sbe = f"{exchange.url}/sbe"
    result = await run_cli("depth", "bnbbtc", "--depth", "20", "--sbe", "--endpoint", sbe,
                           "-n", "2", "--json", env=env)  # fmt: skip
    assert result.code == 0, result.stderr
    assert all(len(json.loads(line)["bids"]) == 20 for line in result.lines)
    result = await run_cli("book", "bnbbtc", "--sbe", "--endpoint", sbe, "-n", "3", "--json",
                           "--levels", "5", env=env)  # fmt: skip
    assert result.code == 0, result.stderr
    views = [json.loads(line) for line in result.lines]
    assert len(views) == 3 and all(len(v["bids"]) == 5 for v in views)


@pytest.mark.transport_independent
async def test_keys_missing_refused_and_never_printed(exchange: LocalExchange) -> None:
    result = await run_cli("trade", "bnbbtc", "--sbe", env=cli_env(
        BINSTREAM_ENDPOINT=exchange.url))  # fmt: skip
    assert result.code == 2
    assert result.stderr == ("binstream: error: SBE streams need an API key (Binance asks for an "
                             "Ed25519 key): set BINANCE_API_KEY or pass --api-key\n")  # fmt: skip
    key = "RefusedKey" + "9" * 54
    result = await run_cli("trade", "bnbbtc", "--sbe", "--api-key", key, "--errors", "json",
                           env=cli_env(BINSTREAM_ENDPOINT=exchange.url))  # fmt: skip
    assert result.code == 1 and key not in result.stderr + result.stdout
    assert "HTTP 401" in json.loads(result.stderr.splitlines()[-1])["m"]
    result = await run_cli("trade", "bnbbtc", "--sbe", "--agg", env=sbe_env(exchange))
    assert result.code == 2 and "not aggregated trades" in result.stderr


async def test_record_keeps_frames_replay_decodes_serve_replays(
    exchange: LocalExchange, tmp_path: Path
) -> None:
    out = tmp_path / "sbe.jsonl.zst"
    result = await run_cli("record", "bnbbtc@trade", "bnbbtc@depth", "--sbe", "-o", str(out),
                           "-n", "40", env=sbe_env(exchange))  # fmt: skip
    assert result.code == 0, result.stderr
    header, entries = read_recording(out)
    assert header.sbe and header.combined
    frames = [e.binary for e in entries if e.binary is not None]
    assert len(frames) == 40 and all(isinstance(f, bytes) for f in frames)
    replayed = await run_cli("replay", str(out))
    assert replayed.code == 0, replayed.stderr
    book = await run_cli("book", "--replay", str(out), "bnbbtc", "--levels", "3", "--json")
    assert book.code == 0, book.stderr
    views = [json.loads(line) for line in book.lines]
    assert views and all(len(v["bids"]) == 3 and v["E"] > 10**15 for v in views)
    lines = [json.loads(line) for line in replayed.lines]
    assert {line["stream"] for line in lines} == {"bnbbtc@trade", "bnbbtc@depth"}
    assert len(lines) >= 40  # a trades frame holds every trade of its event

    server = await spawn(sys.executable, "-m", "binstream", "serve", "--replay", str(out),
                         "--replay-speed", "max", stdout=-1, stderr=-1, env=cli_env())  # fmt: skip
    assert server.stdout is not None
    try:
        url = (await line_with(server.stdout, "ws://")).strip()
        served = await run_cli("multiplex", "bnbbtc@trade", "bnbbtc@depth", "--sbe",
                               "--no-symbol-check", "-n", str(len(lines)),
                               env=cli_env(BINANCE_API_KEY=DEMO_API_KEY,
                                           BINSTREAM_ENDPOINT=url))  # fmt: skip
    finally:
        server.terminate()
        await server.wait()
    assert served.code == 0, served.stderr
    assert [json.loads(line) for line in served.lines] == lines
