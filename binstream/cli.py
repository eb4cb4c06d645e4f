"""The ``binstream`` command: parse arguments, build a stream list, run, map errors to exits.

Parsing only: streaming is :mod:`binstream.runner`, the exchange is :mod:`binstream.server`.
Heavy modules (rich tables, the server) are imported inside the commands that use them.
"""

import contextlib
import copy
import functools
import inspect
import logging
import math
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
import typer.core

from . import streams as st
from .errors import BinstreamError, EndpointError
from .exitcodes import ExitCode
from .version import __version__

app = typer.Typer(
    name="binstream",
    help="Tail Binance WebSocket streams as JSON lines or live tables.\n\n"
    "Try it with no network: [bold]binstream demo[/bold]. Point any command at another "
    "server with --endpoint or $BINSTREAM_ENDPOINT.\n\n"
    "[bold]Examples[/bold]\n\n"
    "  binstream demo                     [dim]# the local exchange, no network[/dim]\n\n"
    "  binstream depth bnbbtc --depth 10  [dim]# a live table on a terminal[/dim]\n\n"
    "  binstream multiplex bnbbtc@aggTrade neobtc@ticker | jq",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
    add_completion=True,
)

log = logging.getLogger("binstream")


class Format(StrEnum):
    auto = "auto"
    json = "json"
    table = "table"


class ErrorFormat(StrEnum):
    text = "text"
    json = "json"


class Overflow(StrEnum):
    block = "block"
    drop = "drop"


class TransportChoice(StrEnum):
    auto = "auto"
    websockets = "websockets"
    picows = "picows"


class Tld(StrEnum):
    com = "com"
    us = "us"


class DepthChoice(StrEnum):
    d5 = "5"
    d10 = "10"
    d20 = "20"


# -- shared options ---------------------------------------------------------------------

TldOpt = Annotated[Tld, typer.Option("--tld", help="Binance domain.")]
TestnetOpt = Annotated[bool, typer.Option("--testnet", help="Use Binance's spot testnet.")]
EndpointOpt = Annotated[
    str | None,
    typer.Option(
        "--endpoint",
        envvar="BINSTREAM_ENDPOINT",
        help="Base URL of another server, e.g. ws://127.0.0.1:9000 (binstream serve).",
        show_default=False,
    ),
]
FormatOpt = Annotated[
    Format,
    typer.Option("--format", "-f", help="auto: a table on a terminal, JSON lines when piped."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Shorthand for --format json.")]
CountOpt = Annotated[
    int | None,
    typer.Option("--count", "-n", min=1, help="Exit 0 after N messages.", show_default=False),
]
TimeoutOpt = Annotated[
    float | None,
    typer.Option(
        "--timeout",
        min=0.001,
        help="Exit 3 if no message arrives for SECONDS.",
        show_default=False,
        metavar="SECONDS",
    ),
]
RetriesOpt = Annotated[
    str,
    typer.Option(
        "--retries", help="Reconnect attempts in a row before giving up, or 'inf'.", metavar="N|inf"
    ),
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No status lines on stderr.")]
ErrorsOpt = Annotated[
    ErrorFormat, typer.Option("--errors", help="How error notices look on stderr.")
]
OverflowOpt = Annotated[
    Overflow,
    typer.Option(
        "--overflow",
        help="When output falls behind: block (pause reading, lose nothing) or drop (oldest).",
    ),
]
StallOpt = Annotated[
    float | None,
    typer.Option(
        "--stall-timeout",
        min=0.1,
        help="Reconnect when a connection is silent this long (seconds).",
        show_default=False,
    ),
]
TransportOpt = Annotated[
    TransportChoice,
    typer.Option(
        "--transport",
        help="Websocket library: auto (picows when binstream\\[fast] is installed), websockets "
        "or picows. Default: $BINSTREAM_TRANSPORT or auto.",
        show_default=False,
    ),
]
VerboseOpt = Annotated[
    int, typer.Option("--verbose", "-v", count=True, help="Log more to stderr (-vv: debug).")
]


def _symbols(values: list[str]) -> list[str]:
    try:
        return [st.normalize_symbol(v) for v in values]
    except BinstreamError as exc:
        raise typer.BadParameter(str(exc)) from None


def _retries(value: str) -> float:
    text = value.strip().lower()
    if text in ("inf", "infinite", "forever"):
        return math.inf
    if not text.isdigit():
        raise typer.BadParameter(
            f"{value!r} is not a whole number or 'inf'", param_hint="--retries"
        )
    return float(int(text))


def _setup_logging(verbose: int) -> None:
    logger = logging.getLogger("binstream")
    if logger.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("binstream: %(levelname)s %(message)s"))
    logger.addHandler(handler)
    logger.propagate = False
    # Without -v the command prints its own one-line notices; library logs stay quiet.
    logger.setLevel(logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.CRITICAL)


def _format(fmt: Format, json_flag: bool) -> str:
    if json_flag or fmt is Format.json:
        return "json"
    if fmt is Format.table:
        return "table"
    return "table" if sys.stdout.isatty() else "json"


@dataclass(frozen=True)
class StreamOptions:
    """The options every streaming command takes (see :func:`streaming_command`)."""

    tld: Tld = Tld.com
    testnet: bool = False
    endpoint: str | None = None
    fmt: Format = Format.auto
    json_flag: bool = False
    count: int | None = None
    timeout: float | None = None
    retries: str = "5"
    quiet: bool = False
    errors: ErrorFormat = ErrorFormat.text
    overflow: Overflow = Overflow.block
    stall_timeout: float | None = None
    transport: TransportChoice | None = None
    verbose: int = 0


STREAM_OPTIONS = StreamOptions()
_COMMON: list[tuple[str, Any]] = [
    ("tld", TldOpt), ("testnet", TestnetOpt), ("endpoint", EndpointOpt), ("fmt", FormatOpt),
    ("json_flag", JsonOpt), ("count", CountOpt), ("timeout", TimeoutOpt),
    ("retries", RetriesOpt), ("quiet", QuietOpt), ("errors", ErrorsOpt),
    ("overflow", OverflowOpt), ("stall_timeout", StallOpt), ("transport", TransportOpt),
    ("verbose", VerboseOpt),
]  # fmt: skip


def streaming_command(command: Callable[..., None]) -> Callable[..., None]:
    """Give a command the shared streaming options, collected into ``opts``.

    Typer reads parameters from the signature, so the wrapper's signature is the command's
    own parameters followed by the shared ones; the wrapper folds those back into one
    :class:`StreamOptions`. One definition of the options, seven commands.
    """
    own = [p for p in inspect.signature(command, eval_str=True).parameters.values()
           if p.name != "opts"]  # fmt: skip
    shared = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation,
                          default=getattr(STREAM_OPTIONS, name))
        for name, annotation in _COMMON
    ]  # fmt: skip

    @functools.wraps(command)
    def wrapper(**kwargs: Any) -> None:
        options = StreamOptions(**{name: kwargs.pop(name) for name, _ in _COMMON})
        command(**kwargs, opts=options)

    wrapper.__signature__ = inspect.Signature(own + shared)  # type: ignore[attr-defined]
    return wrapper


def _stream(
    streams: list[str],
    *,
    view: str,
    opts: StreamOptions,
    combined: bool = False,
    view_options: dict[str, Any] | None = None,
    book: dict[str, Any] | None = None,
) -> None:
    from .runner import RunConfig, run_stream

    _setup_logging(opts.verbose)
    endpoint = _checked_endpoint(opts.endpoint)
    _preload_transport(opts.transport.value if opts.transport else None)
    config = RunConfig(
        streams=streams,
        combined=combined,
        tld=str(opts.tld),
        testnet=opts.testnet,
        endpoint=endpoint,
        format=_format(opts.fmt, opts.json_flag),  # type: ignore[arg-type]
        view=view,
        count=opts.count,
        timeout=opts.timeout,
        retries=_retries(opts.retries),
        quiet=opts.quiet,
        errors=opts.errors.value,  # type: ignore[arg-type]
        overflow="drop_oldest" if opts.overflow is Overflow.drop else "block",
        stall_timeout=opts.stall_timeout,
        transport=opts.transport.value if opts.transport else None,
        view_options=view_options or {},
        book=book,
    )
    raise typer.Exit(_run(run_stream(config)))


def _preload_transport(name: str | None) -> None:
    """Import the websocket library now, among the other start-up imports (see
    :mod:`binstream.gcpause`); if it cannot be loaded, the run itself says so."""
    from .transport import resolve

    with contextlib.suppress(BinstreamError):
        resolve(name)


def _checked_endpoint(endpoint: str | None) -> str | None:
    """``--endpoint`` validated, or a usage error (exit 2) saying what is wrong."""
    if endpoint is None:
        return None
    from .endpoints import check_ws_url

    try:
        return check_ws_url(endpoint)
    except EndpointError as exc:
        raise typer.BadParameter(str(exc), param_hint="--endpoint") from None


def _loop_factory() -> Callable[[], Any] | None:
    """uvloop's loop when it is installed (the ``[fast]`` extra), unless
    ``BINSTREAM_LOOP=asyncio`` asks for the standard one."""
    if os.environ.get("BINSTREAM_LOOP", "auto").strip().lower() == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop  # type: ignore[no-any-return]


def _run(coro: Any) -> int:
    """Run a coroutine to an exit code; Ctrl-C → 130, expected errors → one line."""
    import asyncio

    from . import gcpause

    loop_factory = _loop_factory()
    gcpause.resume()  # the command's imports are done
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            return int(runner.run(coro))
    except KeyboardInterrupt:
        sys.stderr.write("\n")
        return ExitCode.INTERRUPTED
    except BinstreamError as exc:
        typer.echo(f"binstream: error: {exc}", err=True)
        return ExitCode.USAGE if isinstance(exc, ValueError) else ExitCode.FAILURE
    except OSError as exc:  # e.g. the port for `serve` is taken
        typer.echo(f"binstream: error: {exc.strerror or exc}", err=True)
        return ExitCode.FAILURE


def _version(value: bool) -> None:
    if value:
        from .transport import ENV_VAR, TransportUnavailableError, resolve

        try:
            transport = str(resolve())
        except TransportUnavailableError as exc:
            transport = f"unavailable: {exc}"
        how = f"${ENV_VAR}" if os.environ.get(ENV_VAR) else "auto"
        factory = _loop_factory()
        loop = f"uvloop {sys.modules['uvloop'].__version__}" if factory else "asyncio"
        typer.echo(
            f"binstream {__version__} (transport {transport} [{how}], loop {loop}, "
            f"Python {sys.version.split()[0]})"
        )
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", "-V", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Tail Binance WebSocket streams as JSON lines or live tables."""


# -- streaming commands -----------------------------------------------------------------


@app.command()
@streaming_command
def trade(
    symbols: Annotated[
        list[str], typer.Argument(help="Symbols, e.g. bnbbtc ethbtc.", metavar="SYMBOL")
    ],
    agg: Annotated[bool, typer.Option("--agg", help="Aggregated trades (@aggTrade).")] = False,
    opts: StreamOptions = STREAM_OPTIONS,
) -> None:
    """Trades as they happen.

    [bold]Examples[/bold]

      binstream trade bnbbtc

      binstream trade bnbbtc ethbtc --agg -n 100 | jq .p
    """
    build = st.aggtrade_stream if agg else st.trade_stream
    _stream(
        [build(s) for s in _symbols(symbols)],
        view="trades",
        opts=opts,
    )  # fmt: skip


@app.command()
@streaming_command
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
        typer.Option(
            "--window",
            help="Rolling-window ticker instead of 24 h.",
            show_default=False,
        ),
    ] = None,
    opts: StreamOptions = STREAM_OPTIONS,
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
            for s in _symbols(symbols)
        ]
    else:
        names = [st.mini_ticker_stream() if mini else st.ticker_stream(None, window)]
    _stream(
        names,
        view="tickers",
        opts=opts,
    )  # fmt: skip


@app.command()
@streaming_command
def depth(
    symbols: Annotated[list[str], typer.Argument(help="Symbols, e.g. bnbbtc.", metavar="SYMBOL")],
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
    opts: StreamOptions = STREAM_OPTIONS,
) -> None:
    """Order book depth: partial book (--depth 5|10|20) or diff events.

    [bold]Examples[/bold]

      binstream depth bnbbtc --depth 10

      binstream depth bnbbtc --speed 100ms --json | jq .u
    """
    names = [st.depth_stream(s, levels, speed) for s in _symbols(symbols)]
    _stream(
        names,
        view="depth",
        opts=opts,
        view_options={"levels": int(levels.value if levels else 10)},
    )  # fmt: skip


@app.command()
@streaming_command
def kline(
    symbols: Annotated[list[str], typer.Argument(help="Symbols, e.g. bnbbtc.", metavar="SYMBOL")],
    interval: Annotated[
        st.KlineInterval, typer.Option("--interval", "-i", help="Candle interval.")
    ] = st.KlineInterval.M1,
    tz: Annotated[
        str | None,
        typer.Option("--tz", help="Timezone offset for candle boundaries, e.g. +08:00."),
    ] = None,
    opts: StreamOptions = STREAM_OPTIONS,
) -> None:
    """Candlesticks (klines), updated as trades happen.

    [bold]Examples[/bold]

      binstream kline bnbbtc --interval 5m

      binstream kline btcusdt -i 1h --tz +08:00 --json
    """
    try:
        names = [st.kline_stream(s, interval, tz) for s in _symbols(symbols)]
    except BinstreamError as exc:
        raise typer.BadParameter(str(exc), param_hint="--tz") from None
    _stream(
        names,
        view="klines",
        opts=opts,
    )  # fmt: skip


@app.command()
@streaming_command
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
    opts: StreamOptions = STREAM_OPTIONS,
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
    try:
        name = st.normalize_symbol(symbol)
    except BinstreamError as exc:
        raise typer.BadParameter(str(exc), param_hint="SYMBOL") from None
    _stream(
        [st.depth_stream(name, None, "100ms")],
        view="book",
        opts=opts,
        view_options={"levels": levels},
        book={"symbol": name, "levels": levels, "check_interval": check,
              "snapshot_limit": snapshot_limit},
    )  # fmt: skip


@app.command("book-ticker")
@streaming_command
def book_ticker(
    symbols: Annotated[list[str], typer.Argument(help="Symbols, e.g. bnbbtc.", metavar="SYMBOL")],
    opts: StreamOptions = STREAM_OPTIONS,
) -> None:
    """Best bid and ask in real time.

    [bold]Examples[/bold]

      binstream book-ticker bnbbtc ethbtc
    """
    _stream(
        [st.book_ticker_stream(s) for s in _symbols(symbols)],
        view="tickers",
        opts=opts,
    )  # fmt: skip


@app.command()
@streaming_command
def multiplex(
    streams: Annotated[
        list[str],
        typer.Argument(
            help="Raw stream names, e.g. bnbbtc@aggTrade neobtc@ticker.", metavar="STREAM"
        ),
    ],
    opts: StreamOptions = STREAM_OPTIONS,
) -> None:
    """Any Binance streams on one combined connection, as {"stream", "data"}.

    Names are validated; a well-formed stream type binstream does not know yet
    passes through with a warning. Past 1024 streams, several connections are used.

    [bold]Examples[/bold]

      binstream multiplex bnbbtc@aggTrade neobtc@ticker | jq .data

      binstream multiplex 'btcusdt@kline_1m@+08:00' btcusdt@depth5@100ms
    """
    try:
        names = st.normalize_streams(streams, warn_unknown=False)
    except BinstreamError as exc:
        raise typer.BadParameter(str(exc), param_hint="STREAMS") from None
    for raw in names:
        kind = raw.split("@")[1] if "@" in raw and not raw.startswith("!") else ""
        if kind and not _known_type(kind):
            typer.echo(f"binstream: warning: stream type {kind!r} is not known to binstream; "
                       "passing it through", err=True)  # fmt: skip
    _stream(
        names,
        view="streams",
        combined=True,
        opts=opts,
    )  # fmt: skip


@app.command()
def user(
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            envvar="BINANCE_API_KEY",
            show_default=False,
            help="API key id (not secret). Default: $BINANCE_API_KEY.",
        ),
    ] = None,
    secret_file: Annotated[
        Path | None,
        typer.Option(
            "--secret-file",
            show_default=False,
            help="File holding the HMAC secret. Default: $BINANCE_API_SECRET.",
        ),
    ] = None,
    private_key: Annotated[
        Path | None,
        typer.Option(
            "--private-key",
            show_default=False,
            help="Ed25519 or RSA private key, PEM file. Default: $BINANCE_PRIVATE_KEY.",
        ),
    ] = None,
    ask_passphrase: Annotated[
        bool,
        typer.Option(
            "--private-key-passphrase",
            help="The key is encrypted: read its passphrase from "
            "$BINANCE_PRIVATE_KEY_PASSPHRASE or ask for it.",
        ),
    ] = False,
    logon: Annotated[
        bool, typer.Option("--logon", help="Authenticate with session.logon (Ed25519 keys).")
    ] = False,
    recv_window: Annotated[
        int | None,
        typer.Option(
            "--recv-window",
            min=1,
            max=60000,
            help="Milliseconds a signature stays valid.",
            show_default=False,
        ),
    ] = None,
    tld: TldOpt = Tld.com,
    testnet: TestnetOpt = False,
    endpoint: EndpointOpt = None,
    fmt: FormatOpt = Format.auto,
    json_flag: JsonOpt = False,
    count: CountOpt = None,
    timeout: TimeoutOpt = None,
    retries: RetriesOpt = "5",
    quiet: QuietOpt = False,
    errors: ErrorsOpt = ErrorFormat.text,
    verbose: VerboseOpt = 0,
) -> None:
    """Account events (balances, orders, fills) over the WebSocket API.

    Keys come from BINANCE_API_KEY with BINANCE_API_SECRET (HMAC) or BINANCE_PRIVATE_KEY
    (a PEM file), or from the options. Secrets are never printed; the key id is shown
    masked.

    [bold]Examples[/bold]

      BINANCE_API_KEY=... BINANCE_API_SECRET=... binstream user

      binstream user --api-key KEY --private-key ed25519.pem --logon --json

      binstream demo user
    """  # fmt: skip
    from .errors import BinstreamError
    from .runner import RunConfig, run_stream
    from .user_cli import load_credentials

    _setup_logging(verbose)
    try:
        credentials = load_credentials(
            api_key, secret_file, private_key, ask_passphrase, prompt=typer.prompt
        )
    except BinstreamError as exc:
        typer.echo(f"binstream: error: {exc}", err=True)
        raise typer.Exit(ExitCode.USAGE) from None
    if logon and credentials.kind != "ed25519":
        raise typer.BadParameter("--logon needs an Ed25519 private key", param_hint="--logon")
    endpoint = _checked_endpoint(endpoint)
    config = RunConfig(
        streams=["userData"],
        tld=str(tld),
        testnet=testnet,
        endpoint=endpoint,
        format=_format(fmt, json_flag),  # type: ignore[arg-type]
        view="account",
        count=count,
        timeout=timeout,
        retries=_retries(retries),
        quiet=quiet,
        errors=errors.value,  # type: ignore[arg-type]
        credentials=credentials,
        logon=logon,
        recv_window=recv_window,
    )
    raise typer.Exit(_run(run_stream(config)))


def _known_type(kind: str) -> bool:
    return (
        kind in ("trade", "aggTrade", "miniTicker", "ticker", "bookTicker", "avgPrice", "depth")
        or kind.startswith(("kline_", "ticker_"))
        or (kind.startswith("depth") and kind[5:].isdigit())
    )


@app.command()
def record(
    streams: Annotated[
        list[str],
        typer.Argument(
            help="Raw stream names, e.g. bnbbtc@trade bnbbtc@depth@100ms.", metavar="STREAM"
        ),
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Recording file; a .zst name compresses it.")
    ],
    rotate_mb: Annotated[
        float | None,
        typer.Option(
            "--rotate-size",
            min=0.001,
            metavar="MB",
            show_default=False,
            help="Start a new numbered file after this many MB (before compression).",
        ),
    ] = None,
    rotate_seconds: Annotated[
        float | None,
        typer.Option(
            "--rotate-every",
            min=1.0,
            metavar="SECONDS",
            show_default=False,
            help="Start a new numbered file every SECONDS.",
        ),
    ] = None,
    tld: TldOpt = Tld.com,
    testnet: TestnetOpt = False,
    endpoint: EndpointOpt = None,
    count: CountOpt = None,
    timeout: TimeoutOpt = None,
    retries: RetriesOpt = "5",
    quiet: QuietOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Record streams to a file: every frame as received, with its receive time.

    Reconnects are recorded as gaps. Replay with `binstream replay FILE`, or serve it to
    any client with `binstream serve --replay FILE`.

    [bold]Examples[/bold]

      binstream record bnbbtc@trade bnbbtc@depth@100ms -o session.jsonl.zst

      binstream record btcusdt@aggTrade -o trades.jsonl -n 10000
    """  # fmt: skip
    try:
        names = st.normalize_streams(streams, warn_unknown=False)
    except BinstreamError as exc:
        raise typer.BadParameter(str(exc), param_hint="STREAM") from None
    if output.suffix == ".zst":
        try:
            import zstandard  # noqa: F401
        except ImportError:
            raise typer.BadParameter(
                "zstd recordings need the zstandard package: pip install 'binstream[zstd]'",
                param_hint="--output",
            ) from None
    _setup_logging(verbose)
    endpoint = _checked_endpoint(endpoint)
    from .runner import RunConfig, run_stream

    config = RunConfig(
        streams=names, combined=len(names) > 1, tld=str(tld), testnet=testnet,
        endpoint=endpoint, format="json", count=count, timeout=timeout,
        retries=_retries(retries), quiet=quiet, record_to=output,
        rotate_bytes=int(rotate_mb * 1_000_000) if rotate_mb else None,
        rotate_seconds=rotate_seconds,
    )  # fmt: skip
    raise typer.Exit(_run(run_stream(config)))


def _speed(value: str) -> float | None:
    if value.strip().lower() == "max":
        return None
    try:
        speed = float(value)
    except ValueError:
        speed = -1.0
    if speed <= 0:
        raise typer.BadParameter(f"{value!r} is not a positive number or 'max'",
                                 param_hint="--speed")  # fmt: skip
    return speed


@app.command()
def replay(
    recording: Annotated[
        Path, typer.Argument(help="A file written by binstream record.", metavar="FILE")
    ],
    speed: Annotated[
        str,
        typer.Option(
            "--speed", help="1 = as recorded, 10 = ten times faster, max.", metavar="1|10|max"
        ),
    ] = "1",
    loop: Annotated[bool, typer.Option("--loop", help="Start again at the end.")] = False,
    fmt: FormatOpt = Format.auto,
    json_flag: JsonOpt = False,
    count: CountOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Print a recording like a live stream (same output as the streaming commands).

    [bold]Examples[/bold]

      binstream replay session.jsonl.zst --speed 10 | jq .data.p

      binstream replay trades.jsonl --speed max -n 100
    """  # fmt: skip
    from .recording import RecordingError, recording_header
    from .runner import run_replay

    pace = _speed(speed)
    try:
        recording_header(recording)
    except RecordingError as exc:
        typer.echo(f"binstream: error: {exc}", err=True)
        raise typer.Exit(ExitCode.USAGE) from None
    try:
        code = _run(run_replay(recording, speed=pace, loop=loop, format=_format(fmt, json_flag),
                               view="streams", count=count, quiet=quiet))  # fmt: skip
    except RecordingError as exc:  # pragma: no cover - _run maps BinstreamError already
        typer.echo(f"binstream: error: {exc}", err=True)
        code = ExitCode.USAGE
    raise typer.Exit(code)


# -- the local exchange -----------------------------------------------------------------


@app.command()
def serve(
    port: Annotated[
        int, typer.Option("--port", "-p", min=0, max=65535, help="0 picks a free port.")
    ] = 0,
    host: Annotated[
        str, typer.Option("--host", help="Address to bind (loopback by default).")
    ] = "127.0.0.1",
    interval: Annotated[
        float, typer.Option("--interval", min=0.001, help="Market step period, seconds.")
    ] = 0.1,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Random seed for a repeatable market.")
    ] = None,
    drop_after: Annotated[
        int | None,
        typer.Option("--drop-after", min=1, help="Fault: close each connection after N messages."),
    ] = None,
    no_close_frame: Annotated[
        bool, typer.Option("--no-close-frame", help="Fault: drop without a close frame.")
    ] = False,
    stall_after: Annotated[
        int | None, typer.Option("--stall-after", min=0, help="Fault: go silent after N messages.")
    ] = None,
    garbage_every: Annotated[
        int | None,
        typer.Option("--garbage-every", min=1, help="Fault: a garbage frame every N messages."),
    ] = None,
    refuse: Annotated[
        int,
        typer.Option("--refuse", min=0, help="Fault: refuse the first N connections (HTTP 503)."),
    ] = 0,
    delay: Annotated[
        float, typer.Option("--delay", min=0.0, help="Fault: sleep this long before each message.")
    ] = 0.0,
    shutdown_after: Annotated[
        int | None,
        typer.Option(
            "--shutdown-after", min=1, help="Fault: send serverShutdown after N messages."
        ),
    ] = None,
    replay_file: Annotated[
        Path | None,
        typer.Option(
            "--replay",
            help="Serve this recording instead of the simulated market.",
            show_default=False,
        ),
    ] = None,
    replay_speed: Annotated[
        str, typer.Option("--replay-speed", help="Pace of --replay: 1, 10, max.")
    ] = "1",
    verbose: VerboseOpt = 0,
) -> None:
    """Run the local Binance-compatible exchange in the foreground.

    Prints its base URL (ws://127.0.0.1:PORT) on stdout; pass it to any command as
    --endpoint, or export BINSTREAM_ENDPOINT. Ctrl-C stops it.

    [bold]Examples[/bold]

      binstream serve --port 9000

      binstream serve --port 9000 --drop-after 100 --garbage-every 50

      binstream serve --replay session.jsonl.zst
    """  # fmt: skip
    from .server import Faults, LocalExchange

    _setup_logging(verbose)
    faults = Faults(
        drop_after=drop_after,
        drop_close_frame=not no_close_frame,
        stall_after=stall_after,
        garbage_every=garbage_every,
        delay=delay,
        shutdown_after=shutdown_after,
    )

    replay_source = None
    if replay_file is not None:
        from .recording import RecordingError, recording_header

        try:
            recording_header(replay_file)
        except RecordingError as exc:
            typer.echo(f"binstream: error: {exc}", err=True)
            raise typer.Exit(ExitCode.USAGE) from None
        replay_source = (replay_file, _speed(replay_speed))

    async def main() -> int:
        exchange = LocalExchange(host, port, interval=interval, seed=seed, faults=faults,
                                 replay=replay_source)  # fmt: skip
        await exchange.start()
        if refuse:
            exchange.refuse(count=refuse)
        typer.echo(exchange.url)
        sys.stdout.flush()
        if sys.stderr.isatty():
            typer.echo(f"binstream: serving on {exchange.url} (REST {exchange.rest_url}); "
                       "Ctrl-C stops", err=True)  # fmt: skip
        await exchange.serve_forever()
        return ExitCode.OK

    raise typer.Exit(_run(main()))


class DemoWhat(StrEnum):
    market = "market"
    user = "user"


@app.command()
def demo(
    what: Annotated[
        DemoWhat, typer.Argument(help="market streams, or the user data stream.")
    ] = DemoWhat.market,
    fmt: FormatOpt = Format.auto,
    json_flag: JsonOpt = False,
    count: CountOpt = None,
    timeout: TimeoutOpt = None,
    quiet: QuietOpt = False,
    errors: ErrorsOpt = ErrorFormat.text,
    verbose: VerboseOpt = 0,
) -> None:
    """Start the local exchange in-process and tail a few of its streams.

    Runs the real client code over a real loopback socket; no network needed.
    `binstream demo user` shows the user data stream of a demo account.

    [bold]Examples[/bold]

      binstream demo

      binstream demo user

      binstream demo --json -n 20 | jq -c .data
    """  # fmt: skip
    from .runner import RunConfig, run_stream
    from .server import LocalExchange

    _setup_logging(verbose)
    if what is DemoWhat.user:
        from .user_cli import run_user_demo

        raise typer.Exit(_run(run_user_demo(
            fmt=_format(fmt, json_flag), count=count, timeout=timeout, quiet=quiet,
        )))  # fmt: skip
    streams = [
        "bnbbtc@aggTrade",
        "bnbbtc@depth5",
        "ethbtc@ticker",
        "btcusdt@kline_1m",
        "btcusdt@bookTicker",
    ]

    async def main() -> int:
        async with LocalExchange(interval=0.2) as exchange:
            config = RunConfig(
                streams=streams,
                combined=True,
                endpoint=exchange.url,
                format=_format(fmt, json_flag),  # type: ignore[arg-type]
                view="streams",
                count=count,
                timeout=timeout,
                quiet=quiet,
                errors=errors.value,  # type: ignore[arg-type]
            )
            return await run_stream(config)

    raise typer.Exit(_run(main()))


class _UsageCommand(typer.core.TyperCommand):
    """Usage lines as Click and most tools write them: ``SYMBOL...``, not ``{SYMBOL}``."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name != "argument":
                continue
            name = param.metavar or (param.name or "").upper()
            if param.nargs != 1:
                name += "..."
            pieces.append(name if param.required else f"[{name}]")
        return pieces


def _app_for(argv: list[str]) -> typer.Typer:
    """``app``, trimmed to the one command ``argv`` starts with.

    Typer builds the parser of every command on each run, about half of the CLI's own
    start-up; a run needs one. Anything else (top-level options, help, completion, an
    unknown name) gets the whole app, so its messages are unchanged.
    """
    if not argv or os.environ.get("_BINSTREAM_COMPLETE"):
        return app
    from typer.main import get_command_name

    for info in app.registered_commands:
        name = info.name or (get_command_name(info.callback.__name__) if info.callback else "")
        if name == argv[0]:
            single = copy.copy(app)
            single.registered_commands = [info]
            return single
    return app


def main() -> None:
    """Run the command line (the console script, :func:`binstream.__main__.main`, calls it
    with the garbage collector paused)."""
    try:
        _app_for(sys.argv[1:])(prog_name="binstream")
    except BrokenPipeError:
        # The reader of our stdout went away (e.g. `| head`): not an error.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(0)


for _info in app.registered_commands:
    _info.cls = _UsageCommand

if __name__ == "__main__":  # pragma: no cover
    main()
