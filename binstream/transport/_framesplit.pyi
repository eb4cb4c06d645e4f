"""binstream.transport.framesplit.take_frames in C (see _framesplit.c)."""

def take_frames(buf: bytes, pos: int, limit: int, /) -> tuple[list[str | bytes], int, bool]:
    """The plain data frames of ``buf`` from ``pos`` on: ``(frames, stop, waiting)``."""
