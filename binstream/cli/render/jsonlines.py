"""JSON lines to stdout: one line per message, serialised with orjson, written in batches.

The writer runs on a thread of its own (see :mod:`binstream.asyncio.handoff`), so a slow or
blocked reader on the other end of the pipe never stalls the event loop. Each batch is
whatever arrived since the previous write: under load that is many lines per write
call, and an idle stream's message is written the moment it arrives.
"""

from __future__ import annotations

import asyncio
import os
import select
import sys
from collections.abc import Callable
from typing import Any

import orjson

from ...asyncio.handoff import Handoff
from ...sbe import fast_json_lines

_dumps = orjson.dumps
_DIRECT_MAX = 16
_PIPE_BUF = select.PIPE_BUF if hasattr(select, "PIPE_BUF") else 512
_NEWLINE = orjson.OPT_APPEND_NEWLINE


def encode_lines(messages: list[Any], sbe_combined: bool = False) -> bytes:
    """Messages → newline-terminated JSON lines, as one bytes object.

    A ``str`` is a frame exactly as the server sent it (already validated JSON) and is
    written through; ``bytes`` are SBE frames, written as their events' JSON (wrapped as
    ``{"stream", "data"}`` with ``sbe_combined``); anything else is serialised with orjson.
    """
    if type(messages[0]) is bytes:
        return fast_json_lines(messages, sbe_combined)
    if type(messages[0]) is str:
        if not any("\n" in m for m in messages):
            # The list gains an empty last item so that the text ends with a newline
            # without being copied again.
            return "\n".join([*messages, ""]).encode()
        # A frame with a newline inside (pretty-printed JSON): one line per message anyway.
        return b"".join([_dumps(orjson.loads(m), option=_NEWLINE) for m in messages])
    return b"".join([_dumps(m, option=_NEWLINE) for m in messages])


def _write_lines_python(fd: int, lines: list[Any]) -> bool:
    """The C version's fallback: write nothing, say so (the caller encodes and writes)."""
    return False


try:  # built on install where a C compiler is at hand (see setup.py)
    from ._linewrite import write_lines as _write_lines
except ImportError:  # pragma: no cover - a build without the C extensions
    _write_lines = _write_lines_python
#: Which writes frames' text: "c" (writev, without the interpreter lock) or "python".
LINE_WRITER = "python" if _write_lines is _write_lines_python else "c"


def write_lines(fd: int, messages: list[Any], sbe_combined: bool = False) -> None:
    """Write ``messages`` to ``fd`` as JSON lines, as ``write_all(fd, encode_lines(...))``.

    Frames passed through as text (each a ``str`` without a newline) go out with one
    ``writev`` from their own bytes, without the interpreter lock, when the C extension is
    built: the event loop's thread reads on while this thread writes. Anything else is
    encoded first."""
    if not _write_lines(fd, messages):
        write_all(fd, encode_lines(messages, sbe_combined))


def write_all(fd: int, data: bytes) -> None:
    """Write every byte, looping over partial writes."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class JsonLinesWriter:
    """Feed decoded messages; they reach ``fd`` as JSON lines in order.

    ``on_broken_pipe`` is called (from the writer thread) when the reader went away,
    e.g. ``| head -n 5`` has read its lines.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        fd: int = 1,
        on_broken_pipe: Callable[[], None] | None = None,
        high: int = 4096,
        sbe_combined: bool = False,
    ) -> None:
        self.fd = fd
        #: SBE frames are written as combined messages (``{"stream", "data"}``).
        self.sbe_combined = sbe_combined
        self.broken = False
        self._on_broken_pipe = on_broken_pipe
        self.handoff = Handoff("binstream-stdout", self._write_batch, loop, high)
        self._direct = sys.platform != "win32"  # select() takes pipes on POSIX only

    def _write_batch(self, batch: list[Any]) -> None:
        if self.broken:
            return
        try:
            write_lines(self.fd, batch, self.sbe_combined)
        except (BrokenPipeError, ConnectionResetError):
            self._broken()

    def _broken(self) -> None:
        self.broken = True
        self.handoff.closed = True
        if self._on_broken_pipe is not None:
            self._on_broken_pipe()

    def feed(self, messages: list[Any]) -> None:
        """Queue ``messages``; a few arriving at an idle writer are written at once.

        Handing one or two lines to the thread costs a wake-up (and a GIL hand-over) per
        message on a quiet stream, which showed as latency. So when nothing is queued and
        the descriptor has room for a short write (a pipe with room takes up to PIPE_BUF
        bytes at once), the loop writes them itself; everything else goes to the thread.
        """
        handoff = self.handoff
        if (
            self._direct
            and len(messages) <= _DIRECT_MAX
            and not handoff.pending
            and not handoff.working
            and not self.broken
        ):
            data = encode_lines(messages, self.sbe_combined)
            if len(data) <= _PIPE_BUF and self._writable():
                try:
                    write_all(self.fd, data)
                except (BrokenPipeError, ConnectionResetError):
                    self._broken()
                return
        handoff.feed(messages)

    def _writable(self) -> bool:
        try:
            return bool(select.select((), (self.fd,), (), 0)[1])
        except (OSError, ValueError):
            self._direct = False
            return False

    async def wait_for_room(self) -> None:
        await self.handoff.wait_for_room()

    async def close(self, timeout: float = 2.0) -> None:
        """Write what is queued (up to ``timeout``) and stop the thread."""
        if not self.broken:
            await self.handoff.drain(timeout)
        self.handoff.close()
