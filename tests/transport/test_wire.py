"""Both transports' connections (:mod:`binstream.transport.base`), against a raw frame server
on loopback.

The server does the opening handshake, waits for the client's "go" (so that the
handshake is behind the client and the frames meet binstream's parser), and then writes
exactly the bytes a test gives it: the frames, their sizes and where TCP splits them are
the test's choice. Tests that reach into the websockets transport's own bulk parser say so
in their name and run on it alone.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from binstream.transport import resolve
from binstream.transport import websockets as websockets_transport
from binstream.transport.base import ConnectionClosed, WireConnection
from binstream.transport.framesplit import take_frames_python
from binstream.transport.websockets import WebsocketsConnection

TEXT, BINARY, CONT, CLOSE, PING, PONG = 0x1, 0x2, 0x0, 0x8, 0x9, 0xA
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

Scenario = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def frame(opcode: int, payload: bytes, fin: bool = True, masked: bool = False) -> bytes:
    head = bytes([(0x80 if fin else 0) | opcode])
    mask_bit = 0x80 if masked else 0
    n = len(payload)
    if n < 126:
        head += bytes([mask_bit | n])
    elif n < 65536:
        head += bytes([mask_bit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", n)
    if masked:
        key = os.urandom(4)
        return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return head + payload


def text(message: str) -> bytes:
    return frame(TEXT, message.encode())


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One frame from the client (always masked)."""
    first, second = await reader.readexactly(2)
    n = second & 0x7F
    if n == 126:
        (n,) = struct.unpack("!H", await reader.readexactly(2))
    elif n == 127:
        (n,) = struct.unpack("!Q", await reader.readexactly(8))
    key = await reader.readexactly(4)
    data = await reader.readexactly(n)
    return first & 0x0F, bytes(b ^ key[i % 4] for i, b in enumerate(data))


def upgrade_reply(request: bytes) -> bytes:
    """The 101 response to a websocket upgrade request."""
    key = next(
        line.split(b":", 1)[1].strip()
        for line in request.split(b"\r\n")
        if line.lower().startswith(b"sec-websocket-key:")
    )
    accept = base64.b64encode(hashlib.sha1(key + GUID.encode()).digest())
    return (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
    )


@asynccontextmanager
async def frame_server(scenario: Scenario, early: bool = False) -> AsyncIterator[str]:
    """A websocket server on 127.0.0.1 that hands the socket to ``scenario`` after the
    upgrade and the client's "go" (``early``: at once, with the upgrade's reply)."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        # not drained: an early scenario's first frames share its packet
        writer.write(upgrade_reply(request))
        try:
            if not early:
                assert await read_frame(reader) == (TEXT, b"go")
            await scenario(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"ws://127.0.0.1:{port}/ws/bnbbtc@trade"
    finally:
        server.close()


@pytest.fixture(params=["websockets", "websockets-python-splitter", "picows"])
def transport(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """A transport's name; ``websockets-python-splitter`` is websockets with the Python frame
    splitter that a build without a C compiler uses."""
    if request.param == "picows":
        pytest.importorskip("picows", reason="picows (the [picows] extra) is not installed")
    if request.param == "websockets-python-splitter":
        monkeypatch.setattr(websockets_transport, "take_frames", take_frames_python)
        return "websockets"
    return str(request.param)


@asynccontextmanager
async def open_client(url: str, transport: str, **options: Any) -> AsyncIterator[Any]:
    """Connected as binstream connects, and "go" sent."""
    options = {"max_size": 2**22, "max_queue": 64, **options}
    ws = await resolve(transport).connect(url, **options)
    try:
        await ws.send("go")
        yield ws
    finally:
        await ws.close(1.0)


async def read_all(ws: WireConnection, clean: bool = True) -> list[Any]:
    """Every message until the end; ``clean``: the server closed with code 1000."""
    received: list[Any] = []
    while True:
        try:
            received.extend(await ws.recv_batch())
        except ConnectionClosed as end:
            if clean:
                assert end.code == 1000, end
            return received


#: Sizes around every length encoding: 7-bit, 16-bit and 64-bit.
SIZES = [0, 1, 125, 126, 127, 1000, 65535, 65536, 70000]


def messages_of_every_size() -> list[str]:
    return [f'{{"n":{i},"pad":"{"x" * size}"}}' for i, size in enumerate(SIZES)]


@pytest.mark.parametrize("piece", [1, 3, 7, 4096])
async def test_frames_split_anywhere_arrive_whole_and_in_order(piece: int, transport: str) -> None:
    """However TCP cuts the bytes (a header in halves included), every message is whole."""
    sent = messages_of_every_size() * 3
    stream = b"".join(text(m) for m in sent) + frame(CLOSE, struct.pack("!H", 1000))

    async def scenario(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for i in range(0, len(stream), piece):
            writer.write(stream[i : i + piece])
            await writer.drain()
        await read_frame(reader)  # the client's close

    async with frame_server(scenario) as url, open_client(url, transport) as ws:
        assert await asyncio.wait_for(read_all(ws), 30) == sent
        assert ws.close_code == 1000


async def test_websockets_bulk_parser_parses_every_cut_of_a_stream_the_same() -> None:
    """A deterministic sweep: the same bytes, cut at each position in turn."""
    sent = ['{"a":1}', "x" * 200, '{"b":"' + "y" * 70000 + '"}']
    stream = b"".join(text(m) for m in sent) + frame(PONG, b"unsolicited")
    cuts = [*range(0, 16), *range(200, 216), *range(len(stream) - 12, len(stream))]

    async def idle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_frame(reader)  # the bytes come from the test, below; then the close
        writer.write(frame(CLOSE, b"\x03\xe8"))

    async with frame_server(idle) as url, open_client(url, "websockets") as ws:
        assert isinstance(ws, WebsocketsConnection)
        for cut in cuts:
            ws.data_received(stream[:cut])
            ws.data_received(stream[cut:])
            assert list(await ws.recv_batch()) == sent, cut
        assert ws._bulk, "binstream's parser took these frames, not websockets'"


BAD_FRAMES = [
    (frame(TEXT, b"masked", masked=True), 1002),  # a server must not mask
    (bytes([0xC1, 0x01]) + b"x", 1002),  # a reserved bit, no extension agreed
    (frame(TEXT, b"\xff\xfe"), 1007),  # not UTF-8
    (frame(TEXT, b"x" * 2000), 1009),  # over max_size
]


@pytest.mark.parametrize(("bad", "code"), BAD_FRAMES, ids=["masked", "reserved-bit", "utf8", "big"])
async def test_websockets_bulk_parser_fails_a_bad_frame_cut_anywhere(bad: bytes, code: int) -> None:
    """A bad frame whose start ends one read and whose rest begins the next fails the
    connection with its close code, wherever the cut, and nothing after it is delivered."""

    async def idle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_frame(reader)

    for cut in [1, 2, 3, 5, len(bad) // 2, len(bad) - 1]:
        async with frame_server(idle) as url, open_client(url, "websockets", max_size=1000) as ws:
            assert isinstance(ws, WebsocketsConnection)
            ws.data_received(text("ok") + bad[:cut])
            ws.data_received(bad[cut:] + text("never"))
            assert list(await ws.recv_batch()) == ["ok"], cut
            assert ws.protocol.close_sent is not None and ws.protocol.close_sent.code == code


async def test_websockets_bulk_parser_fails_an_oversized_frame_once_its_header_is_in() -> None:
    """A frame over max_size fails the connection (1009) as soon as its length is known,
    though its header came in two reads and its payload has not arrived."""

    async def idle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_frame(reader)

    huge = frame(TEXT, b"x" * 70000)  # a 64-bit length: 10 bytes of header
    async with frame_server(idle) as url, open_client(url, "websockets", max_size=1000) as ws:
        assert isinstance(ws, WebsocketsConnection)
        ws.data_received(text("ok") + huge[:3])
        ws.data_received(huge[3:500])
        assert list(await ws.recv_batch()) == ["ok"]
        assert ws.protocol.close_sent is not None and ws.protocol.close_sent.code == 1009


async def test_binary_frames_arrive_as_bytes(transport: str) -> None:
    async def scenario(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(frame(BINARY, b"\x00\xff") + text("after") + frame(CLOSE, b"\x03\xe8"))
        await read_frame(reader)

    async with frame_server(scenario) as url, open_client(url, transport) as ws:
        assert await asyncio.wait_for(read_all(ws), 10) == [b"\x00\xff", "after"]


async def test_pings_between_messages_are_answered_in_place(transport: str) -> None:
    """The server's pings are answered; the messages around them are untouched."""
    pongs: list[bytes] = []

    async def scenario(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for i in range(3):
            writer.write(text(f"before {i}") + frame(PING, f"p{i}".encode()) + text(f"after {i}"))
            opcode, payload = await read_frame(reader)
            assert opcode == PONG
            pongs.append(payload)
        writer.write(frame(CLOSE, b"\x03\xe8"))
        await read_frame(reader)

    async with frame_server(scenario) as url, open_client(url, transport) as ws:
        received = await asyncio.wait_for(read_all(ws), 10)
    assert received == [f"{when} {i}" for i in range(3) for when in ("before", "after")]
    assert pongs == [b"p0", b"p1", b"p2"]


async def test_recv_and_recv_batch_share_one_order(transport: str) -> None:
    async def scenario(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"".join(text(str(i)) for i in range(100)) + frame(CLOSE, b"\x03\xe8"))
        await read_frame(reader)

    async with frame_server(scenario) as url, open_client(url, transport) as ws:
        got = [await ws.recv(), await ws.recv()]
        got += await read_all(ws)
    assert got == [str(i) for i in range(100)]


async def test_a_fragmented_message_arrives_whole_and_order_holds(transport: str) -> None:
    async def scenario(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(
            text("one")
            + frame(TEXT, b"tw", fin=False)
            + frame(PING, b"mid")
            + frame(CONT, b"o")
            + text("three")
            + frame(CLOSE, b"\x03\xe8")
        )
        await read_frame(reader)  # the pong
        await read_frame(reader)  # the close

    async with frame_server(scenario) as url, open_client(url, transport) as ws:
        assert await asyncio.wait_for(read_all(ws), 10) == ["one", "two", "three"]


@pytest.mark.parametrize(
    ("bad", "code"), BAD_FRAMES, ids=["masked", "reserved-bit", "invalid-utf8", "too-big"]
)
async def test_protocol_errors_fail_the_connection_with_their_close_code(
    bad: bytes, code: int, transport: str
) -> None:
    """The messages before the bad frame arrive; then the connection fails with the
    close code RFC 6455 names for the error, and the end says so."""
    sent_codes: list[int] = []

    async def scenario(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(text("ok 1") + text("ok 2") + bad + text("never"))
        opcode, payload = await read_frame(reader)  # the client's close
        assert opcode == CLOSE
        sent_codes.append(struct.unpack("!H", payload[:2])[0])

    async with frame_server(scenario) as url, open_client(url, transport, max_size=1000) as ws:
        received = await asyncio.wait_for(read_all(ws, clean=False), 10)
        assert ws.close_code is None  # the server sent no close frame
    assert received == ["ok 1", "ok 2"]
    assert sent_codes == [code]


async def test_a_reader_that_stops_pushes_back_on_the_server(transport: str) -> None:
    """Unread messages stay bounded: reading pauses and the server's writes back up."""
    backed_up = asyncio.Event()
    message = text('{"p":"' + "z" * 1000 + '"}')

    async def scenario(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(100_000):  # ~100 MB if nothing pushed back
            writer.write(message)
            if writer.transport.get_write_buffer_size() > 4 * 2**20:
                backed_up.set()
                await reader.read()  # until the client goes
                return
            await asyncio.sleep(0)  # let the client read

    async with frame_server(scenario) as url, open_client(url, transport) as ws:
        await asyncio.wait_for(backed_up.wait(), 30)
        held = len(await ws.recv_batch())
        ws.abort()
    # The pause mark (64 x 16 messages), plus what one socket read (256 KiB) can add.
    assert held <= 64 * 16 + 2**18 // len(message) + 1


async def test_frames_sent_with_the_handshake_arrive_first(transport: str) -> None:
    """A busy stream's first frames share the upgrade's packet."""
    late_frames_in = asyncio.Event()

    async def scenario(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"".join(text(f"early {i}") for i in range(50)))
        assert await read_frame(reader) == (TEXT, b"go")
        writer.write(b"".join(text(f"late {i}") for i in range(50)) + frame(PING, b""))
        assert await read_frame(reader) == (PONG, b"")  # so the late frames are in, unread
        late_frames_in.set()
        assert await read_frame(reader) == (TEXT, b"more")
        writer.write(b"".join(text(f"later {i}") for i in range(50)))
        await read_frame(reader)  # the client's close

    async with frame_server(scenario, early=True) as url, open_client(url, transport) as ws:
        await asyncio.wait_for(late_frames_in.wait(), 10)
        received: list[Any] = []
        while len(received) < 100:
            received.extend(await asyncio.wait_for(ws.recv_batch(), 10))
        await ws.send("more")
        while len(received) < 150:
            received.extend(await asyncio.wait_for(ws.recv_batch(), 10))
        if isinstance(ws, WebsocketsConnection):
            assert ws._bulk, "binstream's parser took the frames after the upgrade's head"
    assert received == [f"{when} {i}" for when in ("early", "late", "later") for i in range(50)]


async def test_nothing_after_the_servers_close_frame_is_delivered(transport: str) -> None:
    async def scenario(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(text("last") + frame(CLOSE, b"\x03\xe8") + text("after the close"))
        await read_frame(reader)

    async with frame_server(scenario) as url, open_client(url, transport) as ws:
        assert await asyncio.wait_for(read_all(ws), 10) == ["last"]


def test_auto_picks_websockets_the_measured_faster(monkeypatch: pytest.MonkeyPatch) -> None:
    """``auto`` never picks the slower transport: websockets, also when picows is installed
    (the bench measured it as fast or faster on every client); picows is there by name."""
    pytest.importorskip("picows", reason="picows (the [picows] extra) is not installed")
    monkeypatch.delenv("BINSTREAM_TRANSPORT", raising=False)
    assert resolve().name == "websockets"
    assert resolve("auto").name == "websockets"
    assert resolve("picows").name == "picows"


async def test_a_connect_cancelled_as_the_handshake_completes_leaves_nothing_open(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A socket closed while its connection is opening (a command that gives up at once)
    must not leave picows' connection, and its ping task, behind: the server sees it end."""
    pytest.importorskip("picows", reason="picows (the [picows] extra) is not installed")
    from binstream.transport.picows import PicowsConnection

    ended = asyncio.Event()

    async def until_the_end(reader: asyncio.StreamReader, _: asyncio.StreamWriter) -> None:
        while await reader.read(4096):
            pass
        ended.set()

    opening: asyncio.Task[Any] | None = None
    connected = PicowsConnection.on_ws_connected

    def cancel_the_opener(self: PicowsConnection, transport: Any) -> None:
        connected(self, transport)
        assert opening is not None
        opening.cancel()  # lands before ws_connect's caller resumes with the connection

    monkeypatch.setattr(PicowsConnection, "on_ws_connected", cancel_the_opener)
    async with frame_server(until_the_end, early=True) as url:
        opening = asyncio.create_task(resolve("picows").connect(url, max_queue=64))
        with pytest.raises(asyncio.CancelledError):
            await opening
        await asyncio.wait_for(ended.wait(), 5)


async def test_a_connect_cancelled_before_the_upgrade_is_answered_leaves_nothing_open() -> None:
    """picows completes a handshake whose caller was cancelled (``binstream book`` on an
    unknown symbol gives up while its stream connects): the connection it makes then is
    dropped, and its ping task ends, before the cancelled connect returns."""
    pytest.importorskip("picows", reason="picows (the [picows] extra) is not installed")
    asked, answer, ended = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def answer_late(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        asked.set()
        await answer.wait()
        writer.write(upgrade_reply(request))
        while await reader.read(4096):
            pass
        ended.set()
        writer.close()

    server = await asyncio.start_server(answer_late, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        before = asyncio.all_tasks()
        opening = asyncio.create_task(
            resolve("picows").connect(f"ws://127.0.0.1:{port}/ws/x", max_queue=64)
        )
        await asyncio.wait_for(asked.wait(), 5)
        opening.cancel()
        answer.set()
        with pytest.raises(asyncio.CancelledError):
            await opening
        await asyncio.wait_for(ended.wait(), 5)  # the server saw the connection end
        left = [t for t in asyncio.all_tasks() - before if not t.done() and t is not opening]
        assert not [t for t in left if "answer_late" not in repr(t)], left
    finally:
        server.close()
