"""The account command: ``binstream user``, the user data stream."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import BinstreamError
from . import errors
from .app import command
from .option_groups import (
    CONNECTION,
    DISPLAY,
    LIMITS,
    VOICE,
    ApiKeyOpt,
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
    api_key: ApiKeyOpt = None,
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
    portfolio: Annotated[
        bool,
        typer.Option("--portfolio", help="Portfolio margin account (with --market usdm)."),
    ] = False,
    margin: Annotated[
        bool, typer.Option("--margin", help="Cross margin account (a listenToken).")
    ] = False,
    isolated: Annotated[
        str | None,
        typer.Option(
            "--isolated",
            metavar="SYMBOL",
            show_default=False,
            help="Isolated margin account of SYMBOL (a listenToken).",
        ),
    ] = None,
    events: Annotated[
        str | None,
        typer.Option(
            "--events",
            metavar="TYPE,...",
            show_default=False,
            help="usdm/options: only these event types, e.g. ORDER_TRADE_UPDATE,ACCOUNT_UPDATE.",
        ),
    ] = None,
    keepalive: Annotated[
        float | None,
        typer.Option(
            "--keepalive",
            min=1.0,
            metavar="SECONDS",
            show_default=False,
            help="Futures/options: seconds between listenKey keepalives (default 1800).",
        ),
    ] = None,
    conn: Connection = CONNECTION,
    display: Display = DISPLAY,
    limits: Limits = LIMITS,
    voice: Voice = VOICE,
) -> None:
    """Account events (balances, orders, fills): spot over the WebSocket API, futures and
    options over a listenKey (--market usdm|coinm|options), margin over a listenToken
    (--margin, --isolated SYMBOL).

    Spot keys come from BINANCE_API_KEY with BINANCE_API_SECRET (HMAC) or
    BINANCE_PRIVATE_KEY (a PEM file), or from the options. Futures, options and margin
    need the API key only: binstream makes the listenKey, keeps it alive every 30 minutes,
    makes a new one when it lapses (one status line) and closes it on exit; a margin
    listenToken is renewed before it expires. Secrets are never printed; the key id is
    shown masked.

    [bold]Examples[/bold]

      BINANCE_API_KEY=... BINANCE_API_SECRET=... binstream user

      binstream user --api-key KEY --private-key ed25519.pem --logon --json

      BINANCE_API_KEY=... binstream user --market usdm --events ORDER_TRADE_UPDATE

      BINANCE_API_KEY=... binstream user --isolated BNBUSDT

      binstream demo user --market usdm
    """  # fmt: skip
    from .keys import load_credentials
    from .runner import run_stream

    prepare(voice)
    if conn.market.value != "spot" or portfolio or margin or isolated:
        account = _listen_key_account(conn, portfolio, events, margin, isolated)
        if logon or recv_window or secret_file or private_key:
            raise typer.BadParameter(
                "futures and options account streams use the API key only: drop --logon, "
                "--recv-window, --secret-file and --private-key",
                param_hint="--market",
            )
        try:
            from ..signing import api_key_from

            key = api_key_from(api_key)
        except BinstreamError as exc:
            errors.fail(exc)
        request = account_request(account, key, events.split(",") if events else None,
                                  keepalive, isolated)  # fmt: skip
        config = config_from(["userData"], conn=conn, display=display, limits=limits,
                             voice=voice, view="account", account=request)  # fmt: skip
        finish(run_stream(config))
        return
    if events or keepalive:
        raise typer.BadParameter("--events and --keepalive are for --market usdm, coinm, "
                                 "options", param_hint="--market")  # fmt: skip
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


#: ``binstream user --market ...`` → the manager method that opens the account stream.
ACCOUNT_METHODS = {"usdm": "futures_user_socket", "coinm": "coin_futures_user_socket",
                   "options": "options_user_socket"}  # fmt: skip


def account_request(
    method: str,
    api_key: str,
    events: list[str] | None = None,
    keepalive: float | None = None,
    symbol: str | None = None,
) -> dict[str, object]:
    """What the runner opens: ``method`` of the manager with its own arguments (margin
    streams take a symbol, the listenKey streams a keepalive, USD-M and options a filter)."""
    args: list[object] = []
    options: dict[str, object] = {}
    if method == "isolated_margin_socket":
        args.append(symbol)
    elif method != "margin_socket":
        options["keepalive_interval"] = keepalive
        if method in ("futures_user_socket", "options_user_socket"):
            options["events"] = events
    return {"method": method, "api_key": api_key, "args": args, "options": options}


def _listen_key_account(
    conn: Connection, portfolio: bool, events: str | None, margin: bool, isolated: str | None
) -> str:
    """The manager method of a futures, options or margin account stream, or a usage error."""
    market = conn.market.value
    if margin or isolated:
        if market != "spot" or portfolio or (margin and isolated):
            raise typer.BadParameter(
                "--margin and --isolated are spot margin accounts: use one, without --market "
                "or --portfolio", param_hint="--margin")  # fmt: skip
        if events:
            raise typer.BadParameter("--events is for usdm and options", param_hint="--events")
        if isolated:
            from .option_groups import normalized_symbols

            normalized_symbols([isolated])  # a usage error for a malformed symbol
        return "isolated_margin_socket" if isolated else "margin_socket"
    if portfolio:
        if market not in ("usdm", "spot"):
            raise typer.BadParameter("--portfolio goes with --market usdm", param_hint="--market")
        if events:
            raise typer.BadParameter("--events is for usdm and options", param_hint="--events")
        return "portfolio_margin_socket"
    if events and market == "coinm":
        raise typer.BadParameter("COIN-M streams every event type; drop --events",
                                 param_hint="--events")  # fmt: skip
    return ACCOUNT_METHODS[market]
