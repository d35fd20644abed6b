"""Signed links: HMAC tokens (itsdangerous) naming a subscriber, a purpose and a version.

The version is the subscriber's `token_version`, bumped on re-subscribe, so links from
before an unsubscribe stop working. A token for one purpose never verifies for another
(the purpose is the salt), and a token for one subscriber never acts on another.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeSerializer, URLSafeTimedSerializer

PURPOSES = ("unsubscribe", "preferences", "feedback", "feed", "confirm")
CONFIRM_MAX_AGE = 7 * 24 * 3600


class TokenError(ValueError):
    """Forged, tampered, expired or for something else: the link does nothing."""


def load_secret(configured: str, home: Path) -> str:
    """PODSIFT_SECRET_KEY, else a random key kept in $PODSIFT_HOME/secret.key (mode 0600)."""
    if configured:
        return configured
    path = home / "secret.key"
    if path.is_file():
        return path.read_text().strip()
    home.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


class Tokens:
    def __init__(self, secret: str) -> None:
        if len(secret) < 16:
            raise ValueError("PODSIFT_SECRET_KEY must be at least 16 characters")
        self.secret = secret

    def _serializer(self, purpose: str) -> URLSafeSerializer | URLSafeTimedSerializer:
        if purpose not in PURPOSES:
            raise ValueError(f"unknown token purpose {purpose!r}")
        kind = URLSafeTimedSerializer if purpose == "confirm" else URLSafeSerializer
        return kind(self.secret, salt=f"podsift-{purpose}")

    def make(self, purpose: str, subscriber_id: int, version: int, **extra: Any) -> str:
        return str(self._serializer(purpose).dumps({"s": subscriber_id, "v": version, **extra}))

    def read(self, purpose: str, token: str) -> dict[str, Any]:
        serializer = self._serializer(purpose)
        try:
            if isinstance(serializer, URLSafeTimedSerializer):
                data = serializer.loads(token, max_age=CONFIRM_MAX_AGE)
            else:
                data = serializer.loads(token)
        except SignatureExpired as exc:
            raise TokenError("this link has expired") from exc
        except BadSignature as exc:
            raise TokenError("this link is not valid") from exc
        if (
            not isinstance(data, dict)
            or not isinstance(data.get("s"), int)
            or not isinstance(data.get("v"), int)
        ):
            raise TokenError("this link is not valid")
        return data
