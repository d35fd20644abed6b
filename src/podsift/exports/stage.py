"""The exports stage: after delivery, each active target gets the insights its subscriber
received (or liked; or, for the admin's vault, every insight) that it has not got yet, and
the new text of those it got whose text changed since.

The `exports` ledger (target, insight) makes each send happen once: a row is claimed
(inserted, or moved to `sending` by a conditional UPDATE only one process can win) before
the service is called and marked `sent` with the remote id and the content hash after. A
process killed between the call and the mark leaves a claim that is taken over (at once when
its process is gone); the services make that retry harmless (Readwise merges an identical
highlight, the Notion backend looks the row up first, a vault file is rewritten the same).
One target's failure (a revoked token, an outage) never stops another's, nor the digests.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, joinedload

from podsift.backends.exports import Exporter, ExportError, ExportItem, Outgoing, Sent
from podsift.backends.exports.notion import NotionExporter
from podsift.backends.exports.readwise import ReadwiseExporter
from podsift.backends.exports.vault import FileRecord, VaultExporter
from podsift.exports.sealed import unseal
from podsift.net.links import listen_link
from podsift.progress import progress
from podsift.sources.titles import episode_title
from podsift.store import (
    Digest,
    DigestItem,
    DigestState,
    Episode,
    Export,
    ExportFile,
    ExportState,
    ExportTarget,
    ExportTargetState,
    Feedback,
    Insight,
    Subscriber,
    utcnow,
)
from podsift.store.claims import CLAIMER, claimer_is_gone
from podsift.subscribers.tokens import load_secret

if TYPE_CHECKING:
    from podsift.core import App

log = logging.getLogger(__name__)
KINDS = ("readwise", "notion", "vault")
SCOPES = ("received", "liked", "all")
STALE_CLAIM = timedelta(minutes=10)
BACKOFF = (timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2), timedelta(hours=12))


@dataclass
class ExportReport:
    sent: Counter[str] = field(default_factory=Counter)  # target label -> insights sent new
    updated: Counter[str] = field(default_factory=Counter)  # ... sent again with a new text
    refused: dict[str, str] = field(default_factory=dict)  # "label: insight N" -> why
    failed: dict[str, str] = field(default_factory=dict)  # target label -> why it stopped
    revoked: list[str] = field(default_factory=list)


def target_label(target: ExportTarget, email: str | None) -> str:
    return f"{target.kind} #{target.id} ({email or 'admin'})"


# --- what is due ----------------------------------------------------------------------------


def candidates(target: ExportTarget) -> sa.Select[int, datetime]:
    """(insight id, when the reader got it) for everything this target should hold."""
    if target.scope == "all" or target.subscriber_id is None:
        return sa.select(Insight.id.label("insight_id"), Insight.created_at.label("at"))
    if target.scope == "liked":
        return sa.select(Feedback.insight_id.label("insight_id"), Feedback.created_at.label("at")).where(
            Feedback.subscriber_id == target.subscriber_id, Feedback.vote > 0
        )
    return (
        sa.select(DigestItem.insight_id.label("insight_id"), sa.func.min(Digest.created_at).label("at"))
        .join(Digest, Digest.id == DigestItem.digest_id)
        .where(Digest.subscriber_id == target.subscriber_id, Digest.state == DigestState.SENT)
        .group_by(DigestItem.insight_id)
    )


@dataclass(frozen=True)
class LedgerRow:
    """A ledger row as read (ORM objects would reload after each claim's commit)."""

    id: int
    state: str
    attempts: int
    content_hash: str | None
    claimed_by: str | None
    remote_id: str | None


@dataclass
class Due:
    item: ExportItem
    row: LedgerRow | None  # its ledger row, if it has one


def due_items(app: App, session: Session, target: ExportTarget, now: datetime) -> list[Due]:
    """New insights, retries that are ready, claims left by dead processes, and insights
    (of the last `lookback_days`) whose text changed since they were sent."""
    wanted = candidates(target).subquery()
    rows = {
        row.insight_id: row for row in session.scalars(sa.select(Export).where(Export.target_id == target.id))
    }
    recent = now - timedelta(days=app.settings.lookback_days)
    ids: dict[int, datetime] = {}
    for insight_id, at, created in session.execute(
        sa.select(wanted.c.insight_id, wanted.c.at, Insight.created_at).join(
            Insight, Insight.id == wanted.c.insight_id
        )
    ):
        row = rows.get(insight_id)
        if row is None or _retry_due(row, now) or (row.state == ExportState.SENT and created >= recent):
            ids[insight_id] = at
    items = build_items(app, session, ids)
    out = []
    for insight_id, item in items.items():
        row = rows.get(insight_id)
        if row is not None and row.state == ExportState.SENT and row.content_hash == item.content_hash():
            continue
        snapshot = (
            None
            if row is None
            else LedgerRow(row.id, row.state, row.attempts, row.content_hash, row.claimed_by, row.remote_id)
        )
        out.append(Due(item, snapshot))
    return sorted(out, key=lambda d: (d.item.episode_id, d.item.start, d.item.insight_id))


def _retry_due(row: Export, now: datetime) -> bool:
    if row.state == ExportState.PENDING:
        return row.next_attempt_at is None or row.next_attempt_at <= now
    if row.state == ExportState.SENDING:
        stale = row.claimed_at is None or row.claimed_at < utcnow() - STALE_CLAIM
        return stale or claimer_is_gone(row.claimed_by)
    return False


def build_items(app: App, session: Session, wanted: dict[int, datetime]) -> dict[int, ExportItem]:
    """ExportItems for these insight ids (id -> when the reader got it)."""
    out: dict[int, ExportItem] = {}
    ids = list(wanted)
    for start in range(0, len(ids), 500):
        query = (
            sa.select(Insight)
            .where(Insight.id.in_(ids[start : start + 500]))
            .options(joinedload(Insight.episode).joinedload(Episode.feed))
        )
        for insight in session.scalars(query):
            out[insight.id] = export_item(app, insight, wanted[insight.id])
    return out


def export_item(app: App, insight: Insight, at: datetime) -> ExportItem:
    episode = insight.episode
    show = episode.feed.title or episode.feed.url
    base = app.settings.base_url.rstrip("/")
    return ExportItem(
        insight_id=insight.id,
        cluster_id=insight.cluster_id,
        claim=insight.text,
        quote=insight.quote,
        speaker=insight.speaker,
        show=show,
        episode=episode_title(episode.title, episode.feed.title) or "Untitled episode",
        episode_id=episode.id,
        episode_url=episode.link,
        audio_url=episode.audio_url,
        start=round(insight.start_seconds, 3),
        published=episode.published_at.date().isoformat() if episode.published_at else None,
        listen_url=listen_link(episode.audio_url, episode.link, insight.start_seconds),
        story_url=f"{base}/insight/{insight.cluster_id}" if base and insight.cluster_id else None,
        tags=tuple(dict.fromkeys(t for t in map(tag, insight.topics or []) if t)),
        highlighted_at=at.isoformat(timespec="seconds"),
        speakers=tuple(str(p["name"]) for p in episode.persons or [] if p.get("name")),
    )


def tag(topic: object) -> str:
    """A topic as a tag every notes tool takes: lower case, words joined by hyphens."""
    return "-".join(re.findall(r"[\w]+", str(topic).lower()))[:60]


def due_targets(app: App, now: datetime) -> list[int]:
    """Active targets with something to send (for the workers' plan): a new insight, a
    retry that is ready, a claim gone stale; or not looked at for an hour (texts that
    changed are found by looking)."""
    hour_ago = now - timedelta(hours=1)
    out = []
    with app.session() as session:
        for target in session.scalars(
            sa.select(ExportTarget).where(ExportTarget.state == ExportTargetState.ACTIVE)
        ):
            wanted = candidates(target).subquery()
            sent_before = sa.exists().where(
                Export.target_id == target.id, Export.insight_id == wanted.c.insight_id
            )
            new = sa.select(sa.select(wanted.c.insight_id).where(~sent_before).exists())
            retry = (
                sa.exists()
                .where(
                    Export.target_id == target.id,
                    sa.or_(
                        sa.and_(
                            Export.state == ExportState.PENDING,
                            sa.or_(Export.next_attempt_at.is_(None), Export.next_attempt_at <= now),
                        ),
                        sa.and_(
                            Export.state == ExportState.SENDING, Export.claimed_at < utcnow() - STALE_CLAIM
                        ),
                    ),
                )
                .select()
            )
            looked = target.last_run_at is not None and target.last_run_at >= hour_ago
            if not looked or session.scalar(new) or session.scalar(retry):
                out.append(target.id)
    return out


# --- claims and records ---------------------------------------------------------------------


def _insert_claims(session: Session, target_id: int, ids: list[int]) -> set[int]:
    """Ledger rows for never-sent insights, claimed by this process; the ids it won (a row
    another process inserted first is theirs)."""
    if not ids:
        return set()
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    now = utcnow()
    statement = (
        dialect.insert(Export)
        .on_conflict_do_nothing(index_elements=["target_id", "insight_id"])
        .returning(Export.insight_id)
    )
    rows = [
        {
            "target_id": target_id,
            "insight_id": i,
            "state": ExportState.SENDING,
            "claimed_at": now,
            "claimed_by": CLAIMER,
            "attempts": 1,
            "versions": 0,
        }
        for i in ids
    ]
    won = set(session.scalars(statement, rows))
    session.commit()
    return won


def _claim_row(session: Session, row: LedgerRow, now: datetime) -> bool:
    """Claim an existing row (a retry, a takeover, an update) as it was read: only one
    process's UPDATE matches."""
    same = [Export.id == row.id, Export.state == row.state, Export.attempts == row.attempts]
    if row.state == ExportState.SENT:
        same.append(Export.content_hash == row.content_hash)
    if row.state == ExportState.SENDING:
        same.append(Export.claimed_by == row.claimed_by)
    result = session.execute(
        sa.update(Export)
        .where(*same)
        .values(
            state=ExportState.SENDING, claimed_at=utcnow(), claimed_by=CLAIMER, attempts=Export.attempts + 1
        )
        .returning(Export.id)
    )
    won = result.first() is not None
    session.commit()
    return won


def claim(session: Session, target: ExportTarget, due: list[Due], now: datetime) -> list[Outgoing]:
    won = _insert_claims(session, target.id, [d.item.insight_id for d in due if d.row is None])
    out = []
    for d in due:
        if d.row is None:
            if d.item.insight_id in won:
                out.append(Outgoing(d.item, None))
        elif _claim_row(session, d.row, now):
            recovering = d.row.state == ExportState.SENDING and d.row.remote_id is None
            out.append(Outgoing(d.item, d.row.remote_id, recovering))
    return out


def _record(
    session: Session, target_id: int, jobs: list[Outgoing], sent: list[Sent], report: ExportReport, label: str
) -> None:
    by_id = {j.item.insight_id: j for j in jobs}
    now = utcnow()
    for s in sent:
        job = by_id.get(s.insight_id)
        if job is None:
            continue
        where = sa.update(Export).where(
            Export.target_id == target_id, Export.insight_id == s.insight_id, Export.claimed_by == CLAIMER
        )
        if s.refused:
            session.execute(where.values(state=ExportState.FAILED, error_reason=s.refused[:2000]))
            report.refused[f"{label}: insight {s.insight_id}"] = s.refused
            continue
        session.execute(
            where.values(
                state=ExportState.SENT,
                remote_id=s.remote_id,
                content_hash=job.item.content_hash(),
                versions=Export.versions + 1,
                attempts=0,
                sent_at=now,
                next_attempt_at=None,
                error_reason=None,
            )
        )
        if job.remote_id or (job.recovering and s.remote_id):
            report.updated[label] += 1
        else:
            report.sent[label] += 1
    session.commit()


def _release(
    session: Session, app: App, target: ExportTarget, jobs: list[Outgoing], error: ExportError, now: datetime
) -> None:
    """A send that did not go: its claims back to pending (or failed, after too many tries),
    and the target's state and reason for the reader's page."""
    ids = [j.item.insight_id for j in jobs]
    mine = sa.update(Export).where(
        Export.target_id == target.id, Export.insight_id.in_(ids), Export.claimed_by == CLAIMER
    )
    if error.revoked:  # not the items' fault: no try counted
        session.execute(
            mine.values(state=ExportState.PENDING, attempts=Export.attempts - 1, next_attempt_at=None)
        )
    else:
        for attempts, insight_id in session.execute(
            sa.select(Export.attempts, Export.insight_id).where(
                Export.target_id == target.id, Export.insight_id.in_(ids)
            )
        ):
            row = mine.where(Export.insight_id == insight_id)
            if attempts >= app.settings.export_attempts:
                session.execute(row.values(state=ExportState.FAILED, error_reason=error.reason[:2000]))
                continue
            wait = (
                timedelta(seconds=error.retry_after)
                if error.retry_after
                else BACKOFF[min(attempts, len(BACKOFF)) - 1]
            )
            session.execute(
                row.values(
                    state=ExportState.PENDING, next_attempt_at=now + wait, error_reason=error.reason[:2000]
                )
            )
    values: dict[str, Any] = {"error_reason": error.reason[:2000], "error_at": utcnow()}
    if error.revoked:
        values["state"] = ExportTargetState.REVOKED
    session.execute(sa.update(ExportTarget).where(ExportTarget.id == target.id).values(**values))
    session.commit()


# --- the stage ------------------------------------------------------------------------------


def export_due(app: App, now: datetime | None = None, only: Collection[int] | None = None) -> ExportReport:
    """Send every active target what it is due; one target at a time, each on its own."""
    now = now or utcnow()
    report = ExportReport()
    query = (
        sa.select(ExportTarget, Subscriber.email)
        .outerjoin(Subscriber, Subscriber.id == ExportTarget.subscriber_id)
        .where(ExportTarget.state == ExportTargetState.ACTIVE)
        .order_by(ExportTarget.id)
    )
    if only is not None:
        query = query.where(ExportTarget.id.in_(only))
    with app.session() as session:
        targets = [(t, email) for t, email in session.execute(query)]
        session.expunge_all()
    if not targets:
        return report  # no targets: no query more, nothing loaded
    with progress("exporting to notes tools", len(targets)) as bar:
        for target, email in targets:
            label = target_label(target, email)
            try:
                _export_target(app, target, label, now, report)
            except Exception as exc:  # one target never stops the others
                log.exception("export to %s failed", label)
                report.failed[label] = f"{type(exc).__name__}: {exc}"
            bar.advance()
    return report


def _export_target(app: App, target: ExportTarget, label: str, now: datetime, report: ExportReport) -> None:
    with app.session() as session:
        due = due_items(app, session, target, now)
        if not due:
            _ran(session, target.id, clear_error=False)
            return
        exporter = make_exporter(app, target, session)
        try:
            for batch in _chunks(due, exporter.batch):
                jobs = claim(session, target, batch, now)
                if not jobs:
                    continue
                try:
                    sent = _send(exporter, jobs)
                except ExportError as exc:
                    _release(session, app, target, jobs, exc, now)
                    (report.revoked.append(label) if exc.revoked else None)
                    report.failed[label] = exc.reason
                    log.warning("export to %s stopped: %s", label, exc.reason)
                    return
                _record(session, target.id, jobs, sent, report, label)
        finally:
            exporter.close()
        _ran(session, target.id, clear_error=True)


def _send(exporter: Exporter, jobs: list[Outgoing]) -> list[Sent]:
    """The call to the service (a kill point in the crash tests)."""
    return exporter.send(jobs)


def _ran(session: Session, target_id: int, clear_error: bool) -> None:
    values: dict[str, Any] = {"last_run_at": utcnow()}
    if clear_error:
        values.update(error_reason=None, error_at=None)
    session.execute(sa.update(ExportTarget).where(ExportTarget.id == target_id).values(**values))
    session.commit()


def _chunks(items: list[Due], size: int) -> Iterator[list[Due]]:
    for start in range(0, len(items), max(size, 1)):
        yield items[start : start + size]


def make_exporter(app: App, target: ExportTarget, session: Session) -> Exporter:
    s = app.settings
    if target.kind == "vault":
        root = Path(str(target.options.get("dir") or s.export_dir or s.home / "vault"))
        return VaultExporter(
            root,
            _FileRecords(session, target.id),
            lambda episode_id: _sent_in_episode(app, session, target.id, episode_id),
            s.export_templates,
        )
    token = unseal(load_secret(s.secret_key, s.home), target.sealed_token or "")
    if target.kind == "readwise":
        return ReadwiseExporter(token, s.readwise_url, backoff=s.export_backoff_seconds)
    if target.kind == "notion":
        return NotionExporter(
            token, str(target.options.get("database_id", "")), s.notion_url, backoff=s.export_backoff_seconds
        )
    raise ValueError(f"unknown export kind {target.kind!r}")


def _sent_in_episode(app: App, session: Session, target_id: int, episode_id: int) -> list[ExportItem]:
    """What a vault file holds already: the episode's insights sent to this target."""
    rows = session.execute(
        sa.select(Export.insight_id, Export.sent_at)
        .join(Insight, Insight.id == Export.insight_id)
        .where(
            Export.target_id == target_id, Export.state == ExportState.SENT, Insight.episode_id == episode_id
        )
    )
    return list(build_items(app, session, {i: at or utcnow() for i, at in rows}).values())


class _FileRecords:
    """The vault's file hashes in `export_files`, each change committed at once (it must
    outlive a crash in the write that follows)."""

    def __init__(self, session: Session, target_id: int) -> None:
        self.session, self.target_id = session, target_id

    def _row(self, path: str) -> ExportFile | None:
        return self.session.scalar(
            sa.select(ExportFile).where(ExportFile.target_id == self.target_id, ExportFile.path == path)
        )

    def get(self, path: str) -> FileRecord | None:
        row = self._row(path)
        return None if row is None else FileRecord(row.written_hash, row.writing_hash, row.edited)

    def writing(self, path: str, digest: str) -> None:
        row = self._row(path)
        if row is None:
            self.session.add(ExportFile(target_id=self.target_id, path=path, writing_hash=digest))
        else:
            row.writing_hash = digest
        self.session.commit()

    def written(self, path: str, digest: str, edited: bool) -> None:
        row = self._row(path)
        if row is None:
            row = ExportFile(target_id=self.target_id, path=path)
            self.session.add(row)
        row.written_hash, row.writing_hash, row.edited, row.written_at = digest, None, edited, utcnow()
        self.session.commit()
