"""The peers binstream is measured against, set up once in ``bench/.peers/`` (not committed).

- python-binance: a virtual environment of its own (``pip install python-binance orjson``),
  so its pins never touch binstream's environment. ``--peer-python PATH`` uses a Python that
  already has it.
- wscat: ``wscat`` on PATH, else ``npm install wscat`` into ``bench/.peers/`` when npm is
  there. ``--wscat PATH`` uses a given executable.

Whatever cannot be installed (no network, no npm) is skipped, with the reason shown in the
results instead of the figures. ``--no-install`` never installs anything.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

PEERS_DIR = Path(__file__).resolve().parent / ".peers"
INSTALL_TIMEOUT = 600.0


@dataclass(frozen=True)
class Peer:
    """An installed peer (``path``) or why there is none (``note``)."""

    path: str | None
    note: str

    @property
    def skipped(self) -> str:
        return f"skipped: {self.note}"


def _say(text: str) -> None:
    sys.stderr.write(f"bench: {text}\n")
    sys.stderr.flush()


def _run(command: list[str], timeout: float = INSTALL_TIMEOUT) -> str | None:
    """Run ``command``; None on success, else the last line it printed (or why it failed)."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if done.returncode == 0:
        return None
    lines = [ln.strip() for ln in (done.stderr + done.stdout).splitlines() if ln.strip()]
    return lines[-1] if lines else f"exit {done.returncode}"


def _version(command: list[str]) -> str | None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else None


def python_env(name: str, packages: list[str], probe: str, install: bool) -> Peer:
    """A Python in ``bench/.peers/NAME`` where ``probe`` (code printing a version) runs,
    made with ``packages`` on first use; a virtual environment of its own, so their pins
    never touch binstream's environment."""
    venv = PEERS_DIR / name
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    version = _version([str(python), "-c", probe]) if python.exists() else None
    if version is None:
        if not install:
            return Peer(None, f"{name} not set up (--no-install)")
        _say(f"installing {' '.join(packages)} into {venv} (once)…")
        failure = _run([sys.executable, "-m", "venv", str(venv)]) or _run(
            [str(python), "-m", "pip", "install", "--quiet", *packages]
        )
        version = None if failure else _version([str(python), "-c", probe])
        if version is None:
            return Peer(None, f"{name} not installable ({failure or 'import failed'})")
    return Peer(str(python), version)


def python_binance(explicit: str | None, install: bool) -> Peer:
    """A Python that can ``import binance``: ``explicit``, or the bench's own environment."""
    probe = "import importlib.metadata as m; print(m.version('python-binance'))"
    if explicit:
        version = _version([explicit, "-c", probe])
        if version is None:
            return Peer(None, f"{explicit} cannot import python-binance")
        return Peer(explicit, f"python-binance {version}")
    peer = python_env("python-binance", ["python-binance", "orjson"], probe, install)
    if peer.path is None:
        return peer
    return Peer(peer.path, f"python-binance {peer.note}")


def wscat(explicit: str | None, install: bool) -> Peer:
    """A wscat executable: ``explicit``, one on PATH, or one npm installs for the bench."""
    local = PEERS_DIR / "node_modules" / ".bin" / "wscat"
    candidates = [explicit] if explicit else [shutil.which("wscat"), str(local)]
    for candidate in candidates:
        if candidate and Path(candidate).exists():
            version = _version([candidate, "--version"])
            if version:
                return Peer(candidate, f"wscat {version}")
    if explicit:
        return Peer(None, f"{explicit} is not a working wscat")
    if not install:
        return Peer(None, "wscat not set up (--no-install)")
    npm = shutil.which("npm")
    if npm is None:
        return Peer(None, "wscat needs npm, which is not installed")
    _say(f"installing wscat into {PEERS_DIR} (once)…")
    PEERS_DIR.mkdir(parents=True, exist_ok=True)
    failure = _run([npm, "install", "--silent", "--no-audit", "--no-fund", "--prefix",
                    str(PEERS_DIR), "wscat"])  # fmt: skip
    version = None if failure else _version([str(local), "--version"])
    if version is None:
        return Peer(None, f"wscat not installable ({failure or 'it does not run'})")
    return Peer(str(local), f"wscat {version}")
