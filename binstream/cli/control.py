"""``binstream multiplex --control``: steer a running tail through stdin.

Each line is one command: ``+STREAM`` subscribes, ``-STREAM`` unsubscribes (several
names may follow, separated by spaces or commas), ``?`` lists the streams in force.
Replies and errors go to stderr, one line each; the stream goes on whatever is typed.

Example::

    >>> parse_command("+ethbtc@trade, neobtc@ticker")
    ('subscribe', ['ethbtc@trade', 'neobtc@ticker'])
    >>> parse_command("?")
    ('list', [])
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Callable
from typing import Any

from ..errors import BinstreamError

Say = Callable[[str, dict[str, Any], bool], None]


class CommandError(BinstreamError, ValueError):
    """A line that is not a control command."""


def parse_command(line: str) -> tuple[str, list[str]]:
    """``(action, streams)`` for one line; :class:`CommandError` for anything else."""
    text = line.strip()
    if text == "?":
        return "list", []
    if text[:1] in ("+", "-"):
        names = [n for n in text[1:].replace(",", " ").split() if n]
        if names:
            return ("subscribe" if text[0] == "+" else "unsubscribe"), names
    raise CommandError(f"unknown command {text!r}: use +STREAM, -STREAM or ?")


def _stdin_lines(loop: asyncio.AbstractEventLoop) -> asyncio.Queue[str | None]:
    """Lines of stdin, read on a daemon thread (it never holds up the exit)."""
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def read() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(queue.put_nowait, line)
        loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=read, name="binstream-control", daemon=True).start()
    return queue


async def run_control(socket: Any, say: Say) -> None:
    """Apply stdin's commands to ``socket`` until stdin ends; each command in turn."""
    lines = _stdin_lines(asyncio.get_running_loop())
    while (line := await lines.get()) is not None:
        if not line.strip():
            continue
        try:
            action, names = parse_command(line)
            if action == "list":
                streams = list(socket.streams)
                say(f"binstream: streams: {', '.join(streams)}",
                    {"e": "status", "status": "streams", "streams": streams}, False)  # fmt: skip
                continue
            await getattr(socket, action)(*names)
            done = "subscribed" if action == "subscribe" else "unsubscribed"
            say(f"binstream: {done} {', '.join(names)}",
                {"e": "status", "status": done, "streams": names}, False)  # fmt: skip
        except BinstreamError as exc:
            say(f"binstream: error: {exc}",
                {"e": "error", "type": type(exc).__name__, "m": str(exc)}, True)  # fmt: skip
