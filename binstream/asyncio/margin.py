"""Margin and isolated margin account events, over the WebSocket API with a listenToken.

Binance retired the margin listenKey (``/sapi/v1/userDataStream``) with spot's in February
2026. Its margin docs (2026, "listenToken Subscription Methods") give the way that replaced
it: ``POST /sapi/v1/userListenToken`` (``X-MBX-APIKEY``; ``isIsolated=true&symbol=...`` for
an isolated margin account; ``validity`` up to 24 hours) returns a token and its
``expirationTime``; the WebSocket API's ``userDataStream.subscribe.listenToken`` subscribes
with it. The subscription is not renewed by itself: before it expires, a new token must be
fetched and subscribed with again, else ``eventStreamTerminated`` ends it.

:class:`MarginStreamSession` does that on every connection: a token, a subscription, and a
renewal a minute (or a tenth of the validity) before expiry; a terminated stream is
subscribed again with a fresh token.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from ..errors import RestError
from ..messages import AUTH_ERROR, SUBSCRIPTION_ERROR
from ..signing import mask
from .link import Link, LinkFatal
from .listen_key import describe_refusal, is_refusal
from .rest import request_json
from .user import UserStreamSession, WsApiError

if TYPE_CHECKING:
    from ..transport.base import WireConnection

log = logging.getLogger("binstream")

TOKEN_PATH = "/sapi/v1/userListenToken"
#: Binance's longest validity, and binstream's default.
MAX_VALIDITY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class MarginStreamConfig:
    """Whose margin account, and how long each token lives."""

    rest: str
    api_key: str
    isolated_symbol: str | None = None
    validity_ms: int = MAX_VALIDITY_MS
    rest_timeout: float = 10.0

    def __repr__(self) -> str:
        kind = f"isolated {self.isolated_symbol}" if self.isolated_symbol else "cross"
        return f"MarginStreamConfig({kind}, key={mask(self.api_key)})"


class MarginStreamSession(UserStreamSession):
    """The user data stream of a margin account: :class:`~binstream.asyncio.user.UserStreamSession`
    subscribing with listenTokens instead of a signature."""

    _renewal_ids = itertools.count(1)

    def __init__(self, config: MarginStreamConfig) -> None:
        super().__init__(None)  # type: ignore[arg-type]  # no signing credentials: a token
        self.margin = config
        self.expires_ms = 0
        self._renewal: str | None = None
        self._renewer: asyncio.Task[Any] | None = None

    async def _token(self) -> tuple[str, int]:
        config = self.margin
        params: dict[str, Any] = {"validity": config.validity_ms}
        if config.isolated_symbol:
            params.update(isIsolated="TRUE", symbol=config.isolated_symbol)
        try:
            reply = await asyncio.to_thread(
                request_json, "POST", config.rest, TOKEN_PATH, params, config.rest_timeout,
                {"X-MBX-APIKEY": config.api_key},
            )  # fmt: skip
        except RestError as exc:
            if is_refusal(exc):
                raise LinkFatal(describe_refusal(exc, config.api_key), AUTH_ERROR) from None
            if exc.status is not None and 400 <= exc.status < 500:
                raise LinkFatal(f"Binance refused the margin listenToken: {exc}",
                                SUBSCRIPTION_ERROR) from None  # fmt: skip
            raise ConnectionError(f"cannot get a margin listenToken: {exc}") from None
        token, expires = reply.get("token"), reply.get("expirationTime")
        if not isinstance(token, str) or not isinstance(expires, int):
            raise ConnectionError(f"{TOKEN_PATH} answered without a token")
        return token, expires

    async def _subscribe_user(self, link: Link, conn: WireConnection) -> int:
        token, expires = await self._token()
        try:
            result = await self._request(link, conn, "userDataStream.subscribe.listenToken",
                                         {"listenToken": token})  # fmt: skip
        except WsApiError as error:
            if error.status >= 500 or error.code == -1209:  # a token that went stale: again
                raise ConnectionError(f"listenToken refused ({error.code}: {error.msg})") from None
            raise LinkFatal(f"margin subscription refused ({error.code}: {error.msg})",
                            SUBSCRIPTION_ERROR) from None  # fmt: skip
        if not isinstance(result, dict) or "subscriptionId" not in result:
            raise LinkFatal(f"unexpected subscription reply: {result!r}", SUBSCRIPTION_ERROR)
        self.expires_ms = int(result.get("expirationTime", expires))
        if self._renewer is not None:
            self._renewer.cancel()  # a new subscription (after a termination) renews itself
        self._renewer = link.spawn(self._renew(link, conn), "listenToken renewal")
        return int(result["subscriptionId"])

    async def _renew(self, link: Link, conn: WireConnection) -> None:
        """Subscribe again with a fresh token before the current one expires."""
        validity_s = self.margin.validity_ms / 1000
        while True:
            margin = min(60.0, validity_s / 10)
            await asyncio.sleep(max(0.0, self.expires_ms / 1000 - time.time() - margin))
            token, expires = await self._token()
            request_id = f"binstream-renewal-{next(self._renewal_ids)}"
            self._renewal = request_id
            message = {"id": request_id, "method": "userDataStream.subscribe.listenToken",
                       "params": {"listenToken": token}}  # fmt: skip
            await conn.send(orjson.dumps(message).decode())
            self.expires_ms = expires
            log.info("%s: margin listenToken renewed", link.socket.path)

    async def _handle(self, link: Link, conn: WireConnection, frame: str | bytes) -> bool:
        """A refused renewal reconnects (and subscribes afresh); the rest as the user stream."""
        if self._renewal is not None and isinstance(frame, str) and self._renewal in frame:
            reply = orjson.loads(frame)
            if isinstance(reply, dict) and reply.get("id") == self._renewal:
                self._renewal = None
                if reply.get("status") != 200:
                    log.warning("%s: listenToken renewal refused: %s", link.socket.path,
                                reply.get("error"))  # fmt: skip
                    link.expect_close("listenToken renewal refused")
                    return False
                return True
        return await super()._handle(link, conn, frame)
