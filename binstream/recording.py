"""Recordings: every message as received, with its receive time, in JSON lines.

Format (one JSON object per line; ``.zst`` names are zstd-compressed)::

    {"binstream": "recording", "version": 2, "market": "spot", "streams": [...],
     "combined": false, "started": ms}
    {"t": 1700000000123.456, "m": <the frame exactly as the server sent it>}
    {"t": 1700000000456.789, "gap": "connection lost (no close frame)"}
    {"t": ..., "gap": "update ids skipped", "stream": "bnbbtc@depth@100ms", "missing": [a, b]}
    {"t": ..., "snapshot": "bnbbtc@depth@100ms", "m": <the REST depth snapshot as sent>}
    {"t": ..., "end": {"messages": 1234}}

A recording of SBE streams (``"sbe": true`` in the header) stores each binary frame as
base64 in ``"b"`` instead of ``"m"``: ``{"t": ..., "b": "EgAQJwEAAAA..."}``.

Frames are stored byte for byte, so recording a replay gives identical payloads. A gap
says where messages are missing: a connection that dropped, or (``missing``, inclusive) the
update ids a diff-depth stream skipped. A snapshot is the REST order book fetched at the
start and after each gap, so a local book can be rebuilt from the file alone. The last
line, ``end``, is written when the file is closed: a file without it was cut short.

The writer hands what it wrote to the operating system at least once a second (with
zstd, as a complete block), so a process killed outright loses at most about the last
second; :func:`read_recording` reads a file that was cut short up to its last whole record
and says so in a :attr:`Entry.notice`. Version 1 files (no ``end`` line) are read too.
"""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

import orjson

from .errors import BinstreamError
from .framecheck import decode_frame
from .sbe import fast_decode, fast_decode_batch

FORMAT = "recording"
VERSION = 2
#: Seconds between the writer's hand-overs of what it wrote to the operating system.
FLUSH_INTERVAL = 1.0


class RecordingError(BinstreamError, ValueError):
    """A recording file is missing, corrupt or truncated; the message names the line."""


@dataclass
class Header:
    """A recording's first line: what was recorded, and when."""

    streams: list[str]
    combined: bool
    started: float
    version: int = VERSION
    #: ``spot``, ``usdm``, ``coinm`` or ``options`` (version 1 files: spot).
    market: str = "spot"
    #: The frames are Binance's SBE binary frames (:mod:`binstream.sbe`).
    sbe: bool = False


@dataclass
class Entry:
    """One line after the header.

    A message (``frame``), a gap (``gap``: why messages are missing, with the ``stream``
    and the ``missing`` update ids where a diff-depth stream skipped some), a REST depth
    snapshot (``snapshot``: ``frame`` is its body, ``stream`` the diff-depth stream it
    belongs to), or a ``notice`` about the file itself (it was cut short).
    """

    time_ms: float
    frame: str | None = None
    gap: str | None = None
    line: int = 0
    stream: str | None = None
    missing: tuple[int, int] | None = None
    snapshot: bool = False
    notice: str | None = None
    #: An SBE binary frame, byte for byte (``frame`` is then None).
    binary: bytes | None = None
    #: The recording's streams were combined (an SBE event is then wrapped).
    combined: bool = False
    _decoded: Any = field(default=None, repr=False)

    def gap_text(self) -> str:
        """The gap in words: its reason, and the stream and update ids where known."""
        text = self.gap or ""
        if self.stream is not None:
            text += f" on {self.stream}"
        if self.missing is not None:
            first, last = self.missing
            text += f" (update ids {first}-{last} missing)"
        return text

    def decoded(self) -> Any:
        """The frame as Python objects (decoded once)."""
        if self._decoded is None and self.frame is not None:
            self._decoded = decode_frame(self.frame)
        return self._decoded

    def events(self) -> list[dict[str, Any]]:
        """An SBE frame's events, unwrapped (one per trade); none for a text frame.
        :class:`~binstream.sbe.SbeError` for a binary frame that is not of the schema."""
        return [] if self.binary is None else fast_decode(self.binary)

    def messages(self) -> list[Any]:
        """What a live socket hands out for this entry: the decoded frame, or an SBE
        frame's events (one per trade; ``{"stream", "data"}`` when combined).
        :class:`~binstream.sbe.SbeError` for a binary frame that is not of the schema."""
        if self.binary is None:
            return [] if self.frame is None else [self.decoded()]
        return fast_decode_batch([self.binary], self.combined)


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
            writer = zstandard.ZstdCompressor(level=3).stream_writer(raw, closefd=True)
            return cast(IO[bytes], _ZstdFile(writer))
        return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(raw, closefd=True))
    return open(path, mode + "b")


class _ZstdFile:
    """A zstd stream writer whose :meth:`flush` ends the current block, so that everything
    written so far can be decompressed from the file as it is."""

    def __init__(self, writer: Any) -> None:
        self._writer = writer

    def write(self, data: bytes) -> int:
        return int(self._writer.write(data))

    def flush(self) -> None:
        import zstandard

        self._writer.flush(zstandard.FLUSH_BLOCK)

    def close(self) -> None:
        self._writer.close()


def _line(stamp: str, frame: str | bytes) -> str:
    """One message line: a text frame as it is, a binary frame in base64."""
    if isinstance(frame, bytes):
        return f'{{"t":{stamp},"b":"{base64.b64encode(frame).decode()}"}}\n'
    return f'{{"t":{stamp},"m":{frame}}}\n'


def rotated_name(path: Path, index: int) -> Path:
    """``session.jsonl.zst`` → ``session-0002.jsonl.zst`` for the second rotated file."""
    name = path.name
    stem, dot, rest = name.partition(".")
    return path.with_name(f"{stem}-{index:04d}{dot}{rest}")


class RecordingWriter:
    """Append messages to a recording; call :meth:`close` (or use ``with``) at the end.

    With ``rotate_bytes`` or ``rotate_seconds`` the recording is split into numbered files
    (``name-0001.jsonl``, ``name-0002.jsonl``, ...), each with its own header and ``end``
    line. What is written reaches the operating system at least every
    :data:`FLUSH_INTERVAL` seconds while writes come; a caller whose writes may pause
    calls :meth:`flush_if_due` on a clock (the command line does, every second).
    ``on_finished`` is called with each file's path once it is complete (rotated or
    closed).
    """

    def __init__(
        self,
        path: Path,
        streams: list[str],
        combined: bool,
        *,
        rotate_bytes: int | None = None,
        rotate_seconds: float | None = None,
        on_finished: Callable[[Path], None] | None = None,
        market: str = "spot",
        sbe: bool = False,
    ) -> None:
        self.path = path
        self.market = market
        self.streams = streams
        self.combined = combined
        self.rotate_bytes = rotate_bytes
        self.rotate_seconds = rotate_seconds
        self.on_finished = on_finished
        self.sbe = sbe
        self.files: list[Path] = []
        self.count = 0
        self._segment_count = 0
        self._flushed = time.monotonic()
        self._unflushed = False
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
        self._segment_count = 0
        self._opened = time.monotonic()
        header = {"binstream": FORMAT, "version": VERSION, "market": self.market,
                  "streams": self.streams, "combined": self.combined,
                  "started": time.time() * 1000, **({"sbe": True} if self.sbe else {})}  # fmt: skip
        self._write(orjson.dumps(header) + b"\n")
        self.flush()

    def _write(self, data: bytes) -> None:
        self._file.write(data)
        self._written += len(data)
        self._unflushed = True

    def _maybe_rotate(self) -> None:
        if (self.rotate_bytes is not None and self._written >= self.rotate_bytes) or (
            self.rotate_seconds is not None
            and time.monotonic() - self._opened >= self.rotate_seconds
        ):
            self._finish_file()
            self._open_next()

    def write_frames(self, frames: list[str | bytes], received: float | None = None) -> None:
        """Append frames received together at ``received`` (seconds; now by default):
        text frames as they are, binary (SBE) frames in base64."""
        if not frames:
            return
        self._maybe_rotate()
        stamp = orjson.dumps(round((received or time.time()) * 1000, 3)).decode()
        if type(frames[0]) is bytes:  # an SBE socket's batch: binary frames
            data = "".join(_line(stamp, f) for f in frames)
        else:
            head = f'{{"t":{stamp},"m":'
            # One join for the batch: every line is head + frame + "}\n".
            data = head + ("}\n" + head).join(cast(list[str], frames)) + "}\n"
        self._write(data.encode())
        self.count += len(frames)
        self._segment_count += len(frames)
        self.flush_if_due()

    def write_gap(
        self,
        reason: str,
        when: float | None = None,
        *,
        stream: str | None = None,
        missing: tuple[int, int] | None = None,
    ) -> None:
        """Record that messages are missing here: why, and where known which stream and
        which update ids (inclusive)."""
        line: dict[str, Any] = {"t": round((when or time.time()) * 1000, 3), "gap": reason}
        if stream is not None:
            line["stream"] = stream
        if missing is not None:
            line["missing"] = list(missing)
        self._write(orjson.dumps(line) + b"\n")
        self.flush_if_due()

    def write_snapshot(self, stream: str, body: str, when: float | None = None) -> None:
        """Record the REST depth snapshot ``body`` (its text as received) of ``stream``."""
        stamp = orjson.dumps(round((when or time.time()) * 1000, 3)).decode()
        name = orjson.dumps(stream).decode()
        self._write(f'{{"t":{stamp},"snapshot":{name},"m":{body}}}\n'.encode())
        self.flush_if_due()

    def flush_if_due(self) -> None:
        """:meth:`flush` if something was written and the last one is a second old."""
        if self._unflushed and time.monotonic() - self._flushed >= FLUSH_INTERVAL:
            self.flush()

    def flush(self) -> None:
        """Hand everything written so far to the operating system (zstd: a whole block)."""
        self._file.flush()
        self._flushed = time.monotonic()
        self._unflushed = False

    def _finish_file(self) -> None:
        line = {"t": round(time.time() * 1000, 3), "end": {"messages": self._segment_count}}
        self._write(orjson.dumps(line) + b"\n")
        self._file.close()
        if self.on_finished is not None:
            self.on_finished(self.files[-1])

    def close(self) -> None:
        """Write the ``end`` line and close the file."""
        self._finish_file()

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
    """The header and an iterator of entries; :class:`RecordingError` names a bad line.

    A file cut short (its last line incomplete, or no ``end`` line in a version 2 file) is
    read up to its last whole record; a last entry with a ``notice`` says so.
    """
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
        if not first.endswith(b"\n"):
            raise ValueError
        header = orjson.loads(first)
        if header.get("binstream") != FORMAT:
            raise ValueError
    except (orjson.JSONDecodeError, ValueError, AttributeError):
        handle.close()
        raise RecordingError(f"{path} line 1: not a binstream recording header") from None
    info = Header(list(header.get("streams", [])), bool(header.get("combined")),
                  float(header.get("started", 0)), int(header.get("version", 1)),
                  str(header.get("market", "spot")), bool(header.get("sbe")))  # fmt: skip
    return info, _entries(path, handle, info.version, info.combined)


def _entries(path: Path, handle: IO[bytes], version: int, combined: bool) -> Iterator[Entry]:
    with handle:
        number = 1
        stamp = 0.0
        ended = False
        while True:
            try:
                raw = handle.readline()
            except Exception as exc:
                raise RecordingError(f"{path} line {number + 1}: unreadable ({exc})") from None
            if not raw:
                break
            number += 1
            if not raw.endswith(b"\n"):
                yield Entry(stamp, line=number, notice=(
                    f"{path} ends in the middle of line {number} (the recorder was stopped "
                    f"abruptly): read up to the last whole record, line {number - 1}"))  # fmt: skip
                return
            try:
                item = orjson.loads(raw)
                stamp = float(item["t"])
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                raise RecordingError(f"{path} line {number}: corrupt entry") from None
            if "b" in item:
                try:
                    binary = base64.b64decode(item["b"], validate=True)
                except (ValueError, TypeError):
                    raise RecordingError(f"{path} line {number}: corrupt binary frame") from None
                yield Entry(stamp, line=number, binary=binary, combined=combined)
            elif "m" in item:
                frame = _frame_text(raw)
                if "snapshot" in item:
                    yield Entry(stamp, frame=frame, line=number, stream=str(item["snapshot"]),
                                snapshot=True, _decoded=item["m"])  # fmt: skip
                else:
                    yield Entry(stamp, frame=frame, line=number, _decoded=item["m"])
            elif "gap" in item:
                ids = item.get("missing")
                missing = (int(ids[0]), int(ids[1])) if ids else None
                yield Entry(stamp, gap=str(item["gap"]), line=number, stream=item.get("stream"),
                            missing=missing)  # fmt: skip
            elif "end" in item:
                ended = True
            else:
                raise RecordingError(f"{path} line {number}: neither a message nor a gap")
        if version >= 2 and not ended:
            yield Entry(stamp, line=number, notice=(
                f"{path} has no closing line (the recorder was stopped abruptly): read all "
                f"{number - 1} whole records"))  # fmt: skip


def _frame_text(raw: bytes) -> str:
    """The stored frame, byte for byte: the text between ``"m":`` and the closing brace."""
    start = raw.index(b'"m":') + 4
    return raw[start : raw.rindex(b"}")].decode()
