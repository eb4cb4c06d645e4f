"""From parsed option groups to a :class:`~binstream.cli.runner.RunConfig`, and a run."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from ..errors import MissingKeysError
from . import errors
from .option_groups import (
    Connection,
    Display,
    Limits,
    Overflow,
    Resilience,
    Sbe,
    Streaming,
    Voice,
)
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


def sbe_names(streams: list[str], opts: Streaming | Connection) -> list[str]:
    """SBE stream names checked (spot only; the four SBE types), as usage errors."""
    from ..sbe import normalize_sbe_stream

    conn = opts.conn if isinstance(opts, Streaming) else opts
    if conn.market.value != "spot":
        raise typer.BadParameter("SBE streams are spot only", param_hint="--market")
    try:
        return list(dict.fromkeys(normalize_sbe_stream(name) for name in streams))
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="STREAM") from None


def sbe_settings(sbe: Sbe | None, endpoint: str | None) -> dict[str, Any]:
    """What ``--sbe`` sets in a run: the key, and with ``--endpoint`` the SBE host's base
    (the spot REST side then the local exchange's root when the base ends in ``/sbe``)."""
    if sbe is None or not sbe.sbe:
        return {}
    try:
        key = sbe.key()
    except MissingKeysError as exc:
        errors.fail(exc)
    values: dict[str, Any] = {"sbe": True, "sbe_key": key}
    if endpoint is not None:
        values["sbe_endpoint"] = endpoint
        root = endpoint.rstrip("/")
        values["endpoint"] = root[: -len("/sbe")] if root.endswith("/sbe") else None
    return values


def stream(
    streams: list[str], opts: Streaming, *, view: str, sbe: Sbe | None = None, **extra: Any
) -> None:
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
        **sbe_settings(sbe, checked_endpoint(opts.conn.endpoint)),
    )
    finish(run_stream(config))
