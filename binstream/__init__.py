"""binstream: watch Binance's WebSocket streams from a terminal or a Python program.

A drop-in for python-binance's websocket layer::

    from binstream import BinanceSocketManager, ThreadedWebsocketManager

Point either manager at ``endpoint="ws://127.0.0.1:PORT"`` (or ``$BINSTREAM_ENDPOINT``)
to use binstream's local exchange instead of Binance.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .errors import (
    AuthError,
    BinstreamError,
    EndpointError,
    InvalidStreamError,
    InvalidSymbolError,
    MissingKeysError,
    ReceiveTimeoutError,
    RestError,
    StreamClosedError,
    StreamError,
    UnknownSymbolError,
)
from .streams import (
    KLINE_INTERVAL_1DAY,
    KLINE_INTERVAL_1HOUR,
    KLINE_INTERVAL_1MINUTE,
    KLINE_INTERVAL_1MONTH,
    KLINE_INTERVAL_1SECOND,
    KLINE_INTERVAL_1WEEK,
    KLINE_INTERVAL_2HOUR,
    KLINE_INTERVAL_3DAY,
    KLINE_INTERVAL_3MINUTE,
    KLINE_INTERVAL_4HOUR,
    KLINE_INTERVAL_5MINUTE,
    KLINE_INTERVAL_6HOUR,
    KLINE_INTERVAL_8HOUR,
    KLINE_INTERVAL_12HOUR,
    KLINE_INTERVAL_15MINUTE,
    KLINE_INTERVAL_30MINUTE,
    WEBSOCKET_DEPTH_5,
    WEBSOCKET_DEPTH_10,
    WEBSOCKET_DEPTH_20,
    DepthLevel,
    KlineInterval,
    TickerWindow,
    UpdateSpeed,
)
from .venues import ContractType, FuturesType, Market
from .version import __version__

if TYPE_CHECKING:
    from .asyncio.buffer import OverflowPolicy
    from .asyncio.manager import BinanceSocketManager
    from .asyncio.options import ReconnectPolicy, SocketOptions, SocketState, StatusEvent
    from .asyncio.stream_socket import ReconnectingWebsocket, StreamSocket
    from .asyncio.subscriptions import SubscriptionError
    from .endpoints import Endpoints
    from .messages import is_error
    from .threaded.manager import ThreadedWebsocketManager

# Networking modules load on first use, so `binstream --help` does not pay for asyncio.
_LAZY = {
    "OverflowPolicy": "asyncio.buffer",
    "ReconnectingWebsocket": "asyncio.stream_socket",
    "ReconnectPolicy": "asyncio.options",
    "SocketOptions": "asyncio.options",
    "SocketState": "asyncio.options",
    "StatusEvent": "asyncio.options",
    "StreamSocket": "asyncio.stream_socket",
    "is_error": "messages",
    "SubscriptionError": "asyncio.subscriptions",
    "Endpoints": "endpoints",
    "BinanceSocketManager": "asyncio.manager",
    "ThreadedWebsocketManager": "threaded.manager",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'binstream' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "KLINE_INTERVAL_1DAY",
    "KLINE_INTERVAL_1HOUR",
    "KLINE_INTERVAL_1MINUTE",
    "KLINE_INTERVAL_1MONTH",
    "KLINE_INTERVAL_1SECOND",
    "KLINE_INTERVAL_1WEEK",
    "KLINE_INTERVAL_2HOUR",
    "KLINE_INTERVAL_3DAY",
    "KLINE_INTERVAL_3MINUTE",
    "KLINE_INTERVAL_4HOUR",
    "KLINE_INTERVAL_5MINUTE",
    "KLINE_INTERVAL_6HOUR",
    "KLINE_INTERVAL_8HOUR",
    "KLINE_INTERVAL_12HOUR",
    "KLINE_INTERVAL_15MINUTE",
    "KLINE_INTERVAL_30MINUTE",
    "WEBSOCKET_DEPTH_5",
    "WEBSOCKET_DEPTH_10",
    "WEBSOCKET_DEPTH_20",
    "AuthError",
    "BinanceSocketManager",
    "BinstreamError",
    "ContractType",
    "DepthLevel",
    "EndpointError",
    "Endpoints",
    "FuturesType",
    "InvalidStreamError",
    "InvalidSymbolError",
    "KlineInterval",
    "Market",
    "MissingKeysError",
    "OverflowPolicy",
    "ReceiveTimeoutError",
    "ReconnectPolicy",
    "ReconnectingWebsocket",
    "RestError",
    "SocketOptions",
    "SocketState",
    "StatusEvent",
    "StreamClosedError",
    "StreamError",
    "StreamSocket",
    "SubscriptionError",
    "ThreadedWebsocketManager",
    "TickerWindow",
    "UnknownSymbolError",
    "UpdateSpeed",
    "__version__",
    "is_error",
]
