"""Third-party clients against the local exchange, unchanged: opt in with ``-m thirdparty``.

Binance's official SDK (``binance-sdk-spot`` 13.3.0: bare ``/stream`` with uuid4 ids,
typed models, signed WS-API trading) and python-binance 1.0.37 (every spot market socket,
DepthCacheManager, exchangeInfo, ws_create_order) run as their users run them, in a
virtual environment of their own (``bench/.peers/thirdparty``, made on first use from the
package index), against a local exchange on 127.0.0.1. Without the package index the
module skips, saying why.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from binstream.server import LocalExchange
from binstream.server.demo import DEMO_API_KEY, DEMO_API_SECRET

from ..conftest import spawn

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench import peers  # noqa: E402

pytestmark = [pytest.mark.thirdparty, pytest.mark.transport_independent,
              pytest.mark.timeout(900)]  # fmt: skip

CLIENTS = ["python-binance==1.0.37", "binance-sdk-spot==13.3.0"]
PROBE = ("import importlib.metadata as m; "
         "print(m.version('python-binance'), m.version('binance-sdk-spot'))")  # fmt: skip


@pytest.fixture(scope="module")
def client_python() -> str:
    peer = peers.python_env("thirdparty", CLIENTS, PROBE, install=True)
    if peer.path is None:
        pytest.skip(f"third-party clients unavailable: {peer.note}")
    return peer.path


async def run_client(python: str, script: str, exchange: LocalExchange) -> list[str]:
    proc = await spawn(
        python, str(ROOT / "tests" / "server" / "thirdparty" / script), exchange.url, DEMO_API_KEY,
        DEMO_API_SECRET, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    lines = out.decode().splitlines()
    assert proc.returncode == 0 and lines[-1:] == ["OK"], out.decode() + err.decode()
    return lines


async def test_binances_own_sdk_works_unchanged(client_python: str) -> None:
    async with LocalExchange(interval=0.02) as exchange:
        lines = await run_client(client_python, "sdk_spot_client.py", exchange)
    assert "trade TradeResponse trade BNBBTC" in lines
    assert "order FILLED 0.05000000" in lines


async def test_python_binance_works_unchanged(client_python: str) -> None:
    async with LocalExchange(interval=0.02) as exchange:
        lines = await run_client(client_python, "python_binance_client.py", exchange)
    assert "depth cache ok True" in lines
    assert "ws_create_order FILLED 0.05000000" in lines
