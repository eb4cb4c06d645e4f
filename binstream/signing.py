"""API keys and request signing for Binance's WebSocket API. Pure, no I/O but file reads.

The signed payload is every parameter except ``signature``, sorted by name and joined as
``k=v&k=v``. HMAC keys sign with HMAC-SHA256 (hex); Ed25519 and RSA keys sign with their
private key (base64; RSA uses PKCS#1 v1.5 with SHA-256)::

    >>> creds = Credentials("key", secret="secret")
    >>> signature_payload({"timestamp": 1, "apiKey": "key"})
    'apiKey=key&timestamp=1'
    >>> len(creds.sign("apiKey=key&timestamp=1"))
    64

Secrets never appear in reprs, logs or error messages: only :func:`mask` of the key id.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from .errors import AuthError, MissingKeysError

KeyKind = Literal["hmac", "ed25519", "rsa"]

API_KEY_ENV = "BINANCE_API_KEY"
API_SECRET_ENV = "BINANCE_API_SECRET"
PRIVATE_KEY_ENV = "BINANCE_PRIVATE_KEY"  # path to a PEM file
PASSPHRASE_ENV = "BINANCE_PRIVATE_KEY_PASSPHRASE"


def mask(value: str | None) -> str:
    """Show a key id without revealing it: ``vmPUZE…uEh8A`` → ``vmPU…h8A``."""
    if not value:
        return "<none>"
    if len(value) <= 8:
        return "…"
    return f"{value[:4]}…{value[-3:]}"


def signature_payload(params: Mapping[str, Any]) -> str:
    """The text Binance signs: params other than ``signature``, sorted, ``k=v&k=v``."""
    return "&".join(
        f"{key}={_text(value)}" for key, value in sorted(params.items()) if key != "signature"
    )


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class Credentials:
    """An API key with either an HMAC secret or a private key (Ed25519 or RSA).

    ``repr()`` and ``str()`` show the key id masked and never the secret.
    """

    __slots__ = ("_private_key", "_secret", "api_key", "kind")

    def __init__(
        self,
        api_key: str,
        *,
        secret: str | None = None,
        private_key: Any = None,
    ) -> None:
        if not api_key:
            raise MissingKeysError(f"no API key: set {API_KEY_ENV} or pass api_key")
        if (secret is None) == (private_key is None):
            raise MissingKeysError(
                f"give exactly one of an API secret ({API_SECRET_ENV}) or a private key"
            )
        self.api_key = api_key
        self._secret = secret
        self._private_key = private_key
        self.kind: KeyKind = "hmac" if secret is not None else _private_kind(private_key)

    def __repr__(self) -> str:
        return f"Credentials({mask(self.api_key)}, {self.kind})"

    __str__ = __repr__

    def __reduce__(self) -> Any:  # no pickling secrets into caches or logs
        raise TypeError("Credentials cannot be pickled")

    def sign(self, payload: str) -> str:
        """Sign ``payload``: hex HMAC-SHA256, or base64 Ed25519 / RSA-SHA256 signature."""
        data = payload.encode("utf-8")
        if self._secret is not None:
            return hmac.new(self._secret.encode("utf-8"), data, hashlib.sha256).hexdigest()
        if self.kind == "ed25519":
            return base64.b64encode(self._private_key.sign(data)).decode("ascii")
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        raw = self._private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(raw).decode("ascii")

    def signed(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """``params`` plus their ``signature``."""
        result = dict(params)
        result["signature"] = self.sign(signature_payload(params))
        return result


def _private_kind(key: Any) -> KeyKind:
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "ed25519"
    if isinstance(key, rsa.RSAPrivateKey):
        return "rsa"
    raise AuthError("unsupported private key: use an Ed25519 or RSA key in PEM format")


def load_private_key(pem: bytes | str | Path, passphrase: str | bytes | None = None) -> Any:
    """Load an Ed25519 or RSA private key from PEM text or a PEM file path.

    Needs the ``cryptography`` package (``pip install 'binstream[keys]'``).
    """
    try:
        from cryptography.hazmat.primitives.serialization import load_pem_private_key
    except ImportError:  # pragma: no cover - depends on the environment
        raise AuthError(
            "Ed25519/RSA keys need the cryptography package: pip install 'binstream[keys]'"
        ) from None
    if isinstance(pem, Path) or (isinstance(pem, str) and "-----BEGIN" not in pem):
        path = Path(pem)
        try:
            pem = path.read_bytes()
        except OSError as exc:
            raise AuthError(f"cannot read private key file {path}: {exc.strerror}") from None
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    password = passphrase.encode("utf-8") if isinstance(passphrase, str) else passphrase
    try:
        key = load_pem_private_key(data, password=password)
    except TypeError:
        raise AuthError(
            "the private key is encrypted: give its passphrase "
            f"(--private-key-passphrase or ${PASSPHRASE_ENV})"
            if password is None
            else "the private key is not encrypted: leave the passphrase out"
        ) from None
    except ValueError:
        raise AuthError(
            "could not load the private key: not a PEM private key, or a wrong passphrase"
        ) from None
    _private_kind(key)
    return key


def api_key_from(api_key: str | None = None, *, use_env: bool = True) -> str:
    """The API key alone (what listenKey streams need), from the argument or
    ``$BINANCE_API_KEY``; :class:`MissingKeysError` naming the variable otherwise."""
    if use_env:
        api_key = api_key or os.environ.get(API_KEY_ENV) or None
    if not api_key:
        raise MissingKeysError(
            f"the account stream needs an API key: set {API_KEY_ENV} (or pass api_key)"
        )
    return api_key


def credentials_from(
    api_key: str | None = None,
    api_secret: str | None = None,
    private_key: Any = None,
    private_key_pass: str | bytes | None = None,
    *,
    use_env: bool = True,
) -> Credentials:
    """Build :class:`Credentials` from arguments, falling back to the environment.

    ``private_key`` may be a loaded key object, PEM text or bytes, or a path to a PEM file.
    Raises :class:`MissingKeysError` naming the variables to set when keys are missing.
    """
    if use_env:
        api_key = api_key or os.environ.get(API_KEY_ENV) or None
        if private_key is None and api_secret is None:
            api_secret = os.environ.get(API_SECRET_ENV) or None
            private_key = os.environ.get(PRIVATE_KEY_ENV) or None
        if private_key_pass is None:
            private_key_pass = os.environ.get(PASSPHRASE_ENV) or None
    if not api_key:
        raise MissingKeysError(
            f"the user data stream needs an API key: set {API_KEY_ENV} (or pass --api-key)"
        )
    if api_secret is None and private_key is None:
        raise MissingKeysError(
            f"the user data stream needs a secret: set {API_SECRET_ENV} or "
            f"{PRIVATE_KEY_ENV} (or pass --secret-file / --private-key)"
        )
    if private_key is not None and not hasattr(private_key, "sign"):
        private_key = load_private_key(private_key, private_key_pass)
    return Credentials(api_key, secret=api_secret if private_key is None else None,
                       private_key=private_key)  # fmt: skip
