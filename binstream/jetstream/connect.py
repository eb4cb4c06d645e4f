"""Connecting to NATS: server URLs checked up front, credentials kept out of sight, and the
first connection failing fast with one clear reason (later ones are retried forever).

Example::

    >>> servers = parse_servers("nats://alice:s3cret@10.0.0.5:4222,nats://10.0.0.6")
    >>> [display_url(s) for s in servers]
    ['nats://alice:***@10.0.0.5:4222', 'nats://10.0.0.6:4222']
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..errors import EndpointError, NatsAuthError, NatsError

SCHEMES = ("nats", "tls", "ws", "wss")
DEFAULT_PORTS = {"nats": 4222, "tls": 4222, "ws": 80, "wss": 443}
NATS_EXTRA = "NATS needs the nats-py package: pip install 'binstream[nats]'"


def parse_servers(text: str) -> list[str]:
    """Comma-separated NATS URLs (``nats://host:4222``), checked; EndpointError names the
    first bad one. A bare ``host:port`` means ``nats://host:port``."""
    servers = []
    for raw in (part.strip() for part in text.split(",")):
        if not raw:
            continue
        url = raw if "://" in raw else f"nats://{raw}"
        parts = urlsplit(url)
        try:
            port = parts.port
        except ValueError:
            port = -1
        if (
            parts.scheme not in SCHEMES
            or not parts.hostname
            or port == -1
            or parts.path not in ("", "/")
        ):
            raise EndpointError(
                f"{display_url(url)!r} is not a NATS server URL: write nats://HOST[:PORT], "
                "several separated by commas"
            )
        netloc = parts.netloc if port else f"{parts.netloc}:{DEFAULT_PORTS[parts.scheme]}"
        servers.append(urlunsplit((parts.scheme, netloc, "", "", "")))
    if not servers:
        raise EndpointError("no NATS server given: write nats://HOST[:PORT]")
    return servers


def display_url(url: str) -> str:
    """``url`` with any password or token replaced by ``***``."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, colon, _ = userinfo.partition(":")
    shown = f"{user}:***" if colon else "***"
    return urlunsplit((parts.scheme, f"{shown}@{hostport}", parts.path, parts.query, ""))


@dataclass
class NatsOptions:
    """How to reach NATS: servers, credentials, and what to call on connection changes."""

    servers: list[str]
    creds_file: Path | None = None
    name: str = "binstream"
    connect_timeout: float = 5.0
    #: Awaited with a short text on ``"disconnected"``, ``"reconnected"``, ``"error"``.
    on_change: Callable[[str, str], Awaitable[None]] | None = None

    def shown(self) -> str:
        """The servers for messages, secrets masked."""
        return ",".join(display_url(s) for s in self.servers)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    text = str(exc).removeprefix("nats: ").strip("'\"")
    return text or type(exc).__name__


def _is_auth(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "authorization" in text or "authentication" in text or "credentials" in text


def _is_connection_loss(exc: BaseException) -> bool:
    """A lost connection (said by the disconnect notice that follows), not an error of its
    own such as a permission refused."""
    from nats.errors import ConnectionClosedError, StaleConnectionError, UnexpectedEOF

    losses = (OSError, EOFError, asyncio.IncompleteReadError, ConnectionClosedError,
              StaleConnectionError, UnexpectedEOF, TimeoutError)  # fmt: skip
    return isinstance(exc, losses)


def _has_credentials(options: NatsOptions) -> bool:
    return options.creds_file is not None or any("@" in urlsplit(s).netloc for s in options.servers)


async def connect(options: NatsOptions) -> Any:
    """A connected ``nats.aio.client.Client`` that reconnects forever once connected.

    The first connection fails fast: :class:`NatsAuthError` when the server refuses (or
    wants) credentials, :class:`NatsError` when no server can be reached.
    """
    try:
        import nats
    except ImportError:
        raise NatsError(NATS_EXTRA) from None
    if options.creds_file is not None and not options.creds_file.is_file():
        raise EndpointError(f"--creds {options.creds_file}: no such file")
    loop = asyncio.get_running_loop()
    first_error: asyncio.Future[BaseException] = loop.create_future()
    connected = False

    async def on_error(exc: Exception) -> None:
        if not connected and not first_error.done():
            first_error.set_result(exc)
        elif connected and options.on_change is not None and not _is_connection_loss(exc):
            await options.on_change("error", _reason(exc))

    async def on_disconnected() -> None:
        if connected and options.on_change is not None:
            await options.on_change("disconnected", "")

    async def on_reconnected() -> None:
        if options.on_change is not None:
            where = client.connected_url
            await options.on_change("reconnected", display_url(where.geturl()) if where else "")

    client = nats.NATS()
    attempt = asyncio.ensure_future(
        client.connect(
            options.servers,
            name=options.name,
            connect_timeout=options.connect_timeout,  # type: ignore[arg-type]  # seconds
            allow_reconnect=True,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,  # type: ignore[arg-type]
            user_credentials=str(options.creds_file) if options.creds_file else None,
            error_cb=on_error,
            disconnected_cb=on_disconnected,
            reconnected_cb=on_reconnected,
        )
    )
    either: set[asyncio.Future[Any]] = {attempt, first_error}
    done, _ = await asyncio.wait(
        either,
        timeout=options.connect_timeout + 1,
        return_when=asyncio.FIRST_COMPLETED,
    )
    if attempt in done and attempt.exception() is None:
        connected = True
        return client
    attempt.cancel()
    try:
        await attempt
    except BaseException as exc:
        cause: BaseException | None = exc if not isinstance(exc, asyncio.CancelledError) else None
    else:
        cause = None
    if first_error.done():
        cause = first_error.result()
    await client.close()
    where = options.shown()
    if cause is not None and _is_auth(cause):
        if _has_credentials(options):
            raise NatsAuthError(f"NATS at {where} refused the credentials ({_reason(cause)})")
        raise NatsAuthError(
            f"NATS at {where} wants credentials: put user:password@ in the URL, "
            "or give --creds FILE"
        )
    reason = (
        _reason(cause) if cause is not None else f"no answer within {options.connect_timeout:g} s"
    )
    raise NatsError(f"cannot connect to NATS at {where}: {reason}")
