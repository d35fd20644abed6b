"""Choose a subscriber's top N insights for a day: one per story, for their interests, diverse.

`CandidatePool` loads every insight of the look-back window once per run (with vectors,
clusters and the shows that also told each story); `Profile` is one subscriber's interests,
history and votes; `rank` scores the eligible insights (ranking/score.py) and picks by maximal
marginal relevance. Eligible: from a followed show, published or found since the subscriber's
last digest, and from a story (cluster) they have never received: a story never comes back,
even when another show tells it later (its later tellings are on the story's page).
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import sqlalchemy as sa
from sqlalchemy.orm import Session, joinedload

from podsift.digests.links import listen_link
from podsift.embeddings import Embedder
from podsift.embeddings.vectors import stack
from podsift.ranking.score import RankingWeights, corroboration, rescale_similarity
from podsift.store import Digest, DigestItem, Episode, Feed, Feedback, Insight, Subscriber

log = logging.getLogger(__name__)
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
SHORTLIST = 60


@dataclass
class Pick:
    insight: Insight
    score: float
    why: str
    # Other shows that told the same story: [{"show", "episode", "link"}].
    also_on: list[dict[str, str | None]] = field(default_factory=list)


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


def lexical_relevance(phrases: list[str], text: str) -> tuple[float, str | None]:
    """(0..1, best phrase): the whole phrase found = 1, else 0.8 × the share of its words found."""
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


def _epoch(values: Iterable[datetime | None]) -> np.ndarray:
    return np.array([v.timestamp() if v else 0.0 for v in values], dtype=np.float64)


class CandidatePool:
    """The insights a run may put in any digest, as parallel arrays."""

    def __init__(
        self, insights: list[Insight], vectors: np.ndarray | None, also_on: dict[int, list[dict[str, object]]]
    ) -> None:
        self.insights = insights
        self.vectors = vectors  # None: no embeddings (words only)
        self.also_on_rows = also_on
        self.ids = np.array([i.id for i in insights], dtype=np.int64)
        self.cluster_keys = np.array(
            [i.cluster_id if i.cluster_id else -i.id for i in insights], dtype=np.int64
        )
        self.feed_ids = np.array([i.episode.feed_id for i in insights], dtype=np.int64)
        self.episode_ids = np.array([i.episode_id for i in insights], dtype=np.int64)
        self.published = _epoch(i.episode.published_at or i.created_at for i in insights)
        self.found = _epoch(i.created_at for i in insights)
        self.quality = np.array([_quality(i) for i in insights], dtype=np.float32)
        shows = [i.cluster.show_count if i.cluster else 1 for i in insights]
        self.show_counts = np.array(shows, dtype=np.int64)
        self.corroboration = np.array([corroboration(n) for n in shows], dtype=np.float32)
        self.is_representative = np.array(
            [bool(i.cluster and i.cluster.representative_id == i.id) for i in insights], dtype=bool
        )

    def __len__(self) -> int:
        return len(self.insights)

    @classmethod
    def load(cls, session: Session, since: datetime, embedder_name: str | None) -> CandidatePool:
        insights = list(
            session.scalars(
                sa.select(Insight)
                .join(Episode, Episode.id == Insight.episode_id)
                .where(sa.or_(Episode.published_at >= since, Insight.created_at >= since))
                .order_by(Insight.id)
                .options(joinedload(Insight.episode).joinedload(Episode.feed), joinedload(Insight.cluster))
            ).unique()
        )
        vectors = None
        if embedder_name and insights and all(i.embedding_model == embedder_name for i in insights):
            dims = len(insights[0].embedding or b"") // 2
            vectors = stack([i.embedding for i in insights], dims)  # type: ignore[misc]
        shared = {i.cluster_id for i in insights if i.cluster and i.cluster.show_count > 1}
        return cls(insights, vectors, _cluster_tellings(session, shared))


def _quality(insight: Insight) -> float:
    parts = [insight.score] + [v for v in (insight.importance, insight.confidence) if v is not None]
    return float(min(1.0, max(0.0, sum(parts) / len(parts))))


def _cluster_tellings(session: Session, cluster_ids: set[int]) -> dict[int, list[dict[str, object]]]:
    """Every show's telling of each shared story (including ones older than the window)."""
    out: dict[int, list[dict[str, object]]] = defaultdict(list)
    if not cluster_ids:
        return out
    rows = session.execute(
        sa.select(
            Insight.cluster_id,
            Insight.start_seconds,
            Episode.feed_id,
            Episode.title,
            Episode.link,
            Episode.audio_url,
            Feed.title.label("show"),
        )
        .join(Episode, Episode.id == Insight.episode_id)
        .join(Feed, Feed.id == Episode.feed_id)
        .where(Insight.cluster_id.in_(cluster_ids))
        .order_by(Insight.id)
    )
    for row in rows:
        out[row.cluster_id].append(
            {
                "feed_id": row.feed_id,
                "show": row.show,
                "episode": row.title,
                "link": listen_link(row.audio_url, row.link, row.start_seconds),
            }
        )
    return out


@dataclass
class Profile:
    subscriber_id: int
    since: datetime
    phrases: list[str]
    phrase_vectors: np.ndarray | None
    feed_ids: set[int] | None
    feed_weights: dict[int, float]
    sent_clusters: set[int]
    sent_insights: set[int]
    history: np.ndarray | None  # vectors sent in the last novelty_days
    liked: np.ndarray | None
    disliked: np.ndarray | None


def load_profile(
    session: Session,
    sub: Subscriber,
    local_date: str,
    now: datetime,
    lookback_days: int,
    novelty_days: int,
    phrase_vectors: np.ndarray | None,
    embedder_name: str | None,
) -> Profile:
    last = session.scalar(
        sa.select(sa.func.max(Digest.created_at)).where(
            Digest.subscriber_id == sub.id, Digest.local_date < local_date
        )
    )
    floor = now - timedelta(days=lookback_days)
    since = max(last, floor) if last else floor
    sent = session.execute(
        sa.select(
            Insight.id, Insight.cluster_id, Insight.embedding, Insight.embedding_model, Digest.created_at
        )
        .join(DigestItem, DigestItem.insight_id == Insight.id)
        .join(Digest, Digest.id == DigestItem.digest_id)
        .where(Digest.subscriber_id == sub.id, Digest.state != "failed", Digest.local_date != local_date)
    ).all()
    recent = [
        r.embedding
        for r in sent
        if r.created_at >= now - timedelta(days=novelty_days)
        and r.embedding_model == embedder_name
        and r.embedding
    ]
    votes = session.execute(
        sa.select(Feedback.vote, Insight.embedding, Insight.embedding_model)
        .join(Insight, Insight.id == Feedback.insight_id)
        .where(Feedback.subscriber_id == sub.id)
    ).all()

    def matrix(blobs: list[bytes]) -> np.ndarray | None:
        return stack(blobs, len(blobs[0]) // 2) if blobs and embedder_name else None

    def usable(vote: int) -> list[bytes]:
        return [
            r.embedding
            for r in votes
            if r.vote == vote and r.embedding and r.embedding_model == embedder_name
        ]

    return Profile(
        subscriber_id=sub.id,
        since=since,
        phrases=interest_phrases(sub.interests),
        phrase_vectors=phrase_vectors,
        feed_ids=set(sub.feed_ids) if sub.feed_ids else None,
        feed_weights={int(k): float(v) for k, v in (sub.feed_weights or {}).items()},
        sent_clusters={r.cluster_id for r in sent if r.cluster_id},
        sent_insights={r.id for r in sent},
        history=matrix(recent),
        liked=matrix(usable(1)),
        disliked=matrix(usable(-1)),
    )


def _max_cosine(matrix: np.ndarray | None, vectors: np.ndarray | None, count: int) -> np.ndarray:
    if matrix is None or vectors is None or not len(matrix):
        return np.zeros(count, dtype=np.float32)
    return (matrix @ vectors.T).max(axis=0)


def eligible(pool: CandidatePool, profile: Profile) -> np.ndarray:
    """Indices into the pool: eligible, one per cluster (its representative when eligible)."""
    since = profile.since.timestamp()
    mask = (pool.published >= since) | (pool.found >= since)
    if profile.feed_ids is not None:
        mask &= np.isin(pool.feed_ids, list(profile.feed_ids))
    if profile.sent_clusters:
        mask &= ~np.isin(pool.cluster_keys, list(profile.sent_clusters))
    if profile.sent_insights:
        mask &= ~np.isin(pool.ids, list(profile.sent_insights))
    index = np.flatnonzero(mask)
    if not len(index):
        return index
    preference = pool.quality[index] + 10.0 * pool.is_representative[index]
    order = np.lexsort((-preference, pool.cluster_keys[index]))
    keys = pool.cluster_keys[index][order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = keys[1:] != keys[:-1]
    return index[order[first]]


def rank(
    pool: CandidatePool,
    profile: Profile,
    weights: RankingWeights,
    now: datetime,
    top: int,
    lookback_days: int,
) -> list[Pick]:
    index = eligible(pool, profile)
    if not len(index):
        return []
    w = weights if profile.phrases else weights.without_interests()
    vectors = pool.vectors[index] if pool.vectors is not None else None
    n = len(index)
    semantic = _max_cosine(profile.phrase_vectors, vectors, n) if profile.phrases else np.zeros(n, np.float32)
    relevance = rescale_similarity(semantic)
    age_days = np.maximum(now.timestamp() - pool.published[index], 0.0) / 86400
    recency = np.clip(1.0 - age_days / max(lookback_days, 1), 0.0, 1.0)
    novelty = (
        1.0 - np.clip(_max_cosine(profile.history, vectors, n), 0.0, 1.0)
        if profile.history is not None
        else np.ones(n)
    )
    feedback = _max_cosine(profile.liked, vectors, n) - _max_cosine(profile.disliked, vectors, n)
    show_weight = np.array([profile.feed_weights.get(int(f), 1.0) for f in pool.feed_ids[index]])
    quality, corroborated = pool.quality[index], pool.corroboration[index]

    def combine(rel: np.ndarray) -> np.ndarray:
        base = (
            w.relevance * rel
            + w.quality * quality
            + w.corroboration * corroborated
            + w.recency * recency
            + w.novelty * novelty
        )
        return show_weight * base + w.feedback * feedback

    # Exact-term boosts need the words: only for a shortlist by the vector-only score.
    short = np.argsort(-combine(relevance), kind="stable")[: max(SHORTLIST, top * 12)]
    matched: dict[int, str | None] = {}
    if profile.phrases:
        for k in short.tolist():
            insight = pool.insights[index[k]]
            lexical, phrase = lexical_relevance(profile.phrases, insight.text)
            if lexical > 0:
                relevance[k] = min(1.0, relevance[k] + w.exact_boost * lexical)
            if lexical >= 1.0:
                matched[k] = phrase
            elif relevance[k] >= 0.5 and profile.phrase_vectors is not None and vectors is not None:
                matched[k] = profile.phrases[int(np.argmax(profile.phrase_vectors @ vectors[k]))]
            elif lexical >= 0.5:
                matched[k] = phrase
    scores = combine(relevance)
    chosen = _diverse(short.tolist(), scores, vectors, pool.episode_ids[index], pool.feed_ids[index], w, top)
    chosen.sort(key=lambda k: -scores[k])  # chosen for spread, shown strongest first
    picks = []
    for k in chosen:
        insight = pool.insights[index[k]]
        picks.append(
            Pick(
                insight,
                round(float(scores[k]), 4),
                _why(
                    matched.get(k),
                    bool(profile.phrases),
                    float(relevance[k]),
                    int(pool.show_counts[index[k]]),
                    float(feedback[k]),
                    insight,
                ),
                _also_on(pool, insight),
            )
        )
    return picks


def _diverse(
    shortlist: list[int],
    scores: np.ndarray,
    vectors: np.ndarray | None,
    episodes: np.ndarray,
    feeds: np.ndarray,
    w: RankingWeights,
    top: int,
) -> list[int]:
    """Maximal marginal relevance; a second insight from one episode only as a last resort."""
    chosen: list[int] = []
    for allow_same_episode in (False, True):
        while len(chosen) < top:
            best, best_value = None, -np.inf
            for k in shortlist:
                if k in chosen or (
                    not allow_same_episode and any(episodes[k] == episodes[c] for c in chosen)
                ):
                    continue
                value = scores[k] - w.same_show * sum(feeds[k] == feeds[c] for c in chosen)
                if chosen and vectors is not None:
                    value -= w.diversity * max(float(vectors[k] @ vectors[c]) for c in chosen)
                if value > best_value:
                    best, best_value = k, value
            if best is None:
                break
            chosen.append(best)
    return chosen


def _why(
    phrase: str | None, has_interests: bool, relevance: float, shows: int, feedback: float, insight: Insight
) -> str:
    parts = []
    if phrase:
        parts.append(f"matches your interest '{phrase}'" + ("" if relevance >= 0.75 else " (loosely)"))
    elif has_interests:
        parts.append("outside your stated interests, but one of today's strongest")
    if shows >= 2:
        parts.append(f"discussed on {shows} shows")
    if feedback >= 0.2:
        parts.append("close to insights you liked")
    if not parts:
        parts.append(
            f"one of the strongest claims on {insight.episode.feed.title or 'a show you follow'} today"
        )
    return "; ".join(parts)


def _also_on(pool: CandidatePool, insight: Insight) -> list[dict[str, str | None]]:
    seen = {insight.episode.feed_id}
    out: list[dict[str, str | None]] = []
    for telling in pool.also_on_rows.get(insight.cluster_id or 0, []):
        if telling["feed_id"] in seen:
            continue
        seen.add(telling["feed_id"])  # type: ignore[arg-type]
        out.append({"show": telling["show"], "episode": telling["episode"], "link": telling["link"]})  # type: ignore[dict-item]
    return out


class Selector:
    """Per-run selection: loads the pool once and embeds each distinct interest once."""

    def __init__(
        self,
        session_factory,
        embedder: Embedder | None,
        weights: RankingWeights,
        lookback_days: int,
        novelty_days: int,
    ) -> None:  # type: ignore[no-untyped-def]
        self.sessions = session_factory
        self.embedder = embedder
        self.weights = weights
        self.lookback_days, self.novelty_days = lookback_days, novelty_days
        self._pool: CandidatePool | None = None
        self._phrases: dict[str, np.ndarray] = {}

    def pool(self, session: Session, now: datetime) -> CandidatePool:
        if self._pool is None:
            name = self.embedder.name if self.embedder else None
            self._pool = CandidatePool.load(session, now - timedelta(days=self.lookback_days), name)
        return self._pool

    def warm(self, interests: Iterable[str]) -> None:
        """Embed every distinct interest phrase in one batch."""
        wanted = sorted({p for text in interests for p in interest_phrases(text)} - set(self._phrases))
        if wanted and self.embedder is not None:
            for phrase, vector in zip(wanted, self.embedder.embed(wanted), strict=True):
                self._phrases[phrase] = vector

    def phrase_vectors(self, phrases: list[str]) -> np.ndarray | None:
        if not phrases or self.embedder is None:
            return None
        self.warm([",".join(phrases)])
        return np.stack([self._phrases[p] for p in phrases])

    def pick(self, session: Session, sub: Subscriber, local_date: str, now: datetime) -> list[Pick]:
        pool = self.pool(session, now)
        name = self.embedder.name if self.embedder and pool.vectors is not None else None
        vectors = self.phrase_vectors(interest_phrases(sub.interests)) if name else None
        profile = load_profile(
            session, sub, local_date, now, self.lookback_days, self.novelty_days, vectors, name
        )
        return rank(pool, profile, self.weights, now, sub.top_n, self.lookback_days)
