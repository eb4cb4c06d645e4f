"""The few REST calls binstream needs (order book snapshots, listenKeys), with timeouts and
clear errors.

The standard library's HTTP client is enough for one GET now and then; it runs in a worker
thread so the event loop keeps reading the streams meanwhile.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from ..errors import RestError
from ..version import __version__


def _request(
    method: str,
    base: str,
    path: str,
    params: dict[str, Any],
    timeout: float = 10.0,
    headers: dict[str, str] | None = None,
) -> tuple[str, Any]:
    """``method base + path?params``: the body as sent, and decoded; :class:`RestError`
    with Binance's message and error code."""
    query = urllib.parse.urlencode(params)
    url = f"{base}{path}?{query}" if query else f"{base}{path}"
    request = urllib.request.Request(
        url, method=method, headers={"User-Agent": f"binstream/{__version__}", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = (response.read() or b"{}").decode("utf-8")
        return body, json.loads(body)
    except urllib.error.HTTPError as exc:
        code = None
        try:
            answer = json.loads(exc.read())
            code = int(answer.get("code"))
            detail = f"{answer.get('msg')} ({code})"
        except (ValueError, AttributeError, TypeError):
            detail = exc.reason
        raise RestError(f"{path} answered HTTP {exc.code}: {detail}", exc.code, code) from None
    except urllib.error.URLError as exc:
        raise RestError(f"cannot reach {base}: {exc.reason}") from None
    except TimeoutError:
        raise RestError(f"{path} did not answer within {timeout:g}s") from None
    except ValueError:
        raise RestError(f"{path} did not answer with JSON") from None


def request_text(
    method: str,
    base: str,
    path: str,
    params: dict[str, Any],
    timeout: float = 10.0,
    headers: dict[str, str] | None = None,
) -> str:
    """``method base + path?params``: the body exactly as sent, checked to be JSON."""
    return _request(method, base, path, params, timeout, headers)[0]


def request_json(
    method: str,
    base: str,
    path: str,
    params: dict[str, Any],
    timeout: float = 10.0,
    headers: dict[str, str] | None = None,
) -> Any:
    """``method base + path?params``, decoded."""
    return _request(method, base, path, params, timeout, headers)[1]


def get_json(base: str, path: str, params: dict[str, Any], timeout: float = 10.0) -> Any:
    """GET ``base + path?params`` and decode JSON; :class:`RestError` with Binance's message."""
    return request_json("GET", base, path, params, timeout)


async def depth_snapshot(
    base: str, symbol: str, limit: int, timeout: float = 10.0, prefix: str = "/api/v3"
) -> Any:
    """``GET <prefix>/depth`` (``/api/v3``, ``/fapi/v1``, ``/dapi/v1``):
    ``{"lastUpdateId", "bids", "asks"}`` for ``symbol``."""
    params = {"symbol": symbol.upper(), "limit": limit}
    return await asyncio.to_thread(get_json, base, f"{prefix}/depth", params, timeout)


async def depth_snapshot_text(
    base: str, symbol: str, limit: int, timeout: float = 10.0, prefix: str = "/api/v3"
) -> str:
    """:func:`depth_snapshot`'s body exactly as the server sent it (for recordings)."""
    params = {"symbol": symbol.upper(), "limit": limit}
    return await asyncio.to_thread(request_text, "GET", base, f"{prefix}/depth", params, timeout)
