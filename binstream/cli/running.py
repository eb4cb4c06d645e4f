"""Running a command: logging, the event loop, and the checks every command shares."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Callable, Coroutine
from typing import Any

import typer

from ..errors import BinstreamError, EndpointError
from . import errors
from .exitcodes import ExitCode


def setup_logging(verbose: int) -> None:
    """Library logs on stderr: none without ``-v``, info with it, debug with ``-vv``."""
    logger = logging.getLogger("binstream")
    if logger.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("binstream: %(levelname)s %(message)s"))
    logger.addHandler(handler)
    logger.propagate = False
    # Without -v the command prints its own one-line notices; library logs stay quiet.
    logger.setLevel(logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.CRITICAL)


def checked_endpoint(endpoint: str | None) -> str | None:
    """``--endpoint`` validated, or a usage error (exit 2) saying what is wrong."""
    if endpoint is None:
        return None
    from ..endpoints import check_ws_url

    try:
        return check_ws_url(endpoint)
    except EndpointError as exc:
        raise typer.BadParameter(str(exc), param_hint="--endpoint") from None


def preload_transport(name: str | None) -> None:
    """Import the websocket library now, among the other start-up imports (see
    :mod:`binstream.cli.gcpause`); if it cannot be loaded, the run itself says so."""
    from ..transport import resolve

    with contextlib.suppress(BinstreamError):
        resolve(name)


def loop_factory() -> Callable[[], Any] | None:
    """uvloop's loop when it is installed (the ``[fast]`` extra), unless
    ``BINSTREAM_LOOP=asyncio`` asks for the standard one."""
    if os.environ.get("BINSTREAM_LOOP", "auto").strip().lower() == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop  # type: ignore[no-any-return]


#: Signals that stop a command the way Ctrl-C does: what ``docker stop``, ``systemctl
#: stop`` and ``kill`` send, and a closed terminal.
STOP_SIGNALS = ("SIGTERM", "SIGHUP")


async def _stoppable(coro: Coroutine[Any, Any, Any]) -> int:
    """Run ``coro``; SIGTERM or SIGHUP cancels it as Ctrl-C does (its clean-up runs: files
    finalised, counts said), then the exit code is 128 + the signal's number. A second
    signal ends the process at once, by that signal. A signal the parent made the command
    ignore (``nohup``) stays ignored."""
    import asyncio
    import signal

    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    received: list[int] = []

    def stop(number: int) -> None:
        if received:
            signal.signal(number, signal.SIG_DFL)
            os.kill(os.getpid(), number)
            return
        received.append(number)
        task.cancel()

    installed = []
    for name in STOP_SIGNALS:
        number = getattr(signal, name, None)
        if number is None or signal.getsignal(number) is signal.SIG_IGN:
            continue
        loop.add_signal_handler(number, stop, number)
        installed.append(number)
    try:
        code = await coro
    except asyncio.CancelledError:
        if not received:
            raise
        code = 0
    finally:
        for number in installed:
            loop.remove_signal_handler(number)
    if received:
        name = signal.Signals(received[0]).name
        errors.status(f"stopped by {name}", "stopped", signal=name)
        return 128 + received[0]
    return int(code)


def run(coro: Coroutine[Any, Any, Any]) -> int:
    """Run a coroutine to an exit code; Ctrl-C → 130, SIGTERM → 143, SIGHUP → 129,
    expected errors → one line."""
    import asyncio

    from . import gcpause

    factory = loop_factory()
    gcpause.resume()  # the command's imports are done
    try:
        with asyncio.Runner(loop_factory=factory) as runner:
            return runner.run(_stoppable(coro))
    except KeyboardInterrupt:
        sys.stderr.write("\n")
        return ExitCode.INTERRUPTED
    except (BinstreamError, OSError) as exc:  # e.g. the port for `serve` is taken
        errors.say(errors.describe(exc), type(exc).__name__)
        return errors.exit_code_for(exc)


def finish(coro: Coroutine[Any, Any, Any]) -> None:
    """Run ``coro`` and end the command with its exit code."""
    raise typer.Exit(run(coro))
