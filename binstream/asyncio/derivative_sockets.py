"""python-binance's futures and options socket methods, for :class:`BinanceSocketManager`.

Every method keeps python-binance 1.0.37's name and parameters. Streams go to the route
Binance serves them on (``/public`` or ``/market`` on USD-M and options, see
:mod:`binstream.venues`), whatever route python-binance would have picked: a
``futures_multiplex_socket`` mixing depth and trades opens one connection per route and
delivers them as one socket, in arrival order.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..derivative_streams import (
    continuous_kline_stream,
    force_order_stream,
    futures_depth_stream,
    mark_price_stream,
    normalize_market_streams,
)
from ..errors import InvalidStreamError
from ..venues import ContractType, FuturesType, Market, futures_market

if TYPE_CHECKING:
    from .stream_socket import StreamSocket

log = logging.getLogger("binstream")


class DerivativesSockets:
    """The USD-M, COIN-M and options methods of the socket manager (a mixin)."""

    def _venue_socket(
        self, names: list[str], market: Market, combined: bool = False
    ) -> StreamSocket:
        raise NotImplementedError  # provided by BinanceSocketManager

    def _futures(self, stream: str, futures_type: object, combined: bool = False) -> StreamSocket:
        market = futures_market(futures_type)
        return self._venue_socket(normalize_market_streams([stream], market), market, combined)

    def _options(self, stream: str) -> StreamSocket:
        names = normalize_market_streams([stream], Market.OPTIONS)
        return self._venue_socket(names, Market.OPTIONS)

    # -- futures (USD-M by default, COIN-M with futures_type=FuturesType.COIN_M) ----------

    def aggtrade_futures_socket(
        self, symbol: str, futures_type: object = FuturesType.USD_M
    ) -> StreamSocket:
        """Aggregated trades of a futures contract (``<symbol>@aggTrade``, ``/market``)."""
        return self._futures(f"{symbol}@aggTrade", futures_type)

    def trade_futures_socket(
        self, symbol: str, futures_type: object = FuturesType.USD_M
    ) -> StreamSocket:
        """Every trade of a futures contract (``<symbol>@trade``, ``/market``)."""
        return self._futures(f"{symbol}@trade", futures_type)

    def kline_futures_socket(
        self,
        symbol: str,
        interval: object = "1m",
        futures_type: object = FuturesType.USD_M,
        contract_type: object = ContractType.PERPETUAL,
    ) -> StreamSocket:
        """Continuous klines of a pair's contract (``<pair>_<contract>@continuousKline_<i>``)."""
        return self._futures(continuous_kline_stream(symbol, contract_type, interval), futures_type)

    def futures_kline_socket(
        self, symbol: str, interval: object = "1m", futures_type: object = FuturesType.USD_M
    ) -> StreamSocket:
        """Klines of one futures symbol (``<symbol>@kline_<interval>``; no ``1s`` on futures)."""
        return self._futures(f"{symbol}@kline_{getattr(interval, 'value', interval)}", futures_type)

    def futures_depth_socket(
        self,
        symbol: str,
        depth: object = "10",
        futures_type: object = FuturesType.USD_M,
        *,
        speed: object | None = None,
    ) -> StreamSocket:
        """Partial book of 5, 10 or 20 levels (``depth=None``: the diff stream), ``/public``.

        ``speed`` is 100ms, 250ms (Binance's default) or 500ms.
        """
        return self._futures(futures_depth_stream(symbol, depth, speed), futures_type)

    def futures_rpi_depth_socket(
        self, symbol: str, futures_type: object = FuturesType.USD_M
    ) -> StreamSocket:
        """The book with retail price improvement orders (``<symbol>@rpiDepth@500ms``)."""
        return self._futures(f"{symbol}@rpiDepth@500ms", futures_type)

    def symbol_mark_price_socket(
        self, symbol: str, fast: bool = True, futures_type: object = FuturesType.USD_M
    ) -> StreamSocket:
        """Mark price, index price and funding rate of ``symbol`` (every 1 s when ``fast``,
        else every 3 s)."""
        return self._futures(mark_price_stream(symbol, fast), futures_type)

    def all_mark_price_socket(
        self, fast: bool = True, futures_type: object = FuturesType.USD_M
    ) -> StreamSocket:
        """Mark prices of every contract in one array (``!markPrice@arr[@1s]``)."""
        return self._futures(mark_price_stream(None, fast), futures_type)

    def symbol_ticker_futures_socket(
        self, symbol: str, futures_type: object = FuturesType.USD_M
    ) -> StreamSocket:
        """Best bid and ask of ``symbol`` (``<symbol>@bookTicker``, ``/public``), as
        python-binance names it."""
        return self._futures(f"{symbol}@bookTicker", futures_type)

    def individual_symbol_ticker_futures_socket(
        self, symbol: str, futures_type: object = FuturesType.USD_M
    ) -> StreamSocket:
        """24 h rolling ticker of ``symbol`` (``<symbol>@ticker``)."""
        return self._futures(f"{symbol}@ticker", futures_type)

    def all_ticker_futures_socket(
        self, channel: object = "!bookTicker", futures_type: object = FuturesType.USD_M
    ) -> StreamSocket:
        """An all-market stream: ``!bookTicker`` (default), ``!ticker@arr``,
        ``!miniTicker@arr``..., routed by its name.

        python-binance's threaded manager passes the futures type second
        (``start_all_ticker_futures_socket(callback, FuturesType.COIN_M)``), where its socket
        manager takes ``channel``: a futures type given as ``channel`` is taken as the futures
        type, with the default channel, so both call shapes open what they mean.
        """
        if not (isinstance(channel, str) and channel.startswith("!")):
            with contextlib.suppress(InvalidStreamError):
                futures_type, channel = futures_market(channel), "!bookTicker"
        return self._futures(str(channel), futures_type)

    def futures_ticker_socket(self) -> StreamSocket:
        """24 h tickers of every USD-M contract (``!ticker@arr``)."""
        return self._futures("!ticker@arr", FuturesType.USD_M)

    def futures_coin_ticker_socket(self) -> StreamSocket:
        """24 h tickers of every COIN-M contract (``!ticker@arr`` on dstream)."""
        return self._futures("!ticker@arr", FuturesType.COIN_M)

    def index_price_socket(self, symbol: str, fast: bool = True) -> StreamSocket:
        """COIN-M index price of a pair (``<pair>@indexPrice[@1s]``)."""
        return self._futures(f"{symbol}@indexPrice" + ("@1s" if fast else ""), FuturesType.COIN_M)

    def liquidation_socket(
        self, symbol: str | None = None, futures_type: object = FuturesType.USD_M
    ) -> StreamSocket:
        """Liquidation orders of ``symbol``, or of every contract (``!forceOrder@arr``)."""
        return self._futures(force_order_stream(symbol), futures_type)

    def futures_multiplex_socket(
        self,
        streams: Iterable[str],
        futures_type: object = FuturesType.USD_M,
        category: str | None = "market",
    ) -> StreamSocket:
        """One combined socket for futures stream names, each sent to its own route.

        python-binance sends every stream to ``category``; Binance then never delivers
        those of another route. binstream routes each stream itself, so ``category`` is
        not needed and is ignored.
        """
        if category not in (None, "market", "public"):
            log.debug(
                "futures_multiplex_socket: category=%r ignored; streams are routed one by one",
                category,
            )
        market = futures_market(futures_type)
        names = normalize_market_streams(list(streams), market)
        return self._venue_socket(names, market, combined=True)

    # -- options ------------------------------------------------------------------------

    def options_ticker_socket(self, symbol: str) -> StreamSocket:
        """24 h ticker of an option (``<symbol>@optionTicker``, ``/public``)."""
        return self._options(f"{symbol}@optionTicker")

    def options_ticker_by_expiration_socket(
        self, symbol: str, expiration_date: str
    ) -> StreamSocket:
        """Tickers of an underlying's options expiring on ``expiration_date`` (``YYMMDD``)."""
        return self._options(f"{symbol}@optionTicker@{expiration_date}")

    def options_recent_trades_socket(self, symbol: str) -> StreamSocket:
        """Trades of an option or of an underlying's options (``@optionTrade``)."""
        return self._options(f"{symbol}@optionTrade")

    def options_kline_socket(self, symbol: str, interval: object = "1m") -> StreamSocket:
        """Klines of an option (``<symbol>@kline_<interval>``, ``/market``)."""
        return self._options(f"{symbol}@kline_{getattr(interval, 'value', interval)}")

    def options_depth_socket(
        self, symbol: str, depth: object = "10", speed: object = "500ms"
    ) -> StreamSocket:
        """Top 5, 10 or 20 levels of an option's book, every 100ms or 500ms."""
        return self._options(futures_depth_stream(symbol, depth, speed))

    def options_book_ticker_socket(self, symbol: str) -> StreamSocket:
        """Best bid and ask of an option (``<symbol>@bookTicker``)."""
        return self._options(f"{symbol}@bookTicker")

    def options_mark_price_socket(self, symbol: str) -> StreamSocket:
        """Mark prices and greeks of an underlying's options (``<underlying>@optionMarkPrice``)."""
        return self._options(f"{symbol}@optionMarkPrice")

    def options_open_interest_socket(self, symbol: str, expiration_date: str) -> StreamSocket:
        """Open interest of an underlying's options for one expiry (``YYMMDD``)."""
        return self._options(f"{symbol}@optionOpenInterest@{expiration_date}")

    def options_index_price_socket(self) -> StreamSocket:
        """Index prices of every underlying (``!index@arr``)."""
        return self._options("!index@arr")

    def options_new_symbol_socket(self) -> StreamSocket:
        """Options as they are listed (``!optionSymbol``)."""
        return self._options("!optionSymbol")

    def options_multiplex_socket(self, streams: Iterable[str]) -> StreamSocket:
        """One combined socket for options stream names, each sent to its own route."""
        names = normalize_market_streams(list(streams), Market.OPTIONS)
        return self._venue_socket(names, Market.OPTIONS, combined=True)
