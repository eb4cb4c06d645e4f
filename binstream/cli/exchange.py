"""The local exchange's commands: ``binstream serve`` and ``binstream demo``."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from ..venues import Market
from . import errors
from .app import command
from .exitcodes import ExitCode
from .option_groups import (
    DISPLAY,
    LIMITS,
    VOICE,
    Display,
    Limits,
    MetricsOpt,
    VerboseOpt,
    Voice,
    checked_metrics,
    with_groups,
)
from .recording import checked_recording, speed_value
from .running import finish, setup_logging
from .streaming import config_from, prepare


@command()
def serve(
    port: Annotated[
        int, typer.Option("--port", "-p", min=0, max=65535, help="0 picks a free port.")
    ] = 0,
    host: Annotated[
        str, typer.Option("--host", help="Address to bind (loopback by default).")
    ] = "127.0.0.1",
    interval: Annotated[
        float,
        typer.Option(
            "--interval",
            min=0.001,
            help="Seconds one 100 ms market step takes: 0.1 is real time, less is faster.",
        ),
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
    connection_limit: Annotated[
        str | None,
        typer.Option(
            "--connection-limit",
            help="Refuse connection attempts beyond N per SECONDS with HTTP 429, as Binance "
            "does (300/300), to try a client's reconnect storms.",
            show_default=False,
            metavar="N/SECONDS",
        ),
    ] = None,
    metrics: MetricsOpt = None,
    verbose: VerboseOpt = 0,
) -> None:
    """Run the local Binance-compatible exchange in the foreground.

    Prints its base URL (ws://127.0.0.1:PORT) on stdout; export it as BINSTREAM_ENDPOINT
    and every command uses it, for every market: spot at the root, USD-M futures under
    /usdm, COIN-M under /coinm, options under /options (each with Binance's own paths
    below: /usdm/public/ws/..., /usdm/fapi/v1/depth, ...). Or pass the market's URL as
    --endpoint. Ctrl-C stops it.

    [bold]Examples[/bold]

      binstream serve --port 9000

      binstream serve --port 9000 --drop-after 100 --garbage-every 50

      binstream serve --replay session.jsonl.zst

      binstream serve --port 9000 --connection-limit 300/300 --metrics :9100
    """  # fmt: skip
    from ..server import Faults, LocalExchange

    setup_logging(verbose)
    limit = _connection_limit(connection_limit)
    metrics_address = checked_metrics(metrics)
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
        checked_recording(replay_file)
        replay_source = (replay_file, speed_value(replay_speed))

    async def main() -> int:
        said: set[str] = set()

        def notice(text: str) -> None:  # once per file, however many clients replay it
            if text not in said:
                said.add(text)
                errors.status(text, "truncated", m=text)

        exchange = LocalExchange(host, port, interval=interval, seed=seed, faults=faults,
                                 replay=replay_source, on_notice=notice,
                                 connection_limit=limit)  # fmt: skip
        await exchange.start()
        exporter = None
        if metrics_address is not None:
            from ..metrics import MetricsServer
            from .metrics import start_metrics

            def say(text: str, event: dict[str, object]) -> None:
                errors.status(text.removeprefix("binstream: "), "metrics", url=event["url"])

            def measure(server: MetricsServer) -> None:
                server.add_exchange(lambda: exchange)

            exporter = start_metrics(metrics_address, say, measure)
        if refuse:
            exchange.refuse(count=refuse)
        typer.echo(exchange.url)
        sys.stdout.flush()
        if sys.stderr.isatty():
            typer.echo(f"binstream: serving on {exchange.url} (REST {exchange.rest_url}); "
                       "Ctrl-C stops", err=True)  # fmt: skip
            markets = ", ".join(f"{m} {exchange.market_url(m)}" for m in ("usdm", "coinm",
                                                                         "options"))  # fmt: skip
            typer.echo(f"binstream: derivatives: {markets}", err=True)
        try:
            await exchange.serve_forever()
        finally:
            if exporter is not None:
                exporter.stop()
        return ExitCode.OK

    finish(main())


def _connection_limit(text: str | None) -> tuple[int, float] | None:
    """``--connection-limit N/SECONDS`` as (N, SECONDS); a usage error if malformed."""
    if text is None:
        return None
    count, _, seconds = text.partition("/")
    try:
        limit = (int(count), float(seconds))
    except ValueError:
        limit = (0, 0.0)
    if limit[0] < 1 or limit[1] <= 0:
        raise typer.BadParameter(f"{text!r}: use N/SECONDS, e.g. 300/300",
                                 param_hint="--connection-limit")  # fmt: skip
    return limit


class DemoWhat(StrEnum):
    """What ``binstream demo`` shows."""

    market = "market"
    user = "user"


#: The market streams ``binstream demo`` tails, per market.
DEMO_STREAMS = {
    Market.SPOT: ["bnbbtc@aggTrade", "bnbbtc@depth5", "ethbtc@ticker", "btcusdt@kline_1m",
                  "btcusdt@bookTicker"],
    Market.USDM: ["btcusdt@aggTrade", "btcusdt@depth5@100ms", "btcusdt@markPrice@1s",
                  "ethusdt@bookTicker", "!forceOrder@arr"],
    Market.COINM: ["btcusd_perp@aggTrade", "btcusd_perp@depth5", "btcusd@indexPrice@1s",
                   "btcusd_perp@markPrice@1s"],
    Market.OPTIONS: ["btc-261225-100000-c@optionTrade", "btc-261225-100000-c@depth10@100ms",
                     "btcusdt@optionMarkPrice", "btc-261225-100000-c@bookTicker"],
}  # fmt: skip


@command()
@with_groups
def demo(
    what: Annotated[
        DemoWhat, typer.Argument(help="market streams, or the user data stream.")
    ] = DemoWhat.market,
    market: Annotated[
        Market,
        typer.Option("--market", help="Which market's streams: spot, usdm, coinm or options."),
    ] = Market.SPOT,
    display: Display = DISPLAY,
    limits: Limits = LIMITS,
    voice: Voice = VOICE,
) -> None:
    """Start the local exchange in-process and tail a few of its streams.

    Runs the real client code over a real loopback socket; no network needed.
    `binstream demo user` shows the user data stream of a demo account.

    [bold]Examples[/bold]

      binstream demo

      binstream demo user

      binstream demo --json -n 20 | jq -c .data

      binstream demo --market usdm

      binstream demo user --market usdm
    """  # fmt: skip
    from ..server import LocalExchange
    from .runner import run_stream

    prepare(voice)

    async def main() -> int:
        async with LocalExchange(interval=0.2) as exchange:
            extra: dict[str, object]
            if what is DemoWhat.user and market is not Market.SPOT:
                from ..server.demo import DEMO_API_KEY
                from .account import ACCOUNT_METHODS, account_request

                request = account_request(ACCOUNT_METHODS[market.value], DEMO_API_KEY)
                extra = {"streams": ["userData"], "view": "account", "market": market.value,
                         "account": request}  # fmt: skip
            elif what is DemoWhat.user:
                from ..server.demo import DEMO_API_KEY, DEMO_API_SECRET
                from ..signing import Credentials

                extra = {
                    "streams": ["userData"], "view": "account",
                    "credentials": Credentials(DEMO_API_KEY, secret=DEMO_API_SECRET),
                }  # fmt: skip
            else:
                extra = {"streams": DEMO_STREAMS[market], "view": "streams", "combined": True,
                         "market": market.value}  # fmt: skip
            config = config_from(display=display, limits=limits, voice=voice,
                                 endpoint=exchange.market_url(market), **extra)  # type: ignore[arg-type]  # fmt: skip
            return int(await run_stream(config))

    finish(main())
