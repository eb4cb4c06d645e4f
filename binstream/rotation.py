"""Switching from an old connection to its replacement without losing or repeating a frame.

A pure state machine: no I/O, no clock. The link feeds it every data frame of the old
connection (:meth:`Switch.from_old`) and of the new one (:meth:`Switch.from_new`), and
tells it when the old connection ended (:meth:`Switch.old_ended`) or the search for an
overlap timed out (:meth:`Switch.give_up_overlap`); each call returns the frames to deliver,
in order.

Both connections carry the same frames, byte for byte, each in the server's order. Until
the switch, the old connection's frames are delivered and remembered, and the new one's
are held back. The switch happens at the first frame both have delivered (whichever
connection delivers it second), or when the old connection ends. At the switch the held
frames the old connection did not deliver are released; from then on the new
connection's frames are delivered except those the old one delivered already (true
duplicates, each dropped once), and whatever the old connection still sends is ignored:
the new one carries it too.

Example::

    >>> s = Switch()
    >>> s.from_old("a"), s.from_new("b"), s.from_old("b"), s.from_new("c")
    (['a'], [], ['b'], ['c'])
    >>> s.switched
    True
"""

from __future__ import annotations

from collections import Counter
from typing import Generic, TypeVar

T = TypeVar("T")


#: A frame as received: text, or binary (SBE).
Frame = str | bytes


class Switch(Generic[T]):
    """Which frames to deliver while two connections overlap; see the module docstring.

    Frames are compared by value (``frame``); ``item`` is what is delivered for it (the
    frame itself by default, or its decoded form).
    """

    def __init__(self) -> None:
        #: Frames the old connection delivered since the new one opened, with multiplicity,
        #: and in order (after the switch: those the new connection may still repeat).
        self._seen: Counter[Frame] = Counter()
        self._old: list[Frame] = []
        #: The new connection's frames held back until the switch, in order.
        self._held: list[tuple[Frame, T]] = []
        self._held_set: set[Frame] = set()
        self.switched = False

    @property
    def waiting(self) -> int:
        """How many of the new connection's frames are held back."""
        return len(self._held)

    def from_old(self, frame: Frame, item: T | None = None) -> list[T]:
        """A frame of the old connection: delivered before the switch, ignored after."""
        if self.switched:
            return []
        self._seen[frame] += 1
        self._old.append(frame)
        out: list[T] = [frame if item is None else item]  # type: ignore[list-item]
        if frame in self._held_set:  # the new connection had it already: switch here
            out.extend(self._switch(frame))
        return out

    def from_new(self, frame: Frame, item: T | None = None) -> list[T]:
        """A frame of the new connection: held before the switch; after it, delivered
        unless the old connection delivered it already."""
        value: T = frame if item is None else item  # type: ignore[assignment]
        if self.switched:
            return [value] if not self._consume(frame) else []
        self._held.append((frame, value))
        self._held_set.add(frame)
        if frame in self._seen:  # the old connection delivered it already: switch here
            return self._switch(frame)
        return []

    def old_ended(self) -> list[T]:
        """The old connection is gone: switch now (a no-op once switched)."""
        return [] if self.switched else self._switch(None)

    def give_up_overlap(self) -> list[T]:
        """No common frame came in time: switch now (a no-op once switched)."""
        return self.old_ended()

    @property
    def done(self) -> bool:
        """Switched, and the new connection repeated every frame the old one delivered."""
        return self.switched and not self._seen

    def _consume(self, frame: Frame) -> bool:
        count = self._seen.get(frame)
        if not count:
            return False
        if count == 1:
            del self._seen[frame]
        else:
            self._seen[frame] = count - 1
        return True

    def _switch(self, at: Frame | None) -> list[T]:
        """Switch at the common frame ``at`` (None: without one); returns the held frames
        the old connection did not deliver."""
        self.switched = True
        held, self._held, self._held_set = self._held, [], set()
        out = [value for frame, value in held if not self._consume(frame)]
        old, self._old = self._old, []
        if at is not None:
            # The new connection's frames after ``at`` follow it in the feed: of the old
            # connection's, only those after ``at`` can come again.
            last = len(old) - 1 - old[::-1].index(at)
            self._seen = Counter(old[last + 1 :])
        return out
