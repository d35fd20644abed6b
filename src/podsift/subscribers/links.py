"""Signed links: what lets a subscriber confirm, vote, change preferences, read their digests
and leave without an account. Each names the subscriber and their current `token_version`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from podsift.store import Feedback, Insight, Subscriber, utcnow
from podsift.subscribers.tokens import TokenError

if TYPE_CHECKING:
    from podsift.core import App


@dataclass(frozen=True)
class SubscriberLinks:
    unsubscribe: str
    preferences: str
    feed: str
    web: str  # today's digest and the archive in the browser
    briefing: str | None = None  # the audio briefing's podcast feed, for those who opted in

    def vote(self, app: App, sub: Subscriber, insight_id: int, vote: int) -> str:
        return f"{app.settings.base_url.rstrip('/')}{vote_path(app, sub, insight_id, vote)}"


def vote_path(app: App, sub: Subscriber, insight_id: int, vote: int) -> str:
    """The 👍/👎 link's path; the web app's own pages use it as it is."""
    return f"/feedback/{app.tokens().make('feedback', sub.id, sub.token_version, i=insight_id, d=vote)}"


def preferences_path(app: App, sub: Subscriber) -> str:
    return f"/preferences/{app.tokens().make('preferences', sub.id, sub.token_version)}"


def links_for(app: App, sub: Subscriber) -> SubscriberLinks | None:
    base = app.settings.base_url.rstrip("/")
    if not base:
        return None
    tokens = app.tokens()
    preferences = tokens.make("preferences", sub.id, sub.token_version)  # also opens the web pages
    return SubscriberLinks(
        unsubscribe=f"{base}/unsubscribe/{tokens.make('unsubscribe', sub.id, sub.token_version)}",
        preferences=f"{base}/preferences/{preferences}",
        feed=f"{base}/feed/{tokens.make('feed', sub.id, sub.token_version)}.atom",
        web=f"{base}/me/{preferences}/today",
        briefing=f"{base}/feed/{tokens.make('feed', sub.id, sub.token_version)}/briefing.xml"
        if sub.briefing
        else None,
    )


def confirm_link(app: App, sub: Subscriber) -> str:
    token = app.tokens().make("confirm", sub.id, sub.token_version)
    return f"{app.settings.base_url.rstrip('/')}/confirm/{token}"


def subscriber_for(app: App, purpose: str, token: str) -> tuple[Subscriber, dict[str, Any]]:
    """The subscriber a token names, if it is genuine and current; else TokenError."""
    data = app.tokens().read(purpose, token)
    with app.session() as session:
        sub = session.get(Subscriber, data["s"])
    if sub is None or sub.token_version != data["v"]:
        raise TokenError("this link is no longer valid")
    return sub, data


def unsubscribe(app: App, token: str) -> Subscriber:
    """Idempotent: a second POST with the same link changes nothing more."""
    sub, _ = subscriber_for(app, "unsubscribe", token)
    with app.session() as session:
        session.execute(
            sa.update(Subscriber)
            .where(Subscriber.id == sub.id, Subscriber.token_version == sub.token_version, Subscriber.active)
            .values(active=False, unsubscribed_at=utcnow())
        )
        session.commit()
        return session.get_one(Subscriber, sub.id)


def confirm(app: App, token: str) -> Subscriber:
    sub, _ = subscriber_for(app, "confirm", token)
    with app.session() as session:
        session.execute(
            sa.update(Subscriber)
            .where(Subscriber.id == sub.id, Subscriber.confirmed.is_(False))
            .values(confirmed=True, confirmed_at=utcnow())
        )
        session.commit()
        return session.get_one(Subscriber, sub.id)


def record_vote(app: App, token: str) -> tuple[Subscriber, int, int]:
    """(subscriber, insight id, vote). A second vote on one insight replaces the first."""
    sub, data = subscriber_for(app, "feedback", token)
    insight_id, vote = data.get("i"), data.get("d")
    if not isinstance(insight_id, int) or vote not in (1, -1):
        raise TokenError("this link is not valid")
    with app.session() as session:
        if session.get(Insight, insight_id) is None:
            raise TokenError("that insight no longer exists")
        row = session.scalar(
            sa.select(Feedback).where(Feedback.subscriber_id == sub.id, Feedback.insight_id == insight_id)
        )
        if row is None:
            session.add(Feedback(subscriber_id=sub.id, insight_id=insight_id, vote=vote))
        else:
            row.vote, row.created_at = vote, utcnow()
        session.commit()
    return sub, insight_id, vote
