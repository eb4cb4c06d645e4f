"""Exit codes of the ``binstream`` command, one meaning each, for scripts to trust."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """``binstream``'s exit codes (documented in docs/commands.md)."""

    OK = 0  # done: --count reached, stream ended cleanly, or the reader closed the pipe
    FAILURE = 1  # the connection could not be made or kept (gave up after retries)
    USAGE = 2  # bad input: symbol, stream name, option value, URL, missing keys
    TIMEOUT = 3  # --timeout passed without a message
    HANGUP = 129  # SIGHUP: the terminal closed; stopped cleanly
    INTERRUPTED = 130  # Ctrl-C
    TERMINATED = 143  # SIGTERM (docker stop, systemctl stop, kill); stopped cleanly
