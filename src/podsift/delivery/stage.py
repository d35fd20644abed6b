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
import os
import socket
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from podsift.backends.apprise import send_apprise
from podsift.backends.mail import SendError, Transport
from podsift.delivery.message import build_message, subject_for
from podsift.digests.records import choose_digest, local_date, make_selector, stored_picks
from podsift.digests.view import digest_view, render
from podsift.progress import progress
from podsift.ranking.pool import hour_bucket
from podsift.ranking.select import Selector
from podsift.store import (
    Delivery,
    DeliveryState,
    Digest,
    DigestState,
    Episode,
    Insight,
    Subscriber,
    rows_changed,
    utcnow,
)
from podsift.subscribers import channel_key

if TYPE_CHECKING:
    from podsift.core import App

log = logging.getLogger(__name__)
STALE_CLAIM = timedelta(minutes=10)
RETRY_AFTER = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1))
CLAIMER = f"{socket.gethostname()}:{os.getpid()}"


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
        ids = [s.id for s in hour_come]
        by_id = {s.id: s for s in hour_come}
        today: dict[int, int] = {}
        failed: set[int] = set()
        # Today's digests: the local days of all subscribers are two or three dates at most,
        # so this reads one row per subscriber, not their whole history.
        for sub_id, day, digest_id, state in session.execute(
            sa.select(Digest.subscriber_id, Digest.local_date, Digest.id, Digest.state).where(
                Digest.subscriber_id.in_(ids), Digest.local_date.in_({day for day, _ in days.values()})
            )
        ):
            if day == days[sub_id][0]:
                today[sub_id] = digest_id
                if state == DigestState.FAILED:
                    failed.add(digest_id)
        # The last digest of those without one today (their latest of all).
        last: dict[int, datetime] = {
            sub_id: created
            for sub_id, created in session.execute(
                sa.select(Digest.subscriber_id, sa.func.max(Digest.created_at))
                .where(Digest.subscriber_id.in_([i for i in ids if i not in today]))
                .group_by(Digest.subscriber_id)
            )
        }
        channels: dict[int, int] = defaultdict(int)  # digest -> its delivery rows
        unfinished: set[int] = set()
        for digest_id, state in session.execute(
            sa.select(Delivery.digest_id, Delivery.state).where(Delivery.digest_id.in_(list(today.values())))
        ):
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
    transport = app.mail()
    selector = make_selector(app)
    breaker = Breaker(app.settings.max_connection_failures)
    selector.warm(sub.interests for sub in due)
    with app.session() as session:
        selector.prefetch(session, [sub.id for sub in due], now)
    try:
        with progress("delivering digests", len(due)) as bar:
            for sub in due:
                if breaker.open:
                    report.deferred += 1
                else:
                    try:
                        _deliver_one(app, selector, transport, breaker, sub, now, report)
                    except Exception as exc:  # one subscriber never stops the others
                        log.exception("delivery to %s failed", sub.email)
                        report.failed[sub.email] = f"{type(exc).__name__}: {exc}"
                bar.advance()
    finally:
        transport.close()
    if breaker.open:
        log.error(
            "stopped sending after %d connection failures in a row; %d subscribers wait for the next run",
            breaker.failures,
            report.deferred,
        )
    return report


def _ensure_deliveries(session: Session, digest: Digest, sub: Subscriber) -> None:
    existing = set(session.scalars(sa.select(Delivery.channel).where(Delivery.digest_id == digest.id)))
    for channel, target in channels_of(sub):
        if channel in existing:
            continue
        session.add(Delivery(digest_id=digest.id, channel=channel, target=target))
        try:
            session.commit()
        except IntegrityError:  # another process added it
            session.rollback()


def _claimer_is_gone(claimed_by: str | None) -> bool:
    host, _, pid = (claimed_by or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _claim(session: Session, delivery: Delivery, now: datetime, max_attempts: int) -> bool:
    wall = utcnow()
    takeover = delivery.state == DeliveryState.SENDING and _claimer_is_gone(delivery.claimed_by)
    ready = sa.and_(
        Delivery.state == DeliveryState.PENDING,
        sa.or_(Delivery.next_attempt_at.is_(None), Delivery.next_attempt_at <= now),
    )
    stale = sa.and_(Delivery.state == DeliveryState.SENDING, Delivery.claimed_at < wall - STALE_CLAIM)
    if takeover:
        stale = sa.or_(
            stale,
            sa.and_(Delivery.state == DeliveryState.SENDING, Delivery.claimed_by == delivery.claimed_by),
        )
    result = session.execute(
        sa.update(Delivery)
        .where(Delivery.id == delivery.id, Delivery.attempts < max_attempts, sa.or_(ready, stale))
        .values(
            state=DeliveryState.SENDING, claimed_at=wall, claimed_by=CLAIMER, attempts=Delivery.attempts + 1
        )
    )
    session.commit()
    return rows_changed(result) == 1


def _deliver_one(
    app: App,
    selector: Selector,
    transport: Transport,
    breaker: Breaker,
    sub: Subscriber,
    now: datetime,
    report: DeliveryReport,
) -> None:
    day, _ = local_date(sub, now)
    with app.session() as session:
        digest = choose_digest(selector, session, sub, day, now)
        if digest is None:
            report.empty += 1
            return
        _ensure_deliveries(session, digest, sub)
        deliveries = list(
            session.scalars(sa.select(Delivery).where(Delivery.digest_id == digest.id).order_by(Delivery.id))
        )
        if all(d.state == DeliveryState.SENT for d in deliveries):
            report.already_sent += 1
            return
        claimed = [
            d
            for d in deliveries
            if d.state in (DeliveryState.PENDING, DeliveryState.SENDING)
            and _claim(session, d, now, app.settings.send_attempts)
        ]
        if not claimed:
            return
        view = digest_view(app, sub, day, stored_picks(session, digest))
        digest_id = digest.id
        jobs = [(d.id, d.channel, d.target, d.attempts + 1) for d in claimed]
    # Sending happens outside any transaction; the claims above keep others away.
    for delivery_id, channel, target, attempt in jobs:
        error, location, message_id = None, None, None
        try:
            if channel == "email":
                message = build_message(view, app.settings.from_address, now)
                message_id = message["Message-ID"]
                location = _send_email(transport, message, day)
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
        breaker.record(error)
        _finish(app, sub, digest_id, delivery_id, channel, attempt, now, error, location, message_id, report)
        if breaker.open:
            return


def _send_email(transport: Transport, message: EmailMessage, day: str) -> str:
    """One immediate retry on a new connection for a transient failure (a dropped connection
    or a 4xx): most are over by the time we reconnect."""
    try:
        return transport.send(message, day)
    except SendError as exc:
        if exc.permanent:
            raise
        return transport.send(message, day)


def _finish(
    app: App,
    sub: Subscriber,
    digest_id: int,
    delivery_id: int,
    channel: str,
    attempt: int,
    now: datetime,
    error: SendError | None,
    location: str | None,
    message_id: str | None,
    report: DeliveryReport,
) -> None:
    label = sub.email if channel == "email" else f"{sub.email} ({channel})"
    if error is None:
        values: dict[str, object] = {
            "state": DeliveryState.SENT,
            "sent_at": utcnow(),
            "location": location,
            "message_id": message_id,
            "error_reason": None,
        }
        report.sent.append(label)
        report.locations[label] = location or ""
    elif error.permanent or attempt >= app.settings.send_attempts:
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
    with app.session() as session:
        session.execute(
            sa.update(Delivery)
            .where(Delivery.id == delivery_id, Delivery.claimed_by == CLAIMER)
            .values(**values)
        )
        if error is not None and error.permanent and channel == "email":
            bounces = Subscriber.bounces + 1
            session.execute(
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
        session.execute(sa.update(Digest).where(Digest.id == digest_id).values(state=summary))
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
