"""The threaded manager offers every socket method of BinanceSocketManager, with its parameters.

Each socket method is declared once, on the socket manager; these tests walk its public
methods independently of how the threaded forms are made, so a method or a parameter that
one manager has and the other lacks fails here.
"""

from __future__ import annotations

import inspect
import threading
from typing import Any

import pytest

from binstream import BinanceSocketManager, FuturesType, ThreadedWebsocketManager

from ..conftest import FAST, ExchangeThread

SOCKET_METHODS = sorted(
    name
    for name in dir(BinanceSocketManager)
    if not name.startswith("_")
    and name.endswith("socket")
    and callable(getattr(BinanceSocketManager, name))
)


def test_there_are_socket_methods_to_compare() -> None:
    assert {"trade_socket", "multiplex_socket", "futures_depth_socket", "socket"} <= set(
        SOCKET_METHODS
    )
    assert len(SOCKET_METHODS) >= 50


@pytest.mark.parametrize("name", SOCKET_METHODS)
def test_each_socket_method_has_a_threaded_form_with_the_same_parameters(name: str) -> None:
    method = inspect.signature(getattr(BinanceSocketManager, name))
    start = inspect.signature(getattr(ThreadedWebsocketManager, f"start_{name}"))
    own = [p for p in method.parameters.values() if p.name != "self"]
    threaded = [p for p in start.parameters.values() if p.name != "self"]
    assert threaded[0].name == "callback"
    assert threaded[0].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    on_event = [p for p in threaded if p.name == "on_event"]
    assert len(on_event) == 1 and on_event[0].kind is inspect.Parameter.KEYWORD_ONLY
    assert on_event[0].default is None
    rest = [p for p in threaded[1:] if p.name != "on_event"]
    assert [(p.name, p.kind, p.default) for p in rest] == [(p.name, p.kind, p.default) for p in own]
    assert getattr(ThreadedWebsocketManager, f"start_{name}").__doc__


def test_the_threaded_constructor_takes_every_option_of_the_socket_manager() -> None:
    options = set(inspect.signature(BinanceSocketManager).parameters) - {"client"}
    twm = ThreadedWebsocketManager(
        endpoint="ws://127.0.0.1:9", max_age=60.0, market_data_only=True, user_timeout=3.0
    )
    assert "max_age" in options and "market_data_only" in options
    from binstream.threaded.manager import MANAGER_OPTIONS

    assert options <= MANAGER_OPTIONS | {"api_key", "api_secret", "tld", "testnet"}
    assert twm.options.max_age == 60.0
    assert twm.options.user_timeout == 3.0


def test_a_wrong_call_fails_in_the_callers_thread_before_anything_starts() -> None:
    twm = ThreadedWebsocketManager(endpoint="ws://127.0.0.1:9")
    with pytest.raises(TypeError, match="symbol"):
        twm.start_trade_socket(print)
    with pytest.raises(TypeError, match="unexpected keyword argument 'nosuch'"):
        twm.start_kline_socket(print, "bnbbtc", nosuch=1)


@pytest.mark.transport_independent
@pytest.mark.usefixtures("transport")
def test_all_ticker_futures_takes_the_futures_type_second_as_python_binance_threaded_does() -> None:
    """python-binance 1.0.37: ``start_all_ticker_futures_socket(callback, futures_type)``
    but ``all_ticker_futures_socket(channel, futures_type)``: both shapes open COIN-M."""
    got: dict[str, Any] = {}
    arrived = {key: threading.Event() for key in ("threaded", "channel")}

    def collect(key: str) -> Any:
        def callback(message: Any) -> None:
            got.setdefault(key, message)
            arrived[key].set()

        return callback

    with (
        ExchangeThread(interval=FAST, seed=3) as exchange,
        ThreadedWebsocketManager(endpoint=exchange.url, backoff_base=0.02) as twm,
    ):
        first = twm.start_all_ticker_futures_socket(collect("threaded"), FuturesType.COIN_M)
        second = twm.start_all_ticker_futures_socket(
            collect("channel"), "!miniTicker@arr", futures_type=FuturesType.COIN_M
        )
        for event in arrived.values():
            assert event.wait(10)
    assert first.startswith("coinm:") and first.endswith("!bookTicker")
    assert second.startswith("coinm:")
    assert got["threaded"]["e"] == "bookTicker" and got["threaded"]["s"].endswith("_PERP")
    # COIN-M contracts are named <pair>_<PERP or delivery date>; USD-M's have no underscore.
    assert got["channel"] and all("_" in item["s"] for item in got["channel"])
