"""From an exception to what the user sees: one line on stderr (or one JSON object) and
an exit code, in one table.

Every command reports an expected failure through :func:`fail` (or lets it reach
:func:`exit_code_for` through :func:`binstream.cli.running.run`); nothing else prints
errors, and no expected failure shows a traceback.

Example::

    >>> from binstream.errors import InvalidSymbolError
    >>> int(exit_code_for(InvalidSymbolError("bad")))
    2
"""

from __future__ import annotations

import sys
from typing import Any, NoReturn

import orjson
import typer

from ..errors import AuthError, BinstreamError, MissingKeysError
from .exitcodes import ExitCode

#: Errors are JSON objects (``--errors json``) for the rest of this process.
_json = False

#: The table: the first row whose class matches decides. Bad input is a usage error (2):
#: stream names, symbols, URLs, option values (these are ``ValueError`` too), missing
#: keys, unreadable recordings; what happened at run time is a failure (1).
EXIT_CODES: tuple[tuple[type[BaseException], ExitCode], ...] = (
    (KeyboardInterrupt, ExitCode.INTERRUPTED),
    (MissingKeysError, ExitCode.USAGE),
    (AuthError, ExitCode.USAGE),
    (ValueError, ExitCode.USAGE),
    (BinstreamError, ExitCode.FAILURE),
    (OSError, ExitCode.FAILURE),
)


def use_json(enabled: bool) -> None:
    """Report errors as JSON objects from now on (``--errors json``)."""
    global _json
    _json = enabled


def exit_code_for(exc: BaseException) -> ExitCode:
    """The exit code for an expected failure (:data:`EXIT_CODES`); FAILURE otherwise."""
    for kind, code in EXIT_CODES:
        if isinstance(exc, kind):
            return code
    return ExitCode.FAILURE


def describe(exc: BaseException) -> str:
    """The one-line message for ``exc``."""
    if isinstance(exc, OSError) and not isinstance(exc, BinstreamError):
        return str(exc.strerror or exc)
    return str(exc)


def say(message: str, kind: str = "BinstreamError", **fields: Any) -> None:
    """Print one error line: ``binstream: error: ...``, or a JSON object."""
    if _json:
        event = {"e": "error", "type": kind, "m": message, **fields}
        sys.stderr.write(orjson.dumps(event).decode() + "\n")
    else:
        sys.stderr.write(f"binstream: error: {message}\n")
    sys.stderr.flush()


def status(message: str, status: str, **fields: Any) -> None:
    """Print one status line: ``binstream: ...``, or ``{"e": "status", ...}``."""
    if _json:
        event = {"e": "status", "status": status, **fields}
        sys.stderr.write(orjson.dumps(event).decode() + "\n")
    else:
        sys.stderr.write(f"binstream: {message}\n")
    sys.stderr.flush()


def fail(exc: BaseException) -> NoReturn:
    """Say ``exc`` in one line and exit with its code from the table."""
    say(describe(exc), type(exc).__name__)
    raise typer.Exit(exit_code_for(exc))
