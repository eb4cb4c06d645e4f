"""JSON lines written from the frames' text, in C (see _linewrite.c)."""

def write_lines(fd: int, lines: list[object], /) -> bool:
    """Write each str of ``lines`` and a newline to ``fd``; False (nothing written) when an
    item is not a str or holds a newline."""
