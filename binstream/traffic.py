"""Messages, bytes and receive lag per stream, counted from the frames as received.

Receive lag is the local receive time minus the event time Binance stamps (``E``, in
milliseconds): network and exchange delay plus any clock difference. One message per
stream and batch is sampled, so counting costs the same at any message rate. Frames
without an event time (spot depth snapshots, spot bookTicker) give no lag sample. Pure:
the caller gives the receive time.

Example::

    >>> t = Traffic()
    >>> t.count(['{"stream":"bnbbtc@trade","data":{"e":"trade","E":1000}}'], None, now=1.25)
    >>> s = t.streams["bnbbtc@trade"]
    >>> s.messages, s.lag_sum
    (1, 0.25)
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field

#: Upper bounds of the receive-lag histogram's buckets, in seconds.
LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_COMBINED_HEAD = '{"stream":"'


@dataclass
class StreamTraffic:
    """What one stream delivered."""

    messages: int = 0
    bytes: int = 0
    #: Samples per lag bucket (not cumulative); the last counts those above every bound.
    lag_counts: list[int] = field(default_factory=lambda: [0] * (len(LAG_BUCKETS) + 1))
    lag_sum: float = 0.0
    lag_samples: int = 0

    def observe_lag(self, seconds: float) -> None:
        """Count one receive-lag sample (a negative one, from clock skew, counts as 0)."""
        seconds = max(seconds, 0.0)
        self.lag_counts[bisect.bisect_left(LAG_BUCKETS, seconds)] += 1
        self.lag_sum += seconds
        self.lag_samples += 1


def event_time_ms(frame: str) -> int | None:
    """The ``"E"`` field of a JSON frame's text, without decoding it; None if absent."""
    at = frame.find('"E":')
    if at < 0:
        return None
    start = end = at + 4
    while end < len(frame) and frame[end].isdigit():
        end += 1
    return int(frame[start:end]) if end > start else None


def combined_stream(frame: str) -> str | None:
    """The stream of a combined frame's text (``{"stream":"a@trade","data":...}``)."""
    if not frame.startswith(_COMBINED_HEAD):
        return None
    end = frame.find('"', len(_COMBINED_HEAD))
    return frame[len(_COMBINED_HEAD) : end] if end > 0 else None


class Traffic:
    """Per-stream :class:`StreamTraffic` of one socket."""

    def __init__(self) -> None:
        self.streams: dict[str, StreamTraffic] = {}

    def _of(self, name: str) -> StreamTraffic:
        found = self.streams.get(name)
        if found is None:
            found = self.streams[name] = StreamTraffic()
        return found

    def count(self, frames: Sequence[str | bytes], single: str | None, now: float) -> None:
        """Count a batch of frames received at ``now`` (seconds since the epoch): all of
        stream ``single``, or each of the stream its combined wrapper names."""
        if single is not None:
            traffic = self._of(single)
            traffic.messages += len(frames)
            traffic.bytes += sum(map(len, frames))
            last = frames[-1] if frames else None
            if isinstance(last, str):
                self._sample(traffic, last, now)
            return
        latest: dict[str, str] = {}
        for frame in frames:
            if not isinstance(frame, str):
                continue
            name = combined_stream(frame)
            if name is None:
                continue  # a control reply or a bad frame: not a stream's message
            traffic = self._of(name)
            traffic.messages += 1
            traffic.bytes += len(frame)
            latest[name] = frame
        for name, frame in latest.items():
            self._sample(self.streams[name], frame, now)

    @staticmethod
    def _sample(traffic: StreamTraffic, frame: str, now: float) -> None:
        stamp = event_time_ms(frame)
        if stamp is not None:
            traffic.observe_lag(now - stamp / 1000)
