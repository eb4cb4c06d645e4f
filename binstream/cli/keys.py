"""Loading API keys for the command line: options first, then ``BINANCE_*`` variables."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import MissingKeysError
from ..signing import (
    API_KEY_ENV,
    API_SECRET_ENV,
    PASSPHRASE_ENV,
    PRIVATE_KEY_ENV,
    Credentials,
    credentials_from,
)


def read_secret_file(path: Path) -> str:
    """The first non-empty line of ``path``, stripped; a clear error if unreadable."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MissingKeysError(f"cannot read secret file {path}: {exc.strerror}") from None
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    raise MissingKeysError(f"secret file {path} is empty")


def load_credentials(
    api_key: str | None,
    secret_file: Path | None,
    private_key: Path | None,
    ask_passphrase: bool,
    prompt: Any = None,
) -> Credentials:
    """Keys from options first, then ``BINANCE_*`` variables; never from the command line.

    The secret itself is only read from a file or the environment, so it never shows in
    ``ps`` output or shell history.
    """
    if secret_file is not None and private_key is not None:
        raise MissingKeysError("give --secret-file or --private-key, not both")
    secret = read_secret_file(secret_file) if secret_file is not None else None
    passphrase = os.environ.get(PASSPHRASE_ENV) or None
    if private_key is not None and ask_passphrase and passphrase is None and prompt is not None:
        passphrase = prompt("Private key passphrase", hide_input=True)
    if api_key is None and not os.environ.get(API_KEY_ENV):
        raise MissingKeysError(
            f"the user data stream needs an API key: set {API_KEY_ENV} or pass --api-key "
            f"(and {API_SECRET_ENV}, --secret-file, {PRIVATE_KEY_ENV} or --private-key)"
        )
    return credentials_from(
        api_key,
        secret,
        str(private_key) if private_key is not None else None,
        passphrase,
    )
