"""The insights stage: transcribed episodes -> grounded insights in the database."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa
from rapidfuzz import fuzz

from podsift.insights.grounding import Grounded, ground
from podsift.insights.passages import is_name
from podsift.insights.quality import candidate_problem, fact_problem
from podsift.insights.registry import BudgetExhausted, Candidate, EpisodeInfo, ExtractionError
from podsift.progress import progress
from podsift.store import Episode, EpisodeState, Feed, Insight, rows_changed, utcnow
from podsift.transcripts.stage import load_transcript

if TYPE_CHECKING:
    from podsift.core import App

log = logging.getLogger(__name__)


@dataclass
class InsightReport:
    episodes: int = 0
    insights: int = 0
    dropped_ungrounded: int = 0
    dropped_floor: dict[str, int] = field(default_factory=dict)  # refused by the quality floor, by reason
    failed: dict[int, str] = field(default_factory=dict)
    waiting: int = 0  # left for the next run (wall-time or token budget spent)
    stopped: str | None = None  # why extraction stopped early, if it did

    def merge(self, other: InsightReport) -> None:
        self.episodes += other.episodes
        self.insights += other.insights
        self.dropped_ungrounded += other.dropped_ungrounded
        for reason, count in other.dropped_floor.items():
            self.dropped_floor[reason] = self.dropped_floor.get(reason, 0) + count
        self.failed.update(other.failed)
        self.waiting = other.waiting
        self.stopped = other.stopped or self.stopped


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


RETRY_BASE_MINUTES = 30  # then 2 h, 8 h, 24 h: a model server that was down gets time to recover
RETRY_MAX_ATTEMPTS = 5


def retry_delay(attempts: int) -> timedelta:
    return timedelta(minutes=min(RETRY_BASE_MINUTES * 4 ** max(attempts - 1, 0), 24 * 60))


def due_extractions(app: App, now: datetime, only: Collection[int] | None = None) -> list[tuple[int, float]]:
    """(episode id, duration) of transcribed episodes and of failed ones whose retry time
    has come, oldest first."""
    due = sa.or_(
        Episode.state == EpisodeState.TRANSCRIBED,
        sa.and_(
            Episode.state == EpisodeState.LLM_FAILED,
            Episode.attempts < RETRY_MAX_ATTEMPTS,
            sa.or_(Episode.retry_at.is_(None), Episode.retry_at <= now),
        ),
    )
    query = sa.select(Episode.id, Episode.duration_seconds).where(due).order_by(Episode.id)
    if only is not None:
        query = query.where(Episode.id.in_(only))
    with app.session() as session:
        return [(episode_id, float(duration or 1800)) for episode_id, duration in session.execute(query)]


def extract_insights(
    app: App, now: datetime | None = None, only: Collection[int] | None = None
) -> InsightReport:
    """Extract from every due episode (or the due ones in `only`) within the run's
    wall-time budget for extraction."""
    report = InsightReport()
    now = now or utcnow()
    budget = app.settings.extract_budget_seconds
    work = due_extractions(app, now, only)
    started = time.monotonic()
    weights = [duration for _, duration in work]  # remaining time scales with audio
    with progress("extracting insights", len(work), weights) as bar:
        for (episode_id, _), weight in zip(work, weights, strict=True):
            if budget and time.monotonic() - started > budget:
                report.waiting = len(work) - bar.done
                report.stopped = f"the extraction budget of {budget:.0f} s for this run is spent"
                log.warning("%s; %d episode(s) wait for the next run", report.stopped, report.waiting)
                break
            try:
                _extract_one(app, episode_id, report, now)
            except BudgetExhausted as exc:
                report.waiting, report.stopped = len(work) - bar.done, str(exc)
                log.warning("%s; %d episode(s) wait for the next run", exc, report.waiting)
                break
            except ExtractionError as exc:  # the model server down, every request refused
                _mark_llm_failed(app, episode_id, str(exc), now)
                report.failed[episode_id] = str(exc)
            except Exception as exc:  # one bad episode never stops the run
                log.exception("insight extraction failed for episode %s", episode_id)
                app.mark_episode(episode_id, EpisodeState.FAILED, f"extraction: {type(exc).__name__}: {exc}")
                report.failed[episode_id] = str(exc)
            bar.advance(weight=weight)
    return report


def _mark_llm_failed(app: App, episode_id: int, reason: str, now: datetime) -> None:
    with app.session() as session:
        episode = session.get_one(Episode, episode_id)
        episode.attempts += 1
        episode.state, episode.error_reason = EpisodeState.LLM_FAILED, reason[:2000]
        # After the last attempt only `podsift episodes retry` brings it back.
        episode.retry_at = (
            now + retry_delay(episode.attempts) if episode.attempts < RETRY_MAX_ATTEMPTS else None
        )
        session.commit()


@dataclass
class FailedEpisode:
    id: int
    show: str | None
    title: str | None
    attempts: int
    retry_at: datetime | None
    reason: str | None
    state: str = EpisodeState.LLM_FAILED


def failed_episodes(app: App) -> list[FailedEpisode]:
    """Episodes whose transcript, speech to text or extraction failed, with the reason."""
    with app.session() as session:
        rows = session.execute(
            sa.select(
                Episode.id,
                Feed.title,
                Episode.title,
                Episode.attempts,
                Episode.retry_at,
                Episode.error_reason,
                Episode.state,
            )
            .join(Feed, Feed.id == Episode.feed_id)
            .where(Episode.state.in_((EpisodeState.LLM_FAILED, EpisodeState.FAILED)))
            .order_by(Episode.id)
        ).all()
    return [FailedEpisode(*row) for row in rows]


def requeue_failed(app: App, episode_ids: list[int] | None = None) -> int:
    """Put failed extractions (all, or these) back in the queue for the next run."""
    with app.session() as session:
        query = sa.update(Episode).where(Episode.state == EpisodeState.LLM_FAILED)
        if episode_ids:
            query = query.where(Episode.id.in_(episode_ids))
        result = session.execute(
            query.values(state=EpisodeState.TRANSCRIBED, attempts=0, retry_at=None, error_reason=None)
        )
        session.commit()
    return rows_changed(result)


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


def _extract_one(app: App, episode_id: int, report: InsightReport, now: datetime) -> None:
    # Read, extract, write: no transaction stays open while a model is thinking.
    with app.session() as session:
        episode = session.get_one(Episode, episode_id)
        if (
            episode.state not in (EpisodeState.TRANSCRIBED, EpisodeState.LLM_FAILED)
            or episode.transcript is None
        ):
            return
        transcript = load_transcript(episode.transcript)
        info = episode_info(episode)
    candidates = app.extractor.extract(info, transcript, app.settings.insights_per_episode)
    grounded_candidates = []
    for candidate in candidates:
        grounded = ground(candidate.quote, transcript)
        if grounded is None:
            report.dropped_ungrounded += 1
            continue
        # The transcript's own label beats the model's guess of who spoke.
        speaker = grounded.speaker if grounded.speaker and is_name(grounded.speaker) else candidate.speaker
        floor = fact_problem if app.extractor.name == "offline" else candidate_problem
        problem = floor(candidate.text, grounded.quote, speaker)
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
        if episode.state not in (EpisodeState.TRANSCRIBED, EpisodeState.LLM_FAILED):
            return  # another worker finished it meanwhile
        session.add_all(rows.values())
        episode.state, episode.retry_at, episode.error_reason = EpisodeState.EXTRACTED, None, None
        session.commit()
    report.insights += len(rows)
    report.episodes += 1
