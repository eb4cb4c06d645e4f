"""The ``binstream`` command: parse arguments, run a command, map failures to exit codes.

One module per group of commands (:mod:`.market`, :mod:`.account`, :mod:`.recording`,
:mod:`.exchange`) registers with the Typer application of :mod:`.app`; the options they
share are declared once in :mod:`.options`; every expected failure becomes one line and
an exit code through :mod:`.errors`. Streaming itself is :mod:`binstream.cli.runner`, the
exchange :mod:`binstream.server`; heavy modules are imported inside the commands.
"""

from __future__ import annotations

import copy
import os
import sys

import typer
import typer.exceptions

from . import account, errors, exchange, fanout, market, recording  # noqa: F401  (register commands)
from .app import app
from .running import run

__all__ = ["app", "main", "run"]


def _app_for(argv: list[str]) -> typer.Typer:
    """``app``, trimmed to the one command ``argv`` starts with.

    Typer builds the parser of every command on each run, about half of the CLI's own
    start-up; a run needs one. Anything else (top-level options, help, completion, an
    unknown name) gets the whole app, so its messages are unchanged.
    """
    if not argv or os.environ.get("_BINSTREAM_COMPLETE"):
        return app
    from typer.main import get_command_name

    for info in app.registered_commands:
        name = info.name or (get_command_name(info.callback.__name__) if info.callback else "")
        if name == argv[0]:
            single = copy.copy(app)
            single.registered_commands = [info]
            return single
    return app


def _errors_format(argv: list[str]) -> bool:
    """Whether ``--errors json`` was asked for (read before parsing, which may fail)."""
    for i, arg in enumerate(argv):
        if arg == "--errors=json" or (arg == "--errors" and argv[i + 1 : i + 2] == ["json"]):
            return True
    return False


def main() -> None:
    """Run the command line (the console script, :func:`binstream.__main__.main`, calls it
    with the garbage collector paused).

    Usage errors (a bad symbol, an unknown option value) are one line too, naming the
    command's help, or one JSON object with ``--errors json``; exit code 2.
    """
    argv = sys.argv[1:]
    errors.use_json(_errors_format(argv))
    try:
        code = _app_for(argv)(prog_name="binstream", standalone_mode=False)
    except BrokenPipeError:
        # The reader of our stdout went away (e.g. `| head`): not an error.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        code = 0
    except typer.Abort:  # Ctrl-C at a prompt
        sys.stderr.write("\n")
        code = 130
    except typer.exceptions.TyperException as exc:
        ctx = getattr(exc, "ctx", None)
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        errors.say(exc.format_message() + hint, "UsageError")
        code = exc.exit_code
    sys.exit(code if isinstance(code, int) else 0)
