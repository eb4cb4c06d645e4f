"""Durations as people write them on the command line: ``90s``, ``10m``, ``24h``, ``7d``.

Example::

    >>> parse_duration("10m"), parse_duration("1.5h"), parse_duration("45")
    (600.0, 5400.0, 45.0)
    >>> format_duration(86400.0), format_duration(120.0), format_duration(0.0)
    ('1d', '2m', 'forever')
"""

from __future__ import annotations

import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$", re.IGNORECASE)


def parse_duration(text: str) -> float:
    """Seconds in ``text`` (a number with an optional unit ms, s, m, h, d); ValueError."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a duration: write e.g. 90s, 10m, 24h or 7d")
    return float(match.group(1)) * _UNITS[(match.group(2) or "s").lower()]


def format_duration(seconds: float) -> str:
    """``seconds`` in the largest whole unit (``0`` is ``forever``, as JetStream's max age)."""
    if seconds <= 0:
        return "forever"
    for unit in ("d", "h", "m", "s"):
        size = _UNITS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
