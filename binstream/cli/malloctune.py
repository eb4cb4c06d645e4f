"""glibc's allocator told to keep the memory of the ``binstream`` command's batches.

The command moves frames in batches: a socket read's frames, the JSON lines of a write,
a recorder's compressed block. Each batch is allocated and freed again many times a
second. By default glibc hands a freed block above 128 KB (and a heap top above 128 KB)
back to the kernel, and the next batch takes it back one page fault per 4 KB: on depth20
that was a large share of the CLI's time, measured with ``getrusage`` (the figures are in
docs/performance.md).

:func:`keep_batch_memory` sets ``M_MMAP_THRESHOLD`` to 8 MB and ``M_TRIM_THRESHOLD`` to
16 MB through ``mallopt``, glibc's public tuning call: at most 16 MB of freed memory stays
with the process for the next batch. It does nothing off glibc, when either setting comes
from the environment already (``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_``), or
when ``BINSTREAM_MALLOC=default`` opts out. The command calls it at start; the library
never does (a program that imports binstream owns its allocator).

Example::

    >>> from binstream.cli.malloctune import MMAP_THRESHOLD, TRIM_THRESHOLD
    >>> MMAP_THRESHOLD >> 20, TRIM_THRESHOLD >> 20
    (8, 16)
"""

from __future__ import annotations

import ctypes
import os
import sys

#: glibc's ``mallopt`` parameter numbers (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 8 << 20
TRIM_THRESHOLD = 16 << 20


def keep_batch_memory() -> bool:
    """Tune glibc's allocator for batches (see the module); True when it was tuned."""
    if not sys.platform.startswith("linux"):
        return False
    if os.environ.get("BINSTREAM_MALLOC", "").strip().lower() == "default":
        return False
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or "MALLOC_TRIM_THRESHOLD_" in os.environ:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the process's own symbols: its C library
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
