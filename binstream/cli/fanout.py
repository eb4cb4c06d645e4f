"""NATS JetStream commands: ``binstream publish`` (streams into a log that many machines
read) and ``binstream consume`` (the log back as the JSON lines of a live tail)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from .app import command
from .option_groups import (
    CONNECTION,
    DISPLAY,
    LIMITS,
    RESILIENCE,
    SBE,
    VOICE,
    Connection,
    CountOpt,
    Display,
    Limits,
    Resilience,
    Sbe,
    Voice,
    market_streams,
    with_groups,
)
from .running import checked_endpoint, finish
from .streaming import config_from, prepare, sbe_names, sbe_settings

DEFAULT_NATS = "nats://127.0.0.1:4222"

NatsUrlHelp = "NATS server URL(s), comma-separated; user:password@ or a token@ may lead the host."
CredsOpt = Annotated[
    Path | None,
    typer.Option("--creds", help="A NATS credentials file (JWT and NKey).", show_default=False),
]
JsStreamOpt = Annotated[
    str | None,
    typer.Option(
        "--js-stream",
        help="The JetStream stream. publish: created if missing (default BINANCE); consume: "
        "default: the one that captures --subject.",
        show_default=False,
        metavar="NAME",
    ),
]


def _nats_target(url: str, hint: str, creds: Path | None) -> list[str]:
    """The NATS servers ``url`` names, once the client is known to be installed and the
    credentials file to exist; a usage error (exit 2, one line) otherwise."""
    from ..errors import EndpointError
    from ..jetstream.connect import NATS_EXTRA, parse_servers

    try:
        import nats  # noqa: F401
    except ImportError:
        raise typer.BadParameter(NATS_EXTRA) from None
    if creds is not None and not creds.is_file():
        raise typer.BadParameter(f"{creds}: no such file", param_hint="--creds")
    try:
        return parse_servers(url)
    except EndpointError as exc:
        raise typer.BadParameter(str(exc), param_hint=hint) from None


def _checked(value: Any, check: Any, hint: str) -> Any:
    """``check(value)``, a ValueError becoming a usage error (exit 2) on option ``hint``."""
    try:
        return check(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=hint) from None


def _duration(text: str | None, hint: str) -> float | None:
    """Seconds in ``--max-age 24h`` and the like (None when not given)."""
    from ..jetstream.durations import parse_duration

    return None if text is None else _checked(text, parse_duration, hint)


@command()
@with_groups
def publish(
    streams: Annotated[
        list[str],
        typer.Argument(
            help="Raw stream names, e.g. bnbbtc@trade bnbbtc@depth@100ms.", metavar="STREAM"
        ),
    ],
    to: Annotated[
        str, typer.Option("--to", envvar="NATS_URL", help=NatsUrlHelp, metavar="URL")
    ] = DEFAULT_NATS,
    shard: Annotated[
        str | None,
        typer.Option(
            "--shard",
            help="Publish only shard i of N of the streams (a stable hash of each name), so N "
            "publishers split one set.",
            metavar="i/N",
            show_default=False,
        ),
    ] = None,
    subject_prefix: Annotated[
        str,
        typer.Option("--subject-prefix", help="Subjects are PREFIX.<market>.<symbol>.<type>."),
    ] = "binance",
    js_stream: JsStreamOpt = None,
    retention: Annotated[
        str | None,
        typer.Option(
            "--retention",
            help="limits, interest or workqueue (default limits).",
            show_default=False,
            metavar="POLICY",
        ),
    ] = None,
    max_age: Annotated[
        str | None,
        typer.Option(
            "--max-age",
            help="How long the log keeps a message, e.g. 24h, 7d; 0: forever (default 24h).",
            show_default=False,
            metavar="DURATION",
        ),
    ] = None,
    replicas: Annotated[
        int | None,
        typer.Option(
            "--replicas",
            min=1,
            max=5,
            help="Copies in a NATS cluster (default 1).",
            show_default=False,
        ),
    ] = None,
    dup_window: Annotated[
        str | None,
        typer.Option(
            "--dup-window",
            help="JetStream's duplicate window (default 2m): longer "
            "than any lag between redundant publishers.",
            show_default=False,
            metavar="DURATION",
        ),
    ] = None,
    buffer: Annotated[
        int,
        typer.Option(
            "--buffer",
            min=1,
            help="Messages held until JetStream acknowledges "
            "them (while NATS is away too); then --overflow applies.",
        ),
    ] = 50_000,
    in_flight: Annotated[
        int,
        typer.Option(
            "--in-flight", min=1, help="Messages sent and awaiting acknowledgement at once."
        ),
    ] = 2_000,
    creds: CredsOpt = None,
    conn: Connection = CONNECTION,
    limits: Limits = LIMITS,
    voice: Voice = VOICE,
    resilience: Resilience = RESILIENCE,
    sbe: Sbe = SBE,
) -> None:
    """Publish streams into NATS JetStream, each message stored once.

    Subjects are [bold]binance.<market>.<symbol>.<type>[/bold] (binance.spot.bnbbtc.trade,
    binance.usdm.btcusdt.depth_100ms, binance.spot.all.ticker_arr). Each message carries a
    Nats-Msg-Id made from Binance's own ids, so reconnects and redundant publishers on other
    hosts never store one twice. A lost Binance connection is published as a gap marker.
    With --sbe, the SBE streams' events are published as JSON (one message per trade, times
    in microseconds) under binance.sbe.<symbol>.<type>, apart from the JSON streams'.

    [bold]Examples[/bold]

      binstream publish bnbbtc@trade bnbbtc@depth@100ms --to nats://127.0.0.1:4222

      binstream publish --market usdm btcusdt@aggTrade ethusdt@aggTrade --shard 1/2 --replicas 3

      BINANCE_API_KEY=... binstream publish bnbbtc@trade bnbbtc@depth --sbe

      binstream consume nats://127.0.0.1:4222 --subject 'binance.spot.>' --since 10m
    """  # fmt: skip
    from ..jetstream.shards import parse_shard
    from ..jetstream.streamconfig import RETENTIONS, StreamSettings
    from ..jetstream.subjects import check_prefix

    prepare(voice)
    servers = _nats_target(to, "--to", creds)
    names = sbe_names(streams, conn) if sbe.sbe else market_streams(streams, conn.market, "STREAM")
    if shard is not None:
        part = _checked(shard, parse_shard, "--shard")
        taken = part.select(names)
        if not taken:
            raise typer.BadParameter(
                f"shard {part} takes none of the {len(names)} streams given", param_hint="--shard"
            )
        names = taken
    if retention is not None and retention not in RETENTIONS:
        raise typer.BadParameter(f"{retention!r}: choose {', '.join(RETENTIONS)}",
                                 param_hint="--retention")  # fmt: skip
    prefix = _checked(subject_prefix, check_prefix, "--subject-prefix")
    settings = StreamSettings(
        name=js_stream or "BINANCE",
        prefix=prefix,
        retention=retention,
        max_age=_duration(max_age, "--max-age"),
        replicas=replicas,
        duplicate_window=_duration(dup_window, "--dup-window"),
    )
    config = config_from(
        names, conn=conn, limits=limits, voice=voice, resilience=resilience, combined=True,
        format="json", publish={"servers": servers, "settings": settings, "prefix": prefix,
                                "creds_file": creds, "buffer": buffer, "in_flight": in_flight},
        **sbe_settings(sbe, checked_endpoint(conn.endpoint)),
    )  # fmt: skip
    from .runner import run_stream

    finish(run_stream(config))


@command()
@with_groups
def consume(
    url: Annotated[
        str, typer.Argument(envvar="NATS_URL", help=NatsUrlHelp, metavar="URL")
    ] = DEFAULT_NATS,
    subject: Annotated[
        str,
        typer.Option("--subject", "-s", help="Which messages: a subject, wildcards allowed."),
    ] = "binance.>",
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="Start this long ago, e.g. 10m, 2h.",
            show_default=False,
            metavar="DURATION",
        ),
    ] = None,
    from_start: Annotated[
        bool, typer.Option("--from-start", help="Start at the oldest message the log holds.")
    ] = False,
    stop_at_end: Annotated[
        bool,
        typer.Option("--stop-at-end", help="Exit 0 once caught up, instead of following."),
    ] = False,
    speed: Annotated[
        str,
        typer.Option(
            "--speed",
            help="Pace of past messages: 1 = as stored, 10 = ten times faster, max.",
            metavar="1|10|max",
        ),
    ] = "max",
    js_stream: JsStreamOpt = None,
    creds: CredsOpt = None,
    display: Display = DISPLAY,
    count: CountOpt = None,
    voice: Voice = VOICE,
) -> None:
    """Print what a NATS JetStream log holds, as the same JSON lines as a live tail.

    One stream (a subject without wildcards) prints Binance's payloads as they are;
    wildcards print {"stream":…,"data":…} lines, as a combined connection does (with
    "market" when the subject spans markets). Gap markers are notices on stderr.
    Without --since or --from-start, only new messages.

    [bold]Examples[/bold]

      binstream consume --subject 'binance.spot.*.trade' --since 10m | jq .data.p

      binstream consume --subject binance.usdm.btcusdt.aggTrade --from-start --stop-at-end

      binstream consume --from-start --speed 10 -n 1000
    """  # fmt: skip
    from ..jetstream.connect import NatsOptions
    from .recording import speed_value

    prepare(voice)
    servers = _nats_target(url, "URL", creds)
    if since is not None and from_start:
        raise typer.BadParameter("give --since or --from-start, not both", param_hint="--since")
    start = _duration(since, "--since")
    pace = speed_value(speed)
    from ..asyncio.replay import paced
    from ..jetstream.consumer import LogQuery, read_log
    from .runner import run_entries

    options = NatsOptions(servers, creds_file=creds, name="binstream consume")
    query = LogQuery(subject=subject, since=start, from_start=from_start,
                     stop_at_end=stop_at_end, js_stream=js_stream)  # fmt: skip
    finish(run_entries(paced(read_log(options, query), pace), format=display.format,
                       count=count, quiet=voice.quiet, errors=voice.errors.value,
                       metrics=voice.metrics_address()))  # fmt: skip
