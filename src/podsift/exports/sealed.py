"""Access tokens of notes services, kept encrypted in the database (Fernet: AES-CBC with an
HMAC) under a key derived from the app's secret: a copy of the database alone gives no
one's Readwise or Notion account. They are decrypted only to make a request."""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class SealError(ValueError):
    """A stored token that this app's secret cannot open (the secret changed)."""


def _fernet(secret: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"podsift export tokens").derive(
        secret.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def seal(secret: str, token: str) -> str:
    return _fernet(secret).encrypt(token.encode()).decode()


def unseal(secret: str, sealed: str) -> str:
    try:
        return _fernet(secret).decrypt(sealed.encode()).decode()
    except InvalidToken as exc:
        raise SealError(
            "the stored token cannot be read: was PODSIFT_SECRET_KEY changed? add it again"
        ) from exc
