"""Captures people can trust: stopped by signals, killed outright, cut short, with gaps
and snapshots that rebuild the book from the file alone. Real processes, real signals,
against the local exchange on 127.0.0.1."""

from __future__ import annotations

import array
import asyncio
import contextlib
import fcntl
import os
import random
import signal
import sys
import termios
import time
from pathlib import Path
from typing import Any

import pytest

from binstream.recording import Entry, RecordingError, read_recording
from binstream.server import Faults, LocalExchange

from ..conftest import FAST, check_views, cli_env, run_cli, spawn

# Signals, files and books sit above the transport: one run.
pytestmark = [pytest.mark.transport_independent, pytest.mark.usefixtures("transport")]


async def wait_for_growth(path: Path, size: int, timeout: float = 15.0) -> None:
    """Until ``path`` holds at least ``size`` bytes (the recorder has written something)."""
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.stat().st_size >= size):
        assert time.monotonic() < deadline, f"{path} did not grow to {size} bytes"
        await asyncio.sleep(0.05)


async def wait_for_messages(path: Path, count: int, timeout: float = 15.0) -> None:
    """Until the recording being written holds ``count`` whole messages (it is readable
    while written: the recorder hands over whole records every second)."""
    deadline = time.monotonic() + timeout
    while True:
        if path.exists() and path.stat().st_size:
            with contextlib.suppress(RecordingError):
                held = [e for e in entries(path) if e.frame is not None and not e.snapshot]
                if len(held) >= count:
                    return
        assert time.monotonic() < deadline, f"{path} did not get {count} messages"
        await asyncio.sleep(0.1)


async def recorder(exchange: LocalExchange, path: Path, *streams: str) -> Any:
    return await spawn(
        sys.executable, "-m", "binstream", "record", *streams, "-o", str(path),
        "--endpoint", exchange.url, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE, env=cli_env(),
    )  # fmt: skip


def entries(path: Path) -> list[Entry]:
    return list(read_recording(path)[1])


@pytest.mark.parametrize(
    ("number", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)], ids=["TERM", "HUP"]
)
@pytest.mark.parametrize("name", ["s.jsonl", "s.jsonl.zst"])
async def test_a_stop_signal_finalises_the_recording_as_ctrl_c_does(
    exchange: LocalExchange, tmp_path: Path, number: int, code: int, name: str
) -> None:
    path = tmp_path / name
    proc = await recorder(exchange, path, "bnbbtc@trade", "bnbbtc@depth@100ms")
    await wait_for_messages(path, 10)
    proc.send_signal(number)
    _, err = await asyncio.wait_for(proc.communicate(), 15)
    assert proc.returncode == code, err.decode()
    assert f"stopped by {signal.Signals(number).name}" in err.decode()
    assert "Traceback" not in err.decode()
    got = entries(path)
    assert not any(e.notice for e in got)  # closed properly: its end line is there
    assert sum(1 for e in got if e.frame is not None and not e.snapshot) >= 10


async def test_a_second_signal_stops_at_once(exchange: LocalExchange, tmp_path: Path) -> None:
    """A recorder writing into a pipe nobody reads: the first SIGTERM's clean stop waits
    for the writer, which cannot finish; the second ends the process by the signal."""
    fifo = tmp_path / "stuck.jsonl"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # open, never read
    try:
        proc = await recorder(exchange, fifo, "bnbbtc@trade", "bnbbtc@depth@100ms",
                              "ethbtc@trade", "bnbbtc@aggTrade")  # fmt: skip
        deadline = time.monotonic() + 20
        last, still = -1, 0
        while still < 10:  # the pipe stopped filling for half a second: the writer is stuck
            assert time.monotonic() < deadline, "the recorder did not fill the pipe"
            await asyncio.sleep(0.05)
            now = unread(reader)
            still = still + 1 if now == last and now > 16_384 else 0
            last = now
        proc.send_signal(signal.SIGTERM)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(asyncio.shield(proc.wait()), 1.0)
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 5)
        assert proc.returncode == -signal.SIGTERM
    finally:
        os.close(reader)


def unread(fd: int) -> int:
    """Bytes waiting in a pipe (FIONREAD)."""
    buffer = array.array("i", [0])
    fcntl.ioctl(fd, termios.FIONREAD, buffer)
    return buffer[0]


@pytest.mark.parametrize("name", ["k.jsonl", "k.jsonl.zst"])
async def test_a_killed_recorder_loses_at_most_about_the_last_second(
    exchange: LocalExchange, tmp_path: Path, name: str
) -> None:
    path = tmp_path / name
    proc = await recorder(exchange, path, "bnbbtc@trade", "bnbbtc@depth@100ms")
    await wait_for_growth(path, 1500)
    await asyncio.sleep(2.0)
    killed_at = time.time() * 1000
    proc.send_signal(signal.SIGKILL)
    await asyncio.wait_for(proc.wait(), 5)
    got = entries(path)
    messages = [e for e in got if e.frame is not None]
    assert messages, "nothing survived"
    # One flush a second, and a loaded machine's scheduling on top.
    assert killed_at - messages[-1].time_ms < 2500
    assert got[-1].notice is not None and "stopped abruptly" in got[-1].notice
    result = await run_cli("replay", str(path), "--speed", "max")
    assert result.code == 0, result.stderr
    assert len(result.lines) == sum(1 for e in messages if not e.snapshot)
    assert result.stderr.count("\n") == 1 and "stopped abruptly" in result.stderr


@pytest.mark.parametrize("name", ["c.jsonl", "c.jsonl.zst"])
async def test_a_file_cut_anywhere_is_read_up_to_its_last_whole_record(
    exchange: LocalExchange, tmp_path: Path, name: str
) -> None:
    whole = tmp_path / name
    result = await run_cli("record", "bnbbtc@trade", "bnbbtc@depth@100ms", "-o", str(whole),
                           "--endpoint", exchange.url, "-n", "150", "-q")  # fmt: skip
    assert result.code == 0, result.stderr
    full = [e.frame for e in entries(whole) if e.frame is not None]
    data = whole.read_bytes()
    cut = tmp_path / ("cut-" + name)
    rng = random.Random(7)
    offsets = sorted({rng.randrange(300, len(data)) for _ in range(40)} | {len(data) - 1})
    for offset in offsets:
        cut.write_bytes(data[:offset])
        got = entries(cut)
        frames = [e.frame for e in got if e.frame is not None]
        assert frames == full[: len(frames)], offset  # a prefix, every record whole
        assert got[-1].notice is not None, offset
    # The command line says so in one line and exits 0: replay, book, serve --replay.
    cut.write_bytes(data[: len(data) * 2 // 3])
    replayed = await run_cli("replay", str(cut), "--speed", "max", "--errors", "json")
    assert replayed.code == 0 and replayed.stderr.count("\n") == 1, replayed.stderr
    assert '"status":"truncated"' in replayed.stderr
    notices: list[str] = []
    async with LocalExchange(replay=(cut, None), on_notice=notices.append) as server:
        from binstream import BinanceSocketManager

        bm = BinanceSocketManager(endpoint=server.url, user_timeout=5, max_retries=0)
        async with bm.trade_socket("bnbbtc") as ts:
            await ts.recv()
        deadline = time.monotonic() + 10
        while not notices:
            assert time.monotonic() < deadline, "serve --replay said nothing of the cut"
            await asyncio.sleep(0.05)
    assert "stopped abruptly" in notices[0]


@pytest.fixture
async def gappy_exchange() -> Any:
    """Every 7th diff-depth event left out; the true book kept by update id."""
    async with LocalExchange(interval=FAST, seed=5, book_history=5000,
                             faults=Faults(gap_every=7)) as ex:  # fmt: skip
        yield ex


async def test_skipped_update_ids_are_gaps_and_the_book_rebuilds_from_the_file(
    gappy_exchange: LocalExchange, tmp_path: Path
) -> None:
    path = tmp_path / "depth.jsonl.zst"
    result = await run_cli("record", "bnbbtc@depth@100ms", "bnbbtc@trade", "-o", str(path),
                           "--endpoint", gappy_exchange.url, "-n", "200")  # fmt: skip
    assert result.code == 0, result.stderr
    assert "skipped update ids" in result.stderr
    got = entries(path)
    gaps = [e for e in got if e.gap == "update ids skipped"]
    snapshots = [e for e in got if e.snapshot]
    assert gaps and all(e.stream == "bnbbtc@depth@100ms" and e.missing for e in gaps)
    assert all(first <= last for first, last in (e.missing for e in gaps if e.missing))
    assert len(snapshots) >= 2  # the first one, and one after a gap
    assert snapshots[0].line < gaps[0].line

    replayed = await run_cli("replay", str(path), "--speed", "max")
    assert replayed.code == 0
    assert "update ids skipped on bnbbtc@depth@100ms (update ids" in replayed.stderr

    rebuilt = await run_cli("book", "--replay", str(path), "bnbbtc", "--levels", "10")
    assert rebuilt.code == 0, rebuilt.stderr
    import json

    views = [json.loads(line) for line in rebuilt.lines]
    assert views and all(v["e"] == "book" and v["s"] == "BNBBTC" for v in views)
    assert check_views(gappy_exchange, views, 10) >= len(views) // 2


async def test_a_book_cannot_be_rebuilt_from_a_file_without_snapshots(
    exchange: LocalExchange, tmp_path: Path
) -> None:
    path = tmp_path / "bare.jsonl"
    result = await run_cli("record", "bnbbtc@depth@100ms", "-o", str(path), "--endpoint",
                           exchange.url, "-n", "20", "--no-snapshots", "-q")  # fmt: skip
    assert result.code == 0, result.stderr
    assert not any(e.snapshot for e in entries(path))
    rebuilt = await run_cli("book", "--replay", str(path), "bnbbtc")
    assert rebuilt.code == 1 and rebuilt.lines == []
    assert "holds no snapshot" in rebuilt.stderr
    other = await run_cli("book", "--replay", str(path), "ethbtc")
    assert other.code == 2 and "no diff-depth stream of ETHBTC" in other.stderr
