"""A spot test account of the local exchange: its key, how it signs, what it may do, and its
balances."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any

from .. import market as m


@dataclass
class SpotAccount:
    """A test account: its key, how it signs, what it may do, and its balances."""

    api_key: str
    secret: str | None = None
    public_key: Any = None  # cryptography Ed25519/RSA public key
    can_read: bool = True
    can_trade: bool = True
    ip_allowed: bool = True
    balances: dict[str, list[int]] = field(
        default_factory=lambda: {
            "BTC": [m.units("1.00000000", 8), 0],
            "BNB": [m.units("100.00000000", 8), 0],
            "USDT": [m.units("10000.00000000", 8), 0],
        }
    )
    order_id: int = 1000
    trade_id: int = 5000
    #: A client placed orders with it: the server's own demo activity leaves it alone.
    trades_itself: bool = False

    def verify(self, payload: str, signature: str) -> bool:
        data = payload.encode("utf-8")
        if self.secret is not None:
            expected = hmac.new(self.secret.encode(), data, hashlib.sha256).hexdigest()
            return hmac.compare_digest(expected, signature)
        if self.public_key is None:
            return False
        try:
            raw = base64.b64decode(signature, validate=True)
        except (binascii.Error, ValueError):
            return False
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ed25519, padding

        try:
            if isinstance(self.public_key, ed25519.Ed25519PublicKey):
                self.public_key.verify(raw, data)
            else:
                self.public_key.verify(raw, data, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return False
        return True

    @property
    def is_ed25519(self) -> bool:
        if self.public_key is None:
            return False
        from cryptography.hazmat.primitives.asymmetric import ed25519

        return isinstance(self.public_key, ed25519.Ed25519PublicKey)
