"""Choosing and recording digests: one per subscriber per local day, fixed before anything is
sent, so a retry, the web page, the Atom feed and the API all show the same five."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from podsift.backends.embeddings import EmbeddingError
from podsift.ranking.score import RankingWeights
from podsift.ranking.select import Pick, Selector
from podsift.store import Digest, DigestItem, DigestState, Episode, Insight, Subscriber

if TYPE_CHECKING:
    from podsift.core import App

log = logging.getLogger(__name__)
HISTORY_MAX = 365


def local_date(subscriber: Subscriber, now: datetime) -> tuple[str, int]:
    """The subscriber's local (date, hour) at `now`."""
    local = now.astimezone(ZoneInfo(subscriber.timezone))
    return local.date().isoformat(), local.hour


def make_selector(app: App) -> Selector:
    """The run's selector; without a working embedding backend it ranks by words alone."""
    try:
        embedder = app.embedder()
    except EmbeddingError as exc:
        log.warning("ranking without embeddings: %s", exc)
        embedder = None
    s = app.settings
    return Selector(
        app.sessions, embedder, RankingWeights.parse(s.ranking_weights), s.lookback_days, s.novelty_days
    )


def recorded_digest(session: Session, sub: Subscriber, day: str) -> Digest | None:
    return session.scalar(sa.select(Digest).where(Digest.subscriber_id == sub.id, Digest.local_date == day))


def choose_digest(
    selector: Selector, session: Session, sub: Subscriber, day: str, now: datetime
) -> Digest | None:
    """The day's digest row with its insights fixed, choosing and recording them if needed.
    None when there is nothing new: no row, so a later run today can still send."""
    digest = recorded_digest(session, sub, day)
    if digest is not None:
        return digest
    picks = selector.pick(session, sub, day, now)
    if not picks:
        return None
    try:
        digest_id = insert_digest(session.connection(), sub.id, day, now, picks)
        session.commit()
    except IntegrityError:  # another process created it first: use theirs
        session.rollback()
        return recorded_digest(session, sub, day)
    return session.get(Digest, digest_id)


# Built once (compiled once); a delivery round records thousands.
_INSERT_DIGEST = sa.insert(Digest).returning(Digest.id)
_INSERT_ITEM = sa.insert(DigestItem)


def insert_digest(conn: sa.Connection, subscriber_id: int, day: str, now: datetime, picks: list[Pick]) -> int:
    """Record a digest and its items with two Core statements, uncommitted (a caller may add
    its own rows to the transaction); its id. Raises IntegrityError when one exists."""
    digest_id: int = conn.execute(
        _INSERT_DIGEST,
        {"subscriber_id": subscriber_id, "local_date": day, "state": DigestState.PENDING, "created_at": now},
    ).scalar_one()
    conn.execute(
        _INSERT_ITEM,
        [
            {
                "digest_id": digest_id,
                "insight_id": p.insight.id,
                "rank": rank,
                "score": p.score,
                "why": p.why,
                "also_on": p.also_on,
                "also_on_more": p.also_on_more,
                "disputes": p.disputes,
                "styled_text": p.text,
                "glossary": p.glossary,
            }
            for rank, p in enumerate(picks, 1)
        ],
    )
    return digest_id


def stored_picks(session: Session, digest: Digest) -> list[Pick]:
    rows = session.scalars(
        sa.select(DigestItem)
        .where(DigestItem.digest_id == digest.id)
        .order_by(DigestItem.rank)
        .options(joinedload(DigestItem.insight).joinedload(Insight.episode).joinedload(Episode.feed))
    )
    return [
        Pick(
            item.insight,
            item.score,
            item.why,
            item.also_on or [],
            item.disputes or [],
            item.also_on_more,
            item.styled_text,
            item.glossary or [],
        )
        for item in rows
    ]


def digest_history(
    session: Session, sub: Subscriber, *, sent_only: bool = False, limit: int = 30
) -> list[Digest]:
    """A subscriber's digests, newest first. `sent_only`: those that reached a channel (the
    Atom feed is a record of deliveries; the web archive and the API show every digest made)."""
    query = sa.select(Digest).where(Digest.subscriber_id == sub.id)
    if sent_only:
        query = query.where(Digest.state == DigestState.SENT)
    return list(session.scalars(query.order_by(Digest.local_date.desc()).limit(min(limit, HISTORY_MAX))))
