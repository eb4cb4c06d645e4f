"""The frame splitter (:mod:`binstream.transport.framesplit`): its C and Python versions agree
on any bytes. (tests/transport/test_wire.py runs the websockets transport with each.)"""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from binstream.transport import framesplit
from binstream.transport import websockets as websockets_transport
from binstream.transport.framesplit import take_frames_python

from .test_wire import (
    PING,
    frame,
    messages_of_every_size,
    text,
)

compiled = pytest.importorskip(
    "binstream.transport._framesplit", reason="built without a C compiler"
)


def header(first: int, length: int, form: int, masked: bool) -> bytes:
    """A frame header with the length in ``form`` (7, 16 or 64 bits), minimal or not."""
    mask = 0x80 if masked else 0
    if form == 7 and length < 126:
        return bytes([first, mask | length])
    if form == 16 and length < 65536:
        return bytes([first, mask | 126]) + struct.pack("!H", length)
    return bytes([first, mask | 127]) + struct.pack("!Q", length)


payloads = st.one_of(
    st.text(max_size=300).map(str.encode),
    st.binary(max_size=300),  # invalid UTF-8 in a text frame, sometimes
    st.sampled_from([b"\xed\xa0\x80", b"\xc3", b"caf\xc3\xa9", b"\xf0\x9f\x98\x80"]),
    st.integers(122, 129).map(lambda n: b"x" * n),  # around the 7-bit length's end
    st.sampled_from([65535, 65536]).map(lambda n: b"y" * n),  # the 16-bit length's
)
#: A frame as a server sends nearly always: whole text or binary, unmasked, length as said.
plain = st.builds(
    lambda first, payload, form: header(first, len(payload), form, False) + payload,
    st.sampled_from([0x81, 0x82]),
    payloads,
    st.sampled_from([7, 16, 64]),
)
#: Anything else: control frames, fragments, reserved bits, masks, lengths beyond the
#: bytes that follow, garbage.
odd = st.one_of(
    st.builds(
        lambda first, payload, form, masked, claimed: (
            header(first, len(payload) + claimed, form, masked) + payload
        ),
        st.sampled_from([0x81, 0x82, 0x01, 0x80, 0x88, 0x89, 0x8A, 0xC1, 0x91]),
        payloads,
        st.sampled_from([7, 16, 64]),
        st.booleans(),  # masked
        st.sampled_from([0, 1, 2**40, 2**63]),  # a length beyond what follows
    ),
    st.binary(max_size=12),
)
pieces = st.one_of(plain, plain, plain, odd)


@settings(max_examples=500, deadline=None)
@given(
    st.lists(pieces, max_size=12),
    st.integers(0, 3),
    st.one_of(st.none(), st.integers(0, 4000), st.integers(-12, -1)),  # [:-k]: k short
    st.one_of(st.just(-1), st.integers(0, 320)),
)
def test_c_and_python_take_the_same_frames_from_any_bytes(
    parts: list[bytes], skip: int, cut: int | None, limit: int
) -> None:
    """Whatever the bytes, where the read ends (``cut``), where the walk starts (after
    ``skip`` pieces) and the size limit: the same frames, stop, and reason to stop."""
    buf = b"".join(parts)[:cut]
    pos = min(len(b"".join(parts[:skip])), len(buf))
    assert compiled.take_frames(buf, pos, limit) == take_frames_python(buf, pos, limit)


def test_a_stream_of_frames_is_taken_whole_up_to_its_first_control_frame() -> None:
    """The common read: data frames of every length encoding, then a ping, then a partial."""
    messages = messages_of_every_size()
    whole = b"".join(text(m) for m in messages)
    buf = whole + frame(PING, b"p") + text(messages[0])[:-1]
    for take in (compiled.take_frames, take_frames_python):
        assert take(buf, 0, -1) == (messages, len(whole), False)
        assert take(buf, len(whole) + 3, -1) == ([], len(whole) + 3, True)
        assert take(buf, 0, 1000) == (messages[:5], sum(len(text(m)) for m in messages[:5]), False)


def test_the_installed_splitter_is_the_compiled_one() -> None:
    """Where the C version was built, the transport uses it (the fast path depends on it)."""
    assert framesplit.SPLITTER == "c"
    assert websockets_transport.take_frames is compiled.take_frames
