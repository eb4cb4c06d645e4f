"""Run binstream's benchmarks: ``python -m bench [--quick] [--peer-python PATH]``.

Everything runs on 127.0.0.1 against ``bench.blaster`` (a separate process), each client in
a process of its own, timed from the moment the server accepted its connection to its exit,
so start-up cost is measured separately. Figures are ratios against the floor (a minimal
websockets + orjson client) measured in the same run. Prints a markdown table and writes
``bench/results.json``; ``--write-results`` also rewrites ``bench/RESULTS.md``.

python-binance runs as a peer when ``--peer-python`` names a Python that has it installed
(``python -m venv /tmp/pb && /tmp/pb/bin/pip install python-binance``); it is pointed at the
blaster and never reaches Binance.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import orjson

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


class Blaster:
    """The frame-blasting server process and its accept-time log."""

    def __init__(self, count: int, payload: str, rate: float = 0.0) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.blaster", "--count", str(count), "--payload", payload,
             "--rate", str(rate)],
            stdout=subprocess.PIPE, text=True, cwd=ROOT,
        )  # fmt: skip
        assert self.proc.stdout is not None
        self.port = int(self.proc.stdout.readline())
        self.accepts: queue.Queue[float] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("accept "):
                self.accepts.put(float(line.split()[1]))

    @property
    def base(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


def stream_for(payload: str) -> str:
    return "bnbbtc@aggTrade" if payload == "aggTrade" else "bnbbtc@depth20"


def command(kind: str, blaster: Blaster, payload: str, count: int, peer: str | None) -> list[str]:
    stream = stream_for(payload)
    url = f"{blaster.base}/ws/{stream}"
    if kind.startswith("cli"):
        if payload == "aggTrade":
            args = ["trade", "bnbbtc", "--agg"]
        else:
            args = ["depth", "bnbbtc", "--depth", "20"]
        return [sys.executable, "-m", "binstream", *args, "--endpoint", blaster.base,
                "--json", "-q", "-n", str(count)]  # fmt: skip
    python = peer if kind.startswith("pb-") and peer else sys.executable
    return [python, "-m", "bench.clients", kind, url, str(count)]


def run_client(
    kind: str, blaster: Blaster, payload: str, count: int, peer: str | None,
    stdout: str = "null", slow_reader: float = 0.0,
) -> dict[str, Any]:  # fmt: skip
    """Run one client; return msgs/s (from accept to exit), CPU seconds and peak RSS (MB)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.DEVNULL if stdout == "null" else subprocess.PIPE
    started = time.time()
    proc = subprocess.Popen(command(kind, blaster, payload, count, peer), stdout=out,
                            stderr=subprocess.PIPE, env=env, cwd=ROOT)  # fmt: skip
    lines = 0
    latencies: list[int] = []
    first_line_at = None
    if out == subprocess.PIPE:
        assert proc.stdout is not None
        for line in proc.stdout:
            if first_line_at is None:
                first_line_at = time.time()
            lines += 1
            if stdout == "latency":
                data = orjson.loads(line)
                latencies.append(time.time_ns() // 1000 - data["E"])
            if slow_reader:
                time.sleep(slow_reader)
    _, status, usage = os.wait4(proc.pid, 0)
    ended = time.time()
    assert proc.stderr is not None
    err = proc.stderr.read().decode()
    proc.returncode = os.waitstatus_to_exitcode(status)
    try:
        accepted = blaster.accepts.get(timeout=5)
    except queue.Empty:
        accepted = started
    result: dict[str, Any] = {
        "client": kind,
        "ok": proc.returncode == 0,
        "seconds": round(ended - accepted, 3),
        "msgs_per_s": round(count / max(ended - accepted, 1e-9)),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
        "rss_mb": round(usage.ru_maxrss / 1024, 1),
    }
    if first_line_at is not None:
        result["first_message_s"] = round(first_line_at - started, 3)
    if latencies:
        latencies.sort()
        n = len(latencies)
        result.update(p50_us=latencies[n // 2], p99_us=latencies[int(n * 0.99)],
                      max_us=latencies[-1])  # fmt: skip
    for line in err.splitlines():
        if line.startswith("{"):
            stats = json.loads(line)
            result.update(p50_us=stats["p50"], p99_us=stats["p99"], max_us=stats["max"])
    if proc.returncode != 0:
        lines_err = [ln for ln in err.strip().splitlines() if ln.strip()]
        received = next((ln for ln in lines_err if ln.startswith("received ")), None)
        reason = received or (lines_err[-1] if lines_err else f"exit {proc.returncode}")
        result["error"] = f"failed: {reason}"
        result["msgs_per_s"] = "failed"
    return result


THROUGHPUT_CLIENTS = ["floor", "floor-output", "cli", "bsm", "twm", "pb-bsm", "pb-twm"]


def throughput(payload: str, count: int, peer: str | None) -> list[dict[str, Any]]:
    rows = []
    for kind in THROUGHPUT_CLIENTS:
        if kind.startswith("pb-") and not peer:
            rows.append({"client": kind, "ok": False, "error": "skipped: no --peer-python"})
            continue
        blaster = Blaster(count, payload)
        try:
            rows.append(run_client(kind, blaster, payload, count, peer))
        finally:
            blaster.close()
    blaster = Blaster(count, payload)
    try:  # the CLI into a pipe read by a consumer
        row = run_client("cli", blaster, payload, count, peer, stdout="pipe")
        row["client"] = "cli | consumer"
        rows.append(row)
    finally:
        blaster.close()
    return rows


def latency(count: int, rate: float) -> list[dict[str, Any]]:
    rows = []
    for kind in ("floor-latency", "bsm-latency", "cli"):
        blaster = Blaster(count, "aggTrade", rate)
        try:
            row = run_client(kind, blaster, "aggTrade", count, None,
                             stdout="latency" if kind == "cli" else "null")  # fmt: skip
            row["client"] = kind if kind != "cli" else "cli-latency"
            rows.append(row)
        finally:
            blaster.close()
    return rows


def slow_consumer(seconds: float) -> list[dict[str, Any]]:
    """The CLI into a pipe read 10x slower than a 2,000 msg/s feed, for ``seconds``."""
    rate = 2000
    count = int(rate * seconds)
    rows = []
    blaster = Blaster(count, "depth20", rate)
    try:
        # The reader takes 5 ms a line: 200 lines/s against 2,000 msg/s. Stop after `seconds`.
        row = run_client_for(blaster, seconds)
        rows.append(row)
    finally:
        blaster.close()
    return rows


def run_client_for(blaster: Blaster, seconds: float) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "binstream", "depth", "bnbbtc", "--depth", "20", "--endpoint",
         blaster.base, "--json", "-q"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT,
    )  # fmt: skip
    assert proc.stdout is not None
    deadline = time.time() + seconds
    lines = 0
    while time.time() < deadline:
        if not proc.stdout.readline():
            break
        lines += 1
        time.sleep(0.005)
    proc.terminate()
    _, _, usage = os.wait4(proc.pid, 0)
    return {"client": "cli, reader 10x slower", "ok": True, "lines_read": lines,
            "rss_mb": round(usage.ru_maxrss / 1024, 1)}  # fmt: skip


def idle_cpu(seconds: float) -> dict[str, Any]:
    blaster = Blaster(int(seconds) + 5, "aggTrade", rate=1)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "binstream", "trade", "bnbbtc", "--agg", "--endpoint",
             blaster.base, "--json", "-q"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=ROOT,
        )  # fmt: skip
        assert proc.stdout is not None
        proc.stdout.readline()  # connected and streaming
        before = time.time()
        cpu_before = _cpu_of(proc.pid)
        time.sleep(seconds)
        cpu = _cpu_of(proc.pid) - cpu_before
        elapsed = time.time() - before
        proc.terminate()
        proc.wait()
    finally:
        blaster.close()
    return {
        "client": "cli idle (1 msg/s)",
        "ok": True,
        "cpu_percent": round(100 * cpu / elapsed, 2),
    }


def _cpu_of(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def startup() -> list[dict[str, Any]]:
    rows = []
    for kind in ("floor-output", "cli"):
        blaster = Blaster(100_000, "aggTrade", rate=1000)
        try:
            env = dict(os.environ, PYTHONPATH=str(ROOT))
            started = time.time()
            proc = subprocess.Popen(command(kind, blaster, "aggTrade", 100_000, None),
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
                                    cwd=ROOT)  # fmt: skip
            assert proc.stdout is not None
            proc.stdout.readline()
            rows.append({"client": kind, "ok": True,
                         "first_message_s": round(time.time() - started, 3)})  # fmt: skip
            proc.kill()
            proc.wait()
        finally:
            blaster.close()
    return rows


def ratio(rows: list[dict[str, Any]], client: str, base: str, key: str = "msgs_per_s") -> float:
    values = {r["client"]: r.get(key) for r in rows if r.get("ok")}
    if not values.get(client) or not values.get(base):
        return float("nan")
    return round(values[client] / values[base], 2)


def table(title: str, rows: list[dict[str, Any]], columns: list[str]) -> str:
    lines = [f"### {title}", "", "| " + " | ".join(columns) + " |",
             "|" + "---|" * len(columns)]  # fmt: skip
    for row in rows:
        cells = [str(row.get(c, row.get("error", "")) if c != "client" else row["client"])
                 for c in columns]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description="binstream benchmarks (loopback only)")
    parser.add_argument("--quick", action="store_true", help="smaller counts, for a smoke run")
    parser.add_argument("--peer-python", help="a Python with python-binance installed")
    parser.add_argument("--write-results", action="store_true", help="rewrite bench/RESULTS.md")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    started = time.time()
    machine = (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.platform()}"
    )
    report: dict[str, Any] = {"machine": machine}
    sections = []
    for payload, count in (("aggTrade", 200_000 // scale), ("depth20", 50_000 // scale)):
        rows = throughput(payload, count, args.peer_python)
        for row in rows:
            row["vs_floor"] = ratio(rows, row["client"], "floor")
            row["vs_floor_output"] = ratio(rows, row["client"], "floor-output")
        report[f"throughput_{payload}"] = rows
        sections.append(table(f"Throughput, {payload}, {count:,} messages", rows,
                              ["client", "msgs_per_s", "vs_floor", "vs_floor_output", "cpu_s",
                               "rss_mb"]))  # fmt: skip
    lat = latency(10_000 // scale, 2000)
    report["latency"] = lat
    sections.append(table("Latency at 2,000 msg/s (µs, send → decoded)", lat,
                          ["client", "p50_us", "p99_us", "max_us"]))  # fmt: skip
    slow = slow_consumer(10 / scale)
    report["slow_consumer"] = slow
    sections.append(table("Slow reader, depth20 at 2,000 msg/s", slow,
                          ["client", "lines_read", "rss_mb"]))  # fmt: skip
    start = startup()
    report["startup"] = start
    sections.append(table("Start to first message", start, ["client", "first_message_s"]))
    from .book import run as book_rate

    book = book_rate(50_000 // scale)
    report["book"] = book
    sections.append(table("Local order book", [book], ["client", "events_per_s", "levels_per_s"]))
    idle = idle_cpu(10 / scale)
    report["idle"] = idle
    sections.append(table("Idle", [idle], ["client", "cpu_percent"]))
    agg = report["throughput_aggTrade"]
    targets = {
        "cli >= 0.9x floor-output (aggTrade)": ratio(agg, "cli", "floor-output"),
        "cli >= 5x python-binance TWM": ratio(agg, "cli", "pb-twm"),
        "cli >= 3x python-binance BSM": ratio(agg, "cli", "pb-bsm"),
        "twm >= 4x python-binance TWM": ratio(agg, "twm", "pb-twm"),
        "p99 cli <= 1.5x floor": ratio(lat, "cli-latency", "floor-latency", "p99_us"),
        "p99 bsm <= 1.5x floor": ratio(lat, "bsm-latency", "floor-latency", "p99_us"),
        "start-up cli <= 1.5x floor": ratio(start, "cli", "floor-output", "first_message_s"),
    }
    report["targets"] = targets
    report["seconds"] = round(time.time() - started, 1)
    text = (
        "\n".join(sections)
        + "\n### Targets (ratios)\n\n"
        + "\n".join(f"- {name}: {value}" for name, value in targets.items())
        + f"\n\nMachine: {report['machine']}. Whole run: {report['seconds']} s.\n"
    )
    print(text)
    (HERE / "results.json").write_text(json.dumps(report, indent=2))
    if args.write_results:
        (HERE / "RESULTS.md").write_text("# Benchmark results\n\nLatest `python -m bench "
                                         f"--peer-python ...` run.\n\n{text}")  # fmt: skip


if __name__ == "__main__":
    main()
