"""The user data stream over Binance's WebSocket API (the REST listenKey is gone for spot).

On every (re)connection to ``<ws-api>/ws-api/v3`` the link subscribes with a fresh
timestamp and signature, checks the reply, then yields each event's inner dict
(``outboundAccountPosition``, ``balanceUpdate``, ``executionReport``, ``listStatus``, ...).
``eventStreamTerminated`` leads to a new subscription on the same connection. Binance's
error replies become one clear message; credentials problems end the socket with
``{"e": "error", "type": "BinanceUserStreamAuthError", "m": ...}`` (retrying cannot fix
them), server trouble is retried like any dropped connection.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from dataclasses import dataclass
from typing import Any

import orjson

from ..messages import AUTH_ERROR, SUBSCRIPTION_ERROR
from ..signing import Credentials, mask
from ..transport.base import WireConnection
from .link import Link, LinkFatal

log = logging.getLogger("binstream")

DEFAULT_RECV_WINDOW = 5000


@dataclass
class UserStreamConfig:
    """How the user stream authenticates."""

    credentials: Credentials
    logon: bool = False  # session.logon + userDataStream.subscribe (Ed25519 keys only)
    recv_window: int | None = None


class WsApiError(Exception):
    """An error reply from the WebSocket API."""

    def __init__(self, status: int, code: int, msg: str) -> None:
        super().__init__(f"{code}: {msg}")
        self.status, self.code, self.msg = status, code, msg


def describe_error(error: WsApiError, credentials: Credentials, offset_ms: int | None) -> str:
    """A clear sentence for a WS-API error, naming the fix. Never includes the secret."""
    key = mask(credentials.api_key)
    code = error.code
    if code == -2015:
        return (
            f"Binance refused API key {key} (-2015: {error.msg}): check that the key exists, "
            "that this IP is on its whitelist and that it may read the account"
        )
    if code == -2014:
        return f"API key {key} is malformed (-2014): copy it again from the API management page"
    if code == -1022:
        what = "HMAC secret" if credentials.kind == "hmac" else f"{credentials.kind} private key"
        return f"signature rejected (-1022): the {what} does not belong to API key {key}"
    if code == -1021:
        if offset_ms is None:
            skew = "the clock offset could not be measured"
        else:
            direction = "ahead of" if offset_ms > 0 else "behind"
            skew = f"this machine's clock is {abs(offset_ms) / 1000:.3f}s {direction} Binance's"
        return (
            f"timestamp outside recvWindow (-1021): {skew}; sync the clock (e.g. "
            "`chronyc makestep` or `sudo ntpdate pool.ntp.org`) or allow a larger --recv-window"
        )
    return f"the WebSocket API refused the request ({code}: {error.msg})"


def _retryable(error: WsApiError) -> bool:
    return error.status >= 500 or error.status == 429 or error.code in (-1001, -1003, -1008)


class UserStreamSession:
    """The :class:`~binstream.asyncio.link.LinkSession` of the user data stream.

    Subscribes on every new connection, then delivers each event's inner dict. A planned
    replacement (``serverShutdown``, ``max_age``) reconnects at once and subscribes
    again: events of two subscriptions differ in their ``subscriptionId``, so there is no
    byte overlap to switch on.
    """

    _request_ids = itertools.count(1)

    def __init__(self, config: UserStreamConfig) -> None:
        self.config = config
        self._backlog: list[str | bytes] = []
        self._subscription = 0

    async def _request(
        self, link: Link, conn: WireConnection, method: str, params: Any = None
    ) -> Any:
        request_id = f"binstream-{next(self._request_ids)}"
        message: dict[str, Any] = {"id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        await conn.send(orjson.dumps(message).decode())
        async with asyncio.timeout(link.options.open_timeout):
            while True:
                frame = await conn.recv()
                try:
                    reply = orjson.loads(frame)
                except orjson.JSONDecodeError:
                    reply = None
                if isinstance(reply, dict) and reply.get("id") == request_id:
                    break
                self._backlog.append(frame)  # an event that came first: handled in order
        status = int(reply.get("status", 0))
        if status != 200:
            error = reply.get("error") or {}
            raise WsApiError(status, int(error.get("code", 0)), str(error.get("msg", "")))
        return reply.get("result")

    def _signed_params(self) -> dict[str, Any]:
        creds = self.config.credentials
        params: dict[str, Any] = {"apiKey": creds.api_key, "timestamp": int(time.time() * 1000)}
        if self.config.recv_window:
            params["recvWindow"] = self.config.recv_window
        return creds.signed(params)

    async def _clock_offset(self, link: Link, conn: WireConnection) -> int | None:
        try:
            sent = time.time() * 1000
            result = await self._request(link, conn, "time")
            received = time.time() * 1000
            return int((sent + received) / 2 - int(result["serverTime"]))
        except Exception:
            return None

    async def _subscribe_user(self, link: Link, conn: WireConnection) -> int:
        try:
            if self.config.logon:
                await self._request(link, conn, "session.logon", self._signed_params())
                result = await self._request(link, conn, "userDataStream.subscribe")
            else:
                result = await self._request(
                    link, conn, "userDataStream.subscribe.signature", self._signed_params()
                )
        except WsApiError as error:
            credentials = self.config.credentials
            if _retryable(error):
                raise ConnectionError(describe_error(error, credentials, None)) from None
            offset = await self._clock_offset(link, conn) if error.code == -1021 else None
            raise LinkFatal(describe_error(error, credentials, offset), AUTH_ERROR) from None
        if not isinstance(result, dict) or "subscriptionId" not in result:
            raise LinkFatal(f"unexpected subscription reply: {result!r}", SUBSCRIPTION_ERROR)
        subscription = int(result["subscriptionId"])
        log.info("user data stream subscribed (subscription %d)", subscription)
        return subscription

    # -- LinkSession ----------------------------------------------------------------------

    async def on_open(self, link: Link, conn: WireConnection) -> None:
        """Subscribe to the account's events with a fresh signature."""
        self._backlog = []
        self._subscription = await self._subscribe_user(link, conn)

    def url(self, link: Link) -> str:
        """The WebSocket API's URL."""
        return link.plan.url

    def on_age_limit(self, link: Link, conn: WireConnection) -> None:
        """Reconnect (and subscribe again) before Binance's 24 h limit."""
        link.expect_close(f"connection is {link.options.max_age:.0f}s old")
        conn.abort()

    async def read(self, link: Link, conn: WireConnection) -> None:
        """Deliver each event until the connection ends (or the server announces its end)."""
        # A reply awaited while handling an event parks what came before it in the backlog;
        # those frames are newer than the rest of the current batch and older than the next.
        while True:
            while self._backlog:
                if not await self._handle(link, conn, self._backlog.pop(0)):
                    return
            for frame in await conn.recv_batch():
                if not await self._handle(link, conn, frame):
                    return

    async def _handle(self, link: Link, conn: WireConnection, frame: str | bytes) -> bool:
        """Deliver one frame's event; False when the connection should be replaced."""
        if type(frame) is bytes:
            link.invalid(frame, "binary frame")
            return True
        try:
            message = orjson.loads(frame)
        except orjson.JSONDecodeError:
            link.invalid(frame, "not JSON")
            return True
        if not isinstance(message, dict):
            link.invalid(frame, "JSON that is not an object")
            return True
        event = message.get("event")
        if not isinstance(event, dict):
            if "id" not in message:  # replies to our own requests are expected
                link.invalid(frame, "message without an event")
            return True
        kind = event.get("e")
        if kind == "serverShutdown":
            log.info("user data stream: server announced shutdown; reconnecting")
            link.expect_close("server announced shutdown")
            return False
        if kind == "eventStreamTerminated":
            log.warning("user data stream terminated by the server; subscribing again")
            self._subscription = await self._subscribe_user(link, conn)
            return True
        link.count()
        await link.socket.buffer.put(event)
        return True
