"""python-binance's futures and options ``start_*`` methods, for the threaded manager.

Each one takes ``callback`` first and then the parameters of the
:class:`~binstream.BinanceSocketManager` method of the same name without ``start_``,
and returns the socket's name for :meth:`stop_socket`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..venues import ContractType, FuturesType

Callback = Callable[[Any], Any]
EventCallback = Callable[[Any], Any]


class ThreadedDerivatives:
    """The USD-M, COIN-M and options methods of the threaded manager (a mixin)."""

    _bsm: Any

    def _start_socket(
        self,
        callback: Callback,
        open_socket: Callable[[], Any],
        on_event: EventCallback | None = None,
    ) -> str:
        raise NotImplementedError  # provided by ThreadedWebsocketManager

    def start_aggtrade_futures_socket(
        self,
        callback: Callback,
        symbol: str,
        futures_type: object = FuturesType.USD_M,
        *,
        on_event: EventCallback | None = None,
    ) -> str:
        """Aggregated trades of a futures contract (``<symbol>@aggTrade``, ``/market``)."""
        return self._start_socket(
            callback, lambda: self._bsm.aggtrade_futures_socket(symbol, futures_type), on_event
        )

    def start_trade_futures_socket(
        self,
        callback: Callback,
        symbol: str,
        futures_type: object = FuturesType.USD_M,
        *,
        on_event: EventCallback | None = None,
    ) -> str:
        """Every trade of a futures contract (``<symbol>@trade``, ``/market``)."""
        return self._start_socket(
            callback, lambda: self._bsm.trade_futures_socket(symbol, futures_type), on_event
        )

    def start_kline_futures_socket(
        self,
        callback: Callback,
        symbol: str,
        interval: object = "1m",
        futures_type: object = FuturesType.USD_M,
        contract_type: object = ContractType.PERPETUAL,
        *,
        on_event: EventCallback | None = None,
    ) -> str:
        """Continuous klines of a pair's contract (``<pair>_<contract>@continuousKline_<i>``)."""
        return self._start_socket(
            callback,
            lambda: self._bsm.kline_futures_socket(symbol, interval, futures_type, contract_type),
            on_event,
        )

    def start_futures_kline_socket(
        self,
        callback: Callback,
        symbol: str,
        interval: object = "1m",
        futures_type: object = FuturesType.USD_M,
        *,
        on_event: EventCallback | None = None,
    ) -> str:
        """Klines of one futures symbol (``<symbol>@kline_<interval>``; no ``1s`` on futures)."""
        return self._start_socket(
            callback,
            lambda: self._bsm.futures_kline_socket(symbol, interval, futures_type),
            on_event,
        )

    def start_futures_depth_socket(
        self,
        callback: Callback,
        symbol: str,
        depth: object = "10",
        futures_type: object = FuturesType.USD_M,
        *,
        speed: object | None = None,
        on_event: EventCallback | None = None,
    ) -> str:
        """Partial book of 5, 10 or 20 levels (``depth=None``: the diff stream), ``/public``."""
        return self._start_socket(
            callback,
            lambda: self._bsm.futures_depth_socket(symbol, depth, futures_type, speed=speed),
            on_event,
        )

    def start_futures_rpi_depth_socket(
        self,
        callback: Callback,
        symbol: str,
        futures_type: object = FuturesType.USD_M,
        *,
        on_event: EventCallback | None = None,
    ) -> str:
        """The book with retail price improvement orders (``<symbol>@rpiDepth@500ms``)."""
        return self._start_socket(
            callback, lambda: self._bsm.futures_rpi_depth_socket(symbol, futures_type), on_event
        )

    def start_symbol_mark_price_socket(
        self,
        callback: Callback,
        symbol: str,
        fast: bool = True,
        futures_type: object = FuturesType.USD_M,
        *,
        on_event: EventCallback | None = None,
    ) -> str:
        """Mark price, index price and funding rate of ``symbol`` (every 1 s when ``fast``,"""
        return self._start_socket(
            callback,
            lambda: self._bsm.symbol_mark_price_socket(symbol, fast, futures_type),
            on_event,
        )

    def start_all_mark_price_socket(
        self,
        callback: Callback,
        fast: bool = True,
        futures_type: object = FuturesType.USD_M,
        *,
        on_event: EventCallback | None = None,
    ) -> str:
        """Mark prices of every contract in one array (``!markPrice@arr[@1s]``)."""
        return self._start_socket(
            callback, lambda: self._bsm.all_mark_price_socket(fast, futures_type), on_event
        )

    def start_symbol_ticker_futures_socket(
        self,
        callback: Callback,
        symbol: str,
        futures_type: object = FuturesType.USD_M,
        *,
        on_event: EventCallback | None = None,
    ) -> str:
        """Best bid and ask of ``symbol`` (``<symbol>@bookTicker``, ``/public``), as"""
        return self._start_socket(
            callback, lambda: self._bsm.symbol_ticker_futures_socket(symbol, futures_type), on_event
        )

    def start_individual_symbol_ticker_futures_socket(
        self,
        callback: Callback,
        symbol: str,
        futures_type: object = FuturesType.USD_M,
        *,
        on_event: EventCallback | None = None,
    ) -> str:
        """24 h rolling ticker of ``symbol`` (``<symbol>@ticker``)."""
        return self._start_socket(
            callback,
            lambda: self._bsm.individual_symbol_ticker_futures_socket(symbol, futures_type),
            on_event,
        )

    def start_all_ticker_futures_socket(
        self,
        callback: Callback,
        channel: str = "!bookTicker",
        futures_type: object = FuturesType.USD_M,
        *,
        on_event: EventCallback | None = None,
    ) -> str:
        """An all-market stream: ``!bookTicker`` (default), ``!ticker@arr``,"""
        return self._start_socket(
            callback, lambda: self._bsm.all_ticker_futures_socket(channel, futures_type), on_event
        )

    def start_futures_ticker_socket(
        self,
        callback: Callback,
        *,
        on_event: EventCallback | None = None,
    ) -> str:
        """24 h tickers of every USD-M contract (``!ticker@arr``)."""
        return self._start_socket(callback, lambda: self._bsm.futures_ticker_socket(), on_event)

    def start_futures_coin_ticker_socket(
        self,
        callback: Callback,
        *,
        on_event: EventCallback | None = None,
    ) -> str:
        """24 h tickers of every COIN-M contract (``!ticker@arr`` on dstream)."""
        return self._start_socket(
            callback, lambda: self._bsm.futures_coin_ticker_socket(), on_event
        )

    def start_index_price_socket(
        self,
        callback: Callback,
        symbol: str,
        fast: bool = True,
        *,
        on_event: EventCallback | None = None,
    ) -> str:
        """COIN-M index price of a pair (``<pair>@indexPrice[@1s]``)."""
        return self._start_socket(
            callback, lambda: self._bsm.index_price_socket(symbol, fast), on_event
        )

    def start_liquidation_socket(
        self,
        callback: Callback,
        symbol: str | None = None,
        futures_type: object = FuturesType.USD_M,
        *,
        on_event: EventCallback | None = None,
    ) -> str:
        """Liquidation orders of ``symbol``, or of every contract (``!forceOrder@arr``)."""
        return self._start_socket(
            callback, lambda: self._bsm.liquidation_socket(symbol, futures_type), on_event
        )

    def start_futures_multiplex_socket(
        self,
        callback: Callback,
        streams: Iterable[str],
        futures_type: object = FuturesType.USD_M,
        category: str | None = "market",
        *,
        on_event: EventCallback | None = None,
    ) -> str:
        """One combined socket for futures stream names, each sent to its own route."""
        return self._start_socket(
            callback,
            lambda: self._bsm.futures_multiplex_socket(streams, futures_type, category),
            on_event,
        )

    def start_options_ticker_socket(
        self,
        callback: Callback,
        symbol: str,
        *,
        on_event: EventCallback | None = None,
    ) -> str:
        """24 h ticker of an option (``<symbol>@optionTicker``, ``/public``)."""
        return self._start_socket(
            callback, lambda: self._bsm.options_ticker_socket(symbol), on_event
        )

    def start_options_ticker_by_expiration_socket(
        self,
        callback: Callback,
        symbol: str,
        expiration_date: str,
        *,
        on_event: EventCallback | None = None,
    ) -> str:
        """Tickers of an underlying's options expiring on ``expiration_date`` (``YYMMDD``)."""
        return self._start_socket(
            callback,
            lambda: self._bsm.options_ticker_by_expiration_socket(symbol, expiration_date),
            on_event,
        )

    def start_options_recent_trades_socket(
        self,
        callback: Callback,
        symbol: str,
        *,
        on_event: EventCallback | None = None,
    ) -> str:
        """Trades of an option or of an underlying's options (``@optionTrade``)."""
        return self._start_socket(
            callback, lambda: self._bsm.options_recent_trades_socket(symbol), on_event
        )

    def start_options_kline_socket(
        self,
        callback: Callback,
        symbol: str,
        interval: object = "1m",
        *,
        on_event: EventCallback | None = None,
    ) -> str:
        """Klines of an option (``<symbol>@kline_<interval>``, ``/market``)."""
        return self._start_socket(
            callback, lambda: self._bsm.options_kline_socket(symbol, interval), on_event
        )

    def start_options_depth_socket(
        self,
        callback: Callback,
        symbol: str,
        depth: object = "10",
        speed: object = "500ms",
        *,
        on_event: EventCallback | None = None,
    ) -> str:
        """Top 5, 10 or 20 levels of an option's book, every 100ms or 500ms."""
        return self._start_socket(
            callback, lambda: self._bsm.options_depth_socket(symbol, depth, speed), on_event
        )

    def start_options_book_ticker_socket(
        self,
        callback: Callback,
        symbol: str,
        *,
        on_event: EventCallback | None = None,
    ) -> str:
        """Best bid and ask of an option (``<symbol>@bookTicker``)."""
        return self._start_socket(
            callback, lambda: self._bsm.options_book_ticker_socket(symbol), on_event
        )

    def start_options_mark_price_socket(
        self,
        callback: Callback,
        symbol: str,
        *,
        on_event: EventCallback | None = None,
    ) -> str:
        """Mark prices and greeks of an underlying's options (``<underlying>@optionMarkPrice``)."""
        return self._start_socket(
            callback, lambda: self._bsm.options_mark_price_socket(symbol), on_event
        )

    def start_options_open_interest_socket(
        self,
        callback: Callback,
        symbol: str,
        expiration_date: str,
        *,
        on_event: EventCallback | None = None,
    ) -> str:
        """Open interest of an underlying's options for one expiry (``YYMMDD``)."""
        return self._start_socket(
            callback,
            lambda: self._bsm.options_open_interest_socket(symbol, expiration_date),
            on_event,
        )

    def start_options_index_price_socket(
        self,
        callback: Callback,
        *,
        on_event: EventCallback | None = None,
    ) -> str:
        """Index prices of every underlying (``!index@arr``)."""
        return self._start_socket(
            callback, lambda: self._bsm.options_index_price_socket(), on_event
        )

    def start_options_new_symbol_socket(
        self,
        callback: Callback,
        *,
        on_event: EventCallback | None = None,
    ) -> str:
        """Options as they are listed (``!optionSymbol``)."""
        return self._start_socket(callback, lambda: self._bsm.options_new_symbol_socket(), on_event)

    def start_options_multiplex_socket(
        self,
        callback: Callback,
        streams: Iterable[str],
        *,
        on_event: EventCallback | None = None,
    ) -> str:
        """One combined socket for options stream names, each sent to its own route."""
        return self._start_socket(
            callback, lambda: self._bsm.options_multiplex_socket(streams), on_event
        )

    # -- account streams (listenKey) -------------------------------------------------------

    def start_futures_user_socket(
        self,
        callback: Callback,
        *,
        events: Iterable[str] | None = None,
        keepalive_interval: float | None = None,
        on_event: EventCallback | None = None,
    ) -> str:
        """USD-M futures account events over a listenKey (see the asyncio manager's)."""
        return self._start_socket(
            callback,
            lambda: self._bsm.futures_user_socket(
                events=events, keepalive_interval=keepalive_interval
            ),
            on_event,
        )

    def start_futures_socket(
        self, callback: Callback, *, on_event: EventCallback | None = None
    ) -> str:
        """python-binance's other name for :meth:`start_futures_user_socket`."""
        return self._start_socket(callback, self._bsm.futures_socket, on_event)

    def start_coin_futures_user_socket(
        self,
        callback: Callback,
        *,
        keepalive_interval: float | None = None,
        on_event: EventCallback | None = None,
    ) -> str:
        """COIN-M futures account events over a listenKey."""
        return self._start_socket(
            callback,
            lambda: self._bsm.coin_futures_user_socket(keepalive_interval=keepalive_interval),
            on_event,
        )

    def start_coin_futures_socket(
        self, callback: Callback, *, on_event: EventCallback | None = None
    ) -> str:
        """python-binance's other name for :meth:`start_coin_futures_user_socket`."""
        return self._start_socket(callback, self._bsm.coin_futures_socket, on_event)

    def start_options_user_socket(
        self,
        callback: Callback,
        *,
        events: Iterable[str] | None = None,
        keepalive_interval: float | None = None,
        on_event: EventCallback | None = None,
    ) -> str:
        """Options account events over a listenKey."""
        return self._start_socket(
            callback,
            lambda: self._bsm.options_user_socket(
                events=events, keepalive_interval=keepalive_interval
            ),
            on_event,
        )

    def start_portfolio_margin_socket(
        self,
        callback: Callback,
        *,
        keepalive_interval: float | None = None,
        on_event: EventCallback | None = None,
    ) -> str:
        """Portfolio margin account events over a listenKey."""
        return self._start_socket(
            callback,
            lambda: self._bsm.portfolio_margin_socket(keepalive_interval=keepalive_interval),
            on_event,
        )

    def start_margin_socket(
        self,
        callback: Callback,
        *,
        validity_ms: int | None = None,
        on_event: EventCallback | None = None,
    ) -> str:
        """Cross margin account events (a listenToken over the WebSocket API)."""
        return self._start_socket(
            callback, lambda: self._bsm.margin_socket(validity_ms=validity_ms), on_event
        )

    def start_isolated_margin_socket(
        self,
        callback: Callback,
        symbol: str,
        *,
        validity_ms: int | None = None,
        on_event: EventCallback | None = None,
    ) -> str:
        """Isolated margin account events of ``symbol``."""
        return self._start_socket(
            callback,
            lambda: self._bsm.isolated_margin_socket(symbol, validity_ms=validity_ms),
            on_event,
        )
