"""binstream.sbe.decode in C (see _sbe.c)."""

from typing import Any

def decode(frame: bytes, /) -> list[dict[str, Any]]:
    """The events of one SBE frame (one dict per trade)."""
