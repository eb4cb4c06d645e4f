"""Account streams of USD-M futures, COIN-M futures and options: the listenKey lifecycle.

Binance still serves these venues' account events through a listenKey (their docs, 2026):
``POST <rest>/fapi/v1/listenKey`` (``/dapi/v1``, ``/eapi/v1``) with the ``X-MBX-APIKEY``
header makes one (or returns the account's active one, extended); it lives 60 minutes;
``PUT`` extends it, ``DELETE`` closes it. USD-M and options connect to the ``/private``
route: ``<stream>/private/ws?listenKey=<key>`` (optionally ``&events=A/B``: without it every
event type comes); COIN-M to ``<stream>/ws/<key>``. The listenKey calls need the API key
only: no signature, no timestamp, so neither the secret nor the clock plays a part.

:class:`ListenKeySession` runs the lifecycle on every connection of a link:

- before each connection it asks for the key (``POST``: the active key, extended, or a new
  one when it lapsed), so a reconnect after a long outage carries on with a valid key;
- while connected it sends ``PUT`` every ``keepalive_interval`` (30 minutes, well inside
  the 60); a failed keepalive is retried with backoff; a key Binance no longer knows
  (``-1125``) or a ``listenKeyExpired`` event makes a new key and a new connection, with one
  status line (``renewed``);
- ``stop()``/``close()`` closes the key (``DELETE``).

What cannot be recovered: events Binance produced while no valid key was connected (between
an expiry and the new key's connection) are not replayed by Binance; binstream says when
that can have happened.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from ..errors import RestError
from ..messages import AUTH_ERROR
from ..signing import mask
from .link import Link, LinkFatal
from .rest import request_json

if TYPE_CHECKING:
    from ..endpoints import Endpoints
    from ..transport.base import WireConnection

log = logging.getLogger("binstream")

#: How often binstream extends the key (Binance: it lives 60 minutes; ping every 30).
KEEPALIVE_INTERVAL = 30 * 60.0
#: Binance's answer to a keepalive of a key it no longer knows.
UNKNOWN_KEY = -1125
#: Credential refusals: retrying cannot fix them.
AUTH_CODES = (-2014, -2015, -2008, -1002)


@dataclass(frozen=True)
class ListenKeyConfig:
    """Where and how a listenKey stream connects.

    ``rest`` + ``prefix`` locate the listenKey calls (``https://fapi.binance.com`` +
    ``/fapi/v1``); ``stream`` is the websocket base and ``private`` says whether it is a
    routed host (``<stream>/private/ws?listenKey=``) or not (``<stream>/ws/<key>``).
    """

    name: str
    rest: str
    prefix: str
    stream: str
    private: bool
    api_key: str
    keepalive_interval: float = KEEPALIVE_INTERVAL
    #: Event types to receive (routed hosts' ``events=``); None: all of them.
    events: tuple[str, ...] | None = None
    rest_timeout: float = 10.0

    def __repr__(self) -> str:
        return f"ListenKeyConfig({self.name}, key={mask(self.api_key)})"

    @classmethod
    def for_market(cls, endpoints: Endpoints, api_key: str, **options: Any) -> ListenKeyConfig:
        """The account stream of ``endpoints``' market (USD-M, COIN-M or options)."""
        return cls(endpoints.market.value, endpoints.rest, endpoints.venue.rest_prefix,
                   endpoints.stream, endpoints.venue.routed, api_key, **options)  # fmt: skip

    @classmethod
    def portfolio_margin(
        cls, endpoints: Endpoints, api_key: str, local: bool, **options: Any
    ) -> ListenKeyConfig:
        """Portfolio margin: ``/papi/v1/listenKey`` (on ``papi.binance.com``, or on the
        USD-M base of another server) and ``<fstream>/pm/ws/<key>``."""
        rest = endpoints.rest if local else "https://papi.binance.com"
        return cls("portfolio margin", rest, "/papi/v1", endpoints.stream + "/pm", False,
                   api_key, **options)  # fmt: skip


def describe_refusal(exc: RestError, api_key: str) -> str:
    """A clear sentence for a refused listenKey call, naming the fix; the key masked."""
    key = mask(api_key)
    if exc.code == -2015 or exc.status == 401:
        return (
            f"Binance refused API key {key} (-2015): check that the key exists, that this IP "
            "is on its whitelist and that it may read the futures or options account"
        )
    if exc.code == -2014:
        return f"API key {key} is malformed (-2014): copy it again from the API management page"
    if exc.code == -2008:
        return f"API key {key} is not known (-2008): it may have been deleted"
    return f"the listenKey request was refused: {exc}"


class ListenKeyApi:
    """The three listenKey calls of one venue, over REST in a worker thread."""

    def __init__(self, config: ListenKeyConfig) -> None:
        self.config = config
        self._path = config.prefix + "/listenKey"

    async def _call(self, method: str, params: dict[str, Any]) -> Any:
        config = self.config
        headers = {"X-MBX-APIKEY": config.api_key}
        return await asyncio.to_thread(request_json, method, config.rest, self._path, params,
                                       config.rest_timeout, headers)  # fmt: skip

    async def create(self) -> str:
        """The account's listenKey: the active one (extended), or a new one."""
        reply = await self._call("POST", {})
        key = reply.get("listenKey") if isinstance(reply, dict) else None
        if not isinstance(key, str) or not key:
            raise RestError(f"{self._path} answered without a listenKey")
        return key

    async def keepalive(self, key: str) -> None:
        """Extend ``key`` by 60 minutes."""
        await self._call("PUT", {"listenKey": key})

    async def close(self, key: str) -> None:
        """Close ``key``: its stream ends."""
        await self._call("DELETE", {"listenKey": key})


def is_refusal(exc: RestError) -> bool:
    """A credentials problem (retrying cannot fix it)."""
    return exc.code in AUTH_CODES or exc.status in (401, 403)


class ListenKeySession:
    """The :class:`~binstream.asyncio.link.LinkSession` of a futures or options account
    stream.

    Yields each event as Binance sends it (``ORDER_TRADE_UPDATE``, ``ACCOUNT_UPDATE``,
    ``TRADE_LITE``, ...). ``listenKeyExpired`` is handled here (a new key, a new
    connection, a ``renewed`` status) and not delivered.
    """

    def __init__(self, config: ListenKeyConfig) -> None:
        self.config = config
        self.api = ListenKeyApi(config)
        self.key: str | None = None
        #: Monotonic time until which the current key is known to be alive.
        self.alive_until = 0.0
        self.renewals = 0

    def __repr__(self) -> str:
        state = f"key={mask(self.key)}" if self.key else "no key"
        return f"<ListenKeySession {self.config.name} {state}>"

    # -- LinkSession ----------------------------------------------------------------------

    async def prepare(self, link: Link) -> None:
        """Get the key before connecting: the active one (extended), or a new one."""
        lapsed = self.key is not None and time.monotonic() > self.alive_until
        try:
            key = await self.api.create()
        except RestError as exc:
            if is_refusal(exc):
                raise LinkFatal(describe_refusal(exc, self.config.api_key), AUTH_ERROR) from None
            raise ConnectionError(f"cannot get a listenKey: {exc}") from None
        if self.key is not None and key != self.key:
            self.renewals += 1
            detail = "listenKey renewed"
            if lapsed:
                detail += "; account events between the old key's expiry and now are lost"
            link.socket.notice("renewed", detail)
            log.warning("%s: %s", link.socket.path, detail)
        self.key = key
        self.alive_until = time.monotonic() + 3600.0

    def url(self, link: Link) -> str:
        """``/private/ws?listenKey=...`` (USD-M, options) or ``/ws/<key>`` (COIN-M)."""
        assert self.key is not None, "prepare() runs before url()"
        config = self.config
        if not config.private:
            return f"{config.stream}/ws/{self.key}"
        url = f"{config.stream}/private/ws?listenKey={self.key}"
        if self.config.events:
            url += "&events=" + "/".join(self.config.events)
        return url

    async def on_open(self, link: Link, conn: WireConnection) -> None:
        """Keep the key alive while this connection lasts."""
        link.spawn(self._keep_alive(link, conn), "keepalive")

    def on_age_limit(self, link: Link, conn: WireConnection) -> None:
        """Reconnect before Binance's 24 h limit (the key goes on)."""
        link.expect_close(f"connection is {link.options.max_age:.0f}s old")
        conn.abort()

    async def read(self, link: Link, conn: WireConnection) -> None:
        """Deliver each event; a ``listenKeyExpired`` replaces the key and the connection."""
        buffer = link.socket.buffer
        while True:
            for frame in await conn.recv_batch():
                try:
                    event = orjson.loads(frame)
                except orjson.JSONDecodeError:
                    link.invalid(frame, "not JSON")
                    continue
                if not isinstance(event, dict):
                    link.invalid(frame, "JSON that is not an object")
                    continue
                if event.get("e") == "listenKeyExpired":
                    log.warning("%s: listenKey expired; making a new one", link.socket.path)
                    self.alive_until = 0.0
                    link.expect_close("listenKey expired")
                    return
                link.count()
                await buffer.put(event)

    async def close(self, link: Link) -> None:
        """Close the key on Binance (best effort: it lapses by itself within the hour)."""
        key, self.key = self.key, None
        if key is None:
            return
        try:
            await asyncio.wait_for(self.api.close(key), self.config.rest_timeout)
        except (RestError, TimeoutError) as exc:
            log.info("%s: closing the listenKey failed: %s", link.socket.path, exc)

    # -- keepalive ------------------------------------------------------------------------

    async def _keep_alive(self, link: Link, conn: WireConnection) -> None:
        """``PUT`` every interval; retried with backoff within the key's hour."""
        interval = self.config.keepalive_interval
        while True:
            await asyncio.sleep(interval)
            delay = min(1.0, interval / 8)
            while True:
                key = self.key
                if key is None:
                    return
                try:
                    await self.api.keepalive(key)
                    self.alive_until = time.monotonic() + 3600.0
                    break
                except RestError as exc:
                    if is_refusal(exc):
                        raise LinkFatal(
                            describe_refusal(exc, self.config.api_key), AUTH_ERROR
                        ) from None
                    if exc.code == UNKNOWN_KEY or (
                        exc.status is not None and 400 <= exc.status < 500
                    ):
                        log.warning("%s: Binance no longer knows the listenKey (%s); renewing",
                                    link.socket.path, exc)  # fmt: skip
                        self.alive_until = 0.0
                        link.expect_close("listenKey lapsed")
                        conn.abort()
                        return
                    log.warning("%s: listenKey keepalive failed (%s); retrying in %.1fs",
                                link.socket.path, exc, delay)  # fmt: skip
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, interval)
