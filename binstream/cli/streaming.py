"""From parsed option groups to a :class:`~binstream.cli.runner.RunConfig`, and a run."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from . import errors
from .option_groups import Connection, Display, Limits, Overflow, Resilience, Streaming, Voice
from .running import checked_endpoint, finish, preload_transport, setup_logging

if TYPE_CHECKING:
    from .runner import RunConfig


def prepare(voice: Voice | None) -> None:
    """Logging and the error format, before anything can fail."""
    if voice is not None:
        errors.use_json(voice.errors.value == "json")
        setup_logging(voice.verbose)


def config_from(
    streams: list[str],
    *,
    conn: Connection | None = None,
    display: Display | None = None,
    limits: Limits | None = None,
    voice: Voice | None = None,
    resilience: Resilience | None = None,
    **extra: Any,
) -> RunConfig:
    """A run's configuration: each group given sets its part, ``extra`` the rest."""
    from .runner import RunConfig

    values: dict[str, Any] = {"streams": streams}
    if conn is not None:
        if conn.market.value != "spot" and conn.tld.value != "com":
            raise typer.BadParameter(
                f"Binance serves {conn.market.value} on binance.com only", param_hint="--tld"
            )
        values.update(
            tld=str(conn.tld),
            testnet=conn.testnet,
            endpoint=checked_endpoint(conn.chosen_endpoint),
            retries=conn.retry_budget,
            market=conn.market.value,
            check_symbols=conn.symbol_check,
            silence=conn.silence,
        )
    if display is not None:
        values["format"] = display.format
    if limits is not None:
        values.update(count=limits.count, timeout=limits.timeout)
    if voice is not None:
        values.update(quiet=voice.quiet, errors=voice.errors.value,
                      metrics=voice.metrics_address())  # fmt: skip
    if resilience is not None:
        transport = resilience.transport.value if resilience.transport else None
        preload_transport(transport)
        values.update(
            overflow="drop_oldest" if resilience.overflow is Overflow.drop else "block",
            stall_timeout=resilience.stall_timeout,
            transport=transport,
        )
    values.update(extra)
    return RunConfig(**values)


def stream(streams: list[str], opts: Streaming, *, view: str, **extra: Any) -> None:
    """Run a live streaming command to its exit code."""
    from .runner import run_stream

    prepare(opts.voice)
    config = config_from(
        streams,
        conn=opts.conn,
        display=opts.display,
        limits=opts.limits,
        voice=opts.voice,
        resilience=opts.resilience,
        view=view,
        events=opts.events,
        **extra,
    )
    finish(run_stream(config))
