"""The speech-to-text stage: episodes marked `needs_asr` get a transcript from their audio.

The enclosure streams to a temporary file through the guarded client (size cap, content
sanity, resume after a dropped connection, checksum), is transcribed by the configured
backend, and is deleted unless `keep_audio` is set. Transcripts are cached by the audio's
sha256, so the same file is never transcribed twice. One bad episode never stops the run.
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
import tempfile
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import sqlalchemy as sa

from podsift.backends.asr.registry import SpeechToText, TranscriptionError
from podsift.net.client import FetchError, HttpClient
from podsift.progress import progress
from podsift.store import Episode, EpisodeState
from podsift.store import Transcript as TranscriptRow
from podsift.store.passages import index_transcript
from podsift.types import Transcript

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 3
_REFUSED_TYPES = ("text/", "application/json", "application/xml", "application/xhtml", "application/rss")
_AUDIO_SUFFIXES = (
    ".mp3",
    ".m4a",
    ".mp4",
    ".aac",
    ".ogg",
    ".oga",
    ".opus",
    ".wav",
    ".flac",
    ".webm",
    ".m4v",
    ".mov",
)

if TYPE_CHECKING:
    from podsift.core import App


@dataclass
class SpeechReport:
    transcribed: int = 0
    cached: int = 0
    waiting: int = 0  # ASR switched off, or a transient failure to retry later
    failed: dict[int, str] = field(default_factory=dict)
    audio_seconds: float = 0.0


def refuse_non_audio(content_type: str, first_bytes: bytes) -> str | None:
    """Feeds point at HTML pages (paywalls, error pages) more often than one would think."""
    ctype = content_type.split(";")[0].strip().lower()
    if ctype.startswith(_REFUSED_TYPES):
        return f"expected audio, got {ctype}"
    head = first_bytes.lstrip()[:64].lower()
    if head.startswith((b"<!doctype html", b"<html", b"<?xml", b"{")):
        return "expected audio, got a text document"
    return None


def audio_suffix(url: str, content_type: str | None) -> str:
    suffix = Path(urlsplit(url).path).suffix.lower()
    if suffix in _AUDIO_SUFFIXES:
        return suffix
    guessed = mimetypes.guess_extension((content_type or "").split(";")[0].strip()) or ""
    return guessed if guessed in _AUDIO_SUFFIXES else ".audio"


def transcribe_pending(app: App, only: Collection[int] | None = None) -> SpeechReport:
    """Transcribe the audio of episodes without a publisher transcript (or those in `only`),
    newest first, up to `asr_episodes_per_run`."""
    return asyncio.run(transcribe_pending_async(app, only))


def audio_episodes(app: App, only: Collection[int] | None = None) -> list[int]:
    """Episodes waiting for speech to text, newest first."""
    query = (
        sa.select(Episode.id)
        .where(Episode.state == EpisodeState.NEEDS_ASR)
        .order_by(Episode.published_at.desc().nulls_last(), Episode.id)
    )
    if only is not None:
        query = query.where(Episode.id.in_(only))
    with app.session() as session:
        return list(session.scalars(query))


async def transcribe_pending_async(app: App, only: Collection[int] | None = None) -> SpeechReport:
    report = SpeechReport()
    ids = audio_episodes(app, only)
    if not ids:  # no model is loaded for nothing
        return report
    backend = app.speech_to_text()
    if backend is None:
        report.waiting = len(ids)
        return report
    limit = max(app.settings.asr_episodes_per_run, 0)
    ids, report.waiting = ids[:limit], max(len(ids) - limit, 0)
    async with app.http_client() as client:
        with progress("transcribing audio", len(ids)) as bar:
            for episode_id in ids:
                try:
                    await _transcribe_episode(app, client, backend, episode_id, report)
                except Exception as exc:  # one bad episode never stops the run
                    log.exception("speech to text failed for episode %s", episode_id)
                    app.mark_episode(
                        episode_id, EpisodeState.FAILED, f"speech to text: {type(exc).__name__}: {exc}"
                    )
                    report.failed[episode_id] = str(exc)
                bar.advance()
    return report


async def _transcribe_episode(
    app: App, client: HttpClient, backend: SpeechToText, episode_id: int, report: SpeechReport
) -> None:
    with app.session() as session:
        episode = session.get_one(Episode, episode_id)
        if episode.state != EpisodeState.NEEDS_ASR or not episode.audio_url:
            return
        url, audio_type, attempts = episode.audio_url, episode.audio_type, episode.attempts
    folder = (
        app.settings.home / "audio" if app.settings.keep_audio else Path(tempfile.mkdtemp(prefix="podsift-"))
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"episode-{episode_id}{audio_suffix(url, audio_type)}"
    try:
        try:
            download = await client.download(
                url,
                path,
                max_bytes=app.settings.max_audio_bytes,
                deadline=app.settings.audio_deadline_seconds,
                accept=refuse_non_audio,
            )
        except FetchError as exc:
            if exc.permanent or attempts + 1 >= MAX_ATTEMPTS:
                app.mark_episode(episode_id, EpisodeState.FAILED, f"audio download: {exc.reason}")
                report.failed[episode_id] = exc.reason
            else:
                app.mark_episode(
                    episode_id, EpisodeState.NEEDS_ASR, f"audio download: {exc.reason}", attempt=True
                )
                report.waiting += 1
            return
        cached = _cached_transcript(app, download.sha256)
        if cached is not None:
            transcript, source = cached
            report.cached += 1
        else:
            try:
                transcript = await asyncio.to_thread(backend.transcribe, download.path)
            except TranscriptionError as exc:
                app.mark_episode(episode_id, EpisodeState.FAILED, str(exc))
                report.failed[episode_id] = str(exc)
                return
            source = f"asr:{backend.name}"
            report.transcribed += 1
            report.audio_seconds += transcript.duration
        if not transcript.segments:
            app.mark_episode(episode_id, EpisodeState.FAILED, "no speech found in the audio")
            report.failed[episode_id] = "no speech found in the audio"
            return
        _store(app, episode_id, transcript, source, download.sha256)
    finally:
        if not app.settings.keep_audio:
            path.unlink(missing_ok=True)
            path.parent.rmdir()


def _cached_transcript(app: App, audio_sha256: str) -> tuple[Transcript, str] | None:
    with app.session() as session:
        row = session.scalar(
            sa.select(TranscriptRow).where(TranscriptRow.audio_sha256 == audio_sha256).limit(1)
        )
        if row is None:
            return None
        transcript = Transcript.from_json(row.segments, row.format)
        transcript.language = row.language
        return transcript, row.source


def _store(app: App, episode_id: int, transcript: Transcript, source: str, audio_sha256: str) -> None:
    with app.session() as session:
        episode = session.get_one(Episode, episode_id)
        if episode.state != EpisodeState.NEEDS_ASR:
            return  # another worker finished it meanwhile
        session.add(
            TranscriptRow(
                episode_id=episode_id,
                source=source,
                format=transcript.format,
                url=episode.audio_url,
                language=transcript.language,
                content_hash=transcript.content_hash(),
                audio_sha256=audio_sha256,
                segments=transcript.to_json(),
            )
        )
        index_transcript(session, episode_id, transcript.to_json())  # searchable from this commit
        episode.state, episode.error_reason = EpisodeState.TRANSCRIBED, None
        session.commit()
