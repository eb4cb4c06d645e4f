"""Market-stream commands: trade, ticker, depth, kline, book, book-ticker, multiplex,
and what only derivatives have: mark-price and liquidations. Each takes ``--market``."""

from __future__ import annotations

import dataclasses
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from .. import streams as st
from ..errors import BinstreamError
from ..venues import ContractType, Market
from . import errors
from .app import command
from .option_groups import (
    SBE,
    STREAMING,
    DepthChoice,
    Sbe,
    Streaming,
    market_streams,
    normalized_symbols,
    with_groups,
)
from .running import finish
from .streaming import prepare, sbe_names, stream


class TickerSort(StrEnum):
    """``--sort``: the order of the ticker table's rows."""

    symbol = "symbol"
    change = "change"
    volume = "volume"


class SpeedChoice(StrEnum):
    """``--speed``: depth update speeds; which ones a market accepts is checked per market
    (spot 100ms/1000ms, futures 100/250/500ms, options 100/500ms)."""

    ms100 = "100ms"
    ms250 = "250ms"
    ms500 = "500ms"
    ms1000 = "1000ms"


def _market(opts: Streaming) -> Market:
    return opts.conn.market


def _futures_only(opts: Streaming, what: str, options_ok: bool = False) -> tuple[Market, Streaming]:
    """The market of a derivatives-only command, and its options: spot means USD-M (spot
    has none)."""
    market = _market(opts)
    if market is Market.SPOT:
        market = Market.USDM
        opts = dataclasses.replace(opts, conn=dataclasses.replace(opts.conn, market=market))
    if market is Market.OPTIONS and not options_ok:
        raise typer.BadParameter(f"{what} exists on usdm and coinm only", param_hint="--market")
    return market, opts


SymbolsArg = Annotated[list[str], typer.Argument(help="Symbols, e.g. bnbbtc.", metavar="SYMBOL")]


@command()
@with_groups
def trade(
    symbols: Annotated[
        list[str], typer.Argument(help="Symbols, e.g. bnbbtc ethbtc.", metavar="SYMBOL")
    ],
    agg: Annotated[bool, typer.Option("--agg", help="Aggregated trades (@aggTrade).")] = False,
    opts: Streaming = STREAMING,
    sbe: Sbe = SBE,
) -> None:
    """Trades as they happen.

    [bold]Examples[/bold]

      binstream trade bnbbtc

      BINANCE_API_KEY=... binstream trade bnbbtc --sbe

      binstream trade bnbbtc ethbtc --agg -n 100 | jq .p

      binstream trade btcusdt --market usdm --agg
    """
    market = _market(opts)
    if sbe.sbe:
        if agg:
            raise typer.BadParameter("SBE has trades, not aggregated trades", param_hint="--agg")
        stream(sbe_names([f"{s}@trade" for s in symbols], opts), opts, view="trades", sbe=sbe)
        return
    kind = "aggTrade" if agg else "trade"
    if market is Market.OPTIONS:
        if agg:
            raise typer.BadParameter("options have no aggregated trades", param_hint="--agg")
        kind = "optionTrade"
    names = [f"{s}@{kind}" for s in normalized_symbols(symbols, market)]
    stream(market_streams(names, market), opts, view="trades")


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
    sort: Annotated[
        TickerSort, typer.Option("--sort", help="Table rows by symbol, change or volume.")
    ] = TickerSort.symbol,
    top: Annotated[
        int | None,
        typer.Option("--top", min=1, help="Table: only the first N rows.", show_default=False),
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

      binstream ticker --market usdm

      binstream ticker --sort change --top 10
    """
    table = {"sort": sort.value, "top": top}
    if mini and window:
        raise typer.BadParameter("--mini and --window cannot be combined", param_hint="--window")
    market = _market(opts)
    if market is not Market.SPOT:
        if window:
            raise typer.BadParameter("rolling windows exist on spot only", param_hint="--window")
        kind = "miniTicker" if mini else "ticker"
        if market is Market.OPTIONS:
            if mini or not symbols:
                raise typer.BadParameter(
                    "options tickers are per symbol (or <underlying> --expiry); no --mini",
                    param_hint="SYMBOL",
                )
            kind = "optionTicker"
        names = [f"{s}@{kind}" for s in normalized_symbols(symbols or [], market)] or [
            f"!{kind}@arr"
        ]
        stream(market_streams(names, market), opts, view="tickers", view_options=table)
        return
    if symbols:
        names = [
            st.mini_ticker_stream(s) if mini else st.ticker_stream(s, window)
            for s in normalized_symbols(symbols)
        ]
    else:
        names = [st.mini_ticker_stream() if mini else st.ticker_stream(None, window)]
    stream(names, opts, view="tickers", view_options=table)


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
        SpeedChoice | None,
        typer.Option(
            "--speed",
            help="Update speed: spot 100ms or 1000ms (default); futures 100ms, 250ms (default) "
            "or 500ms; options 100ms or 500ms (default).",
            show_default=False,
        ),
    ] = None,
    opts: Streaming = STREAMING,
    sbe: Sbe = SBE,
) -> None:
    """Order book depth: partial book (--depth 5|10|20) or diff events.

    [bold]Examples[/bold]

      binstream depth bnbbtc --depth 10

      binstream depth bnbbtc --speed 100ms --json | jq .u

      binstream depth btcusdt --market usdm --depth 10

      binstream depth bnbbtc --sbe --depth 20
    """
    market = _market(opts)
    level = levels.value if levels else ""
    if sbe.sbe:
        if level not in ("", "20") or speed is not None:
            raise typer.BadParameter("SBE depth is @depth20 (50 ms) or diff @depth (20 ms)",
                                     param_hint="--depth" if level else "--speed")  # fmt: skip
        names = sbe_names([f"{s}@depth{level}" for s in symbols], opts)
        stream(names, opts, view="depth", view_options={"levels": 20}, sbe=sbe)
        return
    if market is Market.OPTIONS and not level:
        level = "10"  # options serve partial books only
    suffix = f"@{speed.value}" if speed else ""
    if market is Market.SPOT and speed is SpeedChoice.ms1000:
        suffix = ""  # Binance's default, left implicit
    names = [f"{s}@depth{level}{suffix}" for s in normalized_symbols(symbols, market)]
    stream(market_streams(names, market, "--speed"), opts, view="depth",
           view_options={"levels": int(level or 10)})  # fmt: skip


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
    contract: Annotated[
        ContractType | None,
        typer.Option(
            "--contract",
            help="Futures: continuous klines of PAIR's perpetual or quarterly contract.",
            show_default=False,
        ),
    ] = None,
    opts: Streaming = STREAMING,
) -> None:
    """Candlesticks (klines), updated as trades happen.

    [bold]Examples[/bold]

      binstream kline bnbbtc --interval 5m

      binstream kline btcusdt -i 1h --tz +08:00 --json

      binstream kline btcusdt --market usdm --contract perpetual
    """
    market = _market(opts)
    if market is Market.SPOT:
        if contract is not None:
            raise typer.BadParameter("continuous klines exist on usdm and coinm only",
                                     param_hint="--contract")  # fmt: skip
        try:
            names = [st.kline_stream(s, interval, tz) for s in normalized_symbols(symbols)]
        except BinstreamError as exc:
            raise typer.BadParameter(str(exc), param_hint="--tz") from None
        stream(names, opts, **_kline_view(opts, names, interval.value, tz is None))
        return
    if tz:
        raise typer.BadParameter("timezone offsets exist on spot only", param_hint="--tz")
    if contract is not None and market is Market.OPTIONS:
        raise typer.BadParameter("options have no continuous klines", param_hint="--contract")
    if contract is not None:
        names = [f"{s}_{contract.value}@continuousKline_{interval.value}"
                 for s in normalized_symbols(symbols, market)]  # fmt: skip
    else:
        names = [f"{s}@kline_{interval.value}" for s in normalized_symbols(symbols, market)]
    names = market_streams(names, market, "--interval")
    stream(names, opts, **_kline_view(opts, names, interval.value, contract is None))


def _kline_view(opts: Streaming, names: list[str], interval: str, history: bool) -> dict[str, Any]:
    """One symbol on a terminal: a candlestick chart, filled at start with recent history
    from REST ``klines`` when there is one; else (several symbols, ``--format table``)
    the table."""
    from .option_groups import Format

    display = opts.display
    if len(names) != 1 or display.fmt is not Format.auto or display.format != "table":
        return {"view": "klines"}
    symbol = names[0].split("@")[0]
    rows: list[object] = []
    if history:
        rows = _kline_history(opts, symbol.upper(), interval)
    return {"view": "candles",
            "view_options": {"history": rows, "name": f"{symbol.upper()} {interval}"}}  # fmt: skip


def _kline_history(opts: Streaming, symbol: str, interval: str) -> list[object]:
    """Recent klines from REST (``/api/v3/klines``, ``/fapi/v1/klines``, ...); none, with one
    line on stderr, when they cannot be had."""
    from ..asyncio.rest import get_json
    from ..endpoints import Endpoints
    from ..errors import RestError

    conn = opts.conn
    try:
        endpoints = Endpoints.resolve(
            tld=conn.tld.value, testnet=conn.testnet, endpoint=conn.chosen_endpoint,
            market=conn.market,
        )  # fmt: skip
        path = endpoints.venue.rest_prefix + "/klines"
        rows = get_json(endpoints.rest, path, {"symbol": symbol, "interval": interval,
                                                "limit": 200}, timeout=5.0)  # fmt: skip
    except (RestError, BinstreamError) as exc:
        typer.echo(f"binstream: no kline history ({exc}); the chart fills as klines arrive",
                   err=True)  # fmt: skip
        return []
    return rows if isinstance(rows, list) else []


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
        int | None,
        typer.Option(
            "--snapshot-limit",
            min=1,
            max=5000,
            help="Levels per REST snapshot (default and most: spot 5000, futures 1000).",
            show_default=False,
        ),
    ] = None,
    replay: Annotated[
        Path | None,
        typer.Option(
            "--replay",
            metavar="FILE",
            show_default=False,
            help="Rebuild the book from a recording (binstream record, with its snapshots) "
            "instead of streaming: no network.",
        ),
    ] = None,
    opts: Streaming = STREAMING,
    sbe: Sbe = SBE,
) -> None:
    """A local order book, kept correct from diff events and REST snapshots.

    Follows Binance's procedure: buffer @depth@100ms events, take a snapshot, apply in
    order, resync from a new snapshot on a gap or a dropped connection (on futures, each
    event's pu must equal the previous event's u). JSON lines carry the top levels
    ([price, qty] strings, best first) and lastUpdateId.

    [bold]Examples[/bold]

      binstream book bnbbtc

      binstream book btcusdt --levels 5 --json | jq -c '[.bids[0], .asks[0]]'

      binstream book bnbbtc --check 10

      binstream book btcusdt --market usdm

      BINANCE_API_KEY=... binstream book btcusdt --sbe

      binstream book --replay session.jsonl.zst bnbbtc --levels 5 -n 1000 | tail -1
    """  # fmt: skip
    if replay is not None:
        _book_replay(replay, symbol, levels, opts)
        return
    market = _market(opts)
    if market is Market.OPTIONS:
        raise typer.BadParameter(
            "options have no diff-depth stream to keep a book with; "
            "use binstream depth --market options",
            param_hint="--market",
        )
    name = normalized_symbols([symbol], market)[0]
    names = sbe_names([f"{name}@depth"], opts) if sbe.sbe else [f"{name}@depth@100ms"]
    stream(names, opts, view="book",
           view_options={"levels": levels},
           book={"symbol": name, "levels": levels, "check_interval": check,
                 "snapshot_limit": snapshot_limit, "sbe": sbe.sbe}, sbe=sbe)  # fmt: skip


def _book_replay(path: Path, symbol: str, levels: int, opts: Streaming) -> None:
    """``book --replay FILE SYMBOL``: the book rebuilt from a recording, printed as live."""
    from ..book_replay import NoBookStreamError, book_stream
    from ..recording import RecordingError, recording_header
    from .runner import run_book_replay

    prepare(opts.voice)
    try:
        book_stream(recording_header(path), symbol)
    except (RecordingError, NoBookStreamError) as exc:
        errors.fail(exc)
    finish(run_book_replay(path, symbol, levels=levels, format=opts.display.format,
                           count=opts.limits.count, quiet=opts.voice.quiet,
                           errors=str(opts.voice.errors.value)))  # fmt: skip


@command("book-ticker")
@with_groups
def book_ticker(symbols: SymbolsArg, opts: Streaming = STREAMING) -> None:
    """Best bid and ask in real time.

    [bold]Examples[/bold]

      binstream book-ticker bnbbtc ethbtc

      binstream book-ticker btcusdt ethusdt --market usdm
    """
    market = _market(opts)
    names = [f"{s}@bookTicker" for s in normalized_symbols(symbols, market)]
    stream(market_streams(names, market), opts, view="tickers")


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
    sbe: Sbe = SBE,
) -> None:
    """Any Binance streams on one combined connection, as {"stream", "data"}.

    Names are validated; a well-formed stream type binstream does not know yet
    passes through with a warning. Past 1024 streams (200 on derivatives), several
    connections are used; on USD-M and options each stream goes to the route Binance
    serves it on (/public or /market) and the routes' messages are merged in arrival
    order. With --control, a script can steer the running tail through stdin.

    [bold]Examples[/bold]

      binstream multiplex bnbbtc@aggTrade neobtc@ticker | jq .data

      binstream multiplex 'btcusdt@kline_1m@+08:00' btcusdt@depth5@100ms

      (echo +ethbtc@trade; sleep 60) | binstream multiplex bnbbtc@trade --control

      binstream multiplex --market usdm btcusdt@aggTrade btcusdt@depth@100ms | jq

      BINANCE_API_KEY=... binstream multiplex bnbbtc@bestBidAsk ethbtc@depth --sbe
    """
    if sbe.sbe:
        stream(sbe_names(streams, opts), opts, view="streams", combined=True, control=control,
               sbe=sbe)  # fmt: skip
        return
    market = _market(opts)
    names = market_streams(streams, market, "STREAM")
    for raw in names:
        kind = raw.split("@")[1] if "@" in raw and not raw.startswith("!") else ""
        if kind and not _known_type(kind, market):
            typer.echo(f"binstream: warning: stream type {kind!r} is not known to binstream; "
                       "passing it through", err=True)  # fmt: skip
    stream(names, opts, view="streams", combined=True, control=control)


_DERIVATIVE_TYPES = ("markPrice", "indexPrice", "forceOrder", "compositeIndex", "assetIndex",
                     "rpiDepth", "optionTicker", "optionTrade", "optionMarkPrice",
                     "optionOpenInterest")  # fmt: skip


def _known_type(kind: str, market: Market = Market.SPOT) -> bool:
    derivatives = market is not Market.SPOT
    return (
        kind in ("trade", "aggTrade", "miniTicker", "ticker", "bookTicker", "avgPrice", "depth")
        or kind.startswith(("kline_", "ticker_"))
        or (kind.startswith("depth") and kind[5:].isdigit())
        or (derivatives and (kind in _DERIVATIVE_TYPES or kind.startswith("continuousKline_")))
    )


@command("mark-price")
@with_groups
def mark_price(
    symbols: Annotated[
        list[str] | None,
        typer.Argument(
            help="Contracts (pairs for coinm --index, underlyings for options); none for all.",
            metavar="SYMBOL",
        ),
    ] = None,
    slow: Annotated[
        bool, typer.Option("--slow", help="Every 3 s instead of every second.")
    ] = False,
    index: Annotated[
        bool, typer.Option("--index", help="COIN-M: index prices of pairs (@indexPrice).")
    ] = False,
    opts: Streaming = STREAMING,
) -> None:
    """Mark price, index price and funding rate of futures contracts.

    USD-M unless --market says otherwise (spot has no mark price). The table shows the
    funding rate and the time left to the next funding.

    [bold]Examples[/bold]

      binstream mark-price

      binstream mark-price btcusdt ethusdt

      binstream mark-price btcusd_perp --market coinm --json | jq -r .r

      binstream mark-price btcusdt --market options
    """
    market, opts = _futures_only(opts, "mark-price", options_ok=True)
    fast = "" if slow else "@1s"
    chosen = normalized_symbols(symbols or [], market)
    if index:
        if market is not Market.COINM:
            raise typer.BadParameter("index prices are COIN-M streams: add --market coinm",
                                     param_hint="--index")  # fmt: skip
        names = [f"{s}@indexPrice{fast}" for s in chosen] or ["!markPrice@arr" + fast]
    elif market is Market.OPTIONS:
        if not chosen:
            raise typer.BadParameter("name an underlying, e.g. btcusdt", param_hint="SYMBOL")
        names = [f"{s}@optionMarkPrice" for s in chosen]
    else:
        names = [f"{s}@markPrice{fast}" for s in chosen] or ["!markPrice@arr" + fast]
    stream(market_streams(names, market), opts, view="markprice")


@command()
@with_groups
def liquidations(
    symbols: Annotated[
        list[str] | None,
        typer.Argument(help="Contracts; none for every contract.", metavar="SYMBOL"),
    ] = None,
    opts: Streaming = STREAMING,
) -> None:
    """Liquidation orders of futures contracts (forceOrder).

    USD-M unless --market coinm. Binance sends at most the latest liquidation per
    contract each second.

    [bold]Examples[/bold]

      binstream liquidations

      binstream liquidations btcusdt --json | jq -c '.o | [.S, .q, .ap]'

      binstream liquidations --market coinm
    """
    market, opts = _futures_only(opts, "liquidations")
    names = [f"{s}@forceOrder" for s in normalized_symbols(symbols or [], market)]
    stream(market_streams(names or ["!forceOrder@arr"], market), opts, view="liquidations")
