"""Record and replay: byte-identical round trips, pacing, and clear errors for bad files."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from pathlib import Path

import pytest

from binstream import BinanceSocketManager
from binstream.asyncio.replay import replay_entries
from binstream.recording import RecordingError, RecordingWriter, read_recording
from binstream.server import Faults, LocalExchange

from ..conftest import cli_env, run_cli, spawn

pytestmark = pytest.mark.usefixtures("transport")  # every test runs on each transport


def payloads(path: Path) -> list[str]:
    return [e.frame for e in read_recording(path)[1] if e.frame is not None and not e.snapshot]


@pytest.mark.parametrize("name", ["session.jsonl", "session.jsonl.zst"])
async def test_record_replay_record_is_byte_identical(
    exchange: LocalExchange, tmp_path: Path, name: str
) -> None:
    first = tmp_path / name
    exchange.faults = Faults(drop_after=10, times=1)
    result = await run_cli("record", "bnbbtc@trade", "ethbtc@aggTrade", "-o", str(first),
                           "--endpoint", exchange.url, "-n", "25", "-q")  # fmt: skip
    assert result.code == 0, result.stderr
    recorded = payloads(first)
    assert len(recorded) == 25
    entries = list(read_recording(first)[1])
    assert any(e.gap and "1011" in e.gap for e in entries)  # the reconnect is in the file
    replayed = await run_cli("replay", str(first), "--speed", "max", "--json")
    assert replayed.code == 0, replayed.stderr
    assert replayed.lines == recorded
    assert "gap in the recording" in replayed.stderr

    server = await spawn(
        sys.executable, "-m", "binstream", "serve", "--replay", str(first), "--replay-speed",
        "max", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=cli_env(),
    )  # fmt: skip
    assert server.stdout is not None
    try:
        url = (await asyncio.wait_for(server.stdout.readline(), 15)).decode().strip()
        second = tmp_path / ("again-" + name)
        result = await run_cli("record", "bnbbtc@trade", "ethbtc@aggTrade", "-o", str(second),
                               "--endpoint", url, "-n", "25", "-q")  # fmt: skip
        assert result.code == 0, result.stderr
        assert payloads(second) == recorded
        # A client of one stream gets that stream's payloads, unwrapped, as from Binance.
        bm = BinanceSocketManager(endpoint=url, user_timeout=5)
        async with bm.trade_socket("bnbbtc") as ts:
            first_trade = await ts.recv()
        expected = next(json.loads(p)["data"] for p in recorded if "bnbbtc@trade" in p)
        assert first_trade == expected
    finally:
        server.send_signal(signal.SIGINT)
        await asyncio.wait_for(server.wait(), 10)


# Files and replay pacing, not the transport: one run.
@pytest.mark.transport_independent
async def test_replay_speed_is_honoured(tmp_path: Path) -> None:
    path = tmp_path / "paced.jsonl"
    with RecordingWriter(path, ["bnbbtc@trade"], combined=False) as writer:
        base = time.time()
        for i in range(11):
            writer.write_frames([json.dumps({"e": "trade", "t": i})], received=base + i * 0.1)
    started = time.monotonic()
    seen = [entry async for _, entry in replay_entries(path, speed=2.0)]
    elapsed = time.monotonic() - started
    assert len(seen) == 11
    assert 0.45 <= elapsed < 0.9  # 1 s of recording at speed 2


# Files and replay pacing, not the transport: one run.
@pytest.mark.transport_independent
@pytest.mark.parametrize(
    ("content", "text"),
    [
        (b"not json\n", "line 1: not a binstream recording header"),
        (
            b'{"binstream":"recording","version":1,"streams":["a@trade"]}\n{"t":1,"m":{}}\n'
            b"garbage\n",
            "line 3: corrupt entry",
        ),
    ],
)
async def test_bad_recordings_name_the_line(tmp_path: Path, content: bytes, text: str) -> None:
    """A file cut short is not bad: it reads up to its last whole record
    (tests/cli/test_capture.py)."""
    path = tmp_path / "bad.jsonl"
    path.write_bytes(content)
    with pytest.raises(RecordingError, match=text):
        _header, entries = read_recording(path)
        list(entries)
    result = await run_cli("replay", str(path), "--speed", "max", "--json")
    assert result.code == 2 and text in result.stderr and "Traceback" not in result.stderr


# Files and replay pacing, not the transport: one run.
@pytest.mark.transport_independent
async def test_missing_recording_is_a_clear_error(tmp_path: Path) -> None:
    result = await run_cli("replay", str(tmp_path / "nope.jsonl"))
    assert result.code == 2 and "cannot read" in result.stderr


# Files and replay pacing, not the transport: one run.
@pytest.mark.transport_independent
async def test_record_rotates_by_size(exchange: LocalExchange, tmp_path: Path) -> None:
    path = tmp_path / "rot.jsonl"
    result = await run_cli("record", "bnbbtc@depth20@100ms", "-o", str(path), "--endpoint",
                           exchange.url, "-n", "60", "-q", "--rotate-size", "0.01")  # fmt: skip
    assert result.code == 0, result.stderr
    files = sorted(tmp_path.glob("rot-*.jsonl"))
    assert len(files) >= 3 and files[0].name == "rot-0001.jsonl"
    assert sum(len(payloads(f)) for f in files) == 60
