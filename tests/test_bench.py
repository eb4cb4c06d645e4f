"""The benchmark harness: a short run of its real parts keeps `python -m bench` working."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import peers  # noqa: E402
from bench.__main__ import CLI_VARIANTS, one_run, ratio, spawn  # noqa: E402


@pytest.mark.parametrize(
    "kind",
    [
        "ceiling",
        "decode-floor",
        "picows-lines",
        "floor-output",
        "cli-plain",
        "bsm-picows",
        "twm-picows",
    ],
)
def test_each_client_reads_every_blasted_message(kind: str) -> None:
    row = one_run(kind, "aggTrade", 2_000, None, None)
    assert row["ok"], row.get("error")
    assert row["msgs_per_s"] > 0
    assert row["rss_mb"] > 0


def test_the_plain_install_client_runs_without_the_fast_extra() -> None:
    """ "cli-plain" stands for `pip install binstream`: no picows, uvloop or msgspec."""
    probe = (
        "import importlib, binstream.framecheck as f\n"
        "for name in ('picows', 'uvloop', 'msgspec'):\n"
        "    try: importlib.import_module(name)\n"
        "    except ImportError: print(name, 'missing')\n"
        "print('frames checked with', f.CHECKER)\n"
    )
    proc = spawn([sys.executable, "-c", probe], CLI_VARIANTS["cli-plain"][1],
                 stdout=subprocess.PIPE)  # fmt: skip
    out, _ = proc.communicate(timeout=30)
    assert out.decode().split("\n") == [
        "picows missing",
        "uvloop missing",
        "msgspec missing",
        "frames checked with orjson",
        "",
    ]


def test_cli_into_a_reader_counts_what_it_delivered() -> None:
    row = one_run("cli-picows", "combined10", 3_000, None, None, stdout="pipe")
    assert row["ok"], row.get("error")
    assert row["delivered"] >= 3_000


def test_ratio_needs_both_sides_to_have_succeeded() -> None:
    rows = [{"client": "a", "ok": True, "msgs_per_s": 300},
            {"client": "b", "ok": True, "msgs_per_s": 100},
            {"client": "c", "ok": False, "msgs_per_s": "failed"}]  # fmt: skip
    assert ratio(rows, "a", "b") == 3.0
    assert ratio(rows, "a", "c") != ratio(rows, "a", "c")  # NaN: no figure to compare with


def test_missing_peers_are_skipped_with_a_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(peers, "PEERS_DIR", tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))  # no wscat, no npm
    assert peers.python_binance(None, install=False).skipped == (
        "skipped: python-binance not set up (--no-install)"
    )
    assert peers.wscat(None, install=True).note == "wscat needs npm, which is not installed"
    not_a_peer = peers.python_binance(sys.executable, install=False)
    assert not_a_peer.path is None
    assert "cannot import python-binance" in not_a_peer.note


@pytest.mark.transport_independent
def test_publish_benchmark_counts_acknowledged_messages() -> None:
    pytest.importorskip("nats", reason="the [nats] extra is not installed")
    from bench.__main__ import publishing
    from bench.natsservers import server_binary

    if server_binary() is None:
        pytest.skip("nats-server is not installed")
    (row,) = publishing(2_000, 1, kinds=("publish R1",))
    assert row["ok"], row
    assert isinstance(row["msgs_per_s"], int) and row["msgs_per_s"] > 0


def test_sbe_section_runs_every_client_on_both_encodings() -> None:
    from bench.__main__ import sbe_against_json

    rows = sbe_against_json(scale=1000, repeat=1)
    assert len(rows) == 12
    assert all(row["ok"] for row in rows), [row.get("error") for row in rows]
    wire = {row["client"].split(" ", 1)[1]: row["bytes_per_msg"] for row in rows}
    assert wire["trade sbe"] < wire["trade json"]
    assert wire["diff depth sbe"] < wire["diff depth json"]
