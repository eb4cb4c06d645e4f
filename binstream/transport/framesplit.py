"""Split a socket read into the websocket frames a server sends nearly always.

The websockets transport reads frames itself (see :mod:`binstream.transport.websockets`):
:func:`take_frames` takes, from a read's bytes, every whole *plain* data frame: FIN set,
no reserved bits, text or binary, unmasked, no longer than the size limit. It stops at the
first thing that is not one, and says whether that is a data frame whose end has not
arrived yet (wait for more bytes) or something for the caller to look at (a control
frame, a masked or oversized frame, reserved bits, a fragment, invalid UTF-8).

It is written twice: in C (``binstream/transport/_framesplit.c``, built on install when a
compiler is at hand, and much faster: the frame walk was a third of the CLI's time) and here
in Python, used otherwise. Both take exactly the same frames
(tests/transport/test_framesplit.py).

Example::

    >>> take_frames_python(b"\\x81\\x02hi\\x82\\x01!\\x89\\x00", 0, -1)
    (['hi', b'!'], 7, False)
    >>> take_frames_python(b"\\x81\\x05hel", 0, -1)
    ([], 0, True)
"""

from __future__ import annotations

from collections.abc import Callable

#: First byte of a whole text or binary frame without reserved bits.
_WHOLE_TEXT, _WHOLE_BINARY = 0x81, 0x82


def take_frames_python(buf: bytes, pos: int, limit: int) -> tuple[list[str | bytes], int, bool]:
    """The plain data frames of ``buf`` from ``pos`` on: ``(frames, stop, waiting)``.

    ``frames``: each text frame's payload as ``str`` (strict UTF-8), each binary one's as
    ``bytes``. ``stop``: the offset of the first byte not taken. ``waiting``: True when
    what starts at ``stop`` is a data frame not complete in ``buf`` (or under 2 bytes),
    False when it is anything else. ``limit``: the largest payload taken; -1 for any.
    """
    frames: list[str | bytes] = []
    deliver = frames.append
    size = len(buf)
    while size - pos >= 2:
        first = buf[pos]
        if first != _WHOLE_TEXT and first != _WHOLE_BINARY:
            return frames, pos, False
        length = buf[pos + 1]
        if length < 126:
            start = pos + 2
        elif length == 126:
            if size - pos < 4:
                break
            length = (buf[pos + 2] << 8) | buf[pos + 3]
            start = pos + 4
        elif length == 127:
            if size - pos < 10:
                break
            length = int.from_bytes(buf[pos + 2 : pos + 10], "big")
            start = pos + 10
        else:  # the mask bit: a server never masks
            return frames, pos, False
        if limit >= 0 and length > limit:
            return frames, pos, False
        end = start + length
        if end > size:
            break
        if first == _WHOLE_TEXT:
            try:
                deliver(buf[start:end].decode())
            except UnicodeDecodeError:
                return frames, pos, False
        else:
            deliver(buf[start:end])
        pos = end
    return frames, pos, True


#: A frame header's longest form: 2 bytes, a 64-bit length and a mask.
LONGEST_HEADER = 14


def frame_size(head: bytes) -> int | None:
    """Any frame's whole size (header, mask and payload) from its first bytes (up to
    :data:`LONGEST_HEADER`); None while ``head`` is too short to say."""
    if len(head) < 2:
        return None
    second = head[1]
    length = second & 0x7F
    mask = 4 if second & 0x80 else 0
    if length < 126:
        return 2 + mask + length
    extended = 2 if length == 126 else 8
    if len(head) < 2 + extended:
        return None
    return 2 + extended + mask + int.from_bytes(head[2 : 2 + extended], "big")


#: The C version when it was built, else :func:`take_frames_python`.
take_frames: Callable[[bytes, int, int], tuple[list[str | bytes], int, bool]]
try:  # built on install where a C compiler is at hand (see setup.py)
    from ._framesplit import take_frames
except ImportError:  # built without a C compiler
    take_frames = take_frames_python
#: Which one :func:`take_frames` is: "c" or "python".
SPLITTER = "python" if take_frames is take_frames_python else "c"
