"""Refusals of the WebSocket API and REST, with Binance's HTTP status, error code and message."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

T = TypeVar("T")


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


def symbol_param(params: Mapping[str, str], known: Mapping[str, T]) -> T:
    """What ``params["symbol"]`` names among ``known``; Binance's -1102 or -1121 otherwise."""
    symbol = params.get("symbol", "")
    if not symbol:
        raise missing("symbol")
    found = known.get(symbol)
    if found is None:
        raise ApiError(400, -1121, "Invalid symbol.")
    return found


def limit_param(params: Mapping[str, str], default: int, most: int) -> int:
    """``params["limit"]``, at most ``most`` (Binance truncates larger ones); -1100 if bad."""
    try:
        limit = int(params.get("limit", str(default)))
    except ValueError:
        limit = -1
    if limit < 1:
        raise ApiError(400, -1100, "Illegal characters found in parameter 'limit'.")
    return min(limit, most)
