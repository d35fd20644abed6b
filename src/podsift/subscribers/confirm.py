"""The double opt-in email: one signed link; nothing is sent to the address before it."""

from __future__ import annotations

import hashlib
import logging
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses
from typing import TYPE_CHECKING

import sqlalchemy as sa
from markupsafe import escape

from podsift.backends.mail import SendError
from podsift.store import Subscriber, utcnow
from podsift.subscribers.links import confirm_link

if TYPE_CHECKING:
    from podsift.core import App

log = logging.getLogger(__name__)


def confirmation_message(app: App, sub: Subscriber, link: str) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = "Confirm your podsift subscription"
    msg["From"] = app.settings.from_address
    msg["To"] = sub.email
    msg["Date"] = format_datetime(utcnow())
    _, sender = getaddresses([app.settings.from_address])[0]
    domain = sender.rsplit("@", 1)[-1] if "@" in sender else "podsift.invalid"
    key = hashlib.sha256(f"confirm|{sub.email}|{sub.token_version}".encode()).hexdigest()[:32]
    msg["Message-ID"] = f"<confirm.{key}@{domain}>"
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(
        "Someone (hopefully you) asked for a daily podsift digest at this address.\n\n"
        f"Confirm here: {link}\n\nIf it was not you, ignore this email: nothing will be sent.\n"
    )
    msg.add_alternative(
        '<!DOCTYPE html><html><body style="font-family: sans-serif">'
        "<p>Someone (hopefully you) asked for a daily podsift digest at this address.</p>"
        f'<p><a href="{escape(link)}">Confirm my subscription</a></p>'
        "<p>If it was not you, ignore this email: nothing will be sent.</p></body></html>",
        subtype="html",
    )
    return msg


def send_confirmation(app: App, sub: Subscriber) -> str | None:
    """Send the confirmation email; returns where it went, or None (logged) on failure:
    the subscriber stays unconfirmed and can ask again."""
    transport = app.mail()
    try:
        where = transport.send(confirmation_message(app, sub, confirm_link(app, sub)), "confirmations")
    except SendError as exc:
        log.error("confirmation email to %s failed: %s", sub.email, exc.reason)
        return None
    finally:
        transport.close()
    with app.session() as session:
        session.execute(
            sa.update(Subscriber).where(Subscriber.id == sub.id).values(confirmation_sent_at=utcnow())
        )
        session.commit()
    return where
