"""JSON lines written from the frames' text (:func:`binstream.cli.render.jsonlines.write_lines`):
the C writer and the Python encoder put the same bytes into a real pipe."""

from __future__ import annotations

import json
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from binstream.cli.render import jsonlines
from binstream.cli.render.jsonlines import encode_lines, write_lines

compiled = pytest.importorskip(
    "binstream.cli.render._linewrite", reason="built without a C compiler"
)


@contextmanager
def pipe_reader() -> Iterator[tuple[int, list[bytes]]]:
    """A pipe whose reading end a thread drains: (writing end, chunks read)."""
    read_end, write_end = os.pipe()
    chunks: list[bytes] = []

    def drain() -> None:
        while chunk := os.read(read_end, 1 << 16):
            chunks.append(chunk)

    thread = threading.Thread(target=drain)
    thread.start()
    try:
        yield write_end, chunks
    finally:
        os.close(write_end)
        thread.join(10)
        os.close(read_end)


def written(messages: list[Any]) -> bytes:
    with pipe_reader() as (fd, chunks):
        write_lines(fd, messages)
    return b"".join(chunks)


values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
#: A frame's text as the server sent it: compact JSON, or JSON with newlines inside (pretty
#: printed, which the encoder writes again on one line).
texts = st.one_of(
    values.map(lambda v: orjson.dumps(v).decode()),
    values.map(lambda v: json.dumps(v, indent=1, ensure_ascii=False)),
)
#: A batch: frames' text (JSON lines' usual), or messages already decoded.
batches = st.one_of(
    st.lists(texts, min_size=1, max_size=30),
    st.lists(st.dictionaries(st.text(max_size=8), values, max_size=3), min_size=1, max_size=5),
)


@settings(max_examples=200, deadline=None)
@given(batches)
def test_the_c_writer_writes_what_the_encoder_makes(messages: list[Any]) -> None:
    """Text without newlines goes out as it is; a frame with newlines inside, or a decoded
    message, makes the whole batch take the encoder, as without the C extension."""
    assert written(messages) == encode_lines(messages)


def test_a_batch_larger_than_a_pipe_and_than_one_writev_arrives_whole() -> None:
    """3,000 lines of 1 KB (3 MB through a 64 KB pipe, 6,000 vectors): partial writes resume."""
    messages = [orjson.dumps({"n": i, "pad": "x" * 1000}).decode() for i in range(3000)]
    assert written(messages) == encode_lines(messages)


def test_writes_cut_short_by_signals_resume_where_they_stopped() -> None:
    """A signal that arrives during a long write makes it return early (a partial write):
    what follows goes out from where it stopped, nothing twice, nothing skipped."""
    messages = [orjson.dumps({"n": i, "pad": "y" * 700}).decode() for i in range(6000)]
    previous = signal.signal(signal.SIGALRM, lambda *_: None)
    signal.setitimer(signal.ITIMER_REAL, 0.0005, 0.0005)
    try:
        data = written(messages)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0, 0)
        signal.signal(signal.SIGALRM, previous)
    assert data == encode_lines(messages)


def test_without_the_c_extension_the_encoder_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonlines, "_write_lines", jsonlines._write_lines_python)
    messages = ['{"a":1}', '{"b":"é"}']
    assert written(messages) == b'{"a":1}\n{"b":"\xc3\xa9"}\n'


def test_a_closed_reader_is_a_broken_pipe() -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        with pytest.raises(BrokenPipeError):
            compiled.write_lines(write_end, ['{"a":1}'])
    finally:
        os.close(write_end)
