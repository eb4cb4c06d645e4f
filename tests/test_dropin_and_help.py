"""Defects a new user met: drop-in names python-binance code uses, help text, candle colours."""

from __future__ import annotations

import pytest
from rich.console import Console

from binstream import BinanceSocketManager, InvalidStreamError, ThreadedWebsocketManager
from binstream.cli.render.tables import KlineBoard

from .conftest import run_cli

pytestmark = pytest.mark.transport_independent


def test_book_ticker_socket_exists_and_says_what_to_use_instead() -> None:
    with pytest.raises(InvalidStreamError, match="symbol_book_ticker_socket"):
        BinanceSocketManager(endpoint="ws://127.0.0.1:9").book_ticker_socket()
    with (
        ThreadedWebsocketManager(endpoint="ws://127.0.0.1:9") as twm,
        pytest.raises(InvalidStreamError, match="start_symbol_book_ticker_socket"),
    ):
        twm.start_book_ticker_socket(callback=print)


def test_python_binance_keyword_names_are_accepted() -> None:
    BinanceSocketManager(None, user_timeout=5, max_queue_size=10, verbose=False)
    twm = ThreadedWebsocketManager(endpoint="ws://127.0.0.1:9")
    twm.start()
    try:
        assert twm.stop_socket(socket_name="nosuch@trade") is False
    finally:
        twm.stop()


def candle_style(open_: str, close: str) -> str:
    board = KlineBoard()
    board.update({"e": "kline", "k": {"s": "BNBBTC", "i": "1m", "t": 1, "o": open_, "c": close,
                                      "h": close, "l": open_, "v": "1", "n": 1}})  # fmt: skip
    console = Console(record=True, width=120, color_system="truecolor", force_terminal=True)
    console.print(board)
    return console.export_text(styles=True)


def test_a_rising_candle_is_green_by_numeric_comparison() -> None:
    # As strings "10.5" < "9.5": a string comparison would paint this rising candle red.
    rising = candle_style("9.5", "10.5")
    assert "\x1b[32m 10.5" in rising, rising
    falling = candle_style("10.5", "9.5")
    assert "\x1b[31m  9.5" in falling, falling


async def test_help_reads_as_a_newcomer_expects() -> None:
    top = await run_cli("--help")
    assert "Examples" in top.stdout and "binstream demo" in top.stdout
    trade = await run_cli("trade", "--help")
    assert "Usage: binstream trade [OPTIONS] SYMBOL..." in trade.stdout
    assert "binstream[picows]" in trade.stdout.replace("\n", " ").replace("│", " ").replace(" ", "")
    multiplex = await run_cli("multiplex", "--help")
    assert "Usage: binstream multiplex [OPTIONS] STREAM..." in multiplex.stdout
