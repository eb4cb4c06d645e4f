"""``--metrics HOST:PORT``: start the Prometheus endpoint for a command and say where."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import BinstreamError
from ..metrics import MetricsServer

Say = Callable[[str, dict[str, Any]], None]


class MetricsAddressError(BinstreamError):
    """The metrics address cannot be served (taken, not this host's)."""


def start_metrics(
    address: str, say: Say, configure: Callable[[MetricsServer], None]
) -> MetricsServer:
    """A started :class:`MetricsServer` on ``address`` whose sources ``configure`` adds;
    one status line with its URL. Raises :class:`MetricsAddressError` (exit 1)."""
    server = MetricsServer(address)
    configure(server)
    try:
        url = server.start()
    except OSError as exc:
        raise MetricsAddressError(
            f"cannot serve metrics on {address}: {exc.strerror or exc}"
        ) from None
    say(f"binstream: metrics at {url}", {"e": "status", "status": "metrics", "url": url})
    return server
