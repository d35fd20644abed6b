"""Build the digest email: multipart/alternative (plain text + HTML) with stable headers."""

from __future__ import annotations

import hashlib
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses

from podsift.digests.view import DigestView, render


def message_id(subscriber: str, date: str, from_address: str) -> str:
    """Deterministic per (subscriber, day): a resend is recognisable as the same message."""
    digest = hashlib.sha256(f"{subscriber.lower()}|{date}".encode()).hexdigest()[:32]
    _, sender = getaddresses([from_address])[0]
    domain = sender.rsplit("@", 1)[-1] if "@" in sender else "podsift.invalid"
    return f"<digest.{date}.{digest}@{domain}>"


def subject_for(view: DigestView) -> str:
    count = len(view.insights)
    noun = "insight" if count == 1 else "insights"
    return f"Your podsift digest for {view.date}: {count} {noun}"


def build_message(view: DigestView, from_address: str, sent_at: datetime) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = subject_for(view)
    msg["From"] = from_address
    msg["To"] = view.subscriber
    msg["Date"] = format_datetime(sent_at)
    msg["Message-ID"] = message_id(view.subscriber, view.date, from_address)
    _, sender = getaddresses([from_address])[0]
    msg["List-Id"] = f"podsift daily digest <digest.{sender.rsplit('@', 1)[-1] or 'podsift.invalid'}>"
    # RFC 2369 + RFC 8058: clients show an unsubscribe button; with the HTTPS link a single
    # POST (no cookies, no page) unsubscribes.
    targets = [f"<{view.unsubscribe_url}>"] if view.unsubscribe_url else []
    if sender:
        targets.append(f"<mailto:{sender}?subject=unsubscribe>")
    if targets:
        msg["List-Unsubscribe"] = ", ".join(targets)
    if view.unsubscribe_url:
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(render(view, "text"))
    msg.add_alternative(render(view, "html"), subtype="html")
    return msg
