"""Run binstream's benchmarks: ``python -m bench [--quick] [--write-results]``.

Everything runs on 127.0.0.1 against ``bench.blaster`` (a separate process), each client in
a process of its own, timed from the moment the server accepted its connection to its exit,
so start-up cost is measured separately. Figures are ratios against the floor (a minimal
websockets + orjson client) measured in the same run. Prints a markdown table and writes
``bench/results.json``; ``--write-results`` also rewrites ``bench/RESULTS.md``.

The peers, python-binance and wscat, are set up on first use in ``bench/.peers/`` (see
:mod:`bench.peers`; ``--peer-python``/``--wscat`` name existing ones, ``--no-install``
skips what is missing). python-binance is pointed at the blaster and never reaches Binance.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import orjson

from . import peers
from .convert import conversion
from .peers import Peer

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
#: Put first on a client's path, it makes the [fast] extra's packages fail to import.
PLAIN_INSTALL = HERE / "plain_install"


class Blaster:
    """The frame-blasting server process and its accept-time log."""

    def __init__(self, count: int, payload: str, rate: float = 0.0, unique: bool = False) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.blaster", "--count", str(count), "--payload", payload,
             "--rate", str(rate), *(["--unique"] if unique else [])],
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


#: name → (payload kind, streams). Several streams → one combined /stream?streams= URL.
WORKLOADS: dict[str, tuple[str, list[str]]] = {
    "aggTrade": ("aggTrade", ["bnbbtc@aggTrade"]),
    "depth20": ("depth20", ["bnbbtc@depth20"]),
    "combined10": ("aggTrade", [f"sym{i}btc@aggTrade" for i in range(10)]),
    "multiplex200": ("aggTrade", [f"sym{i}btc@aggTrade" for i in range(200)]),
    # USD-M futures through the CLI's routed path (/usdm/market, /usdm/public).
    "usdm-aggTrade": ("usdmAggTrade", ["btcusdt@aggTrade"]),
    "usdm-depth20": ("usdmDepth20", ["btcusdt@depth20"]),
}

#: Client kind → (command-line variant, extra environment). ``-picows``: the picows
#: transport, which ``auto`` passes over (see binstream.transport).
CLI_VARIANTS: dict[str, tuple[list[str], dict[str, str]]] = {
    "cli": ([], {}),
    "cli-picows": (["--transport", "picows"], {}),
    # What `pip install binstream` gives: websockets, asyncio's loop, frames checked with orjson.
    "cli-plain": (
        ["--transport", "websockets"],
        {"BINSTREAM_LOOP": "asyncio", "PYTHONPATH": f"{PLAIN_INSTALL}{os.pathsep}{ROOT}"},
    ),
}


def url_for(blaster: Blaster, workload: str) -> str:
    _, streams = WORKLOADS[workload]
    if len(streams) == 1:
        return f"{blaster.base}/ws/{streams[0]}"
    return f"{blaster.base}/stream?streams={'/'.join(streams)}"


def spawn(
    args: list[str], env: dict[str, str] | None = None, **popen: Any
) -> subprocess.Popen[bytes]:
    """Start a client from the checkout: its ``binstream`` and ``bench``, whatever is installed."""
    environ = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.Popen(args, env=environ, cwd=ROOT, **popen)


def command(kind: str, blaster: Blaster, workload: str, count: int, peer: str | None,
            wscat: str | None = None) -> list[str]:  # fmt: skip
    payload, streams = WORKLOADS[workload]
    if kind.startswith("cli"):
        endpoint = blaster.base
        if len(streams) > 1:
            args = ["multiplex", *streams]
        elif payload.startswith("usdm"):
            symbol = streams[0].split("@")[0]
            kind_args = ["trade", symbol, "--agg"] if "AggTrade" in payload else \
                ["depth", symbol, "--depth", "20"]  # fmt: skip
            args = [*kind_args, "--market", "usdm"]
            endpoint = f"{blaster.base}/usdm"
        elif payload == "aggTrade":
            args = ["trade", "bnbbtc", "--agg"]
        else:
            args = ["depth", "bnbbtc", "--depth", "20"]
        variant = CLI_VARIANTS[kind.split(" ")[0]][0]
        return [sys.executable, "-m", "binstream", *args, "--endpoint", endpoint,
                "--json", "-q", "-n", str(count), "--timeout", "20", *variant]  # fmt: skip
    if kind == "record-zst":  # binstream record into a zstd file (a recorder's day)
        target = Path(tempfile.gettempdir()) / f"binstream-bench-{os.getpid()}.jsonl.zst"
        return [sys.executable, "-m", "binstream", "record", streams[0], "-o", str(target),
                "--endpoint", blaster.base, "-q", "-n", str(count)]  # fmt: skip
    if kind == "wscat":
        assert wscat is not None
        return [wscat, "-c", url_for(blaster, workload)]
    python = peer if kind.startswith("pb-") and peer else sys.executable
    return [python, "-m", "bench.clients", kind, url_for(blaster, workload), str(count)]


def run_client(
    kind: str, blaster: Blaster, workload: str, count: int, peer: str | None,
    stdout: str = "null", wscat: str | None = None, argv: list[str] | None = None,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Run one client; return msgs/s (from accept to exit), CPU seconds and peak RSS (MB).

    ``stdout``: ``null`` (to /dev/null), ``pipe`` (counted by a reader, which ends the
    client after ``count`` lines: how wscat, which never exits by itself, is timed) or
    ``latency`` (each line's ``E`` compared with the clock).
    """
    out = subprocess.DEVNULL if stdout == "null" else subprocess.PIPE
    started = time.time()
    # wscat quits when its stdin ends: hand it one that stays open until it is killed.
    stdin = subprocess.PIPE if kind == "wscat" else subprocess.DEVNULL
    proc = spawn(argv or command(kind, blaster, workload, count, peer, wscat),
                 {**CLI_VARIANTS.get(kind.split(" ")[0], ([], {}))[1], **(env or {})},
                 stdin=stdin, stdout=out, stderr=subprocess.PIPE)  # fmt: skip
    lines = 0
    latencies: list[int] = []
    first_line_at = None
    ended = None
    if stdout == "pipe":
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        while lines < count:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            if first_line_at is None:
                first_line_at = time.time()
            lines += chunk.count(b"\n")
        if lines >= count:
            ended = time.time()
        if kind == "wscat":
            proc.kill()
    elif stdout == "latency":
        assert proc.stdout is not None
        for line in proc.stdout:
            lines += 1
            latencies.append(time.time_ns() // 1000 - orjson.loads(line)["E"])
    _, status, usage = os.wait4(proc.pid, 0)
    ended = ended or time.time()
    assert proc.stderr is not None
    err = proc.stderr.read().decode()
    proc.returncode = os.waitstatus_to_exitcode(status)
    delivered = lines if stdout != "null" else None
    stats: dict[str, int] = {}
    for note in err.splitlines():
        if note.startswith("done "):  # the client's last message was in: skip its teardown
            ended = min(ended, float(note.split()[1]))
        elif note.startswith("received "):  # "received N of COUNT"
            delivered = int(note.split()[1])
        elif note.startswith("{"):  # a latency client's own p50/p99/max
            stats = json.loads(note)
    try:
        accepted = blaster.accepts.get(timeout=5)
    except queue.Empty:
        accepted = started
    ok = proc.returncode == 0 or (kind == "wscat" and lines >= count)
    result: dict[str, Any] = {
        "client": kind,
        "ok": ok,
        "seconds": round(ended - accepted, 3),
        "msgs_per_s": round(count / max(ended - accepted, 1e-9)),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
        "rss_mb": round(usage.ru_maxrss / 1024, 1),
    }
    if delivered is not None:
        result["delivered"] = delivered
    if first_line_at is not None:
        result["first_message_s"] = round(first_line_at - started, 3)
    if latencies:
        latencies.sort()
        n = len(latencies)
        result.update(p50_us=latencies[n // 2], p99_us=latencies[int(n * 0.99)],
                      max_us=latencies[-1])  # fmt: skip
    if stats:
        result.update(p50_us=stats["p50"], p99_us=stats["p99"], max_us=stats["max"])
    if not ok:
        lines_err = [ln for ln in err.strip().splitlines() if ln.strip()]
        received = next((ln for ln in lines_err if ln.startswith("received ")), None)
        reason = received or (lines_err[-1] if lines_err else f"exit {proc.returncode}")
        result["error"] = f"failed: {reason}"
        result["msgs_per_s"] = "failed"
    return result


#: The CLI writing into a pipe that this process reads, timed to its last line, like wscat.
READER = "cli into a reader"
#: Every client on the single-stream workloads; a subset on the combined ones.
THROUGHPUT_CLIENTS = ["ceiling", "decode-floor", "picows-lines", "floor", "floor-output", "cli",
                      "cli-picows", "cli-plain", "bsm", "bsm-picows", "twm", "twm-picows",
                      "pb-bsm", "pb-twm", "wscat", READER, "record-zst"]  # fmt: skip
COMBINED_CLIENTS = ["floor-output", "cli", "cli-picows", "bsm", "bsm-picows", "twm", "twm-picows",
                    "pb-bsm", READER]  # fmt: skip
#: python-binance reads ~10k msg/s: it gets at most this many messages (rates compare anyway).
PEER_COUNT = 10_000


def one_run(kind: str, workload: str, count: int, peer: str | None, wscat: str | None,
            rate: float = 0.0, stdout: str = "null") -> dict[str, Any]:  # fmt: skip
    payload = WORKLOADS[workload][0]
    blaster = Blaster(count, payload, rate)
    try:
        return run_client(kind, blaster, workload, count, peer, stdout, wscat)
    finally:
        blaster.close()


#: The clients the targets compare, per workload: they get ``TARGET_EXTRA_RUNS`` more runs.
TARGET_CLIENTS = {"aggTrade": ["ceiling", "decode-floor", "picows-lines", "floor-output", "cli",
                               "cli-picows", "cli-plain", "wscat", READER, "bsm", "twm",
                               "record-zst"],
                  "depth20": ["ceiling", "picows-lines", "floor-output", "cli", "cli-picows",
                              "cli-plain"]}  # fmt: skip
TARGET_EXTRA_RUNS = 2


def throughput(workload: str, count: int, peer: Peer, wscat: Peer, clients: list[str],
               repeat: int, extra: int = 0) -> list[dict[str, Any]]:  # fmt: skip
    """Each client ``repeat`` times, interleaved; the best run counts (noise only slows).

    Then ``extra`` more rounds of the clients :data:`TARGET_CLIENTS` names for ``workload``.
    """
    best: dict[str, dict[str, Any]] = {}
    rounds = [clients] * repeat + [TARGET_CLIENTS.get(workload, [])] * extra
    for round_clients in rounds:
        for kind in round_clients:
            missing = peer if kind.startswith("pb-") else wscat if kind == "wscat" else None
            if missing is not None and missing.path is None:
                best[kind] = {"client": kind, "ok": False, "error": missing.skipped}
                continue
            n = min(count, PEER_COUNT) if kind.startswith("pb-") else count
            piped = kind in ("wscat", READER)
            row = one_run("cli" if kind == READER else kind, workload, n, peer.path, wscat.path,
                          stdout="pipe" if piped else "null")  # fmt: skip
            row["client"] = kind
            keep_best(best, row)
    return list(best.values())


def futures_against_spot(scale: int, repeat: int) -> list[dict[str, Any]]:
    """The CLI on USD-M futures and on spot, the same workload's counts, runs interleaved
    (the machine's speed swings between sections, so each pair runs side by side); best of
    ``repeat`` each, and USD-M's rate as a fraction of spot's."""
    best: dict[str, dict[str, Any]] = {}
    pairs = [("aggTrade", "usdm-aggTrade", 1_000_000), ("depth20", "usdm-depth20", 400_000)]
    for _ in range(repeat):
        for spot, usdm, count in pairs:
            for market, workload in (("spot", spot), ("usdm", usdm)):
                row = one_run("cli", workload, count // scale, None, None)
                row["client"] = f"cli {market} {spot}"
                add_cpu_per_message(row, count // scale)
                keep_best(best, row)
    rows = list(best.values())
    for row in rows:
        spot_row = row["client"].replace(" usdm ", " spot ")
        row["vs_spot"] = ratio(rows, row["client"], spot_row)
    return rows


#: SBE against JSON: (what, JSON payload, SBE payload, stream, CLI arguments, count).
SBE_PAIRS = [
    ("trade", "trade", "sbeTrade", "bnbbtc@trade", ["trade", "bnbbtc"], 600_000),
    ("diff depth", "depthDiff", "sbeDepthDiff", "bnbbtc@depth", ["depth", "bnbbtc"], 300_000),
]  # fmt: skip


def sbe_against_json(scale: int, repeat: int) -> list[dict[str, Any]]:
    """The same events as JSON text and as SBE binary frames, runs interleaved: bytes per
    message on the wire, the CLI (JSON lines out), ``recv()`` and the threaded manager's
    callbacks; best of ``repeat``."""
    from bench.blaster import frame, payloads_for

    best: dict[str, dict[str, Any]] = {}
    env = {"BINANCE_API_KEY": "bench"}
    for _ in range(repeat):
        for what, json_kind, sbe_kind, stream, cli, count in SBE_PAIRS:
            count //= scale
            for encoding, payload in (("json", json_kind), ("sbe", sbe_kind)):
                frames = [frame(p) for p in payloads_for(payload, f"/ws/{stream}")]
                wire = round(sum(map(len, frames)) / len(frames), 1)
                for client in ("cli", "recv()", "threaded"):
                    blaster = Blaster(count, payload)
                    try:
                        if client == "cli":
                            extra = ["--sbe", "--no-symbol-check"] if encoding == "sbe" else []
                            argv = [sys.executable, "-m", "binstream", *cli, "--endpoint",
                                    blaster.base, "--json", "-q", "-n", str(count),
                                    "--timeout", "20", *extra]  # fmt: skip
                        else:
                            kind = "bsm" if client == "recv()" else "twm"
                            kind += "-sbe" if encoding == "sbe" else ""
                            argv = [sys.executable, "-m", "bench.clients", kind,
                                    f"{blaster.base}/ws/{stream}", str(count)]  # fmt: skip
                        row = run_client(client, blaster, stream, count, None,
                                         argv=argv, env=env)  # fmt: skip
                    finally:
                        blaster.close()
                    row["client"] = f"{client} {what} {encoding}"
                    row["bytes_per_msg"] = wire
                    add_cpu_per_message(row, count)
                    keep_best(best, row)
    rows = list(best.values())
    for row in rows:
        row["vs_json"] = ratio(rows, row["client"], row["client"].rsplit(" ", 1)[0] + " json")
    return rows


PUBLISH_CLIENTS = ("cli (stdout)", "publish R1", "publish R3")


def publishing(
    count: int, repeat: int, kinds: tuple[str, ...] = PUBLISH_CLIENTS
) -> list[dict[str, Any]]:
    """``binstream publish`` into JetStream, one publisher: messages acknowledged per second
    (from Binance's accept to the exit, which waits for the last acknowledgement), into one
    server (R1) and a three-node cluster (R3); beside it the CLI writing the same feed (every
    message with its own ids) to stdout. Best of ``repeat``."""
    from .natsservers import NatsCluster, NatsServer, server_binary

    try:
        import nats  # noqa: F401
    except ImportError:
        return [{"client": "publish", "ok": False, "error": "nats-py is not installed"}]
    if server_binary() is None:
        return [{"client": "publish", "ok": False, "error": "nats-server is not installed"}]
    best: dict[str, dict[str, Any]] = {}
    for _ in range(repeat):
        for kind in kinds:
            with tempfile.TemporaryDirectory() as tmp:
                target: NatsServer | NatsCluster | None = None
                if kind == "publish R1":
                    target = NatsServer(Path(tmp))
                elif kind == "publish R3":
                    target = NatsCluster(Path(tmp))
                blaster = Blaster(count, "aggTrade", unique=True)
                try:
                    argv = None
                    if target is not None:
                        target.start()
                        argv = [sys.executable, "-m", "binstream", "publish", "bnbbtc@aggTrade",
                                "--endpoint", blaster.base, "--to", target.url, "-q",
                                "-n", str(count), "--replicas", kind[-1]]  # fmt: skip
                    row = run_client("cli", blaster, "aggTrade", count, None, argv=argv)
                finally:
                    blaster.close()
                    if target is not None:
                        target.stop()
            row["client"] = kind
            add_cpu_per_message(row, count)
            keep_best(best, row)
    rows = list(best.values())
    for row in rows:
        if "cli (stdout)" in kinds:
            row["vs_stdout"] = ratio(rows, row["client"], "cli (stdout)")
    return rows


def add_cpu_per_message(row: dict[str, Any], sent: int) -> None:
    """Add the run's CPU microseconds per message sent, when it has a CPU time."""
    if isinstance(row.get("cpu_s"), float | int):
        row["cpu_us_per_msg"] = round(row["cpu_s"] * 1e6 / sent, 2)


def keep_best(
    best: dict[str, dict[str, Any]], row: dict[str, Any], key: str = "msgs_per_s",
    lower: bool = False,
) -> None:  # fmt: skip
    """Keep ``row`` if its client has no row yet, or it succeeded and beats the kept one on
    ``key`` (higher is better; lower with ``lower``)."""
    previous = best.get(row["client"])
    if previous is None or (
        row["ok"]
        and (
            not previous.get("ok")
            or (row[key] < previous[key] if lower else row[key] > previous[key])
        )
    ):
        best[row["client"]] = row


def latency(count: int, rate: float, repeat: int = 2) -> list[dict[str, Any]]:
    """p50/p99/max of send → decoded at a paced ``rate``; per client, the run with the lower
    p99 of ``repeat`` interleaved ones (a scheduling hiccup lands in one run's tail)."""
    best: dict[str, dict[str, Any]] = {}
    # In-process (send → decoded): the floor and BinanceSocketManager. Through a pipe to
    # this process (send → line read here): the floor writing each line, and the CLI.
    kinds = ("floor-latency", "bsm-latency", "bsm-latency-picows", "floor-output-latency", "cli",
             "cli-picows")  # fmt: skip
    for _ in range(repeat):
        for kind in kinds:
            piped = kind.startswith("cli") or "output" in kind
            row = one_run(kind, "aggTrade", count, None, None, rate,
                          stdout="latency" if piped else "null")  # fmt: skip
            row["client"] = kind.replace("cli", "cli-latency") if kind.startswith("cli") else kind
            keep_best(best, row, "p99_us", lower=True)
    return list(best.values())


#: The clients that must lose nothing at a paced 20,000 msg/s (python-binance's is shown).
ZERO_LOSS_CLIENTS = ("cli", "cli-picows", "twm", "twm-picows")


def paced(rate: float, seconds: float, peer: Peer) -> list[dict[str, Any]]:
    """Zero loss at a paced feed with default settings: every message must arrive."""
    count = int(rate * seconds)
    rows = []
    kinds = ZERO_LOSS_CLIENTS + (("pb-twm",) if peer.path else ())
    for kind in kinds:
        row = one_run(kind, "multiplex200", count, peer.path, None, rate,
                      stdout="pipe" if kind.startswith("cli") else "null")  # fmt: skip
        row["sent"] = count
        row.setdefault("delivered", count if row["ok"] else "?")
        rows.append(row)
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
    proc = spawn(
        [sys.executable, "-m", "binstream", "depth", "bnbbtc", "--depth", "20", "--endpoint",
         blaster.base, "--json", "-q"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
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
    try:
        proc = spawn(
            [sys.executable, "-m", "binstream", "trade", "bnbbtc", "--agg", "--endpoint",
             blaster.base, "--json", "-q"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
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


def startup(repeat: int = 20) -> list[dict[str, Any]]:
    """Process start to first line on stdout; the best (and the median) of ``repeat``
    interleaved runs. This machine has slow spells of several seconds that land on one
    client's runs more than the other's; 20 runs reach past them.

    The floor here writes each line at once (its throughput variant waits for 256).
    """
    samples: dict[str, list[float]] = {"floor-output-latency": [], "cli": []}
    for _ in range(repeat):
        for kind, taken in samples.items():
            blaster = Blaster(100_000, "aggTrade", rate=1000)
            try:
                started = time.time()
                proc = spawn(
                    command(kind, blaster, "aggTrade", 100_000, None),
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                )
                assert proc.stdout is not None
                proc.stdout.readline()
                taken.append(time.time() - started)
                proc.kill()
                proc.wait()
            finally:
                blaster.close()
    names = {"floor-output-latency": "floor"}
    return [{"client": names.get(kind, kind), "ok": True, "first_message_s": round(min(taken), 3),
             "median_s": round(statistics.median(taken), 3)}
            for kind, taken in samples.items()]  # fmt: skip


def ratio(rows: list[dict[str, Any]], client: str, base: str, key: str = "msgs_per_s") -> float:
    values: dict[str, Any] = {r["client"]: r.get(key) for r in rows if r.get("ok")}
    if not values.get(client) or not values.get(base):
        return float("nan")
    return round(values[client] / values[base], 2)


def table(title: str, rows: list[dict[str, Any]], columns: list[str]) -> str:
    lines = [f"### {title}", "", "| " + " | ".join(columns) + " |",
             "|" + "---|" * len(columns)]  # fmt: skip
    for row in rows:  # a row without figures says why once, in its first figure's column
        note = row.get("error", "")
        cells = [row["client"]] + [
            str(row[c]) if c in row else (note if i == 0 else "") for i, c in enumerate(columns[1:])
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description="binstream benchmarks (loopback only)")
    parser.add_argument("--quick", action="store_true", help="smaller counts, for a smoke run")
    parser.add_argument(
        "--peer-python",
        help="a Python with python-binance installed "
        "(default: the bench's own, set up in bench/.peers on first use)",
    )
    parser.add_argument(
        "--wscat",
        help="a wscat executable (default: on PATH, else npm installs one into bench/.peers)",
    )
    parser.add_argument(
        "--no-install",
        action="store_true",
        help="never install peers; skip the ones that are missing",
    )
    parser.add_argument("--repeat", type=int, default=2, help="runs per client; best counts")
    parser.add_argument("--write-results", action="store_true", help="rewrite bench/RESULTS.md")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    repeat = 1 if args.quick else args.repeat
    peer = peers.python_binance(args.peer_python, install=not args.no_install)
    wscat = peers.wscat(args.wscat, install=not args.no_install)
    # Start-up is measured as installed: with bytecode (pip writes it; a checkout may not).
    for package in ("binstream", "bench"):
        compileall.compile_dir(ROOT / package, quiet=1)
    started = time.time()
    from binstream.cli.fastparts import all_compiled, describe
    from binstream.transport import picows_installed

    if not all_compiled():
        print("bench: the C extensions are not built in this checkout (pip install -e . "
              "builds them): the clients measure their Python versions",
              file=sys.stderr)  # fmt: skip
    machine = (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.platform()}; {describe()}; "
        f"picows {'installed' if picows_installed() else 'not installed'}"
        f"; peers: {peer.note}, {wscat.note}"
    )
    report: dict[str, Any] = {"machine": machine, "section_seconds": {}}
    sections = []
    lap_started = time.time()

    def lap(name: str) -> None:
        """Record (and say on stderr) how long the section just finished took."""
        nonlocal lap_started
        took = round(time.time() - lap_started, 1)
        report["section_seconds"][name] = took
        sys.stderr.write(f"bench: {name}: {took} s\n")
        lap_started = time.time()

    plan = [("aggTrade", 1_000_000, THROUGHPUT_CLIENTS, repeat),
            ("depth20", 400_000, THROUGHPUT_CLIENTS, repeat),
            ("combined10", 200_000, COMBINED_CLIENTS, 1),
            ("multiplex200", 200_000, COMBINED_CLIENTS, 1)]  # fmt: skip
    for workload, count, clients, runs in plan:
        count //= scale
        extra = 0 if args.quick else TARGET_EXTRA_RUNS
        rows = throughput(workload, count, peer, wscat, clients, runs, extra)
        base = "floor-output"
        for row in rows:
            row["vs_floor"] = ratio(rows, row["client"], "floor")
            row["vs_floor_output"] = ratio(rows, row["client"], base)
            row["vs_ceiling"] = ratio(rows, row["client"], "ceiling")
            if row.get("ok"):
                add_cpu_per_message(row, min(count, PEER_COUNT)
                                    if row["client"].startswith("pb-") else count)  # fmt: skip
        report[f"throughput_{workload}"] = rows
        sections.append(table(f"Throughput, {workload}, {count:,} messages", rows,
                              ["client", "msgs_per_s", "vs_ceiling", "vs_floor",
                               "vs_floor_output", "cpu_us_per_msg", "cpu_s",
                               "rss_mb"]))  # fmt: skip
        lap(f"throughput {workload}")
    futures = futures_against_spot(scale, repeat + TARGET_EXTRA_RUNS)
    report["futures"] = futures
    sections.append(table("USD-M against spot: the CLI, runs interleaved", futures,
                          ["client", "msgs_per_s", "vs_spot", "cpu_us_per_msg", "cpu_s",
                           "rss_mb"]))  # fmt: skip
    lap("futures against spot")
    sbe = sbe_against_json(scale, repeat + TARGET_EXTRA_RUNS)
    report["sbe"] = sbe
    sections.append(table("SBE against JSON: the same events, runs interleaved", sbe,
                          ["client", "bytes_per_msg", "msgs_per_s", "vs_json", "cpu_us_per_msg",
                           "cpu_s", "rss_mb"]))  # fmt: skip
    lap("sbe against json")
    published = publishing(50_000 // scale, repeat)
    report["publish"] = published
    sections.append(table("Publish into NATS JetStream, aggTrade, one publisher (acknowledged)",
                          published, ["client", "msgs_per_s", "vs_stdout", "cpu_us_per_msg",
                                      "cpu_s", "rss_mb"]))  # fmt: skip
    lap("publish")
    converted = conversion([100_000 // scale, 400_000 // scale], repeat)
    report["convert"] = converted
    sections.append(table("Convert a diff-depth recording (10 level changes per event)",
                          converted, ["client", "input_mb", "rows", "seconds", "rows_per_s",
                                      "peak_rss_mb"]))  # fmt: skip
    lap("convert")
    lat = latency(4_000 // scale, 2000, 1 if args.quick else 3)
    report["latency"] = lat
    sections.append(table("Latency at 2,000 msg/s (µs, send → decoded)", lat,
                          ["client", "p50_us", "p99_us", "max_us"]))  # fmt: skip
    lap("latency")
    pace = paced(20_000, 4 / scale, peer)
    report["paced"] = pace
    sections.append(table("Paced 20,000 msg/s over a 200-stream multiplex, default settings",
                          pace, ["client", "sent", "delivered", "cpu_s", "rss_mb"]))  # fmt: skip
    lap("paced")
    slow = slow_consumer(10 / scale)
    report["slow_consumer"] = slow
    sections.append(table("Slow reader, depth20 at 2,000 msg/s", slow,
                          ["client", "lines_read", "rss_mb"]))  # fmt: skip
    lap("slow reader")
    start = startup()
    report["startup"] = start
    sections.append(table("Start to first message (best and median of 20)", start,
                          ["client", "first_message_s", "median_s"]))  # fmt: skip
    lap("start-up")
    from .book import run as book_rate

    book = book_rate(50_000 // scale)
    report["book"] = book
    sections.append(table("Local order book", [book], ["client", "events_per_s", "levels_per_s"]))
    lap("book")
    idle = idle_cpu(10 / scale)
    report["idle"] = idle
    sections.append(table("Idle", [idle], ["client", "cpu_percent"]))
    lap("idle")
    agg = report["throughput_aggTrade"]
    depth = report["throughput_depth20"]

    def vs_spot(market: str) -> float:
        return ratio(futures, f"cli usdm {market}", f"cli spot {market}")

    pb_twm: dict[str, Any] = next((r for r in agg if r["client"] == "pb-twm"), {})
    parquet = [row for row in converted if row["client"] == "convert --to parquet"]
    targets = {
        "convert --to parquet >= 1,000,000 depth-update rows/s (largest input)":
            parquet[-1]["rows_per_s"],
        "convert --to parquet: peak memory with 4x the input <= 1.2x (bounded)":
            round(parquet[-1]["peak_rss_mb"] / parquet[0]["peak_rss_mb"], 2),
        "cli-plain (no [fast]) >= 0.9x floor-output (aggTrade)":
            ratio(agg, "cli-plain", "floor-output"),
        "cli >= 3x python-binance BSM (aggTrade)": ratio(agg, "cli", "pb-bsm"),
        "cli >= 5x python-binance TWM": ratio(agg, "cli", "pb-twm")
            if pb_twm.get("ok") else f"pb-twm {pb_twm.get('error', 'not run')}",
        "twm >= 4x python-binance TWM": ratio(agg, "twm", "pb-twm")
            if pb_twm.get("ok") else f"pb-twm {pb_twm.get('error', 'not run')}",
        "[fast] cli >= 2x floor-output (aggTrade)": ratio(agg, "cli", "floor-output"),
        "[fast] cli >= 1.5x floor-output (depth20)": ratio(depth, "cli", "floor-output"),
        "[fast] cli > wscat (aggTrade; both into this process's pipe reader)":
            ratio(agg, READER, "wscat"),
        "p99 cli <= 1.5x floor (both through a pipe)":
            ratio(lat, "cli-latency", "floor-output-latency", "p99_us"),
        "p99 cli-picows <= 1.5x floor (both through a pipe)":
            ratio(lat, "cli-latency-picows", "floor-output-latency", "p99_us"),
        "p99 bsm <= 1.5x floor": ratio(lat, "bsm-latency", "floor-latency", "p99_us"),
        "zero loss at 20,000 msg/s (cli, cli-picows, twm, twm-picows)":
            all(r["ok"] for r in pace if r["client"] in ZERO_LOSS_CLIENTS),
        "peak RSS < 80 MB with a 10x slower reader (MB)": slow[0]["rss_mb"],
        "start-up cli <= 1.5x floor": ratio(start, "cli", "floor", "first_message_s"),
        "idle CPU < 1 % (%)": idle["cpu_percent"],
        # The fast path (#22): fractions of the ceiling (picows counting frames). Beside them
        # picows-lines: picows, the frame check and JSON lines, nothing else.
        "[fast] cli >= 0.35x ceiling (aggTrade)": ratio(agg, "cli", "ceiling"),
        "[fast] cli >= 0.25x ceiling (depth20)": ratio(depth, "cli", "ceiling"),
        "picows-lines / ceiling (aggTrade; a figure)": ratio(agg, "picows-lines", "ceiling"),
        "picows-lines / ceiling (depth20; a figure)": ratio(depth, "picows-lines", "ceiling"),
        # decode-floor: picows and orjson.loads per frame, the most a decoding client gets.
        "decode-floor / ceiling (aggTrade; a figure)": ratio(agg, "decode-floor", "ceiling"),
        "bsm recv() / decode-floor (aggTrade; a figure)": ratio(agg, "bsm", "decode-floor"),
        "twm callbacks / decode-floor (aggTrade; a figure)": ratio(agg, "twm", "decode-floor"),
        "auto never the slower: cli >= 1.0x cli-picows (aggTrade)":
            ratio(agg, "cli", "cli-picows"),
        "auto never the slower: cli >= 1.0x cli-picows (depth20)":
            ratio(depth, "cli", "cli-picows"),
        "[fast] cli >= 1.3x cli-plain (aggTrade)": ratio(agg, "cli", "cli-plain"),
        "[fast] cli >= 1.3x cli-plain (depth20)": ratio(depth, "cli", "cli-plain"),
        "twm callbacks >= 0.2x ceiling (aggTrade)": ratio(agg, "twm", "ceiling"),
        "bsm recv() >= 0.25x ceiling (aggTrade)": ratio(agg, "bsm", "ceiling"),
        "record to .zst >= 0.2x ceiling (aggTrade)": ratio(agg, "record-zst", "ceiling"),
        # #18: futures streams as fast as spot (the CLI on both, runs interleaved).
        "usdm cli >= 0.9x spot cli (aggTrade)": vs_spot("aggTrade"),
        "usdm cli >= 0.9x spot cli (depth20)": vs_spot("depth20"),
        # #21: what a JetStream publisher sustains, acknowledged (a figure, not a target).
        "publish R1 acknowledged (msg/s)": next(
            (r["msgs_per_s"] for r in published if r["client"] == "publish R1"), "not run"),
        "publish R3 acknowledged (msg/s)": next(
            (r["msgs_per_s"] for r in published if r["client"] == "publish R3"), "not run"),
    }  # fmt: skip
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
        header = "# Benchmark results\n\nLatest `python -m bench --write-results` run."
        (HERE / "RESULTS.md").write_text(f"{header}\n\n{text}")


if __name__ == "__main__":
    main()
