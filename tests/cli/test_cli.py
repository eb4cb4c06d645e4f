"""The real ``binstream`` process against the local exchange: output, exit codes, errors."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import re
import signal
import socket as pysocket
import subprocess
import sys
from typing import Any

import pytest

from binstream.server import Faults, LocalExchange

from ..conftest import cli_env, run_cli, spawn

pytestmark = pytest.mark.usefixtures("transport")  # every test runs on each transport


def parse(lines: list[str]) -> list[Any]:
    return [json.loads(line) for line in lines]


async def stream(exchange: LocalExchange, *args: str) -> list[Any]:
    result = await run_cli(*args, "--endpoint", exchange.url, "--json", "-n", "4")
    assert result.code == 0, result.stderr
    assert "Traceback" not in result.stderr
    messages = parse(result.lines)
    assert len(messages) == 4
    return messages


#: What a subcommand prints is the same on either transport; raw and combined frames are
#: checked on both with the trade cases and the multiplex.
ONE_TRANSPORT = pytest.mark.transport_independent


@pytest.mark.parametrize(
    ("args", "check"),
    [
        (["trade", "bnbbtc"], lambda m: m["e"] == "trade" and m["s"] == "BNBBTC"),
        (["trade", "BNBBTC", "--agg"], lambda m: m["e"] == "aggTrade"),
        (["trade", "bnbbtc", "ethbtc"], lambda m: m["stream"] in ("bnbbtc@trade", "ethbtc@trade")),
        pytest.param(["ticker", "bnbbtc"], lambda m: m["e"] == "24hrTicker", marks=ONE_TRANSPORT),
        pytest.param(
            ["ticker", "bnbbtc", "--window", "1h"],
            lambda m: m["e"] == "1hTicker",
            marks=ONE_TRANSPORT,
        ),
        pytest.param(
            ["ticker"],
            lambda m: isinstance(m, list) and m[0]["e"] == "1dTicker",
            marks=ONE_TRANSPORT,
        ),
        pytest.param(
            ["ticker", "--mini"],
            lambda m: isinstance(m, list) and m[0]["e"] == "24hrMiniTicker",
            marks=ONE_TRANSPORT,
        ),
        pytest.param(["depth", "bnbbtc"], lambda m: m["e"] == "depthUpdate", marks=ONE_TRANSPORT),
        pytest.param(
            ["depth", "bnbbtc", "--depth", "10", "--speed", "100ms"],
            lambda m: len(m["bids"]) == 10,
            marks=ONE_TRANSPORT,
        ),
        pytest.param(
            ["kline", "bnbbtc", "-i", "5m"], lambda m: m["k"]["i"] == "5m", marks=ONE_TRANSPORT
        ),
        pytest.param(
            ["kline", "bnbbtc", "--tz", "+08:00"], lambda m: m["e"] == "kline", marks=ONE_TRANSPORT
        ),
        pytest.param(
            ["book-ticker", "bnbbtc"],
            lambda m: {"u", "s", "b", "B", "a", "A"} == set(m),
            marks=ONE_TRANSPORT,
        ),
        (
            ["multiplex", "bnbbtc@aggTrade", "neobtc@ticker"],
            lambda m: m["stream"] in ("bnbbtc@aggTrade", "neobtc@ticker") and "data" in m,
        ),
    ],
)
async def test_subcommands_print_json_lines(
    exchange: LocalExchange, args: list[str], check: Any
) -> None:
    for message in await stream(exchange, *args):
        assert check(message), message


# Output and exit codes do not depend on the transport: one run.
@pytest.mark.transport_independent
async def test_endpoint_from_environment(exchange: LocalExchange) -> None:
    result = await run_cli(
        "trade", "bnbbtc", "-n", "2", "--json", env=cli_env(BINSTREAM_ENDPOINT=exchange.url)
    )
    assert result.code == 0 and len(result.lines) == 2


# Output and exit codes do not depend on the transport: one run.
@pytest.mark.transport_independent
async def test_timeout_exits_3(exchange: LocalExchange) -> None:
    exchange.pause()
    result = await run_cli("trade", "bnbbtc", "--endpoint", exchange.url, "--timeout", "0.5")
    assert result.code == 3
    assert "no message within 0.5s" in result.stderr
    assert result.stdout == ""


async def test_refused_connection_exits_1_with_one_clear_line() -> None:
    with pysocket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = await run_cli(
        "trade", "bnbbtc", "--endpoint", f"ws://127.0.0.1:{port}", "--retries", "1", "-q"
    )
    assert result.code == 1
    assert result.stderr.strip().splitlines() == [
        "binstream: gave up: Max reconnect retries reached (connection refused)"
    ]


async def test_retry_lines_unless_quiet(exchange: LocalExchange) -> None:
    exchange.refuse(count=2)
    result = await run_cli("trade", "bnbbtc", "--endpoint", exchange.url, "-n", "2", "--json")
    assert result.code == 0
    lines = result.stderr.splitlines()
    assert [re.sub(r"in [0-9.]+ s$", "in D s", line) for line in lines] == [
        "binstream: server rejected WebSocket connection: HTTP 503; retry 1/5 in D s",
        "binstream: server rejected WebSocket connection: HTTP 503; retry 2/5 in D s",
        "binstream: reconnected",
    ]
    exchange.refuse(count=2)
    quiet = await run_cli("trade", "bnbbtc", "--endpoint", exchange.url, "-n", "2", "-q")
    assert quiet.code == 0 and quiet.stderr == ""


def without_delays(stderr: str) -> list[str]:
    return [re.sub(r"in [0-9.]+ s$", "in D s", line) for line in stderr.splitlines()]


@pytest.mark.parametrize(
    ("faults", "options", "expected"),
    [
        (
            {"drop_after": 3, "drop_close_frame": False},
            [],
            ["binstream: connection lost (no close frame); retry 1/5 in D s",
             "binstream: reconnected"],
        ),
        (
            {"stall_after": 3},
            ["--stall-timeout", "0.3"],
            ["binstream: no data for 0.3s (stalled); retry 1/5 in D s",
             "binstream: reconnected"],
        ),
        (
            {"shutdown_after": 3, "shutdown_grace": 0.5},
            [],
            ["binstream: server announced shutdown; switched to a new connection"],
        ),
    ],
    ids=["drop", "stall", "rotation"],
)  # fmt: skip
async def test_one_line_per_event(
    exchange: LocalExchange, faults: dict[str, Any], options: list[str], expected: list[str]
) -> None:
    """Each event is said once, in order: a drop with its retry, then the reconnect."""
    exchange.faults = Faults(times=1, **faults)
    args = ["trade", "bnbbtc", "--endpoint", exchange.url, "-n", "12", "--json", *options]
    result = await run_cli(*args)
    assert result.code == 0, result.stderr
    assert without_delays(result.stderr) == expected
    if "drop_after" in faults:  # --errors json: the same events, as JSON objects only
        exchange.faults = Faults(times=1, **faults)
        as_json = await run_cli(*args, "--errors", "json")
        events = [json.loads(line) for line in as_json.stderr.splitlines()]
        assert [(e["e"], e.get("type"), e.get("status")) for e in events] == [
            ("error", "BinanceWebsocketClosed", None),
            ("status", None, "reconnected"),
        ]
        assert events[0]["m"] == "connection lost (no close frame)"
        assert events[0]["retry"] == 1 and events[0]["retries"] == 5


# Output and exit codes do not depend on the transport: one run.
@pytest.mark.transport_independent
async def test_giving_up_is_one_line_in_either_format() -> None:
    with pysocket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    args = ["trade", "bnbbtc", "--endpoint", f"ws://127.0.0.1:{port}", "--retries", "1"]
    text = await run_cli(*args)
    assert text.code == 1
    assert without_delays(text.stderr) == [
        "binstream: connection refused; retry 1/1 in D s",
        "binstream: gave up: Max reconnect retries reached (connection refused)",
    ]
    as_json = await run_cli(*args, "--errors", "json")
    assert as_json.code == 1
    events = [json.loads(line) for line in as_json.stderr.splitlines()]
    assert [e.get("status") or e["type"] for e in events] == [
        "reconnecting",
        "BinanceWebsocketUnableToConnect",
    ]


async def test_drops_are_reported_on_stderr_only(exchange: LocalExchange) -> None:
    exchange.faults = Faults(drop_after=3, times=1, garbage_every=2)
    result = await run_cli(
        "trade", "bnbbtc", "--endpoint", exchange.url, "-n", "8", "--json", "--errors", "json"
    )
    assert result.code == 0
    assert [m["e"] for m in parse(result.lines)] == ["trade"] * 8
    events = [json.loads(line) for line in result.stderr.splitlines()]
    assert {e["e"] for e in events} == {"error", "status"}, "JSON objects only"
    assert {e["type"] for e in events if e["e"] == "error"} == {
        "BinanceWebsocketClosed",
        "BinanceWebsocketInvalidMessage",
    }


async def test_head_closes_the_pipe_cleanly(exchange: LocalExchange) -> None:
    command = (
        f"set -o pipefail; {sys.executable} -m binstream trade bnbbtc "
        f"--endpoint {exchange.url} --json | head -n 3"
    )
    proc = await spawn(
        "bash", "-c", command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env=cli_env(),
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert len(out.decode().splitlines()) == 3
    assert proc.returncode == 0, err.decode()
    assert err.decode() == ""


# Output and exit codes do not depend on the transport: one run.
@pytest.mark.transport_independent
@pytest.mark.parametrize(
    ("number", "code"),
    [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)],
    ids=["INT", "TERM", "HUP"],
)
async def test_a_stop_signal_ends_a_tail_without_traceback(
    exchange: LocalExchange, number: int, code: int
) -> None:
    proc = await spawn(
        sys.executable, "-m", "binstream", "trade", "bnbbtc", "--endpoint", exchange.url,
        "--json", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=cli_env(),
    )  # fmt: skip
    assert proc.stdout is not None
    await asyncio.wait_for(proc.stdout.readline(), 15)  # streaming has begun
    proc.send_signal(number)
    _, err = await asyncio.wait_for(proc.communicate(), 10)
    assert proc.returncode == code
    assert "Traceback" not in err.decode()


@pytest.mark.transport_independent
@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGHUP], ids=["TERM", "HUP"])
async def test_serve_stops_on_sigterm_and_sighup(number: int) -> None:
    proc = await spawn(
        sys.executable, "-m", "binstream", "serve", "--port", "0",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=cli_env(),
    )  # fmt: skip
    assert proc.stdout is not None
    url = (await asyncio.wait_for(proc.stdout.readline(), 15)).decode().strip()
    assert url.startswith("ws://127.0.0.1:")
    proc.send_signal(number)
    _, err = await asyncio.wait_for(proc.communicate(), 10)
    assert proc.returncode == 128 + number, err.decode()
    assert f"stopped by {signal.Signals(number).name}" in err.decode()


# Output and exit codes do not depend on the transport: one run.
@pytest.mark.transport_independent
async def test_table_mode_renders_a_ladder(exchange: LocalExchange) -> None:
    result = await run_cli(
        "depth", "bnbbtc", "--depth", "5", "--endpoint", exchange.url, "-f", "table", "-n", "5"
    )
    assert result.code == 0, result.stderr
    assert "BNBBTC" in result.stdout and "bid qty" in result.stdout and "ask" in result.stdout
    assert max(len(line) for line in result.lines) <= 100


# Output and exit codes do not depend on the transport: one run.
@pytest.mark.transport_independent
async def test_table_mode_ticker_and_trades(exchange: LocalExchange) -> None:
    result = await run_cli("ticker", "bnbbtc", "ethbtc", "--endpoint", exchange.url, "-f",
                           "table", "-n", "6")  # fmt: skip
    assert result.code == 0 and "ETHBTC" in result.stdout and "change %" in result.stdout
    result = await run_cli("trade", "bnbbtc", "--endpoint", exchange.url, "-f", "table", "-n", "6")
    assert result.code == 0 and ("buy" in result.stdout or "sell" in result.stdout)


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["trade", "BNB/BTC"], "did you mean 'bnbbtc'"),
        (["trade", "bnb-btc"], "did you mean 'bnbbtc'"),
        (["depth", "bnbbtc", "--depth", "7"], "'7' is not one of"),
        (["kline", "bnbbtc", "--interval", "7m"], "is not one of"),
        (["kline", "bnbbtc", "--tz", "8"], "invalid timezone"),
        (["ticker", "bnbbtc", "--window", "2h"], "is not one of"),
        (["trade", "bnbbtc", "--tld", "xyz"], "is not one of"),
        (["trade", "bnbbtc", "--endpoint", "http://127.0.0.1:1"], "ws://127.0.0.1:1"),
        (["trade", "bnbbtc", "--endpoint", "nonsense"], "expected ws://"),
        (["trade", "bnbbtc", "--retries", "lots"], "whole number or 'inf'"),
        (["trade", "bnbbtc", "--count", "0"], "--count"),
        (["multiplex", "bnbbtc@depth7"], "5, 10, 20"),
        (["multiplex", "!ticker@arr"], "retired"),
        (["trade"], "Missing argument"),
    ],
)
@pytest.mark.transport_independent
async def test_bad_input_exits_2_with_a_clear_message(args: list[str], text: str) -> None:
    result = await run_cli(*args)
    assert result.code == 2, result.stderr
    plain = " ".join(result.stderr.translate(str.maketrans("", "", "│╭╮╰╯─")).split())
    assert text in plain, result.stderr
    assert "Traceback" not in result.stderr


# Output and exit codes do not depend on the transport: one run.
@pytest.mark.transport_independent
async def test_unknown_stream_type_passes_with_a_warning(exchange: LocalExchange) -> None:
    result = await run_cli(
        "multiplex", "bnbbtc@referencePrice", "bnbbtc@trade", "--endpoint", exchange.url,
        "-n", "2", "--json",
    )  # fmt: skip
    assert result.code == 0
    assert "'referencePrice' is not known" in result.stderr


# Output and exit codes do not depend on the transport: one run.
@pytest.mark.transport_independent
@pytest.mark.parametrize(
    "argv",
    [["trade", "--help"], ["book-ticker", "--help"], ["depth", "bnbbtc", "--depth", "7"],
     ["kline", "bnbbtc", "--interval", "7m"], ["trade"], ["nosuch"], ["--help"]],
)  # fmt: skip
def test_a_run_builds_only_its_command_and_says_the_same(argv: list[str]) -> None:
    """The start-up shortcut (one command's parser) must not change any output."""
    from typer.main import get_command
    from typer.testing import CliRunner

    from binstream.cli import _app_for, app

    trimmed = _app_for(argv)
    if argv[0] in ("trade", "book-ticker", "depth", "kline"):
        assert list(get_command(trimmed).commands) == [argv[0]]  # type: ignore[attr-defined]
    runner = CliRunner()
    full = runner.invoke(app, argv, prog_name="binstream", terminal_width=100)
    short = runner.invoke(trimmed, argv, prog_name="binstream", terminal_width=100)
    assert (short.exit_code, short.output) == (full.exit_code, full.output)


# Output and exit codes do not depend on the transport: one run.
@pytest.mark.transport_independent
async def test_version_and_help_examples() -> None:
    result = await run_cli("--version")
    assert result.code == 0 and result.stdout.startswith("binstream ")
    # The fast path's parts: both C extensions built, msgspec installed.
    assert ("frames split in C, checked with msgspec, lines written in C, SBE decoded in C"
            in result.stdout)  # fmt: skip
    commands = ("trade", "ticker", "depth", "kline", "book-ticker", "multiplex", "serve", "demo",
                "publish", "consume")  # fmt: skip
    helps = await asyncio.gather(*(run_cli(command, "--help") for command in commands))
    for command, help_text in zip(commands, helps, strict=True):
        assert help_text.code == 0 and "Examples" in help_text.stdout, command


# Output and exit codes do not depend on the transport: one run.
@pytest.mark.transport_independent
async def test_demo_runs_with_no_network() -> None:
    result = await run_cli("demo", "--json", "-n", "6")
    assert result.code == 0, result.stderr
    assert {m["stream"].split("@")[1] for m in parse(result.lines)} <= {
        "aggTrade", "depth5", "ticker", "kline_1m", "bookTicker",
    }  # fmt: skip


# Output and exit codes do not depend on the transport: one run.
@pytest.mark.transport_independent
async def test_serve_prints_its_url_and_serves() -> None:
    proc = await spawn(
        sys.executable, "-m", "binstream", "serve", "--interval", "0.01",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=cli_env(),
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        url = (await asyncio.wait_for(proc.stdout.readline(), 15)).decode().strip()
        assert url.startswith("ws://127.0.0.1:")
        result = await run_cli("trade", "bnbbtc", "--endpoint", url, "-n", "2", "--json")
        assert result.code == 0 and len(result.lines) == 2
    finally:
        proc.send_signal(signal.SIGINT)
        await asyncio.wait_for(proc.wait(), 10)


# Pausing reads under "block" happens in the transport-independent buffer: one transport.
@pytest.mark.parametrize(
    "overflow", ["drop", pytest.param("block", marks=pytest.mark.transport_independent)]
)
async def test_stdout_nobody_reads_is_reported_and_drop_keeps_the_connection(
    overflow: str,
) -> None:
    """A pipe nobody reads: the policy shows on stderr. With ``--overflow drop`` reading
    goes on, so pings are answered and the server (pinging every 0.2 s, dropping after
    0.5 s without a pong) keeps the connection."""
    async with LocalExchange(interval=0.001, seed=5, ping_interval=0.2, ping_timeout=0.5) as ex:
        streams = [f"{s.lower()}@depth20@100ms" for s in ex.markets]  # a step each
        read_end, write_end = os.pipe()
        proc = await spawn(
            sys.executable, "-m", "binstream", "multiplex", *streams, "--endpoint", ex.url,
            "--json", "--overflow", overflow, stdout=write_end, stderr=asyncio.subprocess.PIPE,
            env=cli_env(),
        )  # fmt: skip
        os.close(write_end)
        assert proc.stderr is not None
        lines: list[str] = []
        try:
            wanted = "dropped so far" if overflow == "drop" else "reading paused"
            while not lines or wanted not in lines[-1]:
                lines.append((await asyncio.wait_for(proc.stderr.readline(), 30)).decode())
            if overflow == "drop":
                connections = ex.connections_total
                await asyncio.sleep(1.5)  # the window observed: 7 ping intervals, still blocked
                assert ex.connections_total == connections and len(ex.clients) == 1
        finally:
            proc.kill()
            rest = (await proc.stderr.read()).decode()
            await proc.wait()
            os.close(read_end)
    if overflow == "drop":
        assert "connection lost" not in "".join(lines) + rest
    assert "Traceback" not in "".join(lines) + rest


# Output and exit codes do not depend on the transport: one run.
@pytest.mark.transport_independent
async def test_bad_input_is_one_line_or_one_json_object_with_exit_2() -> None:
    result = await run_cli("trade", "bnb/btc")
    assert result.code == 2 and result.stdout == ""
    assert result.stderr.splitlines() == [
        "binstream: error: Invalid value: invalid symbol 'bnb/btc': use letters and digits "
        "only, with no separator; did you mean 'bnbbtc'? (see 'binstream trade --help')"
    ]
    as_json = await run_cli("depth", "bnbbtc", "--depth", "7", "--errors", "json")
    assert as_json.code == 2
    (event,) = [json.loads(line) for line in as_json.stderr.splitlines()]
    assert event["e"] == "error" and event["type"] == "UsageError"
    assert "'7' is not one of '5', '10', '20'" in event["m"]
    missing = await run_cli("replay", "/nonexistent.jsonl", "--errors", "json")
    assert missing.code == 2
    (event,) = [json.loads(line) for line in missing.stderr.splitlines()]
    assert event["type"] == "RecordingError" and "/nonexistent.jsonl" in event["m"]


# Steering is the subscription machinery (tested on both transports in test_subscribe).
@pytest.mark.transport_independent
async def test_control_steers_a_running_multiplex(exchange: LocalExchange) -> None:
    """A script on stdin subscribes, lists, unsubscribes; a bad line is one error line."""
    proc = await spawn(
        sys.executable, "-m", "binstream", "multiplex", "bnbbtc@trade", "--control", "--json",
        "--endpoint", exchange.url, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=cli_env(),
    )  # fmt: skip
    assert proc.stdin and proc.stdout and proc.stderr

    async def stderr_line() -> str:
        return (await asyncio.wait_for(proc.stderr.readline(), 15)).decode().rstrip("\n")

    async def until_stream(name: str) -> None:
        async with asyncio.timeout(15):
            while json.loads(await proc.stdout.readline())["stream"] != name:
                pass

    try:
        proc.stdin.write(b"+ethbtc@trade\n")
        assert await stderr_line() == "binstream: subscribed ethbtc@trade"
        await until_stream("ethbtc@trade")
        proc.stdin.write(b"?\n")
        assert await stderr_line() == "binstream: streams: bnbbtc@trade, ethbtc@trade"
        proc.stdin.write(b"nonsense\n-bnbbtc@trade\n")
        assert await stderr_line() == (
            "binstream: error: unknown command 'nonsense': use +STREAM, -STREAM or ?"
        )
        assert await stderr_line() == "binstream: unsubscribed bnbbtc@trade"
        proc.stdin.write(b"+bnb/btc@trade\n")
        assert (await stderr_line()).startswith("binstream: error: invalid stream 'bnb/btc@trade'")
        lines = [json.loads(await proc.stdout.readline()) for _ in range(400)]
        assert {m["stream"] for m in lines[-100:]} == {"ethbtc@trade"}
    finally:
        proc.kill()
        await proc.wait()


async def test_events_are_json_lines_on_stderr(exchange: LocalExchange) -> None:
    result = await run_cli("trade", "bnbbtc", "--endpoint", exchange.url, "-n", "5", "--json",
                           "--events")  # fmt: skip
    assert result.code == 0 and len(result.lines) == 5
    events = [json.loads(line) for line in result.stderr.splitlines()]
    assert [e["event"] for e in events[:3]] == ["connecting", "connected", "first_message"]
    assert events[1]["url"] == f"{exchange.url}/ws/bnbbtc@trade"


# Output and exit codes do not depend on the transport: one run.
@pytest.mark.transport_independent
def test_the_allocator_is_tuned_only_when_nothing_else_asks() -> None:
    """The command keeps its batches' memory on glibc, unless the environment tunes glibc
    itself or opts out; each answer is the same in a fresh process."""
    probe = "from binstream.cli.malloctune import keep_batch_memory as k; print(k())"
    base = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    answers = []
    for extra in ({}, {"BINSTREAM_MALLOC": "default"}, {"MALLOC_TRIM_THRESHOLD_": "0"}):
        out = subprocess.run([sys.executable, "-c", probe], env={**base, **extra},
                             capture_output=True, text=True, check=True)  # fmt: skip
        answers.append(out.stdout.strip())
    glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
    assert answers == ["True" if glibc else "False", "False", "False"]
