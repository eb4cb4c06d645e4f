"""binstream.sbe.decode in C (see _sbe.c)."""

from typing import Any

def decode(frame: bytes, /) -> list[dict[str, Any]]:
    """The events of one SBE frame (one dict per trade)."""

def decode_batch(frames: list[Any], wrap: bool, defer_books: bool = False, /) -> list[Any]:
    """The events of a list of frames, each wrapped as {stream, data} when ``wrap``; with
    ``defer_books``, book frames checked and kept as they are."""

def json_lines(frames: list[Any], wrap: bool, /) -> bytes:
    """The events of a list of frames as JSON lines."""

def count_events(frames: list[Any], /) -> int:
    """How many events a list of frames holds, each frame checked."""

def streams_of(frames: list[Any], /) -> set[str]:
    """The streams whose events a list of frames carries, each frame checked."""
