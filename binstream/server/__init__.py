"""binstream's local Binance-compatible exchange (market streams, REST, WS-API, faults).

:mod:`.spot` holds the spot venue's WebSocket API and trading, :mod:`.derivatives` the
USD-M, COIN-M and options venues; what both use (the simulated market, the stream feeds,
faults, the HTTP front) sits here beside :class:`LocalExchange`.
"""

from .demo import DEMO_API_KEY, DEMO_API_SECRET
from .exchange import LocalExchange
from .faults import Faults
from .market import DEFAULT_SYMBOLS, SymbolSpec
from .spot.account import SpotAccount

__all__ = [
    "DEFAULT_SYMBOLS",
    "DEMO_API_KEY",
    "DEMO_API_SECRET",
    "Faults",
    "LocalExchange",
    "SpotAccount",
    "SymbolSpec",
]
