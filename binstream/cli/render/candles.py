"""A live candlestick chart for ``binstream kline`` on a terminal.

Pure rendering: the view folds kline events (and REST history rows) into candles and draws
the last ones that fit: bodies ``█`` and wicks ``│``, green when the close is at or above
the open and red below (compared as decimals), volume bars under the candles, a price axis
on the right and a time axis at the bottom. The forming candle updates in place.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from rich.console import Console, ConsoleOptions, RenderResult
from rich.text import Text

from .numbers import number, trim
from .tables import View

_VOLUME = " ▁▂▃▄▅▆▇█"


@dataclass
class Candle:
    """One kline: open time, prices and volume as decimals."""

    start: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal

    @property
    def rising(self) -> bool:
        return self.close >= self.open


def _candle(start: Any, o: Any, h: Any, lo: Any, c: Any, v: Any) -> Candle | None:
    values = [number(x) for x in (o, h, lo, c, v)]
    if any(x is None for x in values) or not isinstance(start, int):
        return None
    return Candle(start, *values)  # type: ignore[arg-type]


class CandleChart(View):
    """Candles of one symbol and interval, from REST ``history`` rows and kline events."""

    title = "klines"

    def __init__(
        self, history: list[list[Any]] | None = None, name: str = "", keep: int = 500
    ) -> None:
        super().__init__()
        self.name = name
        self.keep = keep
        self.candles: dict[int, Candle] = {}
        for row in history or []:
            candle = _candle(*row[:6]) if len(row) >= 6 else None
            if candle is not None:
                self.candles[candle.start] = candle

    def update_one(self, stream: str | None, data: dict[str, Any]) -> None:
        k = data.get("k")
        if data.get("e") not in ("kline", "continuous_kline") or not isinstance(k, dict):
            return
        candle = _candle(k.get("t"), k.get("o"), k.get("h"), k.get("l"), k.get("c"), k.get("v"))
        if candle is None:
            return
        if not self.name:
            self.name = f"{k.get('s') or data.get('ps', '')} {k.get('i', '')}".strip()
        self.candles[candle.start] = candle
        while len(self.candles) > self.keep:
            del self.candles[min(self.candles)]

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.render(options.max_width, options.height or console.size.height)

    def render(self, width: int, height: int) -> Text:
        """The chart in ``width`` × ``height`` cells (status line excluded)."""
        candles = [self.candles[t] for t in sorted(self.candles)]
        if not candles:
            return Text("waiting for klines…")
        labels_width = max(len(trim(str(c.high))) for c in candles) + 2
        count = max(1, (width - labels_width) // 2)
        shown = candles[-count:]
        price_rows = max(4, height - 8)
        volume_rows = 2
        low = min(c.low for c in shown)
        high = max(c.high for c in shown)
        span = (high - low) or Decimal(1)

        def row_of(price: Decimal) -> int:
            """0 is the top row."""
            return int((high - price) / span * (price_rows - 1) + Decimal("0.5"))

        last = shown[-1]
        out = Text()
        out.append(f"{self.name}  ", style="bold")
        out.append(f"o {trim(str(last.open))}  h {trim(str(last.high))}  l {trim(str(last.low))}"
                   f"  c {trim(str(last.close))}  v {trim(str(last.volume))}\n",
                   style="green" if last.rising else "red")  # fmt: skip
        rows = [(row_of(c.high), row_of(c.low), row_of(max(c.open, c.close)),
                 row_of(min(c.open, c.close))) for c in shown]  # fmt: skip
        axis = {0: high, price_rows // 2: (high + low) / 2, price_rows - 1: low}
        for r in range(price_rows):
            for candle, (top, bottom, body_top, body_bottom) in zip(shown, rows, strict=True):
                style = "green" if candle.rising else "red"
                if body_top <= r <= body_bottom:
                    out.append("█", style=style)
                elif top <= r <= bottom:
                    out.append("│", style=style)
                else:
                    out.append(" ")
                out.append(" ")
            label = trim(str(axis[r].quantize(Decimal(1) / 10**8))) if r in axis else ""
            out.append(f" {label}\n", style="dim")
        most = max(c.volume for c in shown) or Decimal(1)
        for r in range(volume_rows):
            for candle in shown:
                level = candle.volume / most * volume_rows * 8 - (volume_rows - 1 - r) * 8
                cell = _VOLUME[max(0, min(8, int(level)))]
                out.append(cell, style="green" if candle.rising else "red")
                out.append(" ")
            out.append(" vol\n" if r == volume_rows - 1 else "\n", style="dim")
        out.append(self._time_axis(shown, len(shown) * 2), style="dim")
        if self.caption:
            out.append("\n" + self.caption, style="dim")
        return out

    @staticmethod
    def _time_axis(shown: list[Candle], width: int) -> str:
        """Open times (UTC, HH:MM) of the first and last candles, and the middle one's
        when there is room."""

        def clock(candle: Candle) -> str:
            return time.strftime("%H:%M", time.gmtime(candle.start / 1000))

        line = [" "] * max(width, 5)
        for index in sorted({0, len(shown) // 2, len(shown) - 1}):
            text = clock(shown[index])
            at = min(index * 2, len(line) - len(text))
            if all(ch == " " for ch in line[max(0, at - 1) : at + len(text) + 1]):
                line[at : at + len(text)] = text
        return "".join(line).rstrip()
