"""Build the digest email: multipart/alternative (plain text + HTML) with stable headers.

Built with the `compat32` MIME classes and base64 bodies: the modern `EmailMessage` parses
every header through its registry and quoted-printable-encodes in Python; building and
flattening a 30 KB digest took 3.3 ms that way against 1.1 ms this way (a microbenchmark),
about as much as choosing and recording the digest.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from email import charset
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.utils import format_datetime, formataddr, getaddresses, parseaddr

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


# UTF-8 bodies in base64 (C-coded, 7-bit safe for any server), headers in quoted-printable.
UTF8 = charset.Charset("utf-8")
UTF8.header_encoding, UTF8.body_encoding = charset.QP, charset.BASE64


def _text_part(text: str, subtype: str) -> MIMENonMultipart:
    part = MIMENonMultipart("text", subtype)
    part.set_payload(text, UTF8)
    return part


def build_message(view: DigestView, from_address: str, sent_at: datetime) -> MIMEMultipart:
    msg = MIMEMultipart("alternative")
    msg["Subject"] = subject_for(view)  # ASCII: a date and a count
    msg["From"] = formataddr(parseaddr(from_address), charset="utf-8")  # encodes a non-ASCII name
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
    msg.attach(_text_part(render(view, "text"), "plain"))
    msg.attach(_text_part(render(view, "html"), "html"))
    return msg
