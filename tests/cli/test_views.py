"""Terminal views rendered at fixed widths with rich's recording console: numbers that fit,
no dead columns, sparklines, depth bars. Display only: JSON lines are tested elsewhere."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as hs
from rich.cells import cell_len
from rich.console import Console

from binstream.cli.render.numbers import align, bar, group, sparkline, trim
from binstream.cli.render.tables import BookLadder, TickerBoard

pytestmark = pytest.mark.transport_independent


def render(view: object, width: int, height: int = 40) -> str:
    console = Console(width=width, height=height, record=True, color_system=None)
    console.print(view)
    return console.export_text()


@given(hs.decimals(min_value=-(10**9), max_value=10**9, places=8, allow_nan=False))
def test_trimming_keeps_the_value(value: Decimal) -> None:
    text = f"{value:.8f}"
    shown = trim(text)
    assert Decimal(shown) == Decimal(text)
    assert not (shown.endswith("0") and "." in shown) and not shown.endswith(".")
    assert Decimal(group(text).replace(",", "")) == Decimal(text)


def test_numbers_helpers() -> None:
    assert [trim(v) for v in ("410.11000000", "0.00898100", "95000.00000000", "7", "")] == [
        "410.11", "0.008981", "95000", "7", ""]  # fmt: skip
    assert group("-1234567.50") == "-1,234,567.5"
    cells = align(["1.5", "22", "0.125", ""])
    assert cells == [" 1.5  ", "22    ", " 0.125", ""]  # equal widths, the points line up
    assert align(["7", "10.5"], width=8) == ["     7  ", "    10.5"]
    assert sparkline([1, 1, 1]) == "▁▁▁" and sparkline([1, 9]) == "▁█"
    assert bar(1.0, 4) == "████" and bar(0.0, 4) == "" and len(bar(0.5, 10)) == 5


def ticker_board(**options: object) -> TickerBoard:
    board = TickerBoard(**options)  # type: ignore[arg-type]
    for price in ("95000.54000000", "95010.00000000", "94990.10000000", "95020.00000000"):
        board.update(
            {
                "e": "24hrTicker",
                "s": "BTCUSDT",
                "c": price,
                "P": "1.250",
                "h": "95100.00000000",
                "l": "94000.00000000",
                "v": "12345.67800000",
            }
        )
        board.update(
            {
                "e": "24hrTicker",
                "s": "ETHUSDT",
                "c": "3500.16000000",
                "P": "-0.500",
                "h": "3600.00000000",
                "l": "3400.00000000",
                "v": "987654.32100000",
            }
        )
        board.update({"e": "24hrMiniTicker", "s": "BNBBTC", "c": "0.00898100",
                      "h": "0.00900000", "l": "0.00890000", "v": "410.11000000"})  # fmt: skip
    return board


@pytest.mark.parametrize("width", [80, 110])
def test_ticker_numbers_fit_and_dead_columns_are_gone(width: int) -> None:
    text = render(ticker_board(), width)
    assert "…" not in text
    for shown in ("95020", "0.008981", "3500.16", "987,654.321", "410.11"):
        assert shown in text
    assert "95020.00" not in text and "0.00898100" not in text
    for dead in ("bid", "ask", "avg 5m"):  # the all-market streams carry none of these
        assert dead not in text
    assert "trend" in text and any(ch in text for ch in "▁▂▃▄▅▆▇█")
    if width == 110:
        assert "high" in text and "low" in text
    else:  # narrow: the least useful columns went first, nothing was cut
        assert "low" not in text


@pytest.mark.parametrize("width", range(80, 131, 5))
def test_a_ticker_with_wide_symbols_and_full_trends_fits_any_terminal(width: int) -> None:
    """Symbols two cells wide per character (Binance lists such tokens) and 12-step trends
    are measured as the terminal shows them: no line is wider than the terminal."""
    board = ticker_board()
    for step in range(12):
        board.update({"e": "24hrTicker", "s": "币安人生USDT", "c": f"0.1200{step}",
                      "P": "0.041", "h": "0.12014", "l": "0.11997", "v": "8657.3"})  # fmt: skip
    text = render(board, width)
    assert max(cell_len(line) for line in text.splitlines()) <= width
    assert "…" not in text and "币安人生USDT" in text


def test_numbers_copy_out_as_numbers() -> None:
    """Alignment pads with plain spaces: what a user selects in a cell is the number."""
    text = render(ticker_board(), 110) + render(book_ladder(), 110)
    assert "\u2800" not in text
    cells = [c.strip() for line in text.splitlines() for c in line.split("│")[1:-1]]
    numbers = [c for c in cells if c and c[0].isdigit() and "," not in c]
    assert numbers and all(Decimal(c) >= 0 for c in numbers)
    ladder = [line for line in render(book_ladder(), 110).splitlines() if "│" in line]
    points = {line.index(".", line.index("│", 40)) for line in ladder[2:] if "." in line[40:]}
    assert len(points) <= 2  # bid and ask prices: each column's points in one place


def test_ticker_sort_and_top() -> None:
    text = render(ticker_board(sort="change", top=2), 110)
    assert text.index("BTCUSDT") < text.index("BNBBTC") and "ETHUSDT" not in text
    text = render(ticker_board(sort="volume"), 110)
    assert text.index("ETHUSDT") < text.index("BTCUSDT") < text.index("BNBBTC")


def book_ladder(levels: int = 20) -> BookLadder:
    ladder = BookLadder(levels=levels)
    bids = [[f"{95000 - i / 10:.8f}", f"{1 + i:.8f}"] for i in range(20)]
    asks = [[f"{95000.1 + i / 10:.8f}", f"{0.5 + i:.8f}"] for i in range(20)]
    ladder.update({"e": "book", "s": "BTCUSDT", "lastUpdateId": 7, "bids": bids, "asks": asks})
    return ladder


@pytest.mark.parametrize("width", [80, 110])
def test_book_has_depth_bars_and_never_cuts_a_number(width: int) -> None:
    text = render(book_ladder(), width, height=40)
    assert "…" not in text and "█" in text
    assert "95000.1" in text and "94998.1" in text and "95000.10000000" not in text
    assert "spread 0.1" in text and "mid 95000.05" in text and "bid total" in text


def test_a_narrow_book_drops_bars_and_totals_before_numbers() -> None:
    text = render(book_ladder(), 60)
    assert "…" not in text and "bid total" not in text and "94998.1" in text


def test_book_levels_follow_the_terminal_height() -> None:
    rows = [line for line in render(book_ladder(20), 110, height=14).splitlines() if "│" in line]
    assert len(rows) == 14 - 8
    rows = [line for line in render(book_ladder(3), 110, height=40).splitlines() if "│" in line]
    assert len(rows) == 3


def history_rows(count: int) -> list[list[object]]:
    rows, price = [], Decimal("95000")
    for i in range(count):
        move = Decimal((i * 37) % 11 - 5)
        o, c = price, price + move
        rows.append([1_796_000_000_000 + i * 60_000, f"{o:.8f}", f"{max(o, c) + 2:.8f}",
                     f"{min(o, c) - 2:.8f}", f"{c:.8f}", f"{1 + i % 7:.8f}", 0, "0", 1, "0",
                     "0", "0"])  # fmt: skip
        price = c
    return rows


@pytest.mark.parametrize("width", [80, 110])
def test_kline_chart_fits_and_keeps_the_newest_candles(width: int) -> None:
    from binstream.cli.render.candles import CandleChart

    chart = CandleChart(history_rows(120), "BTCUSDT 1m")
    text = render(chart, width, height=24)
    lines = text.splitlines()
    assert all(len(line) <= width for line in lines)
    assert "BTCUSDT 1m" in lines[0] and "vol" in text and "█" in text and "│" in text
    candles = (width - len("95050") - 4) // 2
    assert 0 < len(chart.candles) - candles < 120  # only the newest that fit are drawn
    assert lines[-1].strip().endswith(":" + lines[-1].strip()[-2:])  # a time axis, HH:MM


def test_the_forming_candle_updates_in_place_and_colours_by_value() -> None:
    from binstream.cli.render.candles import CandleChart

    chart = CandleChart(history_rows(3), "BTCUSDT 1m")
    start = 1_796_000_000_000 + 3 * 60_000
    for close in ("95010.5", "94990.25"):
        chart.update({"e": "kline", "k": {"t": start, "s": "BTCUSDT", "i": "1m",
                                           "o": "95000.00000000", "h": "95011", "l": "94990",
                                           "c": close, "v": "3.5"}})  # fmt: skip
    assert len(chart.candles) == 4 and chart.candles[start].close == Decimal("94990.25")
    assert not chart.candles[start].rising  # "94990.25" < "95000.00000000" as numbers
    console = Console(width=80, height=20, record=True)
    console.print(chart)
    assert "c 94990.25" in console.export_text()


async def test_cli_kline_on_a_terminal_draws_the_chart_with_rest_history() -> None:
    """``binstream kline SYMBOL`` with a terminal on stdout: the chart, filled at start from
    ``GET /api/v3/klines`` (the local exchange keeps 1m history from its start)."""
    import asyncio
    import os
    import pty
    import sys

    from binstream.server import LocalExchange

    from ..conftest import cli_env, spawn

    async with LocalExchange(interval=0.005, seed=3) as ex:
        main, terminal = pty.openpty()
        env = cli_env(COLUMNS="80", LINES="24", TERM="xterm")
        proc = await spawn(
            sys.executable, "-m", "binstream", "kline", "btcusdt", "--endpoint", ex.url,
            "-n", "3", "--quiet", stdin=asyncio.subprocess.DEVNULL, stdout=terminal,
            stderr=asyncio.subprocess.PIPE, env=env,
        )  # fmt: skip
        os.close(terminal)
        output = bytearray()

        def read() -> None:
            while True:
                try:
                    chunk = os.read(main, 65536)
                except OSError:
                    return
                if not chunk:
                    return
                output.extend(chunk)

        reader = asyncio.get_running_loop().run_in_executor(None, read)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
        await asyncio.wait_for(reader, 10)
        os.close(main)
    text = output.decode("utf-8", "replace")
    assert "BTCUSDT 1m" in text and "vol" in text and "█" in text


def test_the_other_views_trim_their_numbers_too() -> None:
    from binstream.cli.render.tables import AccountView, DepthLadder, MarkPriceBoard

    depth = DepthLadder(levels=3)
    depth.update({"stream": "bnbbtc@depth5", "data": {"lastUpdateId": 1,
                  "bids": [["0.00900000", "1.50000000"], ["0.00899900", "12.00000000"]],
                  "asks": [["0.00900100", "0.25000000"]]}})  # fmt: skip
    marks = MarkPriceBoard()
    marks.update({"e": "markPriceUpdate", "s": "BTCUSDT", "p": "95000.10000000",
                  "i": "95001.00000000", "r": "0.00010000", "T": 1796025600000})  # fmt: skip
    account = AccountView()
    balance = {"a": "USDT", "wb": "100000.00000000", "cw": "100000.00000000"}
    position = {"s": "BTCUSDT", "pa": "0.01000000", "ep": "95000.00000000", "up": "-1.50"}
    account.update({"e": "ACCOUNT_UPDATE", "E": 1, "a": {"B": [balance], "P": [position]}})
    text = "".join(render(view, 80) for view in (depth, marks, account))
    assert ".00000" not in text and "…" not in text
    for shown in ("0.009001", "0.25", "95000.1", "95001", "100000", "0.01", "-1.5", "wallet"):
        assert shown in text
