"""The insights stage: transcribed episodes -> grounded insights in the database."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field, replace
from datetime import datetime

import sqlalchemy as sa
from rapidfuzz import fuzz
from sqlalchemy.orm import Session

from podsift.core import App
from podsift.insights.grounding import Grounded, ground
from podsift.insights.offline import background_vocabulary, is_name
from podsift.insights.quality import candidate_problem
from podsift.insights.registry import BudgetExhausted, Candidate, EpisodeInfo, ExtractionError
from podsift.progress import progress
from podsift.store import Episode, Insight, utcnow
from podsift.store import Transcript as TranscriptRow
from podsift.transcripts.stage import load_transcript

log = logging.getLogger(__name__)


@dataclass
class InsightReport:
    episodes: int = 0
    insights: int = 0
    dropped_ungrounded: int = 0
    dropped_floor: dict[str, int] = field(default_factory=dict)  # refused by the quality floor, by reason
    failed: dict[int, str] = field(default_factory=dict)


def episode_info(episode: Episode) -> EpisodeInfo:
    return EpisodeInfo(
        show=episode.feed.title,
        title=episode.title,
        description=episode.description,
        persons=tuple(p["name"] for p in episode.persons or [] if p.get("name")),
        key=f"{episode.feed.url}|{episode.key}",
        link=episode.link,
        episode_id=episode.id,
        chapters=tuple((float(c["start"]), str(c["title"])) for c in episode.chapters or []),
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
            except BudgetExhausted as exc:
                report.failed[episode_id] = str(exc)
                log.warning("%s; %d episode(s) wait for the next run", exc, len(ids) - report.episodes)
                break
            except ExtractionError as exc:  # invalid answers, API errors after retries
                app.mark_episode(episode_id, "llm_failed", str(exc))
                report.failed[episode_id] = str(exc)
            except Exception as exc:  # one bad episode never stops the run
                log.exception("insight extraction failed for episode %s", episode_id)
                app.mark_episode(episode_id, "failed", f"extraction: {type(exc).__name__}: {exc}")
                report.failed[episode_id] = str(exc)
            bar.advance()
    return report


def merge_near_copies(
    grounded: list[tuple[Candidate, Grounded]], limit: int
) -> list[tuple[Candidate, Grounded]]:
    """Overlapping chunks and repetitive episodes yield near-copies: keep the best of each."""
    kept: list[tuple[Candidate, Grounded]] = []
    for candidate, where in sorted(grounded, key=lambda pair: -pair[0].score):
        if any(
            fuzz.token_set_ratio(where.quote, other.quote) >= 85
            or fuzz.token_set_ratio(candidate.text, c.text) >= 85
            for c, other in kept
        ):
            continue
        kept.append((candidate, where))
        if len(kept) >= limit:
            break
    return kept


BACKGROUND_EPISODES = 10


def show_background(session: Session, episode: Episode) -> dict[str, float]:
    """The vocabulary of the show's most recent other transcribed episodes."""
    rows = session.scalars(
        sa.select(TranscriptRow.segments)
        .join(Episode, Episode.id == TranscriptRow.episode_id)
        .where(Episode.feed_id == episode.feed_id, Episode.id != episode.id)
        .order_by(Episode.published_at.desc().nulls_last())
        .limit(BACKGROUND_EPISODES)
    )
    return background_vocabulary([" ".join(str(s["text"]) for s in segments) for segments in rows])


def _extract_one(app: App, episode_id: int, report: InsightReport, now: datetime) -> None:
    # Read, extract, write: no transaction stays open while a model is thinking.
    with app.session() as session:
        episode = session.get_one(Episode, episode_id)
        if episode.state != "transcribed" or episode.transcript is None:
            return
        transcript = load_transcript(episode.transcript)
        info = episode_info(episode)
        if getattr(app.extractor, "uses_background", False):
            info = replace(info, background=show_background(session, episode))
    candidates = app.extractor.extract(info, transcript, app.settings.insights_per_episode)
    grounded_candidates = []
    for candidate in candidates:
        grounded = ground(candidate.quote, transcript)
        if grounded is None:
            report.dropped_ungrounded += 1
            continue
        # The transcript's own label beats the model's guess of who spoke.
        speaker = grounded.speaker if grounded.speaker and is_name(grounded.speaker) else candidate.speaker
        problem = candidate_problem(candidate.text, grounded.quote, speaker)
        if problem:
            report.dropped_floor[problem] = report.dropped_floor.get(problem, 0) + 1
            continue
        grounded_candidates.append((replace(candidate, speaker=speaker), grounded))
    rows: dict[str, Insight] = {}
    for candidate, where in merge_near_copies(grounded_candidates, app.settings.insights_per_episode):
        quote_hash = hashlib.sha256(where.quote.encode()).hexdigest()
        rows.setdefault(
            quote_hash,
            Insight(
                episode_id=episode_id,
                text=candidate.text,
                quote=where.quote,
                quote_hash=quote_hash,
                speaker=candidate.speaker,
                start_seconds=where.start,
                end_seconds=where.end,
                score=candidate.score,
                topics=candidate.tags,
                importance=candidate.importance,
                novelty=candidate.novelty,
                confidence=candidate.confidence,
                extractor=app.extractor.name,
                created_at=now,
            ),
        )
    with app.session() as session:
        episode = session.get_one(Episode, episode_id)
        if episode.state != "transcribed":
            return  # another worker finished it meanwhile
        session.add_all(rows.values())
        episode.state = "extracted"
        session.commit()
    report.insights += len(rows)
    report.episodes += 1
