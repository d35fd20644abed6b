"""Reading recorded digests: the CLI preview, the web archive, the Atom feed and the API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from podsift.digests.records import (
    HISTORY_MAX,
    digest_history,
    local_date,
    make_selector,
    recorded_digest,
    stored_picks,
)
from podsift.digests.style import apply_style
from podsift.digests.view import DigestView, digest_view, web_view
from podsift.search.alerts import stored_mentions
from podsift.store import Subscriber
from podsift.subscribers import find_subscriber

if TYPE_CHECKING:
    from podsift.core import App


@dataclass
class RecordedDigest:
    id: int
    date: str
    state: str
    created_at: datetime
    view: DigestView


def preview(app: App, email: str, date: str | None, now: datetime) -> DigestView:
    """The digest for `date` as it was chosen, or as it would be chosen now (not recorded)."""
    sub = find_subscriber(app, email)
    day = date or local_date(sub, now)[0]
    with app.session() as session:
        digest = recorded_digest(session, sub, day)
        if digest is not None:
            return digest_view(
                app, sub, day, stored_picks(session, digest), stored_mentions(session, digest.id)
            )
        picks = make_selector(app).pick(session, sub, day, now)
        apply_style(app, sub, day, picks, use_model=False)  # a preview spends no model request
        return digest_view(app, sub, day, picks)


def recorded_digests(
    app: App, sub: Subscriber, *, sent_only: bool = False, limit: int = 30
) -> list[RecordedDigest]:
    """A subscriber's digests, newest first, each with its view as emailed."""
    out = []
    with app.session() as session:
        for digest in digest_history(session, sub, sent_only=sent_only, limit=limit):
            view = digest_view(
                app,
                sub,
                digest.local_date,
                stored_picks(session, digest),
                stored_mentions(session, digest.id),
            )
            out.append(RecordedDigest(digest.id, digest.local_date, digest.state, digest.created_at, view))
    return out


@dataclass
class DigestPage:
    date: str | None  # None: no digest yet
    view: DigestView | None
    archive: list[str]  # every digest's date, newest first


def digest_page(app: App, sub: Subscriber, date: str | None) -> DigestPage:
    """One day's digest for the web page (the latest when `date` is None) and the archive."""
    with app.session() as session:
        history = digest_history(session, sub, limit=HISTORY_MAX)
        archive = [d.local_date for d in history]
        latest = history[0] if history else None  # already in hand: no second query for it
        digest = latest if date is None else recorded_digest(session, sub, date)
        if digest is None:
            return DigestPage(date, None, archive)
        day = digest.local_date
        view = web_view(app, session, sub, day, stored_picks(session, digest))
        view.mentions = stored_mentions(session, digest.id)
        return DigestPage(day, view, archive)
