"""Reconnects, give-up, stalls and bad frames, injected by the local exchange."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket as pysocket
import time
from typing import Any

import pytest

from binstream import BinanceSocketManager, SocketOptions, SocketState, StreamSocket
from binstream.asyncio.options import ReconnectPolicy
from binstream.server import Faults, LocalExchange

pytestmark = pytest.mark.usefixtures("transport")  # every test runs on each transport

CLOSED = "BinanceWebsocketClosed"
GAVE_UP = "BinanceWebsocketUnableToConnect"
INVALID = "BinanceWebsocketInvalidMessage"


def fast_manager(url: str, **options: Any) -> BinanceSocketManager:
    policy = ReconnectPolicy(
        max_retries=options.pop("max_retries", 5), backoff_base=0.02, backoff_cap=0.2
    )
    return BinanceSocketManager(
        endpoint=url, options=SocketOptions(user_timeout=5, reconnect=policy, **options)
    )


async def collect(socket: StreamSocket, data: int, errors: int = 0) -> tuple[list[Any], list[Any]]:
    """Read until ``data`` payloads and ``errors`` error dicts have arrived."""
    got_data: list[Any] = []
    got_errors: list[Any] = []
    while len(got_data) < data or len(got_errors) < errors:
        message = await socket.recv()
        if isinstance(message, dict) and message.get("e") == "error":
            got_errors.append(message)
        else:
            got_data.append(message)
    return got_data, got_errors


@pytest.mark.parametrize("how", ["close frame", "no close frame", "mid-frame"])
async def test_drop_reports_and_reconnects(exchange: LocalExchange, how: str) -> None:
    exchange.faults = Faults(drop_after=5, drop_close_frame=how == "close frame",
                             drop_mid_frame=how == "mid-frame", times=1)  # fmt: skip
    bm = fast_manager(exchange.url)
    async with bm.trade_socket("bnbbtc") as ts:
        data, errors = await collect(ts, data=10, errors=1)
        assert ts.stats.invalid == 0, "a half-received frame is never delivered or reported"
    assert [e["type"] for e in errors] == [CLOSED]
    expected = "code 1011" if how == "close frame" else "connection lost (no close frame)"
    assert expected in errors[0]["m"]
    ids = [m["t"] for m in data]
    assert ids == sorted(set(ids)), "trade ids must strictly increase across the reconnect"
    assert exchange.connections_total == 2


async def test_give_up_after_retry_budget_within_backoff_schedule(exchange: LocalExchange) -> None:
    exchange.refuse(count=1000)
    bm = fast_manager(exchange.url, max_retries=5)
    started = time.monotonic()
    async with bm.trade_socket("bnbbtc") as ts:
        message = await ts.recv()
        elapsed = time.monotonic() - started
        assert message == {
            "e": "error",
            "type": GAVE_UP,
            "m": "Max reconnect retries reached (server rejected WebSocket connection: HTTP 503)",
        }
        assert ts.state is SocketState.FAILED
        assert ts.closed
    policy = bm.options.reconnect
    upper = sum(policy.schedule())
    assert upper * (1 - policy.jitter) <= elapsed < upper + 3
    assert exchange.connections_total == 6  # the first attempt and 5 retries


async def test_budget_resets_after_a_connection_that_delivered(exchange: LocalExchange) -> None:
    exchange.faults = Faults(drop_after=3)  # every connection drops after 3 messages
    bm = fast_manager(exchange.url, max_retries=1)
    async with bm.trade_socket("bnbbtc") as ts:
        _, errors = await collect(ts, data=12, errors=4)
    assert {e["type"] for e in errors} == {CLOSED}


async def test_fatal_http_status_gives_up_at_once(exchange: LocalExchange) -> None:
    bm = fast_manager(exchange.url + "/nowhere", max_retries=5)
    async with bm.trade_socket("bnbbtc") as ts:
        message = await ts.recv()
    assert message["type"] == GAVE_UP and "HTTP 404" in message["m"]
    assert exchange.connections_total == 1  # one attempt: a 404 is not retried


async def test_refused_connection_gives_up_with_a_clear_message() -> None:
    with pysocket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    bm = fast_manager(f"ws://127.0.0.1:{port}", max_retries=2)
    async with bm.trade_socket("bnbbtc") as ts:
        message = await ts.recv()
    assert message["type"] == GAVE_UP and "connection refused" in message["m"]


async def test_stalled_connection_is_detected_and_replaced(exchange: LocalExchange) -> None:
    exchange.faults = Faults(stall_after=2, times=1)
    bm = fast_manager(exchange.url, stall_timeout=0.3)
    async with bm.trade_socket("bnbbtc") as ts:
        _data, errors = await collect(ts, data=6, errors=1)
    assert errors[0]["type"] == CLOSED and "stalled" in errors[0]["m"]


async def test_server_that_stops_answering_pings_is_dropped(exchange: LocalExchange) -> None:
    exchange.faults = Faults(stall_after=2, stall_pings=True, times=1)
    bm = fast_manager(exchange.url, ping_interval=0.1, ping_timeout=0.2)
    async with bm.trade_socket("bnbbtc") as ts:
        _, errors = await collect(ts, data=6, errors=1)
    assert errors[0]["type"] == CLOSED


@pytest.mark.parametrize("kind", ["text", "binary", "scalar"])
async def test_bad_frames_are_reported_and_survived(exchange: LocalExchange, kind: str) -> None:
    exchange.faults = Faults(garbage_every=3, garbage_kind=kind)  # type: ignore[arg-type]
    bm = fast_manager(exchange.url)
    async with bm.trade_socket("bnbbtc") as ts:
        data, errors = await collect(ts, data=9, errors=2)
        assert ts.stats.reconnects == 0
    assert {e["type"] for e in errors} == {INVALID}
    assert all(m["e"] == "trade" for m in data)


@pytest.mark.parametrize("raw_frames", [False, True])
async def test_fragmented_messages_arrive_whole_and_in_order(
    exchange: LocalExchange, raw_frames: bool
) -> None:
    """RFC 6455 lets a server split a message into fragments; none may be lost or reordered."""
    exchange.faults = Faults(fragment_every=3)
    bm = fast_manager(exchange.url, raw_frames=raw_frames)
    async with bm.trade_socket("bnbbtc") as ts:
        data, _ = await collect(ts, data=15)
        assert ts.stats.invalid == 0
        assert ts.stats.reconnects == 0
    messages = [json.loads(m) if isinstance(m, str) else m for m in data]
    ids = [m["t"] for m in messages]
    assert ids == list(range(ids[0], ids[0] + 15)), "consecutive trades, whole and in order"


async def test_wrong_stream_in_combined_wrapper_is_reported(exchange: LocalExchange) -> None:
    exchange.faults = Faults(garbage_every=2, garbage_kind="wrong_stream")
    bm = fast_manager(exchange.url)
    async with bm.multiplex_socket(["bnbbtc@trade", "ethbtc@trade"]) as ms:
        data, errors = await collect(ms, data=6, errors=2)
    assert "not asked for" in errors[0]["m"]
    assert {m["stream"] for m in data} <= {"bnbbtc@trade", "ethbtc@trade"}


@pytest.mark.parametrize("kind", ["invalid_utf8", "huge"])
async def test_protocol_violations_reconnect(exchange: LocalExchange, kind: str) -> None:
    exchange.faults = Faults(garbage_every=3, garbage_kind=kind, times=1)  # type: ignore[arg-type]
    bm = fast_manager(exchange.url, max_size=2**20)
    async with bm.trade_socket("bnbbtc") as ts:
        _data, errors = await collect(ts, data=8, errors=1)
    assert errors[0]["type"] == CLOSED
    # binstream failed the connection with the close code RFC 6455 names for the violation.
    code = 1007 if kind == "invalid_utf8" else 1009
    assert errors[0]["m"].startswith(f"connection failed (code {code}"), errors[0]["m"]


@pytest.mark.parametrize("raw_frames", [False, True])
async def test_server_shutdown_switches_make_before_break(
    exchange: LocalExchange, raw_frames: bool
) -> None:
    """serverShutdown: the next connection opens first; nothing is lost or repeated."""
    exchange.faults = Faults(shutdown_after=20, shutdown_grace=2, times=1)
    bm = fast_manager(exchange.url, raw_frames=raw_frames)
    async with bm.multiplex_socket(["bnbbtc@trade", "ethbtc@trade"]) as ms:
        data, errors = await collect(ms, data=150)
        assert errors == []
    assert exchange.connections_total == 2
    for stream in ("bnbbtc@trade", "ethbtc@trade"):
        ids = [
            (json.loads(m) if raw_frames else m)["data"]["t"]
            for m in data
            if (stream in m if raw_frames else m["stream"] == stream)
        ]
        assert ids == list(range(ids[0], ids[0] + len(ids))), f"{stream}: lost or repeated"


async def test_old_connections_are_rotated_before_they_expire(exchange: LocalExchange) -> None:
    bm = fast_manager(exchange.url, max_age=0.3)
    async with bm.trade_socket("bnbbtc") as ts:
        data, errors = await collect(ts, data=200)
    assert errors == [] and exchange.connections_total >= 2
    ids = [m["t"] for m in data]
    assert ids == list(range(ids[0], ids[0] + len(ids)))


async def test_close_during_backoff_is_prompt(exchange: LocalExchange) -> None:
    exchange.refuse(count=1000)
    policy = ReconnectPolicy(max_retries=5, backoff_base=10, backoff_cap=10)
    bm = BinanceSocketManager(endpoint=exchange.url, options=SocketOptions(reconnect=policy))
    socket = bm.trade_socket("bnbbtc")
    socket.start()
    while socket.state is not SocketState.RECONNECTING:
        await asyncio.sleep(0.01)
    started = time.monotonic()
    await socket.close()
    assert time.monotonic() - started < 1.0


async def test_close_while_the_server_floods_a_full_buffer_is_prompt() -> None:
    """A reader that stops and closes mid-flood must not wait out ``close_timeout``.

    Its buffer is full and reading has paused, so the server's close frame sits behind the
    data in flight: closing has to read on (and discard) until it arrives.
    """
    from websockets.asyncio.server import ServerConnection, serve

    frame = '{"e":"aggTrade","E":1,"s":"BNBBTC","a":1,"p":"0.001","q":"1.0","T":1,"m":true}'

    async def flood(ws: ServerConnection) -> None:
        with contextlib.suppress(Exception):
            while True:
                await ws.send(frame)

    async with serve(flood, "127.0.0.1", 0, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        options = SocketOptions(user_timeout=5, close_timeout=5.0, max_queue_size=100)
        socket = BinanceSocketManager(endpoint=f"ws://127.0.0.1:{port}", options=options).socket(
            "bnbbtc@aggTrade"
        )
        assert (await socket.recv())["e"] == "aggTrade"
        async with asyncio.timeout(5):  # the reader stops: the buffer fills up
            while len(socket.buffer) < 100:
                await asyncio.sleep(0.01)
        started = time.monotonic()
        await socket.close()
        took = time.monotonic() - started
    assert took < 2.5, f"close took {took:.2f}s, close_timeout is 5s"
    assert all(link.task is not None and link.task.done() for link in socket._links)


async def test_close_at_any_moment_ends_every_task(exchange: LocalExchange) -> None:
    """Close while connecting, while reading, during a drop: the link task always ends."""
    exchange.faults = Faults(drop_after=4)
    bm = fast_manager(exchange.url)
    for spins in range(0, 60, 3):
        socket = bm.trade_socket("bnbbtc")
        socket.start()
        for _ in range(spins):  # let the connection get further each round
            await asyncio.sleep(0)
        started = time.monotonic()
        await socket.close()
        assert time.monotonic() - started < 2.0
        # (a link closed before its symbols were checked never started)
        assert all(link.task is None or link.task.done() for link in socket._links)
    leftovers = [t for t in asyncio.all_tasks() if t.get_name().startswith("binstream:")]
    assert leftovers == []
