"""The transcripts stage: fetch the best publisher transcript of each new episode.

Episodes without one wait as `needs_asr` (the speech-to-text stage picks them up), or are
`skipped` when there is no audio either. A transcript host that fails for a while (a
timeout, a 5xx) is retried on later runs; after `MAX_ATTEMPTS`, or at once when every
failure is permanent (a 404, a refused address, an unreadable file), the episode falls
through to ASR. Episodes are fetched concurrently (`fetch_concurrency`).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from podsift.net.client import FetchError, HttpClient
from podsift.progress import progress
from podsift.store import Episode, EpisodeState
from podsift.store import Transcript as TranscriptRow
from podsift.store.passages import index_transcript
from podsift.transcripts.parsers import TranscriptParseError, parse_transcript
from podsift.types import Transcript

if TYPE_CHECKING:
    from podsift.core import App

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 3

# Richest first: JSON and WebVTT carry speakers and fine timing; plain text rarely has either.
_PREFERENCE = ("json", "vtt", "srt", "subrip", "html", "text/plain")


def transcript_rank(entry: dict[str, str | None]) -> tuple[int, int]:
    kind = (entry.get("type") or entry.get("url") or "").lower()
    position = next((i for i, key in enumerate(_PREFERENCE) if key in kind), len(_PREFERENCE))
    return position, 1 if entry.get("rel") == "captions" else 0


@dataclass
class TranscriptReport:
    fetched: int = 0
    needs_asr: int = 0
    skipped: int = 0
    failed: dict[int, str] = field(default_factory=dict)


@dataclass
class FetchedTranscript:
    transcript: Transcript | None
    problems: list[str] = field(default_factory=list)
    # Whether a later try might succeed: some failure was not permanent.
    worth_retrying: bool = False


async def fetch_best_transcript(
    client: HttpClient, entries: list[dict[str, str | None]], max_bytes: int
) -> FetchedTranscript:
    problems: list[str] = []
    transient = False
    for entry in sorted(entries, key=transcript_rank):
        url = entry.get("url")
        if not url:
            continue
        try:
            result = await client.fetch(url, max_bytes=max_bytes)
            transcript = parse_transcript(
                result.body, entry.get("type") or result.headers.get("content-type"), url
            )
        except (FetchError, TranscriptParseError) as exc:
            problems.append(f"{url}: {exc}")
            transient = transient or (isinstance(exc, FetchError) and not exc.permanent)
            continue
        transcript.language = entry.get("language")
        return FetchedTranscript(transcript, problems)
    return FetchedTranscript(None, problems, transient)


async def fetch_chapters(client: HttpClient, url: str) -> list[dict[str, Any]]:
    """Podcasting 2.0 chapters JSON -> [{"start", "title"}]; [] when unreadable (not retried)."""
    try:
        result = await client.fetch(url, max_bytes=1024 * 1024)
        data = json.loads(result.body)
        chapters: list[dict[str, Any]] = [
            {"start": float(c.get("startTime", 0)), "title": " ".join(str(c["title"]).split())[:200]}
            for c in data.get("chapters", [])
            if isinstance(c, dict) and c.get("title") and c.get("toc", True) is not False
        ]
    except (FetchError, ValueError, TypeError, AttributeError) as exc:
        log.info("chapters at %s unreadable: %s", url, exc)
        return []
    return sorted(chapters, key=lambda c: float(c["start"]))[:100]


def fetch_transcripts(app: App, only: Collection[int] | None = None) -> TranscriptReport:
    """Fetch the publisher transcript of every new episode (or of the new ones in `only`)."""
    return asyncio.run(fetch_transcripts_async(app, only))


def _new(*columns: Any, only: Collection[int] | None = None) -> sa.Select[Any]:
    """`columns` of the episodes waiting for a publisher transcript, oldest first."""
    query = sa.select(*columns).where(Episode.state == EpisodeState.NEW).order_by(Episode.id)
    return query.where(Episode.id.in_(only)) if only is not None else query


def new_episodes(app: App, only: Collection[int] | None = None) -> list[int]:
    """Episodes waiting for a publisher transcript, oldest first."""
    with app.session() as session:
        return list(session.scalars(_new(Episode.id, only=only)))


@dataclass
class _Pending:
    """What fetching one episode's transcript needs, read for all of them in one query."""

    episode_id: int
    entries: list[dict[str, str | None]]
    chapters_url: str | None
    attempts: int
    audio_url: str | None


@dataclass
class _Fetched:
    pending: _Pending
    result: FetchedTranscript
    chapters: list[dict[str, Any]] | None


COMMIT_EVERY = 200  # outcomes written per transaction: one fsync per batch, not per episode


async def fetch_transcripts_async(app: App, only: Collection[int] | None = None) -> TranscriptReport:
    report = TranscriptReport()
    pending = _pending(app, only)
    semaphore = asyncio.Semaphore(max(app.settings.fetch_concurrency, 1))
    batch: list[_Fetched] = []
    async with app.http_client() as client:
        with progress("fetching transcripts", len(pending)) as bar:

            async def one(item: _Pending) -> None:
                async with semaphore:
                    try:
                        batch.append(await _fetch(client, item, app.settings.max_transcript_bytes))
                    except Exception as exc:  # one bad episode never stops the run
                        _failed(app, item.episode_id, exc, report)
                if len(batch) >= COMMIT_EVERY:
                    _store_batch(app, batch[:], report)
                    batch.clear()
                bar.advance()

            await asyncio.gather(*(one(item) for item in pending))
    _store_batch(app, batch, report)
    return report


def _pending(app: App, only: Collection[int] | None) -> list[_Pending]:
    columns = (Episode.id, Episode.transcripts, Episode.chapters_url, Episode.chapters, Episode.attempts)
    with app.session() as session:
        rows = session.execute(_new(*columns, Episode.audio_url, only=only)).all()
    return [
        _Pending(
            r.id,
            list(r.transcripts or []),
            r.chapters_url if r.chapters is None else None,
            r.attempts,
            r.audio_url,
        )
        for r in rows
    ]


async def _fetch(client: HttpClient, item: _Pending, max_bytes: int) -> _Fetched:
    # No database transaction stays open across network I/O: reads before, writes after.
    result = await fetch_best_transcript(client, item.entries, max_bytes)
    chapters = await fetch_chapters(client, item.chapters_url) if item.chapters_url else None
    return _Fetched(item, result, chapters)


def _failed(app: App, episode_id: int, exc: Exception, report: TranscriptReport) -> None:
    log.exception("transcript of episode %s failed", episode_id)
    reason = f"transcript: {type(exc).__name__}: {exc}"
    app.mark_episode(episode_id, EpisodeState.FAILED, reason)
    report.failed[episode_id] = reason


def _store_batch(app: App, batch: list[_Fetched], report: TranscriptReport) -> None:
    """Write a batch of outcomes in one transaction; if that fails, each on its own, so one
    episode whose data cannot be stored fails alone."""
    if not batch:
        return
    try:
        _store(app, batch, report)
    except Exception:
        if len(batch) == 1:
            raise
        for fetched in batch:
            try:
                _store(app, [fetched], report)
            except Exception as exc:
                _failed(app, fetched.pending.episode_id, exc, report)


def _store(app: App, batch: list[_Fetched], report: TranscriptReport) -> None:
    changes = TranscriptReport()
    with app.session() as session:
        ids = [f.pending.episode_id for f in batch]
        still_new = set(
            session.scalars(
                sa.select(Episode.id)
                .where(Episode.id.in_(ids), Episode.state == EpisodeState.NEW)
                .with_for_update()
            )
        )
        updates, rows = [], []
        for fetched in batch:
            if fetched.pending.episode_id not in still_new:
                continue  # another worker got here first
            values, row = _outcome(fetched, changes)
            updates.append(values)
            if row is not None:
                rows.append(row)
        if updates:
            session.execute(sa.update(Episode), updates)  # by primary key, one executemany
        session.add_all(rows)
        for row in rows:  # searchable from the same commit on
            index_transcript(session, row.episode_id, row.segments)
        session.commit()
    report.fetched += changes.fetched
    report.needs_asr += changes.needs_asr
    report.skipped += changes.skipped
    report.failed.update(changes.failed)


def _outcome(fetched: _Fetched, report: TranscriptReport) -> tuple[dict[str, Any], TranscriptRow | None]:
    """The episode's new columns, and its transcript row when one was found."""
    item, transcript, problems = fetched.pending, fetched.result.transcript, fetched.result.problems
    values: dict[str, Any] = {"id": item.episode_id}
    if fetched.chapters is not None:
        values["chapters"] = fetched.chapters
    if transcript is not None:
        report.fetched += 1
        values.update(state=EpisodeState.TRANSCRIBED, error_reason=None)
        row = TranscriptRow(
            episode_id=item.episode_id,
            source="publisher",
            format=transcript.format,
            url=transcript.source_url,
            language=transcript.language,
            content_hash=transcript.content_hash(),
            segments=transcript.to_json(),
        )
        return values, row
    reason = "; ".join(problems)[:2000] or None
    if fetched.result.worth_retrying and item.attempts + 1 < MAX_ATTEMPTS:
        values.update(attempts=item.attempts + 1, error_reason=reason)
        report.failed[item.episode_id] = reason or ""
    elif item.audio_url:
        values.update(state=EpisodeState.NEEDS_ASR, attempts=0, error_reason=reason)
        report.needs_asr += 1
    else:
        values.update(
            state=EpisodeState.SKIPPED, error_reason="no publisher transcript and no audio enclosure"
        )
        report.skipped += 1
    return values, None


def load_transcript(row: TranscriptRow) -> Transcript:
    transcript = Transcript.from_json(row.segments, row.format)
    transcript.language = row.language
    transcript.source_url = row.url
    return transcript
