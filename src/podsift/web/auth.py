"""The admin account, its session cookie, and CSRF tokens for every form.

One admin: `podsift admin create` stores a scrypt hash in $PODSIFT_HOME/admin.json (or set
PODSIFT_ADMIN_USER / PODSIFT_ADMIN_PASSWORD_HASH). The session is a signed, timestamped
cookie (HttpOnly, SameSite=Lax, 12 h). CSRF tokens are HMACs of the session (or, before
login and on the public sign-up form, of a random per-browser cookie) checked on every POST.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner

if TYPE_CHECKING:
    from podsift.core import App


SESSION_COOKIE = "podsift_admin"
BROWSER_COOKIE = "podsift_browser"
SESSION_SECONDS = 12 * 3600


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)
    return f"scrypt${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    expected = hash_password(password, base64.b64decode(salt))
    return hmac.compare_digest(expected.split("$")[2], digest)


def admin_file(app: App) -> Path:
    return app.settings.home / "admin.json"


def create_admin(app: App, user: str, password: str) -> None:
    if len(password) < 10:
        raise ValueError("the admin password must be at least 10 characters")
    path = admin_file(app)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"user": user, "password_hash": hash_password(password)}))
    path.chmod(0o600)


def admin_account(app: App) -> tuple[str, str] | None:
    if app.settings.admin_password_hash:
        return app.settings.admin_user, app.settings.admin_password_hash
    path = admin_file(app)
    if path.is_file():
        data = json.loads(path.read_text())
        return data["user"], data["password_hash"]
    return None


def login(app: App, user: str, password: str) -> str | None:
    """A session cookie value, or None."""
    account = admin_account(app)
    if (
        account is None
        or not hmac.compare_digest(user, account[0])
        or not check_password(password, account[1])
    ):
        return None
    return TimestampSigner(app.tokens().secret, salt="podsift-admin-session").sign(user).decode()


def session_user(app: App, cookie: str | None) -> str | None:
    if not cookie:
        return None
    try:
        return (
            TimestampSigner(app.tokens().secret, salt="podsift-admin-session")
            .unsign(cookie, max_age=SESSION_SECONDS)
            .decode()
        )
    except (BadSignature, SignatureExpired):
        return None


def csrf_token(app: App, anchor: str) -> str:
    return hmac.new(app.tokens().secret.encode(), f"csrf|{anchor}".encode(), hashlib.sha256).hexdigest()


def csrf_ok(app: App, anchor: str | None, token: str | None) -> bool:
    if not anchor or not token:
        return False
    return hmac.compare_digest(csrf_token(app, anchor), token)
