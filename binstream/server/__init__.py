"""binstream's local Binance-compatible exchange (market streams, REST, WS-API, faults)."""

from .exchange import LocalExchange
from .faults import Faults
from .market import DEFAULT_SYMBOLS, SymbolSpec

__all__ = ["DEFAULT_SYMBOLS", "Faults", "LocalExchange", "SymbolSpec"]
