"""Through an HTTP proxy named by the environment (``http_proxy``/``https_proxy``), as
websockets' own client honours it: a CONNECT proxy on loopback relays the connection."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from binstream import BinanceSocketManager
from binstream.server import LocalExchange

pytestmark = pytest.mark.usefixtures("transport")

try:  # websockets 15's own client had no proxy support, nor has binstream's on it
    import websockets.proxy  # noqa: F401
except ImportError:
    pytest.skip("websockets 15 has no proxy support", allow_module_level=True)


@contextlib.asynccontextmanager
async def connect_proxy(refuse: bool = False) -> AsyncIterator[tuple[str, list[str]]]:
    """An HTTP CONNECT proxy on 127.0.0.1; yields its URL and the targets it tunnelled to."""
    targets: list[str] = []

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        method, target, _ = head.split(b"\r\n", 1)[0].decode().split()
        if method != "CONNECT" or refuse:
            writer.write(b"HTTP/1.1 403 Forbidden\r\n\r\n")
            writer.close()
            return
        targets.append(target)
        host, _, port = target.rpartition(":")
        up_reader, up_writer = await asyncio.open_connection(host, int(port))
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", targets
    finally:
        server.close()


@pytest.fixture
def no_bypass(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("no_proxy", "NO_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


async def test_streams_go_through_the_environments_proxy(
    exchange: LocalExchange, no_bypass: pytest.MonkeyPatch
) -> None:
    async with connect_proxy() as (proxy, targets):
        no_bypass.setenv("http_proxy", proxy)
        bm = BinanceSocketManager(endpoint=exchange.url, user_timeout=5)
        async with bm.trade_socket("bnbbtc") as ts:
            message = await ts.recv()
    assert message["e"] == "trade"
    assert targets == [f"127.0.0.1:{exchange.port}"]


async def test_a_refusing_proxy_is_a_clear_error(
    exchange: LocalExchange, no_bypass: pytest.MonkeyPatch
) -> None:
    async with connect_proxy(refuse=True) as (proxy, _):
        no_bypass.setenv("http_proxy", proxy)
        bm = BinanceSocketManager(endpoint=exchange.url, user_timeout=5, max_retries=0)
        async with bm.trade_socket("bnbbtc") as ts:
            message = await ts.recv()
    assert message["type"] == "BinanceWebsocketUnableToConnect"
    assert "403" in message["m"], message
