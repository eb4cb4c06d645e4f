"""The Typer application every command module registers with, and its top level."""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any

import typer
import typer.core

from ..version import __version__

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
    # Tracebacks with local variables would print API secrets; expected failures print
    # one line (binstream.cli.errors), so Typer's pretty tracebacks stay off.
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
    add_completion=True,
)


class UsageCommand(typer.core.TyperCommand):
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


def command(name: str | None = None) -> Any:
    """``app.command`` with binstream's usage lines."""
    return app.command(name, cls=UsageCommand)


def _version(value: bool) -> None:
    if value:
        from ..transport import ENV_VAR, TransportUnavailableError, resolve
        from .running import loop_factory

        try:
            transport = str(resolve())
        except TransportUnavailableError as exc:
            transport = f"unavailable: {exc}"
        how = f"${ENV_VAR}" if os.environ.get(ENV_VAR) else "auto"
        from .fastparts import describe

        loop = f"uvloop {sys.modules['uvloop'].__version__}" if loop_factory() else "asyncio"
        typer.echo(
            f"binstream {__version__} (transport {transport} [{how}], loop {loop}, "
            f"{describe()}, Python {sys.version.split()[0]})"
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
