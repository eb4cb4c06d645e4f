"""``GET /api/v3/exchangeInfo`` (and the WS-API's ``exchangeInfo``): Binance's documented
shape, consistent with the simulated market's tick and lot sizes.

Example::

    >>> from binstream.server.market import DEFAULT_SYMBOLS, SymbolMarket
    >>> info = exchange_info({"BNBBTC": SymbolMarket(DEFAULT_SYMBOLS[0], 1)}, None)
    >>> [f["tickSize"] for f in info["symbols"][0]["filters"] if "tickSize" in f]
    ['0.00000100']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .. import market as m

#: The rate limits Binance's spot API announces.
RATE_LIMITS: list[dict[str, Any]] = [
    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
    {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
    {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
    {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000},
]
ORDER_TYPES = ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT",
               "TAKE_PROFIT_LIMIT"]  # fmt: skip
STP_MODES = ["NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH", "DECREMENT"]
QUOTES = ("USDT", "USDC", "BTC", "ETH", "BNB")


class UnknownSymbolError(LookupError):
    """A ``symbol``/``symbols`` parameter names a symbol the exchange does not list."""


def split_symbol(symbol: str) -> tuple[str, str]:
    """``BNBBTC`` → (``BNB``, ``BTC``): the quote asset is the longest known suffix."""
    quote = next((q for q in QUOTES if symbol.endswith(q) and symbol != q), symbol[-3:])
    return symbol[: -len(quote)], quote


def symbol_filters(market: m.SymbolMarket) -> list[dict[str, Any]]:
    """PRICE_FILTER, LOT_SIZE, NOTIONAL and the other filters Binance lists per symbol."""
    tick, lot = m.fmt(market.tick), m.fmt(market.lot, m.QTY_DECIMALS)
    max_qty = m.fmt(9_000_000 * 10**m.QTY_DECIMALS, m.QTY_DECIMALS)
    min_notional = m.fmt(market.ceiling * market.tick // 10**6 or market.tick)
    return [
        {"filterType": "PRICE_FILTER", "minPrice": tick,
         "maxPrice": m.fmt(market.ceiling * market.tick * 10), "tickSize": tick},
        {"filterType": "LOT_SIZE", "minQty": lot, "maxQty": max_qty, "stepSize": lot},
        {"filterType": "ICEBERG_PARTS", "limit": 10},
        {"filterType": "MARKET_LOT_SIZE", "minQty": "0.00000000", "maxQty": max_qty,
         "stepSize": "0.00000000"},
        {"filterType": "TRAILING_DELTA", "minTrailingAboveDelta": 10,
         "maxTrailingAboveDelta": 2000, "minTrailingBelowDelta": 10,
         "maxTrailingBelowDelta": 2000},
        {"filterType": "PERCENT_PRICE_BY_SIDE", "bidMultiplierUp": "5", "bidMultiplierDown": "0.2",
         "askMultiplierUp": "5", "askMultiplierDown": "0.2", "avgPriceMins": 5},
        {"filterType": "NOTIONAL", "minNotional": min_notional, "applyMinToMarket": True,
         "maxNotional": "9000000.00000000", "applyMaxToMarket": False, "avgPriceMins": 5},
        {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
        {"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": 5},
    ]  # fmt: skip


def symbol_info(market: m.SymbolMarket) -> dict[str, Any]:
    """One entry of ``symbols``."""
    base, quote = split_symbol(market.symbol)
    return {
        "symbol": market.symbol,
        "status": "TRADING",
        "baseAsset": base,
        "baseAssetPrecision": m.QTY_DECIMALS,
        "quoteAsset": quote,
        "quotePrecision": m.PRICE_DECIMALS,
        "quoteAssetPrecision": m.PRICE_DECIMALS,
        "baseCommissionPrecision": m.QTY_DECIMALS,
        "quoteCommissionPrecision": m.PRICE_DECIMALS,
        "orderTypes": ORDER_TYPES,
        "icebergAllowed": True,
        "ocoAllowed": True,
        "otoAllowed": True,
        "opoAllowed": False,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": True,
        "cancelReplaceAllowed": True,
        "amendAllowed": False,
        "pegInstructionsAllowed": False,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": symbol_filters(market),
        "permissions": [],
        "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": STP_MODES,
    }


def exchange_info(
    markets: Mapping[str, m.SymbolMarket], symbols: Iterable[str] | None
) -> dict[str, Any]:
    """The whole answer, for every symbol or only ``symbols``.

    Raises :class:`UnknownSymbolError` when ``symbols`` names one the exchange lacks.
    """
    if symbols is None:
        chosen = list(markets.values())
    else:
        chosen = []
        for symbol in symbols:
            market = markets.get(symbol)
            if market is None:
                raise UnknownSymbolError(symbol)
            chosen.append(market)
    return {
        "timezone": "UTC",
        "serverTime": m.now_ms(),
        "rateLimits": RATE_LIMITS,
        "exchangeFilters": [],
        "symbols": [symbol_info(market) for market in chosen],
    }
