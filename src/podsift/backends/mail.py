"""Where a digest goes: an SMTP server, or the outbox folder when none is configured."""

from __future__ import annotations

import contextlib
import re
import smtplib
import ssl
from email.message import Message
from email.utils import parseaddr
from pathlib import Path
from typing import Protocol, Self
from urllib.parse import unquote, urlsplit


class SendError(Exception):
    """permanent: the address or URL is refused for good (5xx); connection: the server could
    not be reached or hung up (counts toward stopping the run early)."""

    def __init__(self, reason: str, *, permanent: bool = False, connection: bool = False):
        super().__init__(reason)
        self.reason, self.permanent, self.connection = reason, permanent, connection


class Transport(Protocol):
    name: str

    def send(self, message: Message, date: str) -> str:
        """Deliver; return where it went (a path or host)."""
        ...

    def close(self) -> None: ...


class OutboxTransport:
    """Writes `<outbox>/<date>/<address>.eml` and an `.html` copy to open in a browser."""

    name = "outbox"

    def __init__(self, folder: Path):
        self.folder = folder

    def send(self, message: Message, date: str) -> str:
        day = self.folder / date
        day.mkdir(parents=True, exist_ok=True)
        stem = re.sub(r"[^A-Za-z0-9@._+-]", "_", str(message["To"]))
        eml = day / f"{stem}.eml"
        tmp = eml.with_suffix(".eml.tmp")
        tmp.write_bytes(message.as_bytes())
        tmp.replace(eml)  # atomic: a crash never leaves half a message
        html = next((p for p in message.walk() if p.get_content_type() == "text/html"), None)
        if html is not None:
            body = html.get_payload(decode=True)
            assert isinstance(body, bytes)
            text = body.decode(html.get_content_charset() or "utf-8")
            (day / f"{stem}.html").write_text(text, encoding="utf-8")
        return str(eml)

    def close(self) -> None:
        pass


class SmtpTransport:
    """`smtp://user:pass@host:port` (plain), `smtps://` (TLS), `smtp+starttls://`."""

    name = "smtp"

    def __init__(self, url: str, timeout: float = 30.0):
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps", "smtp+starttls") or not parts.hostname:
            raise ValueError(
                f"PODSIFT_SMTP_URL must be smtp://, smtps:// or smtp+starttls://, not {parts.scheme!r}"
            )
        self.scheme, self.host = parts.scheme, parts.hostname
        self.port = parts.port or {"smtp": 25, "smtps": 465, "smtp+starttls": 587}[parts.scheme]
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.timeout = timeout
        self._conn: smtplib.SMTP | None = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _connect(self) -> smtplib.SMTP:
        context = ssl.create_default_context()
        if self.scheme == "smtps":
            conn: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            conn = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            if self.scheme == "smtp+starttls":
                conn.starttls(context=context)
        if self.username:
            conn.login(self.username, self.password or "")
        return conn

    def send(self, message: Message, date: str) -> str:
        try:
            if self._conn is None:
                self._conn = self._connect()
            # Flattened once here; send_message would re-parse every address header.
            _, sender = parseaddr(str(message["From"]))
            wire = message.as_bytes(policy=message.policy.clone(linesep="\r\n"))
            self._conn.sendmail(sender, [str(message["To"])], wire)
        except smtplib.SMTPRecipientsRefused as exc:
            self.close()
            codes = [code for code, _ in exc.recipients.values()]
            raise SendError(
                f"recipient refused: {exc.recipients}", permanent=all(c >= 500 for c in codes)
            ) from exc
        except smtplib.SMTPResponseException as exc:
            self.close()
            raise SendError(
                f"SMTP {exc.smtp_code}: {exc.smtp_error!r}",
                permanent=exc.smtp_code >= 500,
                # 421: the server is closing the channel (busy, shutting down)
                connection=exc.smtp_code == 421 or isinstance(exc, smtplib.SMTPConnectError),
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            raise SendError(f"SMTP connection failed: {type(exc).__name__}: {exc}", connection=True) from exc
        return f"smtp://{self.host}:{self.port}"

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self._conn.quit()
            self._conn = None


def make_transport(smtp_url: str, outbox: Path) -> Transport:
    """SMTP when a server is configured, else the outbox folder."""
    return SmtpTransport(smtp_url) if smtp_url else OutboxTransport(outbox)
