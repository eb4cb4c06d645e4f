"""binstream's exception hierarchy.

::

    BinstreamError
    ├── InvalidStreamError (also ValueError)
    │   └── InvalidSymbolError
    │       └── UnknownSymbolError
    ├── EndpointError (also ValueError)
    ├── StreamError
    ├── StreamClosedError
    ├── ReceiveTimeoutError (also TimeoutError)
    ├── RestError
    └── AuthError
        └── MissingKeysError

Every error a user can provoke with bad input derives from :class:`BinstreamError`,
so the command line maps them to one clear line and an exit code.
"""

from __future__ import annotations


class BinstreamError(Exception):
    """Base class of every error binstream raises on purpose."""


class InvalidStreamError(BinstreamError, ValueError):
    """A stream name, enum value or stream option is not valid.

    The message says what is wrong and, where it can, what to type instead.
    """


class InvalidSymbolError(InvalidStreamError):
    """A trading symbol is malformed (``BNB/BTC``, ``bnb-btc``, empty, too long)."""


class EndpointError(BinstreamError, ValueError):
    """An endpoint URL or endpoint option is not usable."""


class TransportUnavailableError(BinstreamError, ValueError):
    """The websocket transport asked for is unknown or not installed."""


class StreamError(BinstreamError):
    """The socket cannot do what was asked (e.g. subscribe on a single raw stream)."""


class StreamClosedError(BinstreamError):
    """The socket has ended (stopped, or gave up reconnecting) and holds no more messages."""


class ReceiveTimeoutError(BinstreamError, TimeoutError):
    """No message arrived within the socket's ``user_timeout``."""


class RestError(BinstreamError):
    """A REST request (depth snapshot, listenKey) failed; ``status`` is the HTTP code and
    ``code`` Binance's error code, when it sent one."""

    def __init__(self, message: str, status: int | None = None, code: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class AuthError(BinstreamError):
    """The exchange refused our credentials or signature."""


class MissingKeysError(AuthError):
    """An authenticated stream was asked for without API keys."""


class NatsError(BinstreamError):
    """NATS or its JetStream cannot be reached or used (``binstream publish``/``consume``)."""


class NatsAuthError(NatsError, AuthError):
    """The NATS server refused the connection's credentials, or wants some."""


class StreamConflictError(BinstreamError, ValueError):
    """The JetStream stream exists with settings other than those asked for."""


class UnknownSymbolError(InvalidSymbolError):
    """A stream names a symbol its market does not list (or does not trade): Binance
    would acknowledge it and send nothing. ``problems`` holds one message per symbol."""

    def __init__(self, problems: list[str]) -> None:
        shown = "; ".join(problems[:3])
        if len(problems) > 3:
            shown += f"; and {len(problems) - 3} more unknown symbols"
        super().__init__(shown)
        self.problems = problems
