"""Personal identifiers encrypted at rest (ID card, phone and registration numbers).

The columns hold AES-SIV ciphertexts (RFC 5297) under a key from settings. SIV is
deterministic: the same number under the same key and column always gives the same ciphertext,
so the ciphertext is itself the keyed blind index that equality look-ups and unique constraints
use, while a database dump without the key shows no number. What it gives away is only what any
blind index gives away: that two rows hold the same value. Partial matches (LIKE) are
impossible by design; search by a whole identifier.
"""

from __future__ import annotations

import base64
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from sqlalchemy import String
from sqlalchemy.types import TypeDecorator

PREFIX = "v1:"
# Used only when no key is configured outside production (development, demo, tests).
DEVELOPMENT_KEY = base64.urlsafe_b64encode(b"campusid-development-only-key!!!" * 2).decode()


class FieldCipher:
    """Deterministic authenticated encryption of short strings, bound to their column."""

    def __init__(self, key_b64: str) -> None:
        key = base64.urlsafe_b64decode(key_b64.encode())
        if len(key) not in (32, 48, 64):
            raise ValueError("the data key must be 32, 48 or 64 bytes, base64-encoded")
        self._siv = AESSIV(key)

    def encrypt(self, value: str, context: str) -> str:
        """The ciphertext of the value for that column."""
        sealed = self._siv.encrypt(value.encode(), [context.encode()])
        return PREFIX + base64.urlsafe_b64encode(sealed).decode().rstrip("=")

    def decrypt(self, token: str, context: str) -> str:
        """The value back (a value stored before encryption is returned as it is)."""
        if not token.startswith(PREFIX):
            return token
        body = token[len(PREFIX) :]
        sealed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        return self._siv.decrypt(sealed, [context.encode()]).decode()


_cipher: FieldCipher | None = None


def configure(key_b64: str | None) -> None:
    """Install the process's data key (called when the app's services are built)."""
    global _cipher
    _cipher = FieldCipher(key_b64 or DEVELOPMENT_KEY)


def cipher() -> FieldCipher:
    """The installed cipher (the development key if none was configured yet)."""
    if _cipher is None:
        configure(None)
    assert _cipher is not None
    return _cipher


def new_key() -> str:
    """A fresh 512-bit key, base64-encoded, for CAMPUSID_DATA_KEY."""
    return base64.urlsafe_b64encode(AESSIV.generate_key(512)).decode()


class EncryptedString(TypeDecorator[str]):
    """A string column stored as its AES-SIV ciphertext; reads and compares as plain text."""

    impl = String
    cache_ok = True

    def __init__(self, context: str, length: int = 96) -> None:
        super().__init__(length)
        self.context = context

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        if value is None:
            return None
        return cipher().encrypt(str(value), self.context)

    def process_result_value(self, value: Any, dialect: Any) -> str | None:
        if value is None:
            return None
        return cipher().decrypt(str(value), self.context)
