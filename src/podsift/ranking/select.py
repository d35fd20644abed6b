"""Choose a subscriber's top N insights for a day: one per story, for their interests, diverse.

`CandidatePool` (pool.py) holds every insight of the window once per run; histories
(profiles.py) hold what each subscriber received and how they voted; `rank` scores the
eligible insights (score.py) and picks by maximal marginal relevance. Eligible: from a
followed show, published or found since the subscriber's last digest, and from a story
(cluster) they have never received: a story never comes back, even when another show tells
it later (those tellings are listed on the story's own page). That rule is simple to trust;
"unless a later member adds something new" would need a judgement we cannot make reliably
offline.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from podsift.backends.embeddings import Embedder, from_blob, to_blob
from podsift.ranking.pool import CandidatePool, DayView, lexical_relevance
from podsift.ranking.profiles import SubscriberHistory, VectorLookup, load_histories
from podsift.ranking.score import RankingWeights, rescale_similarity
from podsift.ranking.steering import Steering, contrarian_first, steer_rows, steering_for
from podsift.store import Feed, Insight, PhraseVector, Subscriber, Topic
from podsift.subscribers.profile import ReaderProfile

log = logging.getLogger(__name__)
SHORTLIST = 60

__all__ = ["Pick", "Selector", "interest_phrases", "lexical_relevance", "rank"]


# Shows a digest names under "also discussed on"; the rest are counted. A reader wants
# to see that a story is widely told, not read a list of 200 shows (nor store it per item).
ALSO_ON_NAMED = 8


@dataclass
class Pick:
    insight: Insight
    score: float
    why: str
    # Other shows that told the same story: [{"show", "episode", "link"}].
    also_on: list[dict[str, str | None]] = field(default_factory=list)
    # Where shows disagree on it: [{"detail", "sides": [camp, camp]}], a camp a list of
    # tellings {"speaker", "show", "quote", "link", ...}.
    disputes: list[dict[str, Any]] = field(default_factory=list)
    # How many more shows told it than also_on names (it names at most ALSO_ON_NAMED).
    also_on_more: int = 0
    # This reader's own write-up (their style flags; digests/style.py); None: the insight's text.
    text: str | None = None
    glossary: list[list[str]] = field(default_factory=list)  # [[term, definition]]


@dataclass
class Ranked:
    row: int  # into the pool
    score: float
    why: str


def interest_phrases(interests: str) -> list[str]:
    return [p.strip() for p in re.split(r"[,;\n]", interests or "") if p.strip()]


@dataclass
class Profile:
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
    # The reader's own instructions, as filters and features (steering.py); None: none given.
    steering: Steering | None = None


def _max_cosine(matrix: np.ndarray | None, vectors: np.ndarray | None, count: int) -> np.ndarray:
    if matrix is None or vectors is None or not len(matrix):
        return np.zeros(count, dtype=np.float32)
    return (matrix @ vectors.T).max(axis=0)


def _candidates(view: DayView, profile: Profile) -> tuple[np.ndarray, np.ndarray]:
    """(pool rows, semantic relevance) after this subscriber's exclusions."""
    pool = view.pool
    if profile.feed_ids is None:
        rows, positions = view.rows, np.arange(len(view.rows))
    else:  # a show filter changes which member stands for a cluster: dedupe again
        followed = view.rows_all[np.isin(pool.feed_ids[view.rows_all], list(profile.feed_ids))]
        rows = pool.one_per_cluster(followed)
        positions = None
    keep = np.ones(len(rows), dtype=bool)
    if profile.sent_clusters:
        keep &= ~np.isin(pool.cluster_keys[rows], list(profile.sent_clusters))
    if profile.sent_insights:
        keep &= ~np.isin(pool.ids[rows], list(profile.sent_insights))
    rows = rows[keep]
    semantic = np.zeros(len(rows), dtype=np.float32)
    if profile.phrase_vectors is not None and pool.vectors is not None:
        if positions is not None:  # shared view: per-phrase similarities are cached
            for phrase, vector in zip(profile.phrases, profile.phrase_vectors, strict=True):
                semantic = np.maximum(semantic, view.phrase_similarity(phrase, vector)[keep])
        else:
            semantic = _max_cosine(profile.phrase_vectors, pool.vectors[rows], len(rows))
    return rows, semantic


def rank(
    pool: CandidatePool,
    profile: Profile,
    weights: RankingWeights,
    now: datetime,
    top: int,
    lookback_days: int,
) -> list[Ranked]:
    rows, semantic = _candidates(pool.view(profile.since), profile)
    boost = np.zeros(len(rows), dtype=np.float32)
    boost_why: list[str | None] = [None] * len(rows)
    if profile.steering is not None and len(rows):
        keep, boost, boost_why = steer_rows(pool, rows, profile.steering)
        rows, semantic, boost = rows[keep], semantic[keep], boost[keep]
        boost_why = [b for b, k in zip(boost_why, keep, strict=True) if k]
    if not len(rows):
        return []
    w = weights if profile.phrases else weights.without_interests()
    relevance = rescale_similarity(semantic) if profile.phrases else np.zeros(len(rows), dtype=np.float32)
    age_days = np.maximum(now.timestamp() - pool.published[rows], 0.0) / 86400
    recency = np.clip(1.0 - age_days / max(lookback_days, 1), 0.0, 1.0)
    static = (
        w.quality * pool.quality[rows]
        + w.corroboration * pool.corroboration[rows]
        + w.dispute * pool.disputed[rows]
        + w.recency * recency
    )
    show_weight = (
        np.array([profile.feed_weights.get(int(f), 1.0) for f in pool.feed_ids[rows]])
        if profile.feed_weights
        else np.ones(len(rows))
    )
    # Two stages: a cheap score over every eligible insight (novelty taken as 1, no votes)
    # picks a shortlist; history, votes and exact-term boosts are computed for it alone.
    static = static + w.boost * boost
    prelim = show_weight * (w.relevance * relevance + static + w.novelty)
    size = max(SHORTLIST, top * 12)
    if len(rows) > size:
        short = np.argpartition(-prelim, size - 1)[:size]
        short = short[np.argsort(-prelim[short], kind="stable")]
    else:
        short = np.argsort(-prelim, kind="stable")
    rows, relevance, static, show_weight = rows[short], relevance[short], static[short], show_weight[short]
    boost_why = [boost_why[int(k)] for k in short]
    vectors = pool.vectors[rows] if pool.vectors is not None else None
    n = len(rows)
    novelty = 1.0 - np.clip(_max_cosine(profile.history, vectors, n), 0.0, 1.0)
    feedback = _max_cosine(profile.liked, vectors, n) - _max_cosine(profile.disliked, vectors, n)
    matched: dict[int, str | None] = {}
    if profile.phrases:
        for k in range(n):
            row = int(rows[k])
            lexical, phrase = lexical_relevance(profile.phrases, pool.texts[row], pool.words(row))
            if lexical > 0:
                relevance[k] = min(1.0, relevance[k] + w.exact_boost * lexical)
            if lexical >= 1.0:
                matched[k] = phrase
            elif relevance[k] >= 0.5 and profile.phrase_vectors is not None and vectors is not None:
                matched[k] = profile.phrases[int(np.argmax(profile.phrase_vectors @ vectors[k]))]
            elif lexical >= 0.5:
                matched[k] = phrase
    scores = show_weight * (w.relevance * relevance + static + w.novelty * novelty) + w.feedback * feedback
    chosen = _diverse(list(range(n)), scores, vectors, pool.episode_ids[rows], pool.feed_ids[rows], w, top)
    chosen.sort(key=lambda k: -scores[k])  # chosen for spread, shown strongest first
    if profile.steering is not None and profile.steering.contrarian_first:
        chosen = contrarian_first(pool, rows, chosen)
    return [
        Ranked(
            int(rows[k]),
            round(float(scores[k]), 4),
            _why(
                matched.get(k),
                bool(profile.phrases),
                float(relevance[k]),
                int(pool.show_counts[rows[k]]),
                float(feedback[k]),
                bool(pool.disputed[rows[k]]),
                boost_why[k],
            ),
        )
        for k in chosen
    ]


def _diverse(
    shortlist: list[int],
    scores: np.ndarray,
    vectors: np.ndarray | None,
    episodes: np.ndarray,
    feeds: np.ndarray,
    w: RankingWeights,
    top: int,
) -> list[int]:
    """Maximal marginal relevance, with a penalty for each pick already made from the same
    episode (and a smaller one for the same show): a strong on-topic second claim from one
    episode still beats a weak off-topic one from another."""
    n = len(shortlist)
    similar = vectors @ vectors.T if vectors is not None else np.zeros((n, n), dtype=np.float32)
    closest = np.full(n, -np.inf)  # highest cosine to any pick so far
    same_show = np.zeros(n)
    same_episode = np.zeros(n)
    taken = np.zeros(n, dtype=bool)
    chosen: list[int] = []
    while len(chosen) < top:
        value = scores - w.same_show * same_show - w.same_episode * same_episode
        if chosen:
            value = value - w.diversity * closest
        value = np.where(taken, -np.inf, value)
        best = int(np.argmax(value))
        if not np.isfinite(value[best]):
            break
        chosen.append(best)
        taken[best] = True
        same_episode += episodes == episodes[best]
        same_show += feeds == feeds[best]
        closest = np.maximum(closest, similar[best])
    return [shortlist[k] for k in chosen]


def _why(
    phrase: str | None,
    has_interests: bool,
    relevance: float,
    shows: int,
    feedback: float,
    disputed: bool = False,
    boosted: str | None = None,
) -> str:
    parts = []
    if boosted:
        parts.append(f"boosted: you asked for {boosted}")
    if phrase:
        parts.append(f"matches your interest '{phrase}'" + ("" if relevance >= 0.75 else " (loosely)"))
    elif has_interests:
        parts.append("outside your stated interests, but one of today's strongest")
    if disputed:
        parts.append(f"shows disagree on it ({shows} shows)")
    elif shows >= 2:
        parts.append(f"discussed on {shows} shows")
    if feedback >= 0.2:
        parts.append("close to insights you liked")
    if not parts:
        parts.append("one of the strongest claims from your shows today")
    return "; ".join(parts)


def _phrase_key(phrase: str) -> str:
    return hashlib.sha256(phrase.encode()).hexdigest()


class Selector:
    """Per-run selection: loads the pool and the histories once, embeds each distinct
    interest once, and ranks each subscriber in milliseconds."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        embedder: Embedder | None,
        weights: RankingWeights,
        lookback_days: int,
        novelty_days: int,
    ) -> None:
        self.sessions = sessions
        self.embedder = embedder
        self.weights = weights
        self.lookback_days, self.novelty_days = lookback_days, novelty_days
        self._pool: CandidatePool | None = None
        self._vectors: VectorLookup | None = None
        self._histories: dict[int, SubscriberHistory] = {}
        self._phrases: dict[str, np.ndarray] = {}
        self._topic_feeds: dict[int | None, set[int]] | None = None
        self._feed_titles: dict[str, set[int]] | None = None

    def feeds_titled(self, session: Session) -> dict[str, set[int]]:
        """Feed ids by lower-cased title: a reader's profile names shows by title."""
        if self._feed_titles is None:
            self._feed_titles = {}
            for feed_id, title in session.execute(sa.select(Feed.id, Feed.title)):
                if title:
                    self._feed_titles.setdefault(title.lower(), set()).add(feed_id)
        return self._feed_titles

    def topic_feeds(self, session: Session, subscriber_id: int) -> set[int]:
        """Shows followed for this subscriber's topics or everyone's: they count as followed
        even by a subscriber who picked their shows."""
        if self._topic_feeds is None:
            self._topic_feeds = {}
            for feed_id, owner in session.execute(
                sa.select(Feed.id, Topic.subscriber_id).join(Topic, Topic.id == Feed.topic_id)
            ):
                self._topic_feeds.setdefault(owner, set()).add(feed_id)
        return self._topic_feeds.get(None, set()) | self._topic_feeds.get(subscriber_id, set())

    def _window_start(self, now: datetime) -> datetime:
        return now - timedelta(days=max(self.lookback_days, self.novelty_days))

    def pool(self, session: Session, now: datetime) -> CandidatePool:
        if self._pool is None:
            name = self.embedder.name if self.embedder else None
            self._pool = CandidatePool.load(session, self._window_start(now), name)
            self._vectors = VectorLookup(self._pool, name)
        return self._pool

    def warm(self, interests: Iterable[str], session: Session | None = None) -> None:
        """Vectors for every distinct interest phrase: stored ones from the database, the
        rest embedded in one batch and stored (in `session` when the caller holds one: on
        SQLite a second transaction would wait for the first)."""
        wanted = sorted({p for text in interests for p in interest_phrases(text)} - set(self._phrases))
        if not wanted or self.embedder is None:
            return
        if session is None:
            with self.sessions() as own:
                self._load_or_embed(own, wanted, self.embedder)
        else:
            self._load_or_embed(session, wanted, self.embedder)

    def _load_or_embed(self, session: Session, wanted: list[str], embedder: Embedder) -> None:
        keys = {_phrase_key(p): p for p in wanted}
        for start in range(0, len(wanted), 5000):
            batch = [_phrase_key(p) for p in wanted[start : start + 5000]]
            for key, blob in session.execute(
                sa.select(PhraseVector.phrase_hash, PhraseVector.vector).where(
                    PhraseVector.model == embedder.name, PhraseVector.phrase_hash.in_(batch)
                )
            ):
                self._phrases[keys[key]] = from_blob(blob)
        missing = [p for p in wanted if p not in self._phrases]
        if not missing:
            return
        vectors = embedder.embed(missing)
        for phrase, vector in zip(missing, vectors, strict=True):
            self._phrases[phrase] = vector
        session.add_all(
            PhraseVector(model=embedder.name, phrase_hash=_phrase_key(p), phrase=p[:1000], vector=to_blob(v))
            for p, v in zip(missing, vectors, strict=True)
        )
        try:
            session.commit()
        except IntegrityError:  # another process stored some of them first
            session.rollback()

    def prefetch(self, session: Session, subscriber_ids: list[int], now: datetime) -> None:
        """Histories and votes of many subscribers in a few queries."""
        pool = self.pool(session, now)
        todo = [i for i in subscriber_ids if i not in self._histories]
        loaded = load_histories(session, todo, self._window_start(now), now, self.novelty_days)
        for sid in todo:
            self._histories[sid] = loaded.get(sid) or SubscriberHistory()
        wanted = {i for sid in todo for i, _ in self._histories[sid].votes}
        if self._vectors is not None and pool.vectors is not None:
            self._vectors.fetch(session, wanted)

    def profile(self, session: Session, sub: Subscriber, local_date: str, now: datetime) -> Profile:
        self.prefetch(session, [sub.id], now)
        history = self._histories[sub.id]
        floor = now - timedelta(days=self.lookback_days)
        last = history.last_digest(local_date)
        phrases = interest_phrases(sub.interests)
        usable = self.embedder is not None and self._pool is not None and self._pool.vectors is not None
        if usable and phrases:
            self.warm([",".join(phrases)], session)
        vectors = self._vectors
        recent = now - timedelta(days=self.novelty_days)
        # Today's own digest (a preview or a retry of it) excludes nothing.
        sent = [s for s in history.sent if s[0] != local_date]

        def matrix(ids: list[int]) -> np.ndarray | None:
            return vectors.matrix(ids) if usable and vectors is not None and ids else None

        reader = ReaderProfile.from_json(sub.reader_profile or {})
        steering = None
        if not reader.empty():
            wanted = reader.mute.topics + reader.boost.topics
            if usable and wanted:
                self.warm([",".join(wanted)], session)
            steering = steering_for(reader, self.feeds_titled(session), self._phrases if usable else {})

        return Profile(
            since=max(last, floor) if last else floor,
            phrases=phrases,
            phrase_vectors=np.stack([self._phrases[p] for p in phrases]) if usable and phrases else None,
            feed_ids=set(sub.feed_ids) | self.topic_feeds(session, sub.id) if sub.feed_ids else None,
            feed_weights={int(k): float(v) for k, v in (sub.feed_weights or {}).items()},
            sent_clusters={c for _, _, c, _ in sent if c},
            sent_insights={i for _, i, _, _ in sent},
            history=matrix([i for _, i, _, created in sent if created >= recent]),
            liked=matrix([i for i, vote in history.votes if vote > 0]),
            disliked=matrix([i for i, vote in history.votes if vote < 0]),
            steering=steering,
        )

    def pick(self, session: Session, sub: Subscriber, local_date: str, now: datetime) -> list[Pick]:
        pool = self.pool(session, now)
        ranked = rank(
            pool,
            self.profile(session, sub, local_date, now),
            self.weights,
            now,
            sub.top_n,
            self.lookback_days,
        )
        objects = pool.insight_objects(session, [int(pool.ids[r.row]) for r in ranked])
        picks = []
        for r in ranked:
            also_on = pool.also_on(r.row)
            picks.append(
                Pick(
                    objects[int(pool.ids[r.row])],
                    r.score,
                    r.why,
                    also_on[:ALSO_ON_NAMED],
                    pool.disputes(r.row),
                    also_on_more=max(len(also_on) - ALSO_ON_NAMED, 0),
                )
            )
        return picks
