"""The delivery stage: one digest per subscriber per local day, never sent twice.

Each digest is a row keyed by (subscriber, local date). Its insights are chosen and stored
before sending, so a retry sends the same digest. The row is claimed with a conditional
UPDATE (pending -> sending) that only one process can win, and marked sent afterwards.
A crash between send and mark leaves it `sending`; after `STALE_CLAIM` it is retried,
which may duplicate that one message (its Message-ID is the same, so clients dedupe).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from podsift.core import App
from podsift.delivery.message import build_message
from podsift.delivery.transports import OutboxTransport, SendError, SmtpTransport, Transport
from podsift.digests.view import DigestView, build_view
from podsift.progress import progress
from podsift.ranking.score import RankingWeights
from podsift.ranking.select import Pick, Selector
from podsift.store import Digest, DigestItem, Episode, Insight, Subscriber, utcnow

log = logging.getLogger(__name__)
STALE_CLAIM = timedelta(minutes=10)
MAX_ATTEMPTS = 5


@dataclass
class DeliveryReport:
    sent: list[str] = field(default_factory=list)
    locations: dict[str, str] = field(default_factory=dict)
    not_due: int = 0
    empty: int = 0
    already_sent: int = 0
    failed: dict[str, str] = field(default_factory=dict)


def local_date(subscriber: Subscriber, now: datetime) -> tuple[str, int]:
    local = now.astimezone(ZoneInfo(subscriber.timezone))
    return local.date().isoformat(), local.hour


def make_transport(app: App) -> Transport:
    if app.settings.smtp_url:
        return SmtpTransport(app.settings.smtp_url)
    return OutboxTransport(app.settings.resolved_outbox)


def make_selector(app: App) -> Selector:
    """The run's selector; without a working embedding backend it ranks by words alone."""
    from podsift.embeddings import EmbeddingError

    try:
        embedder = app.embedder()
    except EmbeddingError as exc:
        log.warning("ranking without embeddings: %s", exc)
        embedder = None
    s = app.settings
    return Selector(
        app.sessions, embedder, RankingWeights.parse(s.ranking_weights), s.lookback_days, s.novelty_days
    )


def preview(app: App, email: str, date: str | None, now: datetime) -> DigestView:
    """The digest for `date` as it was sent, or as it would be chosen now (not recorded)."""
    with app.session() as session:
        sub = session.scalar(sa.select(Subscriber).where(Subscriber.email == email))
        if sub is None:
            raise LookupError(f"no subscriber {email}")
        day = date or local_date(sub, now)[0]
        digest = session.scalar(
            sa.select(Digest).where(Digest.subscriber_id == sub.id, Digest.local_date == day)
        )
        if digest is not None:
            return build_view(sub.email, day, _stored_picks(session, digest))
        return build_view(sub.email, day, make_selector(app).pick(session, sub, day, now))


def _stored_picks(session: Session, digest: Digest) -> list[Pick]:
    rows = session.scalars(
        sa.select(DigestItem)
        .where(DigestItem.digest_id == digest.id)
        .order_by(DigestItem.rank)
        .options(joinedload(DigestItem.insight).joinedload(Insight.episode).joinedload(Episode.feed))
    )
    return [Pick(item.insight, item.score, item.why, item.also_on or []) for item in rows]


def deliver_due(app: App, now: datetime | None = None) -> DeliveryReport:
    now = now or utcnow()
    report = DeliveryReport()
    with app.session() as session:
        subscribers = list(
            session.scalars(sa.select(Subscriber).where(Subscriber.active).order_by(Subscriber.id))
        )
    transport = make_transport(app)
    selector = make_selector(app)
    selector.warm(sub.interests for sub in subscribers)
    with app.session() as session:
        selector.prefetch(session, [sub.id for sub in subscribers], now)
    try:
        with progress("delivering digests", len(subscribers)) as bar:
            for sub in subscribers:
                try:
                    _deliver_one(app, selector, transport, sub, now, report)
                except Exception as exc:  # one subscriber never stops the others
                    log.exception("delivery to %s failed", sub.email)
                    report.failed[sub.email] = f"{type(exc).__name__}: {exc}"
                bar.advance()
    finally:
        transport.close()
    return report


def _prepare(selector: Selector, session: Session, sub: Subscriber, day: str, now: datetime) -> Digest | None:
    """The day's digest row with its insights fixed, creating it if needed."""
    digest = session.scalar(sa.select(Digest).where(Digest.subscriber_id == sub.id, Digest.local_date == day))
    if digest is not None:
        return digest
    picks = selector.pick(session, sub, day, now)
    if not picks:
        return None  # nothing new: no row, so a later run today can still send
    digest = Digest(subscriber_id=sub.id, local_date=day, state="pending", created_at=now)
    digest.items = [
        DigestItem(insight_id=p.insight.id, rank=rank, score=p.score, why=p.why, also_on=p.also_on)
        for rank, p in enumerate(picks, 1)
    ]
    session.add(digest)
    try:
        session.commit()
    except IntegrityError:  # another process created it first: use theirs
        session.rollback()
        return session.scalar(
            sa.select(Digest).where(Digest.subscriber_id == sub.id, Digest.local_date == day)
        )
    return digest


def _claim(session: Session, digest: Digest) -> bool:
    wall = utcnow()
    result = session.execute(
        sa.update(Digest)
        .where(Digest.id == digest.id, Digest.attempts < MAX_ATTEMPTS)
        .where(
            sa.or_(
                Digest.state == "pending",
                sa.and_(Digest.state == "sending", Digest.claimed_at < wall - STALE_CLAIM),
            )
        )
        .values(state="sending", claimed_at=wall, attempts=Digest.attempts + 1)
    )
    session.commit()
    return result.rowcount == 1  # type: ignore[attr-defined]


def _deliver_one(
    app: App, selector: Selector, transport: Transport, sub: Subscriber, now: datetime, report: DeliveryReport
) -> None:
    day, hour = local_date(sub, now)
    if hour < sub.send_hour:
        report.not_due += 1
        return
    with app.session() as session:
        digest = _prepare(selector, session, sub, day, now)
        if digest is None:
            report.empty += 1
            return
        if digest.state == "sent":
            report.already_sent += 1
            return
        if not _claim(session, digest):
            return
        view = build_view(sub.email, day, _stored_picks(session, digest))
        digest_id = digest.id
    # Sending happens outside any transaction; the claim above keeps others away.
    message = build_message(view, app.settings.from_address, now)
    try:
        location = transport.send(message, day)
    except SendError as exc:
        _finish(
            app, digest_id, state="failed" if exc.permanent else "pending", error_reason=exc.reason[:2000]
        )
        report.failed[sub.email] = exc.reason
        return
    _finish(
        app,
        digest_id,
        state="sent",
        sent_at=utcnow(),
        location=location,
        message_id=message["Message-ID"],
        channel=transport.name,
        error_reason=None,
    )
    report.sent.append(sub.email)
    report.locations[sub.email] = location


def _finish(app: App, digest_id: int, **values: object) -> None:
    with app.session() as session:
        session.execute(sa.update(Digest).where(Digest.id == digest_id).values(**values))
        session.commit()
