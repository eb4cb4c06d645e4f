"""Every option the commands share, declared once, and grouped.

A group is a frozen dataclass whose fields carry their Typer option in their annotation.
A command names the groups it takes as parameters (``conn: Connection = CONNECTION``);
:func:`with_groups` spreads each group's fields into the signature Typer reads and folds
the parsed values back into one object per group, so no command re-declares an option.

Example::

    >>> [f.name for f in dataclasses.fields(Limits)]
    ['count', 'timeout']
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, Any, get_type_hints

import typer

from .. import streams as st
from ..errors import BinstreamError
from ..venues import Market


class Format(StrEnum):
    """``--format``: a table on a terminal and JSON lines in a pipe, or either."""

    auto = "auto"
    json = "json"
    table = "table"


class ErrorFormat(StrEnum):
    """``--errors``: how notices look on stderr."""

    text = "text"
    json = "json"


class Overflow(StrEnum):
    """``--overflow``: what a full queue does."""

    block = "block"
    drop = "drop"


class TransportChoice(StrEnum):
    """``--transport``: which websocket library."""

    auto = "auto"
    websockets = "websockets"
    picows = "picows"


class Tld(StrEnum):
    """``--tld``: Binance's domain."""

    com = "com"
    us = "us"


#: ``--depth`` choices, derived from :class:`binstream.streams.DepthLevel` (an int enum,
#: which Typer cannot offer as choices).
DepthChoice = StrEnum(  # type: ignore[misc]
    "DepthChoice", {f"d{level.value}": str(level.value) for level in st.DepthLevel}
)

# -- single options, for commands that take one without its group -----------------------

CountOpt = Annotated[
    int | None,
    typer.Option("--count", "-n", min=1, help="Exit 0 after N messages.", show_default=False),
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No status lines on stderr.")]
VerboseOpt = Annotated[
    int, typer.Option("--verbose", "-v", count=True, help="Log more to stderr (-vv: debug).")
]
FormatOpt = Annotated[
    Format,
    typer.Option("--format", "-f", help="auto: a table on a terminal, JSON lines when piped."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Shorthand for --format json.")]
ApiKeyOpt = Annotated[
    str | None,
    typer.Option(
        "--api-key",
        envvar="BINANCE_API_KEY",
        show_default=False,
        help="API key id (not secret). Default: $BINANCE_API_KEY.",
    ),
]
MetricsOpt = Annotated[
    str | None,
    typer.Option(
        "--metrics",
        help="Serve Prometheus metrics at http://HOST:PORT/metrics (pip install "
        "binstream\\[metrics]); :PORT listens on 127.0.0.1.",
        show_default=False,
        metavar="HOST:PORT",
    ),
]


@dataclasses.dataclass(frozen=True)
class Sbe:
    """Binance's SBE (binary) market-data streams instead of JSON."""

    sbe: Annotated[
        bool,
        typer.Option(
            "--sbe",
            help="Read Binance's SBE (binary) streams: @trade, @bestBidAsk, @depth20, @depth; "
            "needs an API key. With --endpoint, the SBE host's base URL.",
        ),
    ] = False
    api_key: ApiKeyOpt = None

    def key(self) -> str | None:
        """The API key --sbe sends; a usage error when it is needed and missing."""
        if not self.sbe:
            return None
        if not self.api_key:
            from ..errors import MissingKeysError

            raise MissingKeysError(
                "SBE streams need an API key (Binance asks for an Ed25519 key): set "
                "BINANCE_API_KEY or pass --api-key"
            )
        return self.api_key


def checked_metrics(address: str | None) -> str | None:
    """``--metrics`` checked: a usage error if malformed or the extra is missing."""
    if address is None:
        return None
    from ..metrics.exporter import parse_address

    try:
        parse_address(address)
    except ValueError as exc:
        raise typer.BadParameter(str(exc).split(": ", 1)[1], param_hint="--metrics") from None
    try:
        import prometheus_client  # noqa: F401
    except ImportError:
        raise typer.BadParameter(
            "metrics need prometheus_client: pip install 'binstream[metrics]'",
            param_hint="--metrics",
        ) from None
    return address


# -- groups -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Connection:
    """Where to connect and how hard to try."""

    market: Annotated[
        Market,
        typer.Option(
            "--market",
            help="Binance market: spot, usdm (USD-M futures), coinm (COIN-M futures) or options.",
        ),
    ] = Market.SPOT
    tld: Annotated[Tld, typer.Option("--tld", help="Binance domain.")] = Tld.com
    testnet: Annotated[
        bool, typer.Option("--testnet", help="Use the market's Binance testnet.")
    ] = False
    endpoint: Annotated[
        str | None,
        typer.Option(
            "--endpoint",
            help="Base URL of the market on another server, e.g. ws://127.0.0.1:9000 (spot on "
            "binstream serve) or ws://127.0.0.1:9000/usdm. Default: $BINSTREAM_<MARKET>_ENDPOINT,"
            " else $BINSTREAM_ENDPOINT (a binstream serve: markets under /usdm, /coinm, /options).",
            show_default=False,
        ),
    ] = None

    @property
    def chosen_endpoint(self) -> str | None:
        """``--endpoint``, else what the environment names for the market."""
        from ..endpoints import endpoint_from_env

        return self.endpoint or endpoint_from_env(self.market)

    retries: Annotated[
        str,
        typer.Option(
            "--retries",
            help="Reconnect attempts in a row before giving up, or 'inf'.",
            metavar="N|inf",
        ),
    ] = "5"

    @property
    def retry_budget(self) -> float:
        """``--retries`` as a number (``inf`` for forever); a usage error otherwise."""
        text = self.retries.strip().lower()
        if text in ("inf", "infinite", "forever"):
            return math.inf
        if not text.isdigit():
            raise typer.BadParameter(
                f"{self.retries!r} is not a whole number or 'inf'", param_hint="--retries"
            )
        return float(int(text))

    symbol_check: Annotated[
        bool,
        typer.Option(
            "--symbol-check/--no-symbol-check",
            help="Check symbols against the market's exchangeInfo first (exit 2 on an unknown "
            "one); --no-symbol-check for offline servers or symbols about to be listed.",
        ),
    ] = True
    silence: Annotated[
        float | None,
        typer.Option(
            "--silence",
            min=0.1,
            help="Say so when a stream without a fixed pace (trades, bookTicker) sends nothing "
            "for SECONDS. Streams on a clock (depth, klines, tickers) are watched anyway.",
            show_default=False,
            metavar="SECONDS",
        ),
    ] = None


@dataclasses.dataclass(frozen=True)
class Display:
    """How messages are shown on stdout."""

    fmt: FormatOpt = Format.auto
    json_flag: JsonOpt = False

    @property
    def format(self) -> str:
        """``json`` or ``table``: ``auto`` is a table on a terminal, JSON lines in a pipe."""
        import sys

        if self.json_flag or self.fmt is Format.json:
            return "json"
        if self.fmt is Format.table:
            return "table"
        return "table" if sys.stdout.isatty() else "json"


@dataclasses.dataclass(frozen=True)
class Limits:
    """When a command ends by itself."""

    count: CountOpt = None
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            min=0.001,
            help="Exit 3 if no message arrives for SECONDS.",
            show_default=False,
            metavar="SECONDS",
        ),
    ] = None


@dataclasses.dataclass(frozen=True)
class Voice:
    """What goes to stderr."""

    quiet: QuietOpt = False
    errors: Annotated[
        ErrorFormat, typer.Option("--errors", help="How error notices look on stderr.")
    ] = ErrorFormat.text
    verbose: VerboseOpt = 0
    metrics: MetricsOpt = None

    def metrics_address(self) -> str | None:
        """``--metrics`` checked (a usage error if malformed or the extra is missing)."""
        return checked_metrics(self.metrics)


@dataclasses.dataclass(frozen=True)
class Resilience:
    """How a live stream copes with a slow reader, a silent server, and which library."""

    overflow: Annotated[
        Overflow,
        typer.Option(
            "--overflow",
            help="When output falls behind: block (pause reading, lose nothing) or drop (oldest).",
        ),
    ] = Overflow.block
    stall_timeout: Annotated[
        float | None,
        typer.Option(
            "--stall-timeout",
            min=0.1,
            help="Reconnect when a connection is silent this long (seconds).",
            show_default=False,
        ),
    ] = None
    transport: Annotated[
        TransportChoice | None,
        typer.Option(
            "--transport",
            help="Websocket library: auto (websockets, measured the faster), websockets, or "
            "picows (pip install binstream\\[picows]). Default: $BINSTREAM_TRANSPORT or auto.",
            show_default=False,
        ),
    ] = None


@dataclasses.dataclass(frozen=True)
class Streaming:
    """Every group a live streaming command takes."""

    conn: Connection = dataclasses.field(default_factory=Connection)
    display: Display = dataclasses.field(default_factory=Display)
    limits: Limits = dataclasses.field(default_factory=Limits)
    voice: Voice = dataclasses.field(default_factory=Voice)
    resilience: Resilience = dataclasses.field(default_factory=Resilience)
    events: Annotated[
        bool,
        typer.Option(
            "--events", help="Lifecycle events (connected, reconnecting, ...) as JSON on stderr."
        ),
    ] = False


CONNECTION, DISPLAY, LIMITS, VOICE = Connection(), Display(), Limits(), Voice()
SBE = Sbe()
RESILIENCE = Resilience()
STREAMING = Streaming()
#: The option groups a command can take as parameters.
GROUPS: tuple[type, ...] = (Connection, Display, Limits, Voice, Resilience, Streaming, Sbe)


def _options(group: type) -> list[inspect.Parameter]:
    """The command-line parameters of ``group``, its subgroups' included."""
    hints = get_type_hints(group, include_extras=True)
    params: list[inspect.Parameter] = []
    for field in dataclasses.fields(group):
        if hints[field.name] in GROUPS:
            params += _options(hints[field.name])
        else:
            params.append(
                inspect.Parameter(
                    field.name,
                    inspect.Parameter.KEYWORD_ONLY,
                    annotation=hints[field.name],
                    default=field.default,
                )
            )
    return params  # fmt: skip


def _build(group: type, values: dict[str, Any]) -> Any:
    """``group`` from the parsed ``values`` (taken out of the dict)."""
    hints = get_type_hints(group)
    return group(**{
        field.name: _build(hints[field.name], values) if hints[field.name] in GROUPS
        else values.pop(field.name)
        for field in dataclasses.fields(group)
    })  # fmt: skip


def with_groups(command: Callable[..., None]) -> Callable[..., None]:
    """Spread the option groups ``command`` takes into the signature Typer reads.

    Typer reads parameters from the signature, so the wrapper's signature is the command's
    own parameters followed by every option of its groups; the wrapper folds those back
    into one object per group.
    """
    signature = inspect.signature(command, eval_str=True)
    own: list[inspect.Parameter] = []
    groups: dict[str, type] = {}
    for param in signature.parameters.values():
        if param.annotation in GROUPS:
            groups[param.name] = param.annotation
        else:
            own.append(param)
    spread = [option for group in groups.values() for option in _options(group)]

    @functools.wraps(command)
    def wrapper(**kwargs: Any) -> None:
        for name, group in groups.items():
            kwargs[name] = _build(group, kwargs)
        command(**kwargs)

    wrapper.__signature__ = inspect.Signature(own + spread)  # type: ignore[attr-defined]
    return wrapper


def normalized_symbols(values: list[str], market: Market = Market.SPOT) -> list[str]:
    """Symbols of ``market`` normalised, or a usage error naming the bad one."""
    from ..derivative_streams import normalize_venue_symbol
    from ..venues import venue_for

    try:
        if market is Market.SPOT:
            return [st.normalize_symbol(v) for v in values]
        return [normalize_venue_symbol(v, venue_for(market)) for v in values]
    except BinstreamError as exc:
        raise typer.BadParameter(str(exc)) from None


def market_streams(names: list[str], market: Market, hint: str | None = None) -> list[str]:
    """Stream names checked against what ``market`` serves, or a usage error (exit 2)
    naming what the market accepts."""
    from ..derivative_streams import normalize_market_streams

    try:
        return normalize_market_streams(names, market, warn_unknown=False)
    except BinstreamError as exc:
        raise typer.BadParameter(str(exc), param_hint=hint) from None
