"""The briefing stage: after the digests are sent, each opted-in subscriber's newest digest
gets its audio. Runs after delivery, so a slow or failed briefing never delays an email;
one subscriber's failure never stops the others; a failed briefing is tried again in later
runs, `briefing_attempts` times in all."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from podsift.backends.asr.words import WordSpotter
from podsift.briefings.build import BriefingItem, BriefingPlan, BuiltBriefing, assemble, write_files
from podsift.briefings.clips import Clip, ClipSource, cut_clip, search_window
from podsift.briefings.sources import ClipAudio, EnclosureCache, EpisodeAudio
from podsift.digests.records import local_date
from podsift.net.client import HttpClient
from podsift.net.links import listen_link
from podsift.progress import progress
from podsift.sources.titles import episode_title
from podsift.store import (
    Briefing,
    BriefingState,
    Digest,
    DigestItem,
    DigestState,
    Episode,
    Feed,
    Insight,
    Subscriber,
    Transcript,
    utcnow,
)

if TYPE_CHECKING:
    from podsift.core import App

log = logging.getLogger(__name__)
RECENT_DAYS = 2  # an opt-in builds the newest digest's briefing, not the archive's


@dataclass
class BriefingReport:
    built: int = 0
    failed: dict[int, str] = field(default_factory=dict)  # subscriber id -> why
    clips_missing: int = 0
    removed: int = 0


def briefings_folder(app: App, subscriber_id: int) -> Path:
    return app.settings.home / "briefings" / str(subscriber_id)


def due_briefing_subscribers(app: App, now: datetime) -> list[int]:
    """Subscribers whose newest digest waits for its briefing (the workers' plan)."""
    return list(_due(app, now, None))


def due_digests(app: App, now: datetime, only: Collection[int] | None = None) -> list[int]:
    """Sent digests of the last days of opted-in subscribers, with no briefing yet or a
    failed one still to retry: each subscriber's newest."""
    return list(_due(app, now, only).values())


def _due(app: App, now: datetime, only: Collection[int] | None) -> dict[int, int]:
    """subscriber id -> the digest whose briefing is due."""
    since = (now - timedelta(days=RECENT_DAYS)).date().isoformat()
    query = (
        sa.select(Digest.id)
        .join(Subscriber, Subscriber.id == Digest.subscriber_id)
        .outerjoin(Briefing, Briefing.digest_id == Digest.id)
        .where(
            Subscriber.briefing.is_(True),
            Subscriber.active.is_(True),
            Digest.state == DigestState.SENT,
            Digest.local_date >= since,
            sa.or_(
                Briefing.id.is_(None),
                sa.and_(
                    Briefing.state == BriefingState.FAILED, Briefing.attempts < app.settings.briefing_attempts
                ),
            ),
        )
        .order_by(Digest.local_date.desc(), Digest.id)
    )
    if only is not None:
        query = query.where(Digest.subscriber_id.in_(only))
    with app.session() as session:
        newest: dict[int, int] = {}
        for digest_id, subscriber_id in session.execute(query.add_columns(Digest.subscriber_id)):
            newest.setdefault(subscriber_id, digest_id)  # one a subscriber: their newest
        return newest


def build_briefings(
    app: App, now: datetime | None = None, only: Collection[int] | None = None
) -> BriefingReport:
    """Build the briefings that are due (subscribers in `only`, or all)."""
    now = now or utcnow()
    report = BriefingReport()
    due = due_digests(app, now, only)
    if due:
        asyncio.run(_build_all(app, due, report))
    report.removed = prune_briefings(app)
    return report


async def _build_all(app: App, digest_ids: list[int], report: BriefingReport) -> None:
    cache, spotter = _cache(app), _spotter(app)
    async with app.http_client() as client:
        with progress("building audio briefings", len(digest_ids)) as bar:
            for digest_id in digest_ids:
                try:
                    await build_one(app, client, cache, spotter, digest_id, report)
                except Exception as exc:  # one subscriber's failure never stops the others
                    log.exception("briefing for digest %s failed", digest_id)
                    _record_failure(app, digest_id, f"{type(exc).__name__}: {exc}", report)
                bar.advance()


def _spotter(app: App) -> WordSpotter | None:
    """Whisper for the clips' check by ear, unless it is switched off."""
    return WordSpotter(app.settings.home / "models") if app.settings.briefing_check_clips else None


def _cache(app: App) -> EnclosureCache:
    s = app.settings
    return EnclosureCache(
        s.home, s.briefing_cache_bytes, s.briefing_cache_days, s.max_audio_bytes, s.audio_deadline_seconds
    )


async def build_one(
    app: App,
    client: HttpClient,
    cache: EnclosureCache,
    spotter: WordSpotter | None,
    digest_id: int,
    report: BriefingReport,
) -> Path:
    with app.session() as session:
        plan = briefing_plan(session, digest_id)
        if not plan.items:  # its insights were deleted since: nothing to play
            raise LookupError(f"digest {digest_id} has no insights left to play")
        episodes = {
            e.id: EpisodeAudio(e.id, e.audio_url, e.audio_type)
            for e in session.scalars(
                sa.select(Episode).where(
                    Episode.id.in_({s.episode_id for i in plan.items for s in i.sources})
                )
            )
        }
    audio: dict[int, ClipAudio | None] = {}
    for item in plan.items:
        for source in item.sources:
            start, end = search_window(source)
            audio[source.insight_id] = await cache.clip_audio(client, episodes[source.episode_id], start, end)

    built = await asyncio.to_thread(_assemble, app, plan, audio, spotter)
    path = write_files(briefings_folder(app, plan.subscriber_id), f"{plan.local_date}-{digest_id}", built)
    _record_success(app, plan, path, built)
    report.built += 1
    report.clips_missing += len(built.clips_missing)
    return path


def _assemble(
    app: App, plan: BriefingPlan, audio: dict[int, ClipAudio | None], spotter: WordSpotter | None
) -> BuiltBriefing:
    """Clips first (Whisper checks them), then the narration (Piper): one model at a time."""
    clips: dict[int, Clip | None] = {}
    for item in plan.items:
        for source in item.sources:
            found = audio.get(source.insight_id)
            clips[source.insight_id] = cut_clip(found, source, spotter) if found is not None else None
    if spotter is not None:
        spotter.release()
    return assemble(plan, app.narrator(), lambda source: clips.get(source.insight_id))


def briefing_plan(session: Session, digest_id: int) -> BriefingPlan:
    """What the briefing plays, from the digest as it was chosen."""
    digest = session.get_one(Digest, digest_id)
    items = session.scalars(
        sa.select(DigestItem).where(DigestItem.digest_id == digest_id).order_by(DigestItem.rank)
    ).all()
    wanted = {item.insight_id for item in items}
    for item in items:
        wanted.update(_side_ids(item.disputes))
    sources = _clip_sources(session, wanted)
    plan_items: list[BriefingItem] = []
    for item in items:
        own = sources.get(item.insight_id)
        if own is None:
            continue
        sides = [sources[i] for i in _side_ids(item.disputes) if i in sources]
        plan_items.append(
            BriefingItem(
                len(plan_items) + 1,
                item.styled_text or item.insight.text,
                sides if len(sides) >= 2 else [own],
            )
        )
    return BriefingPlan(digest.subscriber_id, digest.id, digest.local_date, plan_items)


def _side_ids(disputes: list[Any]) -> list[int]:
    """One telling of each camp of the first dispute: both sides are played."""
    if not disputes:
        return []
    camps = disputes[0].get("sides") or []
    return [int(camp[0]["insight_id"]) for camp in camps[:2] if camp and camp[0].get("insight_id")]


def _clip_sources(session: Session, ids: set[int]) -> dict[int, ClipSource]:
    rows = session.execute(
        sa.select(Insight, Episode, Feed.title, Transcript.segments, Transcript.language)
        .join(Episode, Episode.id == Insight.episode_id)
        .join(Feed, Feed.id == Episode.feed_id)
        .outerjoin(Transcript, Transcript.episode_id == Episode.id)
        .where(Insight.id.in_(sorted(ids)))
    )
    out = {}
    for insight, episode, show, segments, language in rows:
        show_name = show or "an unnamed show"
        out[insight.id] = ClipSource(
            insight_id=insight.id,
            episode_id=episode.id,
            quote=insight.quote,
            speaker=insight.speaker,
            show=show_name,
            episode=episode_title(episode.title, show),
            link=episode.link or listen_link(episode.audio_url, None, insight.start_seconds),
            start=insight.start_seconds,
            end=insight.end_seconds,
            language=language,
            segments=list(segments or []),
        )
    return out


def _record_success(app: App, plan: BriefingPlan, path: Path, built: BuiltBriefing) -> None:
    chapters = [{"start": c.start, "end": c.end, "title": c.title, "url": c.url} for c in built.chapters]
    with app.session() as session:
        row = _briefing_row(session, session.get_one(Digest, plan.digest_id))
        row.state, row.attempts = BriefingState.READY, (row.attempts or 0) + 1
        row.file_name, row.duration_seconds = path.name, built.duration
        row.size_bytes, row.chapters, row.error_reason = path.stat().st_size, chapters, None
        session.commit()


def _briefing_row(session: Session, digest: Digest) -> Briefing:
    """The digest's briefing row, made (unsaved) when it has none yet."""
    row = session.scalar(sa.select(Briefing).where(Briefing.digest_id == digest.id))
    if row is None:
        row = Briefing(subscriber_id=digest.subscriber_id, digest_id=digest.id, local_date=digest.local_date)
        session.add(row)
    return row


def _record_failure(app: App, digest_id: int, reason: str, report: BriefingReport) -> None:
    reason = app.settings.scrub(reason)[:500]
    with app.session() as session:
        digest = session.get(Digest, digest_id)
        if digest is None:
            return
        report.failed[digest.subscriber_id] = reason
        row = _briefing_row(session, digest)
        row.state, row.attempts, row.error_reason = BriefingState.FAILED, (row.attempts or 0) + 1, reason
        session.commit()


def prune_briefings(app: App) -> int:
    """Each subscriber keeps their newest `briefing_keep` briefings; older rows and files go."""
    keep = max(app.settings.briefing_keep, 1)
    ranked = (
        sa.select(
            Briefing.id,
            Briefing.subscriber_id,
            Briefing.file_name,
            sa.func.row_number()
            .over(
                partition_by=Briefing.subscriber_id, order_by=(Briefing.local_date.desc(), Briefing.id.desc())
            )
            .label("n"),
        )
    ).subquery()
    with app.session() as session:
        old = session.execute(sa.select(ranked).where(ranked.c.n > keep)).all()
        for row in old:
            if row.file_name:
                _remove_files(briefings_folder(app, row.subscriber_id), row.file_name)
        if old:
            session.execute(sa.delete(Briefing).where(Briefing.id.in_([r.id for r in old])))
            session.commit()
    return len(old)


def _remove_files(folder: Path, file_name: str) -> None:
    stem = Path(file_name).stem
    for suffix in (".mp3", ".json", ".vtt"):
        (folder / f"{stem}{suffix}").unlink(missing_ok=True)


def briefing_now(app: App, subscriber: Subscriber, day: str | None = None) -> Path:
    """Build (again) the briefing of one recorded digest and return its MP3: the CLI's."""
    with app.session() as session:
        day = day or local_date(subscriber, utcnow())[0]
        digest_id = session.scalar(
            sa.select(Digest.id).where(Digest.subscriber_id == subscriber.id, Digest.local_date == day)
        )
    if digest_id is None:
        raise LookupError(f"no digest recorded for {day}")
    report = BriefingReport()

    async def once() -> Path:
        async with app.http_client() as client:
            return await build_one(app, client, _cache(app), _spotter(app), digest_id, report)

    return asyncio.run(once())
