"""Soak: a busy multiplex under random drops loses nothing except across a reported gap.

The default suite runs 10 seconds; ``pytest -m soak`` runs the 60-second version.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import pytest

from binstream import BinanceSocketManager
from binstream.server import LocalExchange
from binstream.transport import picows_installed

TRANSPORTS = ["websockets", "picows"]
ID_FIELD = {"trade": "t", "aggTrade": "a"}


async def soak(seconds: float, transport: str) -> None:
    async with LocalExchange(interval=0.002, seed=99) as exchange:
        symbols = [s.lower() for s in exchange.markets]
        streams = [f"{s}@trade" for s in symbols] + [f"{s}@aggTrade" for s in symbols]
        streams += [f"{s}@depth" for s in symbols[:6]]
        assert len(streams) == 20
        bm = BinanceSocketManager(endpoint=exchange.url, user_timeout=5, backoff_base=0.02,
                                  backoff_cap=0.2, max_retries="inf",
                                  transport=transport)  # fmt: skip
        rng = random.Random(7)
        drops = 0

        async def dropper() -> None:
            nonlocal drops
            while True:
                await asyncio.sleep(rng.uniform(1.0, 2.5))
                drops += exchange.drop_all(close_frame=rng.random() < 0.5)

        last: dict[str, int] = {}
        reported = 0
        received = 0
        gaps_allowed: set[str] = set()
        task = asyncio.create_task(dropper())
        try:
            async with bm.multiplex_socket(streams) as socket:
                deadline = time.monotonic() + seconds
                while time.monotonic() < deadline:
                    message: Any = await socket.recv()
                    if message.get("e") == "error":
                        assert message["type"] == "BinanceWebsocketClosed", message
                        reported += 1
                        gaps_allowed = set(streams)
                        continue
                    received += 1
                    name, data = message["stream"], message["data"]
                    kind = name.split("@")[1]
                    first = data["U"] if kind == "depth" else data[ID_FIELD[kind]]
                    current = data["u"] if kind == "depth" else first
                    previous = last.get(name)
                    if previous is not None:
                        assert current > previous, f"{name}: {current} after {previous}"
                        if name not in gaps_allowed:
                            assert first == previous + 1, f"{name}: lost {previous + 1}..{first}"
                    gaps_allowed.discard(name)
                    last[name] = current
        finally:
            task.cancel()
        assert drops >= seconds // 3
        assert reported >= drops - 1  # every drop reported (the last may still be in flight)
        assert received > 500 * seconds
        assert set(last) == set(streams)


async def test_soak_4_seconds() -> None:
    """Every installed transport at once, each against its own exchange: 4 s (the 60 s run
    is ``-m soak``)."""
    available = [t for t in TRANSPORTS if t != "picows" or picows_installed()]
    await asyncio.gather(*(soak(4, transport) for transport in available))


@pytest.mark.soak
@pytest.mark.timeout(120)
@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_soak_60_seconds(transport: str) -> None:
    if transport == "picows":
        pytest.importorskip("picows", reason="picows (the [picows] extra) is not installed")
    await soak(60, transport)
