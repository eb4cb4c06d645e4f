"""The WebSocket API's refusals, with Binance's HTTP-like status, error code and message."""

from __future__ import annotations


class ApiError(Exception):
    """A refused request: ``status`` (400, 401, ...), Binance's ``code`` and ``msg``."""

    def __init__(self, status: int, code: int, msg: str) -> None:
        super().__init__(msg)
        self.status, self.code, self.msg = status, code, msg


def missing(name: str) -> ApiError:
    """Binance's error for a mandatory parameter left out."""
    return ApiError(
        400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
    )
