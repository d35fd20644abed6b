"""Choose a subscriber's top N insights for a day.

Eligible: insights from episodes published (or insights found) since the subscriber's last
digest, never one already sent to them. Score: lexical relevance to their interests, the
extractor's own score and recency. At most one insight per episode unless too few remain.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session, joinedload

from podsift.store import Digest, DigestItem, Episode, Insight, Subscriber

_TOKEN = re.compile(r"[a-z0-9][a-z0-9+#.-]*")
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "the",
        "of",
        "in",
        "on",
        "for",
        "to",
        "with",
        "about",
        "from",
        "by",
        "or",
        "at",
        "is",
        "are",
        "ai's",
    ]
)

WEIGHT_RELEVANCE = 0.6
WEIGHT_QUALITY = 0.3
WEIGHT_RECENCY = 0.1


@dataclass
class Pick:
    insight: Insight
    score: float
    why: str


def interest_phrases(interests: str) -> list[str]:
    return [p.strip() for p in re.split(r"[,;\n]", interests or "") if p.strip()]


def _stem(token: str) -> str:
    token = token.strip(".-")
    for suffix in ("ies", "es", "s"):
        if len(token) > 4 and token.endswith(suffix):
            return token[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return token


def _tokens(text: str) -> set[str]:
    return {_stem(t) for t in _TOKEN.findall(text.lower()) if t not in _STOP}


def relevance(phrases: list[str], text: str) -> tuple[float, str | None]:
    """(0..1, best matching phrase): whole phrase found = 1, else share of its words found."""
    lowered = text.lower()
    words = _tokens(text)
    best, best_phrase = 0.0, None
    for phrase in phrases:
        if re.search(r"\b" + re.escape(phrase.lower()) + r"\b", lowered):
            value = 1.0
        else:
            wanted = _tokens(phrase)
            value = 0.8 * len(wanted & words) / len(wanted) if wanted else 0.0
        if value > best:
            best, best_phrase = value, phrase
    return best, best_phrase


def last_digest_time(session: Session, subscriber: Subscriber, before_date: str) -> datetime | None:
    return session.scalar(
        sa.select(sa.func.max(Digest.created_at)).where(
            Digest.subscriber_id == subscriber.id, Digest.local_date < before_date
        )
    )


def candidate_insights(session: Session, subscriber: Subscriber, since: datetime) -> list[Insight]:
    sent = (
        sa.select(DigestItem.insight_id)
        .join(Digest, Digest.id == DigestItem.digest_id)
        .where(Digest.subscriber_id == subscriber.id, Digest.state != "failed")
    )
    query = (
        sa.select(Insight)
        .join(Episode, Episode.id == Insight.episode_id)
        .where(sa.or_(Episode.published_at >= since, Insight.created_at >= since))
        .where(Insight.id.not_in(sent))
        .options(joinedload(Insight.episode).joinedload(Episode.feed))
    )
    return list(session.scalars(query).unique())


def rank(insights: list[Insight], interests: str, now: datetime, top: int, lookback_days: int) -> list[Pick]:
    phrases = interest_phrases(interests)
    scored: list[Pick] = []
    for insight in insights:
        episode = insight.episode
        show = episode.feed.title or "a show you follow"
        rel, phrase, why = 0.0, None, f"one of the strongest claims on {show} today"
        if phrases:
            # The insight's own words count fully; its episode title and show only half.
            rel_text, phrase_text = relevance(phrases, insight.text)
            rel_ctx, phrase_ctx = relevance(phrases, f"{episode.title or ''} {show}")
            if rel_text >= 0.5 * rel_ctx and phrase_text:
                rel, phrase = rel_text, phrase_text
                why = f"matches your interest '{phrase}'" + (" (partly)" if rel < 1.0 else "")
            elif phrase_ctx:
                rel, phrase = 0.5 * rel_ctx, phrase_ctx
                why = f"from an episode about your interest '{phrase}'"
        published = episode.published_at or insight.created_at
        age_days = max((now - published).total_seconds() / 86400, 0.0)
        recency = max(0.0, 1.0 - age_days / max(lookback_days, 1))
        if phrases:
            score = WEIGHT_RELEVANCE * rel + WEIGHT_QUALITY * insight.score + WEIGHT_RECENCY * recency
        else:
            score = 0.8 * insight.score + 0.2 * recency
        scored.append(Pick(insight, round(score, 4), why))
    scored.sort(key=lambda p: (-p.score, p.insight.id))
    return _one_per_episode(scored, top)


def _one_per_episode(scored: list[Pick], top: int) -> list[Pick]:
    picked: list[Pick] = []
    episodes: set[int] = set()
    for pick in scored:
        if len(picked) < top and pick.insight.episode_id not in episodes:
            picked.append(pick)
            episodes.add(pick.insight.episode_id)
    for pick in scored:  # too few episodes: allow seconds from the same episode
        if len(picked) >= top:
            break
        if pick not in picked:
            picked.append(pick)
    picked.sort(key=lambda p: (-p.score, p.insight.id))
    return picked


def select_for_subscriber(
    session: Session, subscriber: Subscriber, local_date: str, now: datetime, lookback_days: int
) -> list[Pick]:
    since = last_digest_time(session, subscriber, local_date) or now - timedelta(days=lookback_days)
    insights = candidate_insights(session, subscriber, since)
    return rank(insights, subscriber.interests, now, subscriber.top_n, lookback_days)
