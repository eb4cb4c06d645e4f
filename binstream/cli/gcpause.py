"""The cyclic garbage collector, paused while the ``binstream`` command starts.

Starting the command imports a few hundred modules (typer, asyncio, the transport) whose
objects live as long as the process, yet the collector scanned them again and again while
they were being created, a noticeable share of the start (measured with ``gc.callbacks``
up to the first message). :func:`pause` turns it off at the command's first
line; :func:`resume`, once the imports are done (the command's event loop starts), moves
everything created so far out of its reach for good (:func:`gc.freeze`) and turns it back
on. What start-up left as cyclic garbage is frozen with the rest rather than paying a
full collection for it. The library never pauses the collector.

Example::

    >>> import gc
    >>> from binstream import gcpause
    >>> gcpause.pause(); gc.isenabled()
    False
    >>> gcpause.resume(); gc.isenabled()
    True
"""

from __future__ import annotations

import gc

_paused = False


def pause() -> None:
    """Turn the collector off until :func:`resume` (a no-op if it is off already)."""
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True


def resume() -> None:
    """Undo :func:`pause`: freeze what start-up created, then collect again. Idempotent."""
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()
