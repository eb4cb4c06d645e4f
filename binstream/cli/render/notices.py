"""The command line's one voice on stderr: one line per event, as text or as JSON.

Every notice a streaming command prints (a drop with its retry, a reconnect, a rotation,
a skipped frame, giving up, a timeout, output falling behind) goes through
:class:`Notices`, so each event is said once, in the order things happen, and
``--errors json`` prints JSON objects only.

Example::

    >>> import io
    >>> out = io.StringIO()
    >>> Notices(StatusLine(out, live=False), "json").say("binstream: reconnected",
    ...                                                 {"e": "status", "status": "reconnected"})
    >>> out.getvalue()
    '{"e":"status","status":"reconnected"}\\n'
"""

from __future__ import annotations

from typing import Any, Literal

import orjson

from .status import StatusLine


class Notices:
    """Say events on stderr, above the live status line when there is one.

    ``quiet`` silences what is only informative (retries, reconnects, rotations, output
    falling behind); what ends the command (giving up, a timeout) is always said.
    """

    def __init__(
        self, status: StatusLine, errors: Literal["text", "json"] = "text", quiet: bool = False
    ) -> None:
        self.status = status
        self.json = errors == "json"
        self.quiet = quiet

    def say(self, text: str, event: dict[str, Any], *, final: bool = False) -> None:
        """Print one event: ``text`` (a ``binstream: ...`` line) or ``event`` as JSON."""
        if self.quiet and not final:
            return
        self.status.notice(orjson.dumps(event).decode() if self.json else text)
