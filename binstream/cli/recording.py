"""Recording commands: ``binstream record`` and ``binstream replay``."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from . import errors
from .app import command
from .option_groups import (
    CONNECTION,
    DISPLAY,
    LIMITS,
    SBE,
    VOICE,
    Connection,
    CountOpt,
    Display,
    Limits,
    Sbe,
    Voice,
    market_streams,
    with_groups,
)
from .running import checked_endpoint, finish
from .streaming import config_from, prepare, sbe_names, sbe_settings


class ConvertFormat(StrEnum):
    """``--to``: what ``binstream convert`` writes."""

    parquet = "parquet"
    tardis_csv = "tardis-csv"


def _needs_pyarrow(option: str) -> None:
    from ..export import parquet_available

    if not parquet_available():
        raise typer.BadParameter(
            "Parquet output needs pyarrow: pip install 'binstream[parquet]'", param_hint=option
        )


@command()
@with_groups
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
    snapshots: Annotated[
        bool,
        typer.Option(
            "--snapshots/--no-snapshots",
            help="Record each diff-depth stream's REST order book at the start and after "
            "every gap, so the book can be rebuilt from the file (binstream book --replay).",
        ),
    ] = True,
    convert_to: Annotated[
        ConvertFormat | None,
        typer.Option(
            "--convert",
            show_default=False,
            help="Convert each finished file (each rotated segment as it completes) in the "
            "background, into a folder beside the recording (NAME-tables/).",
        ),
    ] = None,
    conn: Connection = CONNECTION,
    limits: Limits = LIMITS,
    voice: Voice = VOICE,
    sbe: Sbe = SBE,
) -> None:
    """Record streams to a file: every frame as received, with its receive time.

    Dropped connections are recorded as gaps, and so are update ids a diff-depth stream
    skipped (naming the stream and the ids). What was written reaches the operating system
    every second: a recorder killed outright loses at most about the last second, and
    SIGTERM or SIGHUP stop it as Ctrl-C does. Replay with `binstream replay FILE`, rebuild
    a book with `binstream book --replay FILE SYMBOL`, or serve the file to any client with
    `binstream serve --replay FILE`.

    [bold]Examples[/bold]

      binstream record bnbbtc@trade bnbbtc@depth@100ms -o session.jsonl.zst

      binstream record btcusdt@aggTrade -o trades.jsonl -n 10000

      binstream record --market usdm btcusdt@aggTrade btcusdt@depth@100ms -o futures.jsonl

      binstream record btcusdt@trade -o t.jsonl.zst --rotate-every 3600 --convert parquet

      BINANCE_API_KEY=... binstream record bnbbtc@trade bnbbtc@depth --sbe -o sbe.jsonl.zst
    """  # fmt: skip
    from .runner import run_stream

    prepare(voice)
    names = sbe_names(streams, conn) if sbe.sbe else market_streams(streams, conn.market, "STREAM")
    if output.suffix == ".zst":
        try:
            import zstandard  # noqa: F401
        except ImportError:
            raise typer.BadParameter(
                "zstd recordings need the zstandard package: pip install 'binstream[zstd]'",
                param_hint="--output",
            ) from None
    convert = None
    if convert_to is not None:
        if convert_to is ConvertFormat.parquet:
            _needs_pyarrow("--convert")
        from ..export.convert import output_name

        convert = (convert_to.value, output.parent / f"{output_name(output)}-tables")
    config = config_from(
        names, conn=conn, limits=limits, voice=voice, combined=len(names) > 1, format="json",
        record_to=output, rotate_bytes=int(rotate_mb * 1_000_000) if rotate_mb else None,
        rotate_seconds=rotate_seconds, snapshots=snapshots, convert=convert,
        **sbe_settings(sbe, checked_endpoint(conn.endpoint)),
    )  # fmt: skip
    finish(run_stream(config))


@command()
@with_groups
def convert(
    inputs: Annotated[
        list[Path],
        typer.Argument(
            help="Recordings (binstream record), rotated segments too.", metavar="INPUT..."
        ),
    ],
    to: Annotated[
        ConvertFormat,
        typer.Option("--to", help="parquet: normalised tables; tardis-csv: Tardis' datasets."),
    ] = ConvertFormat.parquet,
    outdir: Annotated[
        Path,
        typer.Option(
            "--output", "-o", help="Folder to write, one subfolder per table.", metavar="OUTDIR"
        ),
    ] = Path("tables"),
    voice: Voice = VOICE,
) -> None:
    """Convert recordings into tables for analysis: Parquet or Tardis-format CSV.

    Parquet gives one folder per table under OUTDIR (trades, agg_trades, book_tickers,
    depth_updates with a row per level change, depth_snapshots, klines, tickers,
    mark_prices, liquidations, gaps, ...), each row with market, symbol, the exchange's
    times and the receive time, prices and quantities as exact decimals. tardis-csv
    writes trades and incremental_book_L2 as gzip CSV in Tardis' format. SBE recordings
    (record --sbe) fill the same tables and keep their microsecond times. Memory stays
    bounded however large the input; a file cut short is converted up to its last whole
    record.

    [bold]Examples[/bold]

      binstream convert session.jsonl.zst -o tables

      duckdb -c "select count(*) from read_parquet('tables/trades/**/*.parquet')"

      binstream convert session-*.jsonl.zst --to tardis-csv -o tardis
    """  # fmt: skip
    from ..export import convert as run_convert
    from ..recording import RecordingError

    prepare(voice)
    if to is ConvertFormat.parquet:
        _needs_pyarrow("--to")
    for path in inputs:
        checked_recording(path)

    def notice(text: str) -> None:
        errors.status(text, "truncated", m=text)

    try:
        result = run_convert(inputs, to.value, outdir, on_notice=notice)  # type: ignore[arg-type]
    except (RecordingError, OSError) as exc:
        errors.fail(exc)
    if not voice.quiet:
        rows = ", ".join(f"{table} {count:,}" for table, count in sorted(result.rows.items()))
        errors.status(f"wrote {outdir}: {rows or 'no rows'}", "converted", rows=result.rows,
                      outdir=str(outdir))  # fmt: skip


def speed_value(value: str) -> float | None:
    """``--speed``: a positive factor, or ``max`` (None: as fast as possible)."""
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


def checked_recording(path: Path) -> None:
    """A usage error (exit 2, one line) unless ``path`` is a readable recording."""
    from ..recording import RecordingError, recording_header

    try:
        recording_header(path)
    except RecordingError as exc:
        errors.fail(exc)


@command()
@with_groups
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
    display: Display = DISPLAY,
    count: CountOpt = None,
    voice: Voice = VOICE,
) -> None:
    """Print a recording like a live stream (same output as the streaming commands).

    [bold]Examples[/bold]

      binstream replay session.jsonl.zst --speed 10 | jq .data.p

      binstream replay trades.jsonl --speed max -n 100
    """  # fmt: skip
    from .runner import run_replay

    prepare(voice)
    pace = speed_value(speed)
    checked_recording(recording)
    finish(run_replay(recording, speed=pace, loop=loop, format=display.format, view="streams",
                      count=count, quiet=voice.quiet, errors=str(voice.errors.value)))  # fmt: skip
