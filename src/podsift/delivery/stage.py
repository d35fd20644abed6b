"""The delivery stage: takes each due subscriber's digest (chosen and recorded by `digests/`),
gives it to each of their channels: claimed, sent, finished; never sent twice, never lost.

The `Digest` row (subscriber, local date) fixes the chosen insights before anything is sent,
so a retry sends the same digest. Each channel gets a `Delivery` row (digest, channel),
claimed by a conditional UPDATE (pending -> sending) that only one process can win, and
marked sent or failed after. A crash between send and mark leaves it `sending`: a claim
held by a process of this host that no longer exists is taken over at once, any other after
`STALE_CLAIM`; that one message may then go out twice (same Message-ID, so mail clients
show one). Transient errors go back to pending with backoff; permanent ones (5xx for the
address) fail the delivery and count a bounce; after too many connection failures in a row
the run stops sending and leaves the rest for the next run.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import Message
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from podsift.backends.apprise import send_apprise
from podsift.backends.mail import SendError, Transport
from podsift.delivery.message import build_message, subject_for
from podsift.digests.records import insert_digest, local_date, make_selector, recorded_digest, stored_picks
from podsift.digests.style import apply_style, wants_style
from podsift.digests.view import digest_view, render
from podsift.progress import progress
from podsift.ranking.pool import hour_bucket
from podsift.ranking.select import Pick, Selector
from podsift.search.alerts import new_mentions, record_mentions, stored_mentions, subscribers_with_alerts
from podsift.store import (
    Delivery,
    DeliveryState,
    Digest,
    DigestState,
    Episode,
    Insight,
    Subscriber,
    utcnow,
)
from podsift.store.claims import CLAIMER, claimer_is_gone
from podsift.subscribers import channel_key

if TYPE_CHECKING:
    from podsift.core import App

log = logging.getLogger(__name__)
STALE_CLAIM = timedelta(minutes=10)
RETRY_AFTER = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1))


@dataclass
class DeliveryReport:
    sent: list[str] = field(default_factory=list)
    locations: dict[str, str] = field(default_factory=dict)
    not_due: int = 0
    empty: int = 0
    already_sent: int = 0
    retry_later: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    # Subscribers left for the next run after the mail server kept failing.
    deferred: int = 0


def channels_of(sub: Subscriber) -> list[tuple[str, str | None]]:
    """(channel key, target) for each place this subscriber's digest goes."""
    out: list[tuple[str, str | None]] = []
    if sub.email_enabled and not sub.suppressed:
        out.append(("email", None))
    out += [(channel_key(url), url) for url in sub.channels or []]
    return out


class Breaker:
    """Stops a run after `limit` connection failures in a row; a success resets it."""

    def __init__(self, limit: int) -> None:
        self.limit, self.failures = max(limit, 1), 0

    @property
    def open(self) -> bool:
        return self.failures >= self.limit

    def record(self, error: SendError | None) -> None:
        self.failures = self.failures + 1 if error is not None and error.connection else 0


@dataclass
class DueSubscribers:
    """Who gets a digest now, and why the others do not."""

    due: list[Subscriber] = field(default_factory=list)
    not_due: int = 0  # before their local send hour
    already_sent: int = 0  # today's digest is out on every channel
    given_up: int = 0  # today's digest failed on every channel (permanently or too often)
    nothing_new: int = 0  # no insight since their last digest: nothing to choose from
    recorded: set[int] = field(default_factory=set)  # due subscribers with a digest recorded today


def due_subscribers(app: App, now: datetime, only: Collection[int] | None = None) -> DueSubscribers:
    """Subscribers whose local send hour has come and whose digest for their local day is
    not out yet, leaving out those with nothing new to choose from: an hourly run with
    nothing to send loads no model and opens no connection."""
    out = DueSubscribers()
    query = (
        sa.select(Subscriber)
        .where(Subscriber.active, Subscriber.confirmed, Subscriber.paused.is_(False))
        .order_by(Subscriber.id)
    )
    if only is not None:
        query = query.where(Subscriber.id.in_(only))
    with app.session() as session:
        subscribers = list(session.scalars(query))
        session.expunge_all()
        days = {sub.id: local_date(sub, now) for sub in subscribers}
        hour_come = [s for s in subscribers if days[s.id][1] >= s.send_hour]
        out.not_due = len(subscribers) - len(hour_come)
        if not hour_come:
            return out
        by_id = {s.id: s for s in hour_come}
        dates = {day for day, _ in days.values()}

        def of_these(column: Any) -> Any:
            # A worker's block: its few dozen ids. Everyone: a subquery, not an IN list of
            # every subscriber's id.
            if only is not None:
                return column.in_(only)
            return column.in_(query.with_only_columns(Subscriber.id).order_by(None))

        today: dict[int, int] = {}
        failed: set[int] = set()
        # Today's digests: the local days of all subscribers are two or three dates at most,
        # so this reads one row per subscriber, not their whole history.
        for sub_id, day, digest_id, state in session.execute(
            sa.select(Digest.subscriber_id, Digest.local_date, Digest.id, Digest.state).where(
                of_these(Digest.subscriber_id), Digest.local_date.in_(dates)
            )
        ):
            if sub_id in by_id and day == days[sub_id][0]:
                today[sub_id] = digest_id
                if state == DigestState.FAILED:
                    failed.add(digest_id)
        # The last digest of each (read for all; only those without one today are used).
        last: dict[int, datetime] = {
            sub_id: created
            for sub_id, created in session.execute(
                sa.select(Digest.subscriber_id, sa.func.max(Digest.created_at))
                .where(of_these(Digest.subscriber_id))
                .group_by(Digest.subscriber_id)
            )
        }
        channels: dict[int, int] = defaultdict(int)  # digest -> its delivery rows
        unfinished: set[int] = set()
        todays = set(today.values())
        for digest_id, state in session.execute(
            sa.select(Delivery.digest_id, Delivery.state)
            .join(Digest, Digest.id == Delivery.digest_id)
            .where(of_these(Digest.subscriber_id), Digest.local_date.in_(dates))
        ):
            if digest_id not in todays:
                continue
            channels[digest_id] += 1
            if state in (DeliveryState.PENDING, DeliveryState.SENDING):
                unfinished.add(digest_id)
        # A digest recorded by a run that died before adding its deliveries, or a channel
        # added since: it has fewer delivery rows than the subscriber has channels.
        unfinished |= {
            digest_id
            for sub_id, digest_id in today.items()
            if channels[digest_id] < len(channels_of(by_id[sub_id]))
        }
        newest = _newest_candidate(session)
    floor = now - timedelta(days=app.settings.lookback_days)
    for sub in hour_come:
        if sub.id in today:
            if today[sub.id] in unfinished:
                out.due.append(sub)
                out.recorded.add(sub.id)
            elif today[sub.id] in failed:
                out.given_up += 1
            else:
                out.already_sent += 1
        elif newest is not None and newest.timestamp() >= hour_bucket(max(last.get(sub.id, floor), floor)):
            out.due.append(sub)
        else:
            out.nothing_new += 1
    return out


def _newest_candidate(session: Session) -> datetime | None:
    """The latest time an insight was found or its episode published: a digest's candidates
    are insights found or published since the subscriber's last digest."""
    found = session.scalar(sa.select(sa.func.max(Insight.created_at)))
    published = session.scalar(
        sa.select(sa.func.max(Episode.published_at)).where(
            Episode.id.in_(sa.select(Insight.episode_id).distinct())
        )
    )
    times = [t for t in (found, published) if t is not None]
    return max(times) if times else None


def deliver_due(app: App, now: datetime | None = None, only: Collection[int] | None = None) -> DeliveryReport:
    """Choose, record and send today's digest to every due subscriber (or the due ones in
    `only`): once per subscriber and local day, on each of their channels."""
    now = now or utcnow()
    report = DeliveryReport()
    plan = due_subscribers(app, now, only)
    report.not_due, report.already_sent, report.empty = plan.not_due, plan.already_sent, plan.nothing_new
    due = plan.due
    if not due:
        return report  # nobody's turn: no embedding model is loaded, no connection opened
    selector = make_selector(app)
    selector.warm(sub.interests for sub in due)
    with app.session() as session:
        selector.prefetch(session, [sub.id for sub in due], now)
    alerted = subscribers_with_alerts(app, [sub.id for sub in due])
    # One connection for the round: a session per step on it, no pool checkout (and its
    # ping on Postgres) per step.
    with app.engine.connect() as conn:
        delivery_round = _Round(
            app,
            conn,
            sessionmaker(bind=conn, expire_on_commit=False),
            selector,
            app.mail(),
            Breaker(app.settings.max_connection_failures),
            now,
            report,
            alerted,
        )
        try:
            with progress("delivering digests", len(due)) as bar:
                for sub in due:
                    if delivery_round.breaker.open:
                        report.deferred += 1
                    else:
                        _deliver_safely(delivery_round, sub, sub.id in plan.recorded)
                    bar.advance()
        finally:
            delivery_round.transport.close()
    if delivery_round.breaker.open:
        log.error(
            "stopped sending after %d connection failures in a row; %d subscribers wait for the next run",
            delivery_round.breaker.failures,
            report.deferred,
        )
    return report


@dataclass
class _Round:
    """What the deliveries of one `deliver_due` call share."""

    app: App
    conn: sa.Connection  # held for the round
    sessions: sessionmaker[Session]  # on that connection
    selector: Selector
    transport: Transport
    breaker: Breaker
    now: datetime
    report: DeliveryReport
    alerted: set[int]  # subscribers with saved searches (a query each only for them)


def _deliver_safely(delivery_round: _Round, sub: Subscriber, recorded_today: bool) -> None:
    try:
        _deliver_one(delivery_round, sub, recorded_today)
    except Exception as exc:  # one subscriber never stops the others
        log.exception("delivery to %s failed", sub.email)
        delivery_round.report.failed[sub.email] = f"{type(exc).__name__}: {exc}"


@dataclass
class Claimed:
    """What one subscriber's delivery needs once its claims are won."""

    digest_id: int
    picks: list[Pick]
    jobs: list[tuple[int, str, str | None, int]]  # (delivery id, channel, target, attempt)


_INSERT_CLAIMED = sa.insert(Delivery).returning(Delivery.id)


def _record_and_claim(
    app: App, selector: Selector, session: Session, sub: Subscriber, day: str, now: datetime, alerted: bool
) -> Claimed | None:
    """A new digest, its items and its deliveries, already claimed by this process, in one
    transaction: a crash leaves all or none (a claim whose process is gone is taken over at
    once). None when there is nothing new."""
    # Saved searches first: they read through their own sessions, which on SQLite must not
    # wait on this one's transaction.
    mentions = new_mentions(app, sub, now, app.settings.lookback_days) if alerted else []
    picks = selector.pick(session, sub, day, now)
    if not picks:
        return None
    if wants_style(sub):
        # The reader's own write-up, fixed with the digest. A model may take seconds: end this
        # transaction first (on SQLite it holds the write lock); a digest another process
        # records meanwhile surfaces as the IntegrityError our caller handles.
        session.commit()
        apply_style(app, sub, day, picks)
    conn = session.connection()
    digest_id = insert_digest(conn, sub.id, day, now, picks)
    record_mentions(conn, digest_id, mentions)
    claimed = {"state": DeliveryState.SENDING, "claimed_at": utcnow(), "claimed_by": CLAIMER, "attempts": 1}
    jobs: list[tuple[int, str, str | None, int]] = []
    for channel, target in channels_of(sub):  # one or two: a statement each, for its id
        row = {"digest_id": digest_id, "channel": channel, "target": target, **claimed}
        jobs.append((conn.execute(_INSERT_CLAIMED, row).scalar_one(), channel, target, 1))
    session.commit()
    return Claimed(digest_id, picks, jobs)


def _claim_recorded(
    session: Session,
    sub: Subscriber,
    digest: Digest,
    now: datetime,
    max_attempts: int,
    report: DeliveryReport,
) -> Claimed | None:
    """Today's recorded digest (a retry, a takeover, a channel added): claim what is unsent."""
    _ensure_deliveries(session, digest, sub)
    deliveries = list(
        session.scalars(sa.select(Delivery).where(Delivery.digest_id == digest.id).order_by(Delivery.id))
    )
    if all(d.state == DeliveryState.SENT for d in deliveries):
        report.already_sent += 1
        return None
    open_ = [d for d in deliveries if d.state in (DeliveryState.PENDING, DeliveryState.SENDING)]
    won = _claim(session, open_, now, max_attempts)
    if not won:
        return None
    # attempts as they were read: the claim added one
    jobs = [(d.id, d.channel, d.target, d.attempts + 1) for d in open_ if d.id in won]
    return Claimed(digest.id, stored_picks(session, digest), jobs)


def _ensure_deliveries(session: Session, digest: Digest, sub: Subscriber) -> None:
    """A delivery row for each channel (one added since the digest was recorded, or rows a
    killed process never wrote)."""
    existing = set(session.scalars(sa.select(Delivery.channel).where(Delivery.digest_id == digest.id)))
    for channel, target in channels_of(sub):
        if channel in existing:
            continue
        session.add(Delivery(digest_id=digest.id, channel=channel, target=target))
        try:
            session.commit()
        except IntegrityError:  # another process added it
            session.rollback()


def _claim(session: Session, deliveries: list[Delivery], now: datetime, max_attempts: int) -> set[int]:
    """Claim the deliveries that are ready (or stale, or held by a process of this host that
    is gone) with one conditional UPDATE; the ids this process won."""
    if not deliveries:
        return set()
    wall = utcnow()
    ready = sa.and_(
        Delivery.state == DeliveryState.PENDING,
        sa.or_(Delivery.next_attempt_at.is_(None), Delivery.next_attempt_at <= now),
    )
    stale = sa.and_(Delivery.state == DeliveryState.SENDING, Delivery.claimed_at < wall - STALE_CLAIM)
    orphans = [
        sa.and_(Delivery.id == d.id, Delivery.claimed_by == d.claimed_by)
        for d in deliveries
        if d.state == DeliveryState.SENDING and claimer_is_gone(d.claimed_by)
    ]
    takeover = sa.and_(Delivery.state == DeliveryState.SENDING, sa.or_(*orphans)) if orphans else sa.false()
    result = session.connection().execute(
        sa.update(Delivery)
        .where(
            Delivery.id.in_([d.id for d in deliveries]),
            Delivery.attempts < max_attempts,
            sa.or_(ready, stale, takeover),
        )
        .values(
            state=DeliveryState.SENDING, claimed_at=wall, claimed_by=CLAIMER, attempts=Delivery.attempts + 1
        )
        .returning(Delivery.id)
    )
    won = set(result.scalars())
    session.commit()
    return won


def _deliver_one(delivery_round: _Round, sub: Subscriber, recorded_today: bool) -> None:
    """Record (or find) today's digest, claim its deliveries, send, finish. `recorded_today`
    False: planning saw no digest for today, so it is chosen and claimed in one go."""
    app, selector, now, report = (
        delivery_round.app,
        delivery_round.selector,
        delivery_round.now,
        delivery_round.report,
    )
    day, _ = local_date(sub, now)
    with delivery_round.sessions() as session:
        claimed: Claimed | None = None
        if not recorded_today:
            try:
                claimed = _record_and_claim(
                    app, selector, session, sub, day, now, sub.id in delivery_round.alerted
                )
                if claimed is None:
                    report.empty += 1
                    return
            except IntegrityError:  # another process recorded it meanwhile
                session.rollback()
        recorded_now = claimed is not None
        if claimed is None:
            digest = recorded_digest(session, sub, day)
            if digest is None:
                report.empty += 1
                return
            claimed = _claim_recorded(session, sub, digest, now, app.settings.send_attempts, report)
            if claimed is None:
                return
        # A digest recorded just now has mentions only for a reader with saved searches; one
        # recorded before (a retry) shows what it was recorded with.
        if recorded_now and sub.id not in delivery_round.alerted:
            mentions = []
        else:
            mentions = stored_mentions(session, claimed.digest_id)
        view = digest_view(app, sub, day, claimed.picks, mentions)
        digest_id, jobs = claimed.digest_id, claimed.jobs
    # Sending happens outside any transaction; the claims above keep others away.
    for delivery_id, channel, target, attempt in jobs:
        error, location, message_id = None, None, None
        try:
            if channel == "email":
                message = build_message(view, app.settings.from_address, now)
                message_id = message["Message-ID"]
                location = _send_email(delivery_round.transport, message, day)
            else:
                location = send_apprise(
                    target or "",
                    subject_for(view),
                    render(view, "md"),
                    app.settings.allow_hosts,
                    app.resolver,
                )
        except SendError as exc:
            error = exc
        delivery_round.breaker.record(error)
        _finish(delivery_round, sub, digest_id, delivery_id, channel, attempt, error, location, message_id)
        if delivery_round.breaker.open:
            return


def _send_email(transport: Transport, message: Message, day: str) -> str:
    """One immediate retry on a new connection for a transient failure (a dropped connection
    or a 4xx): most are over by the time we reconnect."""
    try:
        return transport.send(message, day)
    except SendError as exc:
        if exc.permanent:
            raise
        return transport.send(message, day)


# Built once: SQLAlchemy compiles each once, psycopg prepares them after a few uses.
_MARK_SENT = (
    sa.update(Delivery)
    .where(Delivery.id == sa.bindparam("delivery"), Delivery.claimed_by == sa.bindparam("claimer"))
    .values(
        state=DeliveryState.SENT,
        sent_at=sa.bindparam("sent"),
        location=sa.bindparam("where_to"),
        message_id=sa.bindparam("message"),
        error_reason=None,
    )
)
_DIGEST_SENT = sa.update(Digest).where(Digest.id == sa.bindparam("digest")).values(state=DigestState.SENT)


def _finish(
    delivery_round: _Round,
    sub: Subscriber,
    digest_id: int,
    delivery_id: int,
    channel: str,
    attempt: int,
    error: SendError | None,
    location: str | None,
    message_id: str | None,
) -> None:
    app, now, report = delivery_round.app, delivery_round.now, delivery_round.report
    label = sub.email if channel == "email" else f"{sub.email} ({channel})"
    if error is None:  # the common case: two prepared statements, one commit
        with delivery_round.conn.begin():
            delivery_round.conn.execute(
                _MARK_SENT,
                {
                    "delivery": delivery_id,
                    "claimer": CLAIMER,
                    "sent": utcnow(),
                    "where_to": location,
                    "message": message_id,
                },
            )
            # one channel reached is a digest sent
            delivery_round.conn.execute(_DIGEST_SENT, {"digest": digest_id})
        report.sent.append(label)
        report.locations[label] = location or ""
        return
    values: dict[str, object]
    if error.permanent or attempt >= app.settings.send_attempts:
        values = {"state": DeliveryState.FAILED, "error_reason": error.reason[:2000]}
        report.failed[label] = error.reason
    else:
        wait = RETRY_AFTER[min(attempt, len(RETRY_AFTER)) - 1]
        values = {
            "state": DeliveryState.PENDING,
            "next_attempt_at": now + wait,
            "error_reason": error.reason[:2000],
        }
        report.retry_later[label] = error.reason
    with delivery_round.sessions() as session:
        conn = session.connection()
        conn.execute(
            sa.update(Delivery)
            .where(Delivery.id == delivery_id, Delivery.claimed_by == CLAIMER)
            .values(**values)
        )
        if error.permanent and channel == "email":
            bounces = Subscriber.bounces + 1
            conn.execute(
                sa.update(Subscriber)
                .where(Subscriber.id == sub.id)
                .values(bounces=bounces, suppressed=bounces >= app.settings.suppress_after_bounces)
            )
        states = set(session.scalars(sa.select(Delivery.state).where(Delivery.digest_id == digest_id)))
        summary = (
            DigestState.SENT
            if DeliveryState.SENT in states
            else DigestState.FAILED
            if states == {DeliveryState.FAILED}
            else DigestState.PENDING
        )
        conn.execute(sa.update(Digest).where(Digest.id == digest_id).values(state=summary))
        session.commit()


def delivery_problems(app: App) -> dict[int, str]:
    """Subscriber id -> why their latest digest has not reached a channel (failed, or waiting
    to retry), for `podsift subscribers list`."""
    latest = (
        sa.select(Digest.subscriber_id, sa.func.max(Digest.local_date).label("day"))
        .group_by(Digest.subscriber_id)
        .subquery()
    )
    rows = (
        sa.select(Digest.subscriber_id, Delivery.channel, Delivery.state, Delivery.error_reason)
        .join(
            latest, sa.and_(Digest.subscriber_id == latest.c.subscriber_id, Digest.local_date == latest.c.day)
        )
        .join(Delivery, Delivery.digest_id == Digest.id)
        .where(Delivery.state != DeliveryState.SENT, Delivery.error_reason.is_not(None))
        .order_by(Delivery.id)
    )
    with app.session() as session:
        return {
            sub_id: f"{channel} {state}: {reason}"[:300]
            for sub_id, channel, state, reason in session.execute(rows)
        }
