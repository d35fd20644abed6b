"""The transcripts stage: fetch the best publisher transcript of each new episode.

Episodes without one wait as `needs_asr` (the speech-to-text stage picks them up), or are
`skipped` when there is no audio either. A transcript host that fails is retried on later
runs; after `MAX_ATTEMPTS` the episode falls through to ASR.
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


async def fetch_best_transcript(
    client: HttpClient, entries: list[dict[str, str | None]], max_bytes: int
) -> tuple[Transcript | None, list[str]]:
    problems: list[str] = []
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
            continue
        transcript.language = entry.get("language")
        return transcript, problems
    return None, problems


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


def new_episodes(app: App, only: Collection[int] | None = None) -> list[int]:
    """Episodes waiting for a publisher transcript, oldest first."""
    query = sa.select(Episode.id).where(Episode.state == EpisodeState.NEW).order_by(Episode.id)
    if only is not None:
        query = query.where(Episode.id.in_(only))
    with app.session() as session:
        return list(session.scalars(query))


async def fetch_transcripts_async(app: App, only: Collection[int] | None = None) -> TranscriptReport:
    report = TranscriptReport()
    ids = new_episodes(app, only)
    async with app.http_client() as client:
        with progress("fetching transcripts", len(ids)) as bar:
            for episode_id in ids:
                try:
                    await _process_episode(app, client, episode_id, report)
                except Exception as exc:  # one bad episode never stops the run
                    log.exception("transcript of episode %s failed", episode_id)
                    reason = f"transcript: {type(exc).__name__}: {exc}"
                    app.mark_episode(episode_id, EpisodeState.FAILED, reason)
                    report.failed[episode_id] = reason
                bar.advance()
    return report


async def _process_episode(app: App, client: HttpClient, episode_id: int, report: TranscriptReport) -> None:
    # Read, fetch, write: no database transaction stays open across network I/O.
    with app.session() as session:
        episode = session.get_one(Episode, episode_id)
        if episode.state != EpisodeState.NEW:
            return
        entries = list(episode.transcripts or [])
        chapters_url = episode.chapters_url if episode.chapters is None else None
    transcript, problems = await fetch_best_transcript(client, entries, app.settings.max_transcript_bytes)
    chapters = await fetch_chapters(client, chapters_url) if chapters_url else None
    with app.session() as session:
        episode = session.get_one(Episode, episode_id)
        if episode.state != EpisodeState.NEW:
            return  # another worker got here first
        if chapters is not None:
            episode.chapters = chapters
        if transcript is not None:
            session.add(
                TranscriptRow(
                    episode_id=episode.id,
                    source="publisher",
                    format=transcript.format,
                    url=transcript.source_url,
                    language=transcript.language,
                    content_hash=transcript.content_hash(),
                    segments=transcript.to_json(),
                )
            )
            episode.state, episode.error_reason = EpisodeState.TRANSCRIBED, None
            report.fetched += 1
        elif problems and episode.attempts + 1 < MAX_ATTEMPTS:
            episode.attempts += 1
            episode.error_reason = "; ".join(problems)[:2000]
            report.failed[episode.id] = episode.error_reason
        elif episode.audio_url:
            episode.state, episode.attempts = EpisodeState.NEEDS_ASR, 0
            episode.error_reason = "; ".join(problems)[:2000] or None
            report.needs_asr += 1
        else:
            episode.state = EpisodeState.SKIPPED
            episode.error_reason = "no publisher transcript and no audio enclosure"
            report.skipped += 1
        session.commit()


def load_transcript(row: TranscriptRow) -> Transcript:
    transcript = Transcript.from_json(row.segments, row.format)
    transcript.language = row.language
    transcript.source_url = row.url
    return transcript
