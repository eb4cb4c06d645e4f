"""The account command: ``binstream user``, the user data stream."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import BinstreamError
from . import errors
from .app import command
from .options import (
    CONNECTION,
    DISPLAY,
    LIMITS,
    VOICE,
    Connection,
    Display,
    Limits,
    Voice,
    with_groups,
)
from .running import finish
from .streaming import config_from, prepare


@command()
@with_groups
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
    conn: Connection = CONNECTION,
    display: Display = DISPLAY,
    limits: Limits = LIMITS,
    voice: Voice = VOICE,
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
    from ..runner import run_stream
    from .keys import load_credentials

    prepare(voice)
    try:
        credentials = load_credentials(
            api_key, secret_file, private_key, ask_passphrase, prompt=typer.prompt
        )
    except BinstreamError as exc:
        errors.fail(exc)
    if logon and credentials.kind != "ed25519":
        raise typer.BadParameter("--logon needs an Ed25519 private key", param_hint="--logon")
    config = config_from(["userData"], conn=conn, display=display, limits=limits, voice=voice,
                         view="account", credentials=credentials, logon=logon,
                         recv_window=recv_window)  # fmt: skip
    finish(run_stream(config))
