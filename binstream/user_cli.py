"""The user data stream from the command line (placeholder until the user stream lands)."""

from __future__ import annotations

import sys

from .exitcodes import ExitCode


async def run_user_demo(**_: object) -> int:
    sys.stderr.write("binstream: the user data stream demo is not available yet\n")
    return ExitCode.FAILURE
