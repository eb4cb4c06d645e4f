"""BookSocket: the async driver that feeds :class:`~binstream.book.OrderBook`.

It reads ``<symbol>@depth@100ms`` (spot, or a futures contract with ``market="usdm"`` /
``"coinm"``: Binance's futures procedure, see :class:`~binstream.book.FuturesOrderBook`),
fetches REST snapshots when the book needs one (at
start, after a gap, after a dropped connection) and yields a view of the top ``levels``
after every applied event::

    {"e": "book", "s": "BNBBTC", "E": 1700000000000, "lastUpdateId": 160,
     "bids": [["0.0024", "10"], ...], "asks": [["0.0026", "100"], ...]}

Error dicts pass through as on any socket. With ``check_interval`` it also compares the
book with a fresh snapshot now and then and reports ``BinanceBookDiverged`` if they differ.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

from ..book import Action, BookError, FuturesOrderBook, OrderBook, compare
from ..derivative_streams import normalize_venue_symbol
from ..errors import InvalidStreamError, RestError, StreamClosedError
from ..messages import CLOSED, UNABLE_TO_CONNECT, error_message, is_error
from ..streams import normalize_symbol
from ..venues import VENUES, Market, market_value
from .options import SocketState
from .rest import depth_snapshot

if TYPE_CHECKING:
    from .manager import BinanceSocketManager

log = logging.getLogger("binstream")

SNAPSHOT_ERROR = "BinanceBookSnapshotError"
DIVERGED = "BinanceBookDiverged"


class BookSocket:
    """A local order book you read from like a socket: ``recv()``, ``async for``, ``async with``."""

    def __init__(
        self,
        manager: BinanceSocketManager,
        symbol: str,
        levels: int = 20,
        *,
        speed: str = "100ms",
        snapshot_limit: int | None = None,
        check_interval: float | None = None,
        rest_timeout: float = 10.0,
        snapshot_retries: int = 5,
        market: object = Market.SPOT,
        sbe: bool = False,
    ) -> None:
        chosen = market_value(market)
        if sbe and chosen is not Market.SPOT:
            raise InvalidStreamError("SBE streams are spot only: drop sbe or the market")
        if chosen is Market.OPTIONS:
            raise InvalidStreamError(
                "options have no diff-depth procedure to keep a local book; use "
                "options_depth_socket() for the top 5, 10 or 20 levels"
            )
        venue = VENUES[chosen]
        endpoints = manager.endpoints_for(chosen)
        if chosen is Market.SPOT:
            self.symbol = normalize_symbol(symbol).upper()
            # SBE's diff depth carries the same U/u ids (bookUpdateId) as the JSON stream's.
            self.socket = (
                manager.sbe_socket(f"{symbol}@depth")
                if sbe
                else manager.depth_socket(symbol, None, speed)
            )
            self.book: OrderBook = OrderBook()
        else:
            self.symbol = normalize_venue_symbol(symbol, venue).upper()
            self.socket = manager.futures_depth_socket(symbol, None, chosen, speed=speed)
            self.book = FuturesOrderBook()
        self.market = chosen
        self.levels = levels
        self.path = f"book:{self.socket.path}"
        self.rest = endpoints.rest
        self.rest_prefix = venue.rest_prefix
        self.snapshot_limit = min(snapshot_limit or venue.snapshot_limit, venue.snapshot_limit)
        self.rest_timeout = rest_timeout
        self.snapshot_retries = snapshot_retries
        self.check_interval = check_interval
        self.checks = 0
        self.divergences = 0
        self._notices: list[dict[str, Any]] = []
        self._pending_check: dict[str, Any] | None = None
        self._next_check = time.monotonic() + (check_interval or 0)
        self._check_task: asyncio.Task[Any] | None = None
        self._failed = False
        self._held: Any = None  # a snapshot fetched before the first event arrived
        self._primed = False

    def __repr__(self) -> str:
        state = "live" if self.book.live else "syncing"
        return f"<BookSocket {self.symbol} {state} id={self.book.last_update_id}>"

    @property
    def state(self) -> SocketState:
        return SocketState.FAILED if self._failed else self.socket.state

    @property
    def dropped(self) -> int:
        return self.socket.dropped

    @property
    def closed(self) -> bool:
        return self._failed or self.socket.closed

    async def __aenter__(self) -> BookSocket:
        self.socket.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._check_task is not None:
            self._check_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._check_task
        await self.socket.close()

    def __aiter__(self) -> BookSocket:
        return self

    async def __anext__(self) -> Any:
        try:
            return await self.recv()
        except StreamClosedError:
            raise StopAsyncIteration from None

    async def recv(self) -> Any:
        """The next book view (or error dict); waits for the book to become valid."""
        while True:
            if self._notices:
                return self._notices.pop(0)
            if self._failed:
                raise StreamClosedError(f"the {self.symbol} book gave up")
            if not self._primed:
                # Fetch a first snapshot at once: it also tells an unknown symbol quickly.
                self._primed = True
                self._held = await self._fetch_or_fail()
                continue
            message = await self.socket.recv()
            if self._is_error(message):
                return message
            try:
                action = self.book.feed(message)
                if action in (Action.NEED_SNAPSHOT, Action.RESYNC):
                    if action is Action.RESYNC:
                        log.warning("%s book: sequence gap, resyncing", self.symbol)
                    await self._sync()
                    continue
            except BookError as exc:
                return error_message("BinanceWebsocketInvalidMessage", str(exc))
            if action is Action.APPLIED:
                self._maybe_check()
                return self._view(message)

    def _is_error(self, message: Any) -> bool:
        """True for an error dict; a dropped connection also resets the book (events lost)."""
        if not is_error(message):
            return False
        if message.get("type") == CLOSED:
            self.book.reset()
        return True

    def _view(self, event: dict[str, Any]) -> dict[str, Any]:
        view = self.book.top(self.levels)
        return {"e": "book", "s": self.symbol, "E": event.get("E"), **view}

    async def _fetch(self) -> Any:
        return await depth_snapshot(
            self.rest, self.symbol, self.snapshot_limit, self.rest_timeout, self.rest_prefix
        )

    async def _fetch_or_fail(self) -> Any:
        """A snapshot, retried with backoff; None (and the socket failed) if it cannot be had."""
        failures = 0
        while True:
            try:
                return await self._fetch()
            except RestError as exc:
                failures += 1
                fatal = exc.status is not None and 400 <= exc.status < 500 and exc.status != 429
                if fatal or failures > self.snapshot_retries:
                    self._failed = True
                    text = f"cannot get the {self.symbol} order book snapshot: {exc}"
                    self._notices.append(error_message(UNABLE_TO_CONNECT, text))
                    return None
                self._notices.append(error_message(SNAPSHOT_ERROR, str(exc)))
                await asyncio.sleep(min(5.0, 0.2 * 2**failures))

    async def _sync(self) -> None:
        """Fetch snapshots until the book is live; events keep queueing meanwhile."""
        while not self.book.live:
            snapshot, self._held = self._held, None
            if snapshot is None:
                snapshot = await self._fetch_or_fail()
                if snapshot is None:
                    return
            action = self.book.apply_snapshot(snapshot)
            if action is Action.LIVE:
                log.info("%s book live at %s", self.symbol, self.book.last_update_id)
                return
            # The snapshot is older than the buffered events: wait for one more, then retry.
            message = await self.socket.recv()
            if self._is_error(message):
                self._notices.append(message)
                if self.socket.closed:
                    return
                continue
            self.book.feed(message)

    # -- --check: compare against a fresh snapshot now and then ---------------------------

    def _maybe_check(self) -> None:
        pending = self._pending_check
        if pending is not None:
            reached = self.book.last_update_id or 0
            if reached == pending["lastUpdateId"]:
                self._pending_check = None
                self._report_check(pending)
            elif reached > pending["lastUpdateId"]:
                self._pending_check = None  # stepped over it: compare the next one
        if not self.check_interval or time.monotonic() < self._next_check:
            return
        if self._check_task is None or self._check_task.done():
            self._next_check = time.monotonic() + self.check_interval
            self._check_task = asyncio.create_task(self._fetch_check())

    async def _fetch_check(self) -> None:
        try:
            snapshot = await self._fetch()
        except RestError as exc:
            log.warning("%s book check skipped: %s", self.symbol, exc)
            return
        current = self.book.last_update_id or 0
        if snapshot["lastUpdateId"] == current:
            self._report_check(snapshot)
        elif snapshot["lastUpdateId"] > current:
            self._pending_check = snapshot

    def _report_check(self, snapshot: dict[str, Any]) -> None:
        self.checks += 1
        depth = min(self.levels, len(snapshot["bids"]), len(snapshot["asks"]))
        problems = compare(self.book.top(depth), {"bids": snapshot["bids"][:depth],
                                                  "asks": snapshot["asks"][:depth]})  # fmt: skip
        if problems:
            self.divergences += 1
            text = f"book diverged from the exchange at {snapshot['lastUpdateId']}: {problems[0]}"
            self._notices.append(error_message(DIVERGED, text))
        else:
            log.info("%s book matches the exchange at %s", self.symbol, snapshot["lastUpdateId"])
