"""Market-stream commands: trade, ticker, depth, kline, book, book-ticker, multiplex."""

from __future__ import annotations

from typing import Annotated

import typer

from .. import streams as st
from ..errors import BinstreamError
from .app import command
from .options import STREAMING, DepthChoice, Streaming, normalized_symbols, with_groups
from .streaming import stream

SymbolsArg = Annotated[list[str], typer.Argument(help="Symbols, e.g. bnbbtc.", metavar="SYMBOL")]


@command()
@with_groups
def trade(
    symbols: Annotated[
        list[str], typer.Argument(help="Symbols, e.g. bnbbtc ethbtc.", metavar="SYMBOL")
    ],
    agg: Annotated[bool, typer.Option("--agg", help="Aggregated trades (@aggTrade).")] = False,
    opts: Streaming = STREAMING,
) -> None:
    """Trades as they happen.

    [bold]Examples[/bold]

      binstream trade bnbbtc

      binstream trade bnbbtc ethbtc --agg -n 100 | jq .p
    """
    build = st.aggtrade_stream if agg else st.trade_stream
    stream([build(s) for s in normalized_symbols(symbols)], opts, view="trades")


@command()
@with_groups
def ticker(
    symbols: Annotated[
        list[str] | None,
        typer.Argument(
            help="Symbols; none for every symbol (all-market array stream).", metavar="SYMBOL"
        ),
    ] = None,
    mini: Annotated[bool, typer.Option("--mini", help="Mini tickers (@miniTicker).")] = False,
    window: Annotated[
        st.TickerWindow | None,
        typer.Option("--window", help="Rolling-window ticker instead of 24 h.", show_default=False),
    ] = None,
    opts: Streaming = STREAMING,
) -> None:
    """24 h (or rolling-window) ticker statistics.

    With no symbol, every symbol's ticker arrives in one array stream: !ticker_1d@arr
    (Binance retired !ticker@arr on 2026-03-26), or !miniTicker@arr with --mini.

    [bold]Examples[/bold]

      binstream ticker bnbbtc ethbtc

      binstream ticker --mini --json | jq '.[0]'

      binstream ticker btcusdt --window 1h
    """
    if mini and window:
        raise typer.BadParameter("--mini and --window cannot be combined", param_hint="--window")
    if symbols:
        names = [
            st.mini_ticker_stream(s) if mini else st.ticker_stream(s, window)
            for s in normalized_symbols(symbols)
        ]
    else:
        names = [st.mini_ticker_stream() if mini else st.ticker_stream(None, window)]
    stream(names, opts, view="tickers")


@command()
@with_groups
def depth(
    symbols: SymbolsArg,
    levels: Annotated[
        DepthChoice | None,
        typer.Option(
            "--depth",
            "-d",
            help="Partial book of N levels; leave out for the diff stream.",
            show_default=False,
        ),
    ] = None,
    speed: Annotated[
        st.UpdateSpeed, typer.Option("--speed", help="Update speed.")
    ] = st.UpdateSpeed.MS1000,
    opts: Streaming = STREAMING,
) -> None:
    """Order book depth: partial book (--depth 5|10|20) or diff events.

    [bold]Examples[/bold]

      binstream depth bnbbtc --depth 10

      binstream depth bnbbtc --speed 100ms --json | jq .u
    """
    names = [st.depth_stream(s, levels, speed) for s in normalized_symbols(symbols)]
    stream(names, opts, view="depth",
           view_options={"levels": int(levels.value if levels else 10)})  # fmt: skip


@command()
@with_groups
def kline(
    symbols: SymbolsArg,
    interval: Annotated[
        st.KlineInterval, typer.Option("--interval", "-i", help="Candle interval.")
    ] = st.KlineInterval.M1,
    tz: Annotated[
        str | None,
        typer.Option("--tz", help="Timezone offset for candle boundaries, e.g. +08:00."),
    ] = None,
    opts: Streaming = STREAMING,
) -> None:
    """Candlesticks (klines), updated as trades happen.

    [bold]Examples[/bold]

      binstream kline bnbbtc --interval 5m

      binstream kline btcusdt -i 1h --tz +08:00 --json
    """
    try:
        names = [st.kline_stream(s, interval, tz) for s in normalized_symbols(symbols)]
    except BinstreamError as exc:
        raise typer.BadParameter(str(exc), param_hint="--tz") from None
    stream(names, opts, view="klines")


@command()
@with_groups
def book(
    symbol: Annotated[str, typer.Argument(help="Symbol, e.g. bnbbtc.", metavar="SYMBOL")],
    levels: Annotated[
        int, typer.Option("--levels", "-l", min=1, max=5000, help="Levels per side to show.")
    ] = 20,
    check: Annotated[
        float | None,
        typer.Option(
            "--check",
            min=0.1,
            metavar="SECONDS",
            show_default=False,
            help="Every SECONDS, compare with a fresh REST snapshot and report divergence.",
        ),
    ] = None,
    snapshot_limit: Annotated[
        int, typer.Option("--snapshot-limit", min=1, max=5000, help="Levels per REST snapshot.")
    ] = 5000,
    opts: Streaming = STREAMING,
) -> None:
    """A local order book, kept correct from diff events and REST snapshots.

    Follows Binance's procedure: buffer @depth@100ms events, take a snapshot, apply in
    order, resync from a new snapshot on a gap or a dropped connection. JSON lines carry
    the top levels ([price, qty] strings, best first) and lastUpdateId.

    [bold]Examples[/bold]

      binstream book bnbbtc

      binstream book btcusdt --levels 5 --json | jq -c '[.bids[0], .asks[0]]'

      binstream book bnbbtc --check 10
    """  # fmt: skip
    name = normalized_symbols([symbol])[0]
    stream([st.depth_stream(name, None, "100ms")], opts, view="book",
           view_options={"levels": levels},
           book={"symbol": name, "levels": levels, "check_interval": check,
                 "snapshot_limit": snapshot_limit})  # fmt: skip


@command("book-ticker")
@with_groups
def book_ticker(symbols: SymbolsArg, opts: Streaming = STREAMING) -> None:
    """Best bid and ask in real time.

    [bold]Examples[/bold]

      binstream book-ticker bnbbtc ethbtc
    """
    stream([st.book_ticker_stream(s) for s in normalized_symbols(symbols)], opts, view="tickers")


@command()
@with_groups
def multiplex(
    streams: Annotated[
        list[str],
        typer.Argument(
            help="Raw stream names, e.g. bnbbtc@aggTrade neobtc@ticker.", metavar="STREAM"
        ),
    ],
    control: Annotated[
        bool,
        typer.Option(
            "--control",
            help="Read commands from stdin while streaming: +STREAM subscribes, -STREAM "
            "unsubscribes, ? lists the streams in force (on stderr).",
        ),
    ] = False,
    opts: Streaming = STREAMING,
) -> None:
    """Any Binance streams on one combined connection, as {"stream", "data"}.

    Names are validated; a well-formed stream type binstream does not know yet
    passes through with a warning. Past 1024 streams, several connections are used.
    With --control, a script can steer the running tail through stdin.

    [bold]Examples[/bold]

      binstream multiplex bnbbtc@aggTrade neobtc@ticker | jq .data

      binstream multiplex 'btcusdt@kline_1m@+08:00' btcusdt@depth5@100ms

      (echo +ethbtc@trade; sleep 60) | binstream multiplex bnbbtc@trade --control
    """
    names = normalized_streams(streams)
    for raw in names:
        kind = raw.split("@")[1] if "@" in raw and not raw.startswith("!") else ""
        if kind and not _known_type(kind):
            typer.echo(f"binstream: warning: stream type {kind!r} is not known to binstream; "
                       "passing it through", err=True)  # fmt: skip
    stream(names, opts, view="streams", combined=True, control=control)


def normalized_streams(names: list[str]) -> list[str]:
    """Raw stream names normalised, or a usage error naming the bad one."""
    try:
        return st.normalize_streams(names, warn_unknown=False)
    except BinstreamError as exc:
        raise typer.BadParameter(str(exc), param_hint="STREAM") from None


def _known_type(kind: str) -> bool:
    return (
        kind in ("trade", "aggTrade", "miniTicker", "ticker", "bookTicker", "avgPrice", "depth")
        or kind.startswith(("kline_", "ticker_"))
        or (kind.startswith("depth") and kind[5:].isdigit())
    )
