"""Symbols checked against the market's exchangeInfo before subscribing.

One request per market (per REST base) for the whole process, cached and fetched again
when a symbol it does not list is asked for (a listing since the last fetch), at most
every :data:`REFRESH_AFTER` seconds. When exchangeInfo cannot be had (no REST, a private
gateway), the check says so once in the log and lets the streams through unchecked: a
stream must never fail for want of a check.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterable

import orjson

from ..endpoints import Endpoints
from ..errors import RestError, UnknownSymbolError
from ..symbols import SymbolDirectory, problems, stream_subject
from ..venues import Market
from .rest import request_text

log = logging.getLogger("binstream")

#: An exchangeInfo younger than this is not fetched again for a symbol it lacks.
REFRESH_AFTER = 10.0
#: After a failed fetch, the streams go unchecked this long before trying again.
RETRY_AFTER = 60.0

_LABELS = {Market.SPOT: "spot", Market.USDM: "USD-M", Market.COINM: "COIN-M",
           Market.OPTIONS: "options"}  # fmt: skip


class SymbolCatalog:
    """exchangeInfo per market, shared by every manager and thread of the process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        #: URL → (directory or None after a failure, monotonic time fetched).
        self._cache: dict[str, tuple[SymbolDirectory | None, float]] = {}

    def clear(self) -> None:
        """Forget every fetched exchangeInfo."""
        with self._lock:
            self._cache.clear()

    async def check(self, endpoints: Endpoints, streams: Iterable[str]) -> None:
        """Raise :class:`~binstream.errors.UnknownSymbolError` if a stream of
        ``endpoints``' market names a symbol it does not list or trade."""
        names = [s for s in streams if stream_subject(s) is not None]
        if not names:
            return
        directory = await asyncio.to_thread(self._directory, endpoints, False)
        if directory is None:
            return
        found = problems(names, directory)
        if found:
            fresh = await asyncio.to_thread(self._directory, endpoints, True)
            if fresh is not None:
                found = problems(names, fresh)
        if found:
            raise UnknownSymbolError(found)

    def _directory(self, endpoints: Endpoints, refresh: bool) -> SymbolDirectory | None:
        """The cached directory (fetched if missing, or stale and ``refresh``)."""
        url = endpoints.rest_url("exchangeInfo")
        with self._lock:  # one fetch at a time: the others then find it cached
            cached = self._cache.get(url)
            now = time.monotonic()
            if cached is not None:
                directory, fetched = cached
                age = now - fetched
                if directory is None and age < RETRY_AFTER:
                    return None
                if directory is not None and (not refresh or age < REFRESH_AFTER):
                    return directory
            directory = self._fetch(endpoints)
            self._cache[url] = (directory, time.monotonic())
            return directory

    @staticmethod
    def _fetch(endpoints: Endpoints) -> SymbolDirectory | None:
        market = endpoints.market
        params = {"showPermissionSets": "false"} if market is Market.SPOT else {}
        prefix = endpoints.venue.rest_prefix
        try:
            body = request_text("GET", endpoints.rest, f"{prefix}/exchangeInfo", params)
            info = orjson.loads(body)
        except (RestError, ValueError) as exc:
            log.warning("symbols not checked: exchangeInfo unavailable (%s)", exc)
            return None
        if not isinstance(info, dict):
            log.warning("symbols not checked: exchangeInfo is not an object")
            return None
        return SymbolDirectory.from_exchange_info(_LABELS.get(market, str(market)), info)


#: The process-wide catalog every socket's check goes through.
SYMBOL_CATALOG = SymbolCatalog()
