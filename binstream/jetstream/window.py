"""The publisher's bookkeeping: messages waiting to be sent and sent but not acknowledged.

A pure state machine (no I/O, no clock of its own): the publisher asks it what to send,
tells it what was acknowledged, and asks what to send again when acknowledgements are
late or the connection was lost. It holds at most ``capacity`` messages in all, and at
most ``in_flight`` of them unacknowledged at once.

Example::

    >>> w = AckWindow(capacity=3, in_flight=2, ack_timeout=1.0)
    >>> [w.offer(m) for m in ("a", "b", "c", "d")]
    [True, True, True, False]
    >>> [(seq, m) for seq, m in w.sendable(now=0.0)]
    [(1, 'a'), (2, 'b')]
    >>> w.acknowledge(1), w.pending
    (True, 2)
    >>> [(seq, m) for seq, m in w.sendable(now=0.5)]
    [(3, 'c')]
    >>> [(seq, m) for seq, m in w.overdue(now=1.2)]
    [(2, 'b')]
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass
class _Sent(Generic[T]):
    item: T
    deadline: float


class AckWindow(Generic[T]):
    """Messages from offer to acknowledgement, bounded, in order."""

    def __init__(self, capacity: int, in_flight: int, ack_timeout: float) -> None:
        if capacity < 1 or in_flight < 1:
            raise ValueError("capacity and in_flight must be at least 1")
        self.capacity = capacity
        self.in_flight = min(in_flight, capacity)
        self.ack_timeout = ack_timeout
        self._waiting: deque[T] = deque()
        self._sent: OrderedDict[int, _Sent[T]] = OrderedDict()
        self._next_seq = 1
        #: Messages refused because the window was full (the caller's ``drop`` policy).
        self.dropped = 0

    @property
    def pending(self) -> int:
        """Messages held: waiting to be sent, or sent and not acknowledged."""
        return len(self._waiting) + len(self._sent)

    @property
    def unacknowledged(self) -> int:
        """Messages sent and not acknowledged yet."""
        return len(self._sent)

    def has_room(self) -> bool:
        """True if :meth:`offer` would take one more message."""
        return self.pending < self.capacity

    def offer(self, item: T, *, beyond: bool = False) -> bool:
        """Hold ``item`` to send; False (and counted as dropped) when full, unless
        ``beyond`` (the caller bounds what it offers, e.g. by waiting for room first)."""
        if self.pending >= self.capacity and not beyond:
            self.dropped += 1
            return False
        self._waiting.append(item)
        return True

    def sendable(self, now: float) -> Iterator[tuple[int, T]]:
        """Waiting messages, oldest first, each given a sequence number, while the
        in-flight bound allows; the caller sends each as it is yielded."""
        while self._waiting and len(self._sent) < self.in_flight:
            item = self._waiting.popleft()
            seq = self._next_seq
            self._next_seq += 1
            self._sent[seq] = _Sent(item, now + self.ack_timeout)
            yield seq, item

    def acknowledge(self, seq: int) -> bool:
        """Forget message ``seq``: stored. False if it was not outstanding."""
        return self._sent.pop(seq, None) is not None

    def overdue(self, now: float) -> Iterator[tuple[int, T]]:
        """Sent messages whose acknowledgement is late, oldest first, with new deadlines:
        the caller sends each again (the same message id makes repeats harmless)."""
        late = [seq for seq, sent in self._sent.items() if sent.deadline <= now]
        for seq in late:
            sent = self._sent[seq]
            sent.deadline = now + self.ack_timeout
            yield seq, sent.item

    def unacknowledged_items(self, now: float) -> Iterator[tuple[int, T]]:
        """Every sent, unacknowledged message, oldest first, with new deadlines: to send
        again after the connection was lost."""
        for seq, sent in self._sent.items():
            sent.deadline = now + self.ack_timeout
            yield seq, sent.item
