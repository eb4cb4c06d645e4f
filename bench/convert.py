"""Conversion of recordings into tables: rows per second and peak memory.

A diff-depth recording of ten level changes per event is generated (with the REST snapshot
a recording starts with), then ``binstream convert`` runs on it as a user runs it, once
per output format and input size: the peak memory should not grow with the input.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from binstream.recording import RecordingWriter

STREAM = "btcusdt@depth@100ms"


def generate(path: Path, events: int, levels: int = 10) -> int:
    """Write a recording of ``events`` diff-depth events; return its depth-update rows."""
    rng = random.Random(1)
    writer = RecordingWriter(path, [STREAM], False)
    book = {"lastUpdateId": 1000, "bids": [["95000.00", "1.000"]], "asks": [["95000.10", "1.000"]]}
    writer.write_snapshot(STREAM, orjson.dumps(book).decode(), 1_700_000_000.0)
    update, rows, batch = 1000, 0, []
    for number in range(events):
        half = levels // 2
        bids = [[f"{95000 - rng.randrange(500) / 100:.2f}", f"{rng.randrange(100000) / 1000:.3f}"]
                for _ in range(half)]  # fmt: skip
        asks = [[f"{95000 + rng.randrange(500) / 100:.2f}", f"{rng.randrange(100000) / 1000:.3f}"]
                for _ in range(levels - half)]  # fmt: skip
        event = {"e": "depthUpdate", "E": 1_700_000_000_000 + number, "s": "BTCUSDT",
                 "U": update + 1, "u": update + 3, "b": bids, "a": asks}  # fmt: skip
        update += 3
        rows += levels
        batch.append(orjson.dumps(event).decode())
        if len(batch) == 1000:
            writer.write_frames(batch, 1_700_000_000.0 + number / 1000)
            batch = []
    writer.write_frames(batch)
    writer.close()
    return rows


def convert_once(path: Path, to: str, rows: int) -> dict[str, Any]:
    """``binstream convert`` as a child process: wall time, rows per second, peak RSS."""
    with tempfile.TemporaryDirectory() as outdir:
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "binstream", "convert", str(path),
                                 "--to", to, "-o", outdir, "-q"])  # fmt: skip
        _, status, usage = os.wait4(proc.pid, 0)
        took = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode:
            raise RuntimeError(f"binstream convert --to {to} exited {proc.returncode}")
        peak = usage.ru_maxrss
    return {"client": f"convert --to {to}", "input_mb": round(path.stat().st_size / 1e6, 1),
            "rows": rows, "seconds": round(took, 2), "rows_per_s": int(rows / took),
            "peak_rss_mb": round(peak / 1024, 1)}  # fmt: skip


def conversion(events: list[int], repeat: int) -> list[dict[str, Any]]:
    """Each size and format, best of ``repeat`` runs (the machine's speed swings)."""
    results = []
    with tempfile.TemporaryDirectory() as folder:
        for count in events:
            path = Path(folder) / f"depth-{count}.jsonl"
            rows = generate(path, count)
            for to in ("parquet", "tardis-csv"):
                runs = [convert_once(path, to, rows) for _ in range(repeat)]
                results.append(max(runs, key=lambda run: run["rows_per_s"]))
    return results
