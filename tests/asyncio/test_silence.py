"""Silent streams against a local exchange that acknowledges a stream and never sends it:
each is said once, by name, and a connection whose streams are all silent reconnects."""

from __future__ import annotations

import asyncio

import pytest

from binstream import BinanceSocketManager
from binstream.events import EventKind, SocketEvent
from binstream.server import LocalExchange

pytestmark = pytest.mark.usefixtures("transport")


def blind_manager(exchange: LocalExchange, **options: object) -> BinanceSocketManager:
    """Symbols unchecked: the exchange acknowledges unknown ones and sends nothing."""
    return BinanceSocketManager(endpoint=exchange.url, user_timeout=10, backoff_base=0.02,
                                backoff_cap=0.2, check_symbols=False, **options)  # type: ignore[arg-type]  # fmt: skip


async def first(events: list[SocketEvent], kind: EventKind, seen: asyncio.Event) -> SocketEvent:
    async with asyncio.timeout(10):
        while not any(e.kind is kind for e in events):
            seen.clear()
            await seen.wait()
    return next(e for e in events if e.kind is kind)


async def test_a_silent_stream_is_named_and_the_others_flow_on(exchange: LocalExchange) -> None:
    socket = blind_manager(exchange).multiplex_socket(["bnbbtc@trade", "nosuchbtc@depth@100ms"])
    events: list[SocketEvent] = []
    seen = asyncio.Event()
    socket.add_event_callback(lambda e: (events.append(e), seen.set()))
    async with socket:
        reader = asyncio.create_task(socket.recv())  # the consumer keeps reading meanwhile
        silent = await first(events, EventKind.SILENT, seen)
        assert silent.streams == ("nosuchbtc@depth@100ms",)
        assert silent.detail == "nosuchbtc@depth@100ms is silent: no message for 3s"
        assert socket.silent_streams == ("nosuchbtc@depth@100ms",)
        await reader
        assert (await socket.recv())["stream"] == "bnbbtc@trade"
        assert not any(e.kind is EventKind.DISCONNECTED for e in events)
        assert exchange.connections_total == 1


async def test_a_connection_of_silent_streams_reconnects(exchange: LocalExchange) -> None:
    socket = blind_manager(exchange).depth_socket("nosuchbtc", None, "100ms")
    events: list[SocketEvent] = []
    seen = asyncio.Event()
    socket.add_event_callback(lambda e: (events.append(e), seen.set()))
    async with socket:
        dropped = await first(events, EventKind.DISCONNECTED, seen)
        assert dropped.detail == "every stream silent for 3s"
        assert await socket.recv() == {"e": "error", "type": "BinanceWebsocketClosed",
                                       "m": "every stream silent for 3s"}  # fmt: skip
        await first(events, EventKind.CONNECTED, seen)
        async with asyncio.timeout(10):
            while exchange.connections_total < 2:
                seen.clear()
                await seen.wait()


async def test_streams_without_a_pace_need_an_explicit_threshold(exchange: LocalExchange) -> None:
    socket = blind_manager(exchange, silence=0.5).multiplex_socket(
        ["bnbbtc@trade", "nosuchbtc@trade"]
    )
    events: list[SocketEvent] = []
    seen = asyncio.Event()
    socket.add_event_callback(lambda e: (events.append(e), seen.set()))
    async with socket:
        silent = await first(events, EventKind.SILENT, seen)
        assert silent.streams == ("nosuchbtc@trade",)
