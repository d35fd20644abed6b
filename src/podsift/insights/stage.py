"""The insights stage: transcribed episodes -> grounded insights in the database."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from podsift.core import App
from podsift.insights.grounding import ground
from podsift.insights.registry import EpisodeInfo
from podsift.progress import progress
from podsift.store import Episode, Insight, utcnow
from podsift.transcripts.stage import load_transcript

log = logging.getLogger(__name__)


@dataclass
class InsightReport:
    episodes: int = 0
    insights: int = 0
    dropped_ungrounded: int = 0
    failed: dict[int, str] = field(default_factory=dict)


def episode_info(episode: Episode) -> EpisodeInfo:
    return EpisodeInfo(
        show=episode.feed.title,
        title=episode.title,
        description=episode.description,
        persons=tuple(p["name"] for p in episode.persons or [] if p.get("name")),
    )


def extract_insights(app: App, now: datetime | None = None) -> InsightReport:
    report = InsightReport()
    now = now or utcnow()
    with app.session() as session:
        ids = list(
            session.scalars(sa.select(Episode.id).where(Episode.state == "transcribed").order_by(Episode.id))
        )
    with progress("extracting insights", len(ids)) as bar:
        for episode_id in ids:
            try:
                _extract_one(app, episode_id, report, now)
            except Exception as exc:  # one bad episode never stops the run
                log.exception("insight extraction failed for episode %s", episode_id)
                with app.session() as session:
                    session.execute(
                        sa.update(Episode)
                        .where(Episode.id == episode_id)
                        .values(
                            state="failed", error_reason=f"extraction: {type(exc).__name__}: {exc}"[:2000]
                        )
                    )
                    session.commit()
                report.failed[episode_id] = str(exc)
            bar.advance()
    return report


def _extract_one(app: App, episode_id: int, report: InsightReport, now: datetime) -> None:
    with app.session() as session:
        episode = session.get_one(Episode, episode_id)
        if episode.state != "transcribed" or episode.transcript is None:
            return
        transcript = load_transcript(episode.transcript)
        candidates = app.extractor.extract(
            episode_info(episode), transcript, app.settings.insights_per_episode
        )
        seen: set[str] = set()
        for candidate in candidates:
            grounded = ground(candidate.quote, transcript)
            if grounded is None:
                report.dropped_ungrounded += 1
                continue
            quote, start, end = grounded
            quote_hash = hashlib.sha256(quote.encode()).hexdigest()
            if quote_hash in seen:
                continue
            seen.add(quote_hash)
            session.add(
                Insight(
                    episode_id=episode.id,
                    text=candidate.text,
                    quote=quote,
                    quote_hash=quote_hash,
                    speaker=candidate.speaker,
                    start_seconds=start,
                    end_seconds=end,
                    score=candidate.score,
                    extractor=app.extractor.name,
                    created_at=now,
                )
            )
            report.insights += 1
        episode.state = "extracted"
        session.commit()
        report.episodes += 1
