"""Update-id continuity of diff-depth streams: where a stream skipped update ids.

Pure: no I/O, no clock. A recorder feeds every diff-depth event's ids, per stream, and
learns the inclusive range of update ids it never received, if any:

- spot (``U``/``u``): an event must start right after the previous one ended,
  ``U == previous u + 1``; ``U`` further on means ``previous u + 1 .. U - 1`` are missing;
- futures (``pu``): an event's ``pu`` must equal the previous event's ``u``; a larger ``pu``
  means the events ending in ``previous u + 1 .. pu`` are missing.

An event that ends at or before the previous one (``u <= previous u``) is old: it is
neither a gap nor progress. :meth:`DepthContinuity.reset` forgets a stream (its
connection dropped: the next event starts afresh).

Example::

    >>> seen = DepthContinuity()
    >>> seen.check("bnbbtc@depth", 100, 105), seen.check("bnbbtc@depth", 106, 110)
    (None, None)
    >>> seen.check("bnbbtc@depth", 115, 120)
    (111, 114)
    >>> seen.check("btcusdt@depth", 5, 9, previous=4), seen.check("btcusdt@depth", 20, 25, 12)
    (None, (10, 12))
"""

from __future__ import annotations

import re

#: ``<symbol>@depth`` with an optional update speed: a diff-depth stream (not ``@depth5``).
_DIFF_DEPTH = re.compile(r"^[^@]+@depth(@\d+ms)?$")


def is_diff_depth(stream: str) -> bool:
    """True for a diff-depth stream name (``bnbbtc@depth``, ``btcusdt@depth@100ms``)."""
    return _DIFF_DEPTH.match(stream) is not None


class DepthContinuity:
    """The last update id of each diff-depth stream, and the gaps after it."""

    def __init__(self) -> None:
        self.last: dict[str, int] = {}

    def reset(self, stream: str | None = None) -> None:
        """Forget ``stream`` (or every stream): its next event starts afresh."""
        if stream is None:
            self.last.clear()
        else:
            self.last.pop(stream, None)

    def check(
        self, stream: str, first: int, last: int, previous: int | None = None
    ) -> tuple[int, int] | None:
        """Take one event's ids (``U``, ``u`` and, on futures, ``pu``); return the inclusive
        range of update ids missing before it, or None."""
        seen = self.last.get(stream)
        if seen is None:
            self.last[stream] = last
            return None
        if last <= seen:
            return None
        self.last[stream] = last
        if previous is not None:
            return (seen + 1, previous) if previous > seen else None
        return (seen + 1, first - 1) if first > seen + 1 else None
