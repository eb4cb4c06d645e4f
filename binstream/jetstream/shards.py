"""``--shard i/N``: a stable share of a stream set, so N publishers split it.

A stream belongs to shard ``crc32(name) mod N`` (counted from 1 on the command line): the
same on every host and Python, whatever the order streams are given in, so the N shards of
a set are disjoint and together are the whole set.

Example::

    >>> shard = parse_shard("2/3")
    >>> shard.index, shard.count
    (2, 3)
    >>> streams = ["bnbbtc@trade", "ethbtc@trade", "btcusdt@trade", "neobtc@trade"]
    >>> sorted(sum((parse_shard(f"{i}/3").select(streams) for i in (1, 2, 3)), []))
    ['bnbbtc@trade', 'btcusdt@trade', 'ethbtc@trade', 'neobtc@trade']
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (1-based)."""

    index: int = 1
    count: int = 1

    def owns(self, stream: str) -> bool:
        """True if ``stream`` belongs to this shard."""
        return zlib.crc32(stream.encode()) % self.count == self.index - 1

    def select(self, streams: Iterable[str]) -> list[str]:
        """The streams of ``streams`` this shard takes, in their order."""
        return [s for s in streams if self.owns(s)]

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    """``"i/N"`` as a :class:`Shard`; ValueError with the reason otherwise."""
    index_text, slash, count_text = text.strip().partition("/")
    try:
        index, count = int(index_text), int(count_text)
    except ValueError:
        index = count = 0
    if not slash or count < 1:
        raise ValueError(f"{text!r} is not a shard: write i/N, e.g. 1/3 (the first of three)")
    if not 1 <= index <= count:
        raise ValueError(f"shard {text!r}: i runs from 1 to {count}")
    return Shard(index, count)
