"""The local Binance-compatible exchange: market streams, REST and fault injection.

One websockets server on loopback serves every URL shape Binance uses on one port::

    /ws/<stream>                     raw stream(s), payloads unwrapped
    /stream?streams=<a>/<b>          combined, {"stream": name, "data": payload}
    /stream                          combined, no stream yet: SUBSCRIBE later
    /ws                              no stream yet: SUBSCRIBE later
    /ws-api/v3                       WebSocket API (user data stream)
    GET /api/v3/depth?symbol=&limit= order book snapshot (REST)
    GET /api/v3/exchangeInfo, /api/v3/ping, /api/v3/time
    /usdm/..., /coinm/..., /options/...  the derivatives venues (see :mod:`.venues`)

Example::

    async with LocalExchange() as ex:
        bm = BinanceSocketManager(endpoint=ex.url)
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, parse_qsl, unquote

import orjson
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from ..venues import VENUES, Market, Route
from . import market as m
from .apierror import ApiError, limit_param, symbol_param
from .derivatives.account import AccountStreams
from .derivatives.venues import DerivativesVenue, split_path
from .faults import Faults, Refusal
from .feed import Feed, Tick, feed_for, is_diff_depth, is_well_formed, window_of
from .httpfront import connection_class
from .spot.sbe import encode as encode_sbe
from .spot.sbe import json_feed_name

log = logging.getLogger("binstream.server")

#: Binance's REST depth snapshot: larger limits are truncated to this.
MAX_DEPTH_LIMIT = 5000
#: Characters of a string request id. Binance's docs say "alphanumeric strings; max length
#: 36"; its own SDK sends str(uuid4()) (hyphens) and Binance accepts those, so hyphens and
#: underscores are accepted too.
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")


def valid_request_id(request_id: Any) -> bool:
    """What Binance accepts as a control message ``id``: a 64-bit signed integer, a string
    of up to 36 letters, digits, ``-`` and ``_``, or null."""
    if request_id is None:
        return True
    if isinstance(request_id, bool):
        return False
    if isinstance(request_id, int):
        return -(2**63) <= request_id < 2**63
    return (
        isinstance(request_id, str)
        and 0 < len(request_id) <= 36
        and all(ch in _ID_CHARS for ch in request_id)
    )


def _error(code: int, msg: str, request_id: Any) -> dict[str, Any]:
    return {"code": code, "msg": msg, "id": request_id}


def _fragments(frame: bytes) -> list[str]:
    """One text message as three fragments (websockets sends a list as a fragmented message)."""
    text = frame.decode()
    third = max(1, len(text) // 3)
    return [text[:third], text[third : 2 * third], text[2 * third :]]


def json_response(status: int, body: Any) -> Response:
    """An HTTP response carrying JSON, as Binance's REST API answers."""
    payload = orjson.dumps(body)
    # The server closes the connection after a plain HTTP response: say so, so that
    # clients that pool connections (requests, aiohttp) do not reuse a dead socket.
    headers = Headers([("Content-Type", "application/json"), ("Content-Length", str(len(payload))),
                       ("Connection", "close")])  # fmt: skip
    return Response(status, HTTPStatus(status).phrase, headers, payload)


class _Client:
    """One market-stream connection on the server side."""

    def __init__(
        self,
        ws: ServerConnection,
        combined: bool,
        faults: Faults,
        limit: int,
        market: Market = Market.SPOT,
        route: Route = Route.NONE,
    ) -> None:
        self.ws = ws
        self.combined = combined
        self.market = market
        self.route = route
        self.faults = faults
        self.subs: dict[str, Feed | None] = {}
        self.frames: deque[bytes] = deque()
        self.ready = asyncio.Event()
        self.limit = limit
        self.control_times: deque[float] = deque()
        self.overflowed = False
        self.sent = 0
        self.depth_events = 0
        self.number = 0
        #: An SBE connection (under ``/sbe``): binary frames, no combined wrapper.
        self.sbe = False

    def push(self, frame: bytes) -> None:
        if len(self.frames) >= self.limit:
            self.overflowed = True
            self.ready.set()
            return
        self.frames.append(frame)
        self.ready.set()


#: Where the SBE streams are served (Binance serves them on a host of their own).
SBE_PREFIX = "/sbe"
#: The cache key of SBE frames in a step.
SBE = "sbe"

#: Paths of Binance's derivatives hosts, asked of the spot root: a client pointed at the
#: local exchange's root for a derivatives market.
DERIVATIVES_AT_ROOT = ("/market/", "/public/", "/private/", "/fapi/", "/dapi/", "/eapi/")


class LocalExchange:
    """A Binance-compatible exchange on 127.0.0.1, for demos, tests and benchmarks.

    ``interval`` is the market's step period in seconds: every step moves the book,
    maybe trades, and pushes the resulting events to every subscriber.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        symbols: Iterable[m.SymbolSpec] = m.DEFAULT_SYMBOLS,
        interval: float = 0.1,
        seed: int | None = None,
        faults: Faults | None = None,
        client_queue: int = 50_000,
        accounts: Any = None,
        book_history: int = 0,
        replay: tuple[Any, float | None] | None = None,
        on_notice: Callable[[str], None] | None = None,
        ping_interval: float = 20.0,
        ping_timeout: float = 60.0,
        derivatives: bool = True,
        listen_key_ttl: float = 3600.0,
        connection_limit: tuple[int, float] | None = None,
    ) -> None:
        self.host = host
        #: ``(attempts, seconds)``: Binance's limit on connection attempts per IP (300 per
        #: 300 s), enforced with HTTP 429 when set. ``connection_times`` keeps the monotonic
        #: time of every market-stream connection attempt: tests check the limit with it.
        self.connection_limit = connection_limit
        self.connection_times: list[float] = []
        #: Attempts refused for going over ``connection_limit``.
        self.over_limit = 0
        #: Binance pings every 20 s and drops a client that has not answered within a minute.
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        #: (connection number, monotonic time) of every control message received: tests
        #: check the 5-per-second limit with it.
        self.control_history: list[tuple[int, float]] = []
        self.port = port
        self.interval = interval
        self.faults = faults or Faults()
        self.refusal = Refusal()
        self.client_queue = client_queue
        self.markets: dict[str, m.SymbolMarket] = {}
        for index, spec in enumerate(symbols):
            market = m.SymbolMarket(spec, None if seed is None else seed + index)
            self.markets[market.symbol] = market
        self.clients: set[_Client] = set()
        #: The USD-M, COIN-M and options venues, served under /usdm, /coinm and /options.
        self.venues: dict[Market, DerivativesVenue] = {}
        if derivatives:
            for kind in (Market.USDM, Market.COINM, Market.OPTIONS):
                self.venues[kind] = DerivativesVenue(
                    kind, seed=seed, book_history=book_history, listen_key_ttl=listen_key_ttl
                )
        #: With ``book_history=N``: per symbol, the top 50 levels after each of the last N
        #: steps, by ``lastUpdateId`` (tests compare client books with the true book).
        self.book_history = book_history
        self.books: dict[str, dict[int, dict[str, Any]]] = {s: {} for s in self.markets}
        #: Steps since start, and each symbol's latest steps (the slowest stream's span).
        self.step_number = 0
        self.recent: dict[str, deque[m.Step]] = {s: deque(maxlen=30) for s in self.markets}
        self.connections_total = 0
        self._client_numbers = itertools.count(1)
        self._server: Server | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._paused = False
        #: (recording path, speed): market-stream connections get the recording instead.
        self.replay = replay
        #: Called with a note about the replayed file itself (it was cut short).
        self.on_notice = on_notice
        self.ws_api: Any = None
        if accounts is not False:
            from .spot.wsapi import UserDataService

            self.ws_api = UserDataService(self, accounts)

    # -- life cycle ----------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base websocket URL, e.g. ``ws://127.0.0.1:54321``; pass it as ``endpoint``."""
        return f"ws://{self.host}:{self.port}"

    @property
    def rest_url(self) -> str:
        """Base REST URL on the same port."""
        return f"http://{self.host}:{self.port}"

    def market_url(self, market: object) -> str:
        """Base websocket URL of one market: ``ws://127.0.0.1:PORT/usdm`` for USD-M."""
        from ..endpoints import market_url

        return market_url(self.url, market)

    async def start(self) -> LocalExchange:
        """Bind, start serving and start the market clock."""
        self._server = await serve(
            self._handle,
            self.host,
            self.port,
            process_request=self._process_request,
            compression=None,
            max_size=2**20,
            ping_interval=self.ping_interval,
            ping_timeout=self.ping_timeout,
            close_timeout=1,
            server_header="binstream-local-exchange",
            create_connection=connection_class(self._rest_write),
        )
        sock = next(iter(self._server.sockets))
        self.port = sock.getsockname()[1]
        self._ticker = asyncio.create_task(self._clock(), name="binstream-exchange-clock")
        if self.ws_api is not None:
            self.ws_api.start()
        log.info("local exchange listening on %s", self.url)
        return self

    async def stop(self) -> None:
        """Close every connection (close code 1001) and stop serving."""
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        if self.ws_api is not None:
            await self.ws_api.stop()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 3)
            self._server = None
        for task in list(self._tasks):
            task.cancel()

    async def __aenter__(self) -> LocalExchange:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def serve_forever(self) -> None:
        """Run until cancelled."""
        if self._server is None:
            await self.start()
        try:
            await asyncio.Future()
        finally:
            await self.stop()

    # -- controls for tests and the CLI ---------------------------------------------------

    def refuse(self, count: int = 0, seconds: float = 0.0) -> None:
        """Answer the next ``count`` connection attempts, or all for ``seconds``, with 503."""
        self.refusal = Refusal(count, time.monotonic() + seconds if seconds else 0.0)

    def pause(self, paused: bool = True) -> None:
        """Stop (or resume) the market clock: connections stay open and silent."""
        self._paused = paused

    def drop_all(self, close_frame: bool = True) -> int:
        """Drop every market-stream connection now; return how many were dropped."""
        count = 0
        for client in list(self.clients):
            self._drop(client, close_frame)
            count += 1
        return count

    def announce_shutdown(self, grace: float = 1.0) -> None:
        """Send ``serverShutdown`` to every connection and close them ``grace`` s later."""
        for client in list(self.clients):
            self._spawn(self._shutdown(client, grace))

    def step(self) -> None:
        """Advance the market once and publish (the clock calls this every ``interval``).

        Each stream sends when its update speed comes round (see :mod:`.feed`).
        """
        t = m.now_ms()
        self.step_number += 1
        number = self.step_number
        steps = {symbol: market.step(t) for symbol, market in self.markets.items()}
        for symbol, step in steps.items():
            self.recent[symbol].append(step)
        if self.book_history:
            for symbol, market in self.markets.items():
                history = self.books[symbol]
                history[market.update_id] = market.snapshot(50)
                while len(history) > self.book_history:
                    del history[next(iter(history))]
        ticks = {Market.SPOT: Tick(self.markets, window_of(self.recent), t, number)}
        for kind, venue in self.venues.items():
            if venue.active:
                ticks[kind] = venue.step(number, t)
        raw_cache: dict[tuple[Market | str, str], list[bytes]] = {}
        wrapped_cache: dict[tuple[Market, str], list[bytes]] = {}
        for client in list(self.clients):
            for name, feed in client.subs.items():
                if feed is None or not feed.due(number):
                    continue
                if client.sbe:
                    frames = raw_cache.get((SBE, name))
                    if frames is None:
                        lower, _, sbe_type = name.partition("@")
                        frames = raw_cache[SBE, name] = encode_sbe(
                            sbe_type, lower.upper(), feed.render(ticks[Market.SPOT]), t
                        )
                    for frame in frames:
                        client.push(frame)
                    continue
                source = feed.venue or client.market
                tick = ticks[source]
                key = (source, name)
                frames = raw_cache.get(key)
                if frames is None:
                    frames = [orjson.dumps(p) for p in feed.render(tick)]
                    raw_cache[key] = frames
                if client.combined:
                    wrapped = wrapped_cache.get(key)
                    if wrapped is None:
                        head = b'{"stream":' + orjson.dumps(name) + b',"data":'
                        wrapped = [head + f + b"}" for f in frames]
                        wrapped_cache[key] = wrapped
                    frames = wrapped
                if client.faults.gap_every and frames and is_diff_depth(name):
                    client.depth_events += 1
                    if client.depth_events % client.faults.gap_every == 0:
                        continue  # injected sequence gap: this diff event is never sent
                for frame in frames:
                    client.push(frame)
        if self.ws_api is not None:
            self.ws_api.on_step(steps)

    async def _clock(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            if not self._paused:
                self.step()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- HTTP: REST and the handshake gate ------------------------------------------------

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        full, _, query = request.path.partition("?")
        if full == SBE_PREFIX or full.startswith(SBE_PREFIX + "/"):
            return self._sbe_gate(request, full[len(SBE_PREFIX) :], query)
        market, route, path = split_path(full)
        venue = self.venues.get(market)
        if market is Market.SPOT and full.startswith(DERIVATIVES_AT_ROOT):
            return json_response(404, {"code": -1, "msg": (
                "this local exchange serves USD-M, COIN-M and options under /usdm, /coinm, "
                f"/options: --endpoint ws://{self.host}:{self.port}/usdm (not found: {full})"
            )})  # fmt: skip
        if market is not Market.SPOT and venue is None:
            return json_response(404, {"code": -1, "msg": f"Not found: {full}"})
        if venue is not None:
            venue.active = True
        if venue is not None and path.startswith(venue.venue.rest_prefix + "/"):
            answer = venue.rest(path, {k: v[-1] for k, v in parse_qs(query).items()})
            if answer is None:
                return json_response(404, {"code": -1, "msg": f"Not found: {full}"})
            return json_response(*answer)
        if path.startswith("/api/") and venue is None:
            return self._rest(path, query)
        if "websocket" not in request.headers.get("Upgrade", "").lower():
            return json_response(404, {"code": -1, "msg": f"Not found: {full}"})
        if venue is not None and not venue.accepts_route(route):
            return json_response(404, {"code": -1, "msg": f"Not found: {full}"})
        params = dict(parse_qsl(query))
        if venue is not None and venue.listen_key_of(route, path, params) is not None:
            return None  # an account stream
        self.connections_total += 1
        refusal = self._over_connection_limit()
        if refusal:
            return json_response(429, {"code": -1003, "msg": refusal})
        if self.refusal.take():
            return json_response(503, {"code": -1008, "msg": "Service unavailable (injected)."})
        if path == "/ws-api/v3" and self.ws_api is not None and venue is None:
            return None
        if path == "/stream":  # with no streams= (or an empty one): SUBSCRIBE later
            streams = self._query_streams(query)
        elif path == "/ws" or path.startswith("/ws/"):
            streams = [unquote(s) for s in path[4:].split("/") if s]
        else:
            return json_response(404, {"code": -1, "msg": f"Not found: {full}"})
        limit = VENUES[market].max_streams
        if len(streams) > limit:
            return json_response(400, {"code": -1100, "msg": f"Too many streams: at most {limit}."})
        return None

    def _sbe_gate(self, request: Request, path: str, query: str) -> Response | None:
        """The SBE host's handshake: an API key in ``X-MBX-APIKEY`` (a key of an account
        this exchange knows), then the same paths and limits as the JSON streams."""
        if "websocket" not in request.headers.get("Upgrade", "").lower():
            return json_response(404, {"code": -1, "msg": f"Not found: {SBE_PREFIX}{path}"})
        key = request.headers.get("X-MBX-APIKEY", "")
        if not key:
            return json_response(401, {"code": -2014, "msg": "API-key format invalid."})
        known = self.ws_api.accounts if self.ws_api is not None else {}
        if key not in known:
            refused = "Invalid API-key, IP, or permissions for action."
            return json_response(401, {"code": -2015, "msg": refused})
        self.connections_total += 1
        refusal = self._over_connection_limit()
        if refusal:
            return json_response(429, {"code": -1003, "msg": refusal})
        if path == "/stream":
            streams = self._query_streams(query)
        elif path.startswith("/ws/"):
            streams = [unquote(s) for s in path[4:].split("/") if s]
        else:
            return json_response(404, {"code": -1, "msg": f"Not found: {SBE_PREFIX}{path}"})
        if len(streams) > VENUES[Market.SPOT].max_streams:
            return json_response(400, {"code": -1100, "msg": "Too many streams: at most 1024."})
        return None

    def _over_connection_limit(self) -> str:
        """Count a connection attempt; Binance's answer if it goes over the limit, else ""."""
        now = time.monotonic()
        self.connection_times.append(now)
        if self.connection_limit is None:
            return ""
        limit, window = self.connection_limit
        recent = sum(1 for t in self.connection_times[-(limit + 1) :] if now - t < window)
        if recent <= limit:
            return ""
        self.over_limit += 1
        return f"Too many connection attempts: at most {limit} per {window:g}s."

    @staticmethod
    def _query_streams(query: str) -> list[str]:
        for part in query.split("&"):
            key, _, value = part.partition("=")
            if key == "streams":
                return [unquote(s) for s in value.split("/") if s]
        return []

    def _rest(self, path: str, query: str) -> Response:
        params = {k: v[-1] for k, v in parse_qs(query).items()}
        if path == "/api/v3/ping":
            return json_response(200, {})
        if path == "/api/v3/time":
            return json_response(200, {"serverTime": m.now_ms()})
        if path == "/api/v3/exchangeInfo":
            return self._exchange_info(params)
        if path == "/api/v3/klines":
            try:
                market = symbol_param(params, self.markets)
                limit = limit_param(params, 500, 1000)
                interval = params.get("interval", "")
                if interval not in m.KLINE_INTERVALS:
                    raise ApiError(400, -1120, "Invalid interval.")
            except ApiError as exc:
                return json_response(exc.status, {"code": exc.code, "msg": exc.msg})
            rows = [m.kline_row(k) for k in market.kline_history(interval, limit)]
            return json_response(200, rows)
        if path == "/api/v3/depth":
            try:
                market = symbol_param(params, self.markets)
                limit = limit_param(params, 100, MAX_DEPTH_LIMIT)
            except ApiError as exc:
                return json_response(exc.status, {"code": exc.code, "msg": exc.msg})
            return json_response(200, market.snapshot(limit))
        return json_response(404, {"code": -1, "msg": f"Not found: {path}"})

    def _rest_write(
        self, method: str, full: str, params: dict[str, str], headers: dict[str, str]
    ) -> tuple[int, Any]:
        """POST, PUT and DELETE: the derivatives venues' listenKey calls; on spot, the
        listenKey Binance retired."""
        market, _, path = split_path(full)
        venue = self.venues.get(market)
        if venue is not None:
            venue.active = True
            answer = venue.rest_write(method, path, params, headers)
            if answer is not None:
                return answer
        elif path == "/sapi/v1/userListenToken" and self.ws_api is not None and method == "POST":
            try:
                return 200, self.ws_api.listen_token(headers.get("x-mbx-apikey"), params)
            except ApiError as exc:
                return exc.status, {"code": exc.code, "msg": exc.msg}
        elif path in ("/api/v3/userDataStream", "/sapi/v1/userDataStream"):
            return 410, {"code": -1, "msg": "Gone: listenKeys were retired for spot and margin "
                         "on 2026-02-20; subscribe over the WebSocket API instead."}  # fmt: skip
        return 404, {"code": -1, "msg": f"Not found: {full}"}

    def _exchange_info(self, params: dict[str, str]) -> Response:
        from .spot.exchangeinfo import UnknownSymbolError, exchange_info

        symbols: list[str] | None = None
        if "symbol" in params:
            symbols = [params["symbol"]]
        elif "symbols" in params:
            try:
                symbols = [str(s) for s in orjson.loads(params["symbols"])]
            except (orjson.JSONDecodeError, TypeError):
                return json_response(400, {"code": -1100,
                    "msg": "Illegal characters found in parameter 'symbols'."})  # fmt: skip
        try:
            return json_response(200, exchange_info(self.markets, symbols))
        except UnknownSymbolError:
            return json_response(400, {"code": -1121, "msg": "Invalid symbol."})

    # -- websocket connections ------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        full, _, query = ws.request.path.partition("?")
        sbe = full.startswith(SBE_PREFIX + "/")
        if sbe:
            full = full[len(SBE_PREFIX) :]
        market, route, path = split_path(full)
        if path == "/ws-api/v3" and self.ws_api is not None and market is Market.SPOT:
            await self.ws_api.handle(ws)
            return
        venue = self.venues.get(market)
        params = dict(parse_qsl(query))
        account = venue.listen_key_of(route, path, params) if venue is not None else None
        if account is not None:
            await self._account_stream(ws, *account, params.get("events"))
            return
        if path == "/stream":
            names = self._query_streams(query)
            combined = True
        else:
            names = [unquote(s) for s in path[4:].split("/") if s]
            combined = False
        if self.replay is not None:
            await self._replay_to(ws, names, combined)
            return
        client = _Client(ws, combined, self.faults.claim(), self.client_queue, market, route)
        client.sbe = sbe
        client.number = next(self._client_numbers)
        for name in names:
            client.subs[name] = self._feed(client, name)
        self.clients.add(client)
        sender = asyncio.create_task(self._send_loop(client))
        try:
            async for message in ws:
                reply = self._control(client, message)
                if reply is not None:
                    await ws.send(orjson.dumps(reply).decode())
        except ConnectionClosed:
            pass
        finally:
            self.clients.discard(client)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender

    async def _account_stream(
        self, ws: ServerConnection, store: AccountStreams, key: str, events: str | None
    ) -> None:
        """A listenKey's connection: its account's events until it closes or is closed."""
        wanted = set(events.split("/")) if events else None
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(self.client_queue)

        def listener(event: dict[str, Any] | None) -> None:
            if event is None or wanted is None or event.get("e") in wanted or \
                    event.get("e") == "listenKeyExpired":  # fmt: skip
                with contextlib.suppress(asyncio.QueueFull):
                    queue.put_nowait(event)

        async def drain() -> None:
            """Read what the client sends (nothing is expected) until the connection ends."""
            with contextlib.suppress(ConnectionClosed):
                async for _ in ws:
                    pass
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(None)

        listeners = store.listeners.setdefault(key, [])
        listeners.append(listener)
        if not store.valid(key):  # unknown or lapsed: say so, send nothing more
            listener({"e": "listenKeyExpired", "E": m.now_ms(), "listenKey": key})
        reader = asyncio.create_task(drain())
        try:
            while True:
                event = await queue.get()
                if event is None:
                    await ws.close(1000, "listenKey closed")
                    return
                await ws.send(orjson.dumps(event).decode())
        except ConnectionClosed:
            pass
        finally:
            reader.cancel()
            with contextlib.suppress(ValueError):
                listeners.remove(listener)

    def _feed(self, client: _Client, name: str) -> Feed | None:
        """What ``name`` sends on ``client``'s connection (None: acknowledged, silent)."""
        if client.sbe:  # the JSON feed whose payloads the SBE stream encodes
            json_name = json_feed_name(name)
            return feed_for(json_name, self.markets) if json_name else None
        venue = self.venues.get(client.market)
        if venue is None:
            return feed_for(name, self.markets)
        found = venue.feed(name, client.route)
        options = self.venues.get(Market.OPTIONS)
        if found is None and client.market is Market.USDM and options is not None:
            # Binance serves options streams on the USD-M host's routes too.
            found = options.feed(name, client.route)
            if found is not None:
                options.active = True
                found = dataclasses.replace(found, venue=Market.OPTIONS)
        return found

    def _control(self, client: _Client, message: str | bytes) -> dict[str, Any] | None:
        now = time.monotonic()
        self.control_history.append((client.number, now))
        times = client.control_times
        times.append(now)
        while times and now - times[0] > 1.0:
            times.popleft()
        allowed = VENUES[client.market].max_messages_per_second
        if len(times) > allowed:
            log.info("closing a connection that sent more than %d messages in a second", allowed)
            self._spawn(client.ws.close(1008, "Too many requests"))
            return None
        try:
            request = orjson.loads(message)
        except orjson.JSONDecodeError:
            return {"code": 3, "msg": "Invalid JSON: expected value at line 1 column 1"}
        if not isinstance(request, dict):
            return {"code": 2, "msg": "Invalid request: expected an object"}
        request_id = request.get("id")
        if "id" not in request or not valid_request_id(request_id):
            return {"code": 2, "msg": "Invalid request: request ID must be an unsigned integer"}
        method = request.get("method")
        if method is None:
            return {"code": 2, "msg": "Invalid request: missing field `method`", "id": request_id}
        params = request.get("params", [])
        if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
                return {
                    "code": 2,
                    "msg": "Invalid request: params must be strings",
                    "id": request_id,
                }
            bad = [p for p in params if not is_well_formed(p)]
            if bad:
                return {
                    "code": 2,
                    "msg": f"Invalid request: invalid stream {bad[0]!r}",
                    "id": request_id,
                }
            if method == "SUBSCRIBE":
                if len(set(client.subs) | set(params)) > VENUES[client.market].max_streams:
                    return {"code": 2, "msg": "Invalid request: too many streams", "id": request_id}
                for name in params:
                    if name not in client.subs:
                        client.subs[name] = self._feed(client, name)
            else:
                for name in params:
                    client.subs.pop(name, None)
            return {"result": None, "id": request_id}
        if method == "LIST_SUBSCRIPTIONS":
            return {"result": list(client.subs), "id": request_id}
        if method in ("SET_PROPERTY", "GET_PROPERTY"):
            if not isinstance(params, list) or not params or params[0] != "combined":
                return {"code": 0, "msg": "Unknown property", "id": request_id}
            if method == "GET_PROPERTY":
                return {"result": client.combined, "id": request_id}
            if len(params) != 2 or not isinstance(params[1], bool):
                return {"code": 1, "msg": "Invalid value type: expected Boolean", "id": request_id}
            client.combined = params[1]
            return {"result": None, "id": request_id}
        return {
            "code": 2,
            "msg": f"Invalid request: unknown variant {method!r}, expected one of `SUBSCRIBE`, "
            "`UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY`",
            "id": request_id,
        }

    async def _replay_to(self, ws: ServerConnection, names: list[str], combined: bool) -> None:
        """Send a recording's frames for the streams this connection asked for."""
        from ..asyncio.replay import replay_entries

        assert self.replay is not None
        path, speed = self.replay
        wanted = set(names)
        try:
            async for header, entry in replay_entries(path, speed):
                if entry.notice is not None and self.on_notice is not None:
                    self.on_notice(entry.notice)
                if entry.binary is not None:  # an SBE recording: its frames, as sent
                    try:
                        events = entry.messages()
                    except ValueError:  # not of the schema: sent anyway, the client says so
                        events = []
                    stream = events[0]["stream"] if events and header.combined else None
                    if not wanted or stream is None or stream in wanted:
                        await ws.send(entry.binary)
                    continue
                if entry.frame is None or entry.snapshot:
                    continue
                if header.combined:
                    message = entry.decoded()
                    stream = message.get("stream") if isinstance(message, dict) else None
                else:
                    stream = header.streams[0] if header.streams else None
                if wanted and stream not in wanted:
                    continue
                if combined == header.combined:
                    frame = entry.frame
                elif combined:
                    frame = (
                        '{"stream":'
                        + orjson.dumps(stream).decode()
                        + ',"data":'
                        + entry.frame
                        + "}"
                    )
                else:
                    frame = orjson.dumps(entry.decoded()["data"]).decode()
                await ws.send(frame)
            await ws.close(1000, "end of recording")
        except ConnectionClosed:
            pass

    async def _send_loop(self, client: _Client) -> None:
        ws, faults, frames = client.ws, client.faults, client.frames
        try:
            while True:
                if client.overflowed:
                    log.info("closing a client that does not keep up with the feed")
                    await ws.close(1008, "Client too slow")
                    return
                if not frames:
                    client.ready.clear()
                    await client.ready.wait()
                    continue
                if faults.active and await self._apply_faults_before(client):
                    return
                frame = frames.popleft()
                if faults.fragment_every and (client.sent + 1) % faults.fragment_every == 0:
                    await ws.send(_fragments(frame))
                else:
                    await ws.send(frame, text=not client.sbe)
                client.sent += 1
                if faults.active and await self._apply_faults_after(client):
                    return
        except ConnectionClosed:
            return

    async def _apply_faults_before(self, client: _Client) -> bool:
        faults = client.faults
        if faults.delay:
            await asyncio.sleep(faults.delay)
        if faults.stall_after is not None and client.sent >= faults.stall_after:
            if faults.stall_pings and client.ws.transport is not None:
                client.ws.transport.pause_reading()
            await asyncio.Future()  # silent until the connection goes away
        return False

    async def _apply_faults_after(self, client: _Client) -> bool:
        faults, sent = client.faults, client.sent
        if faults.garbage_every and sent % faults.garbage_every == 0:
            await self._send_garbage(client)
        if faults.shutdown_after is not None and sent == faults.shutdown_after:
            self._spawn(self._shutdown(client, faults.shutdown_grace))
        if faults.drop_after is not None and sent >= faults.drop_after:
            self._drop(client, faults.drop_close_frame, faults.drop_mid_frame)
            return True
        return False

    async def _send_garbage(self, client: _Client) -> None:
        kind = client.faults.garbage_kind
        ws = client.ws
        if kind == "binary":
            await ws.send(b"\x00\x01binary frame")
        elif kind == "scalar":
            await ws.send("42")
        elif kind == "wrong_stream":
            await ws.send('{"stream":"nosuchsymbol@trade","data":{"e":"trade"}}')
        elif kind == "invalid_utf8":
            await ws.send(b'{"e":"\xff\xfe"}', text=True)
        elif kind == "huge":
            await ws.send('{"e":"huge","x":"' + "a" * (5 * 2**20) + '"}')
        else:
            await ws.send("this is not JSON {")

    def _drop(self, client: _Client, close_frame: bool, mid_frame: bool = False) -> None:
        self.clients.discard(client)
        transport = client.ws.transport
        if mid_frame and transport is not None:
            # The start of a text frame announcing 200 bytes, 10 of them sent, then a reset.
            transport.write(b"\x81\x7e\x00\xc8" + b'{"e":"trad')
            transport.abort()
        elif close_frame:
            self._spawn(client.ws.close(1011, "injected drop"))
        elif client.ws.transport is not None:
            client.ws.transport.abort()

    async def _shutdown(self, client: _Client, grace: float) -> None:
        with contextlib.suppress(ConnectionClosed):
            await client.ws.send(orjson.dumps({"e": "serverShutdown", "E": m.now_ms()}).decode())
            await asyncio.sleep(grace)
            await client.ws.close(1001, "server shutdown")
