"""Recordings: every message as received, with its receive time, in JSON lines.

Format (one JSON object per line; ``.zst`` names are zstd-compressed)::

    {"binstream": "recording", "version": 1, "streams": [...], "combined": false, "started": ms}
    {"t": 1700000000123.456, "m": <the frame exactly as the server sent it>}
    {"t": 1700000000456.789, "gap": "connection lost (no close frame)"}

Frames are stored byte for byte, so recording a replay gives identical payloads.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from .errors import BinstreamError
from .framecheck import decode_frame

FORMAT = "recording"
VERSION = 1


class RecordingError(BinstreamError, ValueError):
    """A recording file is missing, corrupt or truncated; the message names the line."""


@dataclass
class Header:
    streams: list[str]
    combined: bool
    started: float


@dataclass
class Entry:
    """One line after the header: a message (``frame``) or a reported gap."""

    time_ms: float
    frame: str | None = None
    gap: str | None = None
    line: int = 0
    _decoded: Any = field(default=None, repr=False)

    def decoded(self) -> Any:
        if self._decoded is None and self.frame is not None:
            self._decoded = decode_frame(self.frame)
        return self._decoded


def _open(path: Path, mode: str) -> IO[bytes]:
    if path.suffix == ".zst":
        try:
            import zstandard
        except ImportError:
            raise RecordingError(
                "zstd recordings need the zstandard package: pip install 'binstream[zstd]'"
            ) from None
        raw = open(path, mode + "b")  # noqa: SIM115 - the zstd stream owns and closes it
        if mode == "w":
            return zstandard.ZstdCompressor(level=3).stream_writer(raw, closefd=True)
        return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(raw, closefd=True))
    return open(path, mode + "b")


def rotated_name(path: Path, index: int) -> Path:
    """``session.jsonl.zst`` → ``session-0002.jsonl.zst`` for the second rotated file."""
    name = path.name
    stem, dot, rest = name.partition(".")
    return path.with_name(f"{stem}-{index:04d}{dot}{rest}")


class RecordingWriter:
    """Append messages to a recording; call :meth:`close` (or use ``with``) at the end.

    With ``rotate_bytes`` or ``rotate_seconds`` the recording is split into numbered files
    (``name-0001.jsonl``, ``name-0002.jsonl``, ...), each with its own header.
    """

    def __init__(
        self,
        path: Path,
        streams: list[str],
        combined: bool,
        *,
        rotate_bytes: int | None = None,
        rotate_seconds: float | None = None,
    ) -> None:
        self.path = path
        self.streams = streams
        self.combined = combined
        self.rotate_bytes = rotate_bytes
        self.rotate_seconds = rotate_seconds
        self.files: list[Path] = []
        self.count = 0
        self._open_next()

    def _open_next(self) -> None:
        rotating = self.rotate_bytes is not None or self.rotate_seconds is not None
        path = rotated_name(self.path, len(self.files) + 1) if rotating else self.path
        try:
            self._file = _open(path, "w")
        except OSError as exc:
            raise RecordingError(f"cannot write {path}: {exc.strerror}") from None
        self.files.append(path)
        self._written = 0
        self._opened = time.monotonic()
        header = {"binstream": FORMAT, "version": VERSION, "streams": self.streams,
                  "combined": self.combined, "started": time.time() * 1000}  # fmt: skip
        self._write(orjson.dumps(header) + b"\n")

    def _write(self, data: bytes) -> None:
        self._file.write(data)
        self._written += len(data)

    def _maybe_rotate(self) -> None:
        if (self.rotate_bytes is not None and self._written >= self.rotate_bytes) or (
            self.rotate_seconds is not None
            and time.monotonic() - self._opened >= self.rotate_seconds
        ):
            self._file.close()
            self._open_next()

    def write_frames(self, frames: list[str], received: float | None = None) -> None:
        if not frames:
            return
        self._maybe_rotate()
        stamp = orjson.dumps(round((received or time.time()) * 1000, 3)).decode()
        head = f'{{"t":{stamp},"m":'
        # One join for the batch: every line is head + frame + "}\n".
        self._write((head + ("}\n" + head).join(frames) + "}\n").encode())
        self.count += len(frames)

    def write_gap(self, reason: str, when: float | None = None) -> None:
        line = {"t": round((when or time.time()) * 1000, 3), "gap": reason}
        self._write(orjson.dumps(line) + b"\n")

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def recording_header(path: Path) -> Header:
    """Check that ``path`` is a recording and return its header (the file is closed again)."""
    header, entries = read_recording(path)
    for _ in entries:  # close the file through the generator's own clean-up
        break
    if hasattr(entries, "close"):
        entries.close()
    return header


def read_recording(path: Path) -> tuple[Header, Iterator[Entry]]:
    """The header and an iterator of entries; :class:`RecordingError` names a bad line."""
    try:
        handle = _open(path, "r")
    except OSError as exc:
        raise RecordingError(f"cannot read {path}: {exc.strerror}") from None
    try:
        first = handle.readline()
    except Exception as exc:  # zstd raises its own error types on corrupt input
        handle.close()
        raise RecordingError(f"{path}: not a readable recording ({exc})") from None
    try:
        header = orjson.loads(first)
        if header.get("binstream") != FORMAT:
            raise ValueError
    except (orjson.JSONDecodeError, ValueError, AttributeError):
        handle.close()
        raise RecordingError(f"{path} line 1: not a binstream recording header") from None
    info = Header(list(header.get("streams", [])), bool(header.get("combined")),
                  float(header.get("started", 0)))  # fmt: skip
    return info, _entries(path, handle)


def _entries(path: Path, handle: IO[bytes]) -> Iterator[Entry]:
    with handle:
        number = 1
        while True:
            try:
                raw = handle.readline()
            except Exception as exc:
                raise RecordingError(f"{path} line {number + 1}: unreadable ({exc})") from None
            if not raw:
                return
            number += 1
            if not raw.endswith(b"\n"):
                raise RecordingError(f"{path} line {number}: truncated (no end of line)")
            try:
                item = orjson.loads(raw)
                stamp = float(item["t"])
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                raise RecordingError(f"{path} line {number}: corrupt entry") from None
            if "m" in item:
                frame = _frame_text(raw)
                yield Entry(stamp, frame=frame, line=number, _decoded=item["m"])
            elif "gap" in item:
                yield Entry(stamp, gap=str(item["gap"]), line=number)
            else:
                raise RecordingError(f"{path} line {number}: neither a message nor a gap")


def _frame_text(raw: bytes) -> str:
    """The stored frame, byte for byte: the text between ``"m":`` and the closing brace."""
    start = raw.index(b'"m":') + 4
    return raw[start : raw.rindex(b"}")].decode()
