"""Every insight a run may put in a digest, loaded once as parallel arrays.

Rows, not ORM objects: 100,000 insights load in seconds and fit in a few hundred MB.
ORM objects are made only for the insights actually picked (and cached across subscribers).
`view(since)` narrows the pool to what was published or found since a time (floored to the
hour so subscribers who got yesterday's digest around the same hour share one view), one
insight per story, and caches each interest phrase's similarity to that view.
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.orm import Session, joinedload

from podsift.backends.embeddings.vectors import stack
from podsift.clusters.disagree import cluster_disputes
from podsift.insights.kinds import Thresholds, kind_probabilities, kind_thresholds
from podsift.net.links import listen_link
from podsift.ranking.score import corroboration
from podsift.sources.titles import episode_title
from podsift.store import Cluster, Episode, Feed, Insight
from podsift.words import STOP_WORDS, singular

_TOKEN = re.compile(r"[a-z0-9][a-z0-9+#.-]*")


def tokens(text: str) -> set[str]:
    return {singular(t) for t in _TOKEN.findall(text.lower()) if t not in STOP_WORDS}


@functools.lru_cache(maxsize=65536)
def _phrase(phrase: str) -> tuple[re.Pattern[str], frozenset[str]]:
    return re.compile(r"\b" + re.escape(phrase.lower()) + r"\b"), frozenset(tokens(phrase))


def lexical_relevance(
    phrases: list[str], text: str, words: set[str] | None = None
) -> tuple[float, str | None]:
    """(0..1, best phrase): the whole phrase found = 1, else 0.8 × the share of its words found."""
    lowered = text.lower()
    words = tokens(text) if words is None else words
    best, best_phrase = 0.0, None
    for phrase in phrases:
        pattern, wanted = _phrase(phrase)
        share = len(wanted & words) / len(wanted) if wanted else 0.0
        value = 1.0 if pattern.search(lowered) else 0.8 * share
        if value > best:
            best, best_phrase = value, phrase
    return best, best_phrase


def hour_bucket(since: datetime) -> float:
    """`since` floored to the hour, as a timestamp: views (and the check whether a digest
    has anything new) share one per hour."""
    return since.timestamp() // 3600 * 3600


class DayView:
    """Pool rows eligible by time, one per cluster (the representative when it is there)."""

    def __init__(self, pool: CandidatePool, since: float) -> None:
        self.pool = pool
        self.rows_all = np.flatnonzero((pool.published >= since) | (pool.found >= since))
        self.rows = pool.one_per_cluster(self.rows_all)
        self.vectors = pool.vectors[self.rows] if pool.vectors is not None else None
        self._phrase_sims: dict[str, np.ndarray] = {}

    def phrase_similarity(self, phrase: str, vector: np.ndarray) -> np.ndarray:
        found = self._phrase_sims.get(phrase)
        if found is None and self.vectors is not None:
            found = self._phrase_sims[phrase] = self.vectors @ vector
        return found if found is not None else np.zeros(len(self.rows), dtype=np.float32)


class CandidatePool:
    def __init__(
        self,
        rows: Sequence[Any],  # rows of the query in `load`
        vectors: np.ndarray | None,
        also_on: dict[int, list[dict[str, object]]],
        disputes: dict[int, list[dict[str, Any]]] | None = None,
        embedder_name: str | None = None,
    ) -> None:
        self.vectors = vectors  # None: no embeddings (ranking by words alone)
        self.also_on_rows = also_on
        self.dispute_rows = disputes or {}
        self.texts = [r.text for r in rows]
        self.speakers = [r.speaker or "" for r in rows]
        self.embedder_name = embedder_name
        self.ids = np.array([r.id for r in rows], dtype=np.int64)
        self.cluster_keys = np.array([r.cluster_id or -r.id for r in rows], dtype=np.int64)
        self.feed_ids = np.array([r.feed_id for r in rows], dtype=np.int64)
        self.episode_ids = np.array([r.episode_id for r in rows], dtype=np.int64)
        self.published = np.array(
            [(r.published_at or r.created_at).timestamp() for r in rows], dtype=np.float64
        )
        self.found = np.array([r.created_at.timestamp() for r in rows], dtype=np.float64)
        self.quality = np.array(
            [_quality(r.score, r.importance, r.confidence) for r in rows], dtype=np.float32
        )
        self.show_counts = np.array([r.show_count or 1 for r in rows], dtype=np.int64)
        self.corroboration = np.array([corroboration(int(n)) for n in self.show_counts], dtype=np.float32)
        self.is_representative = np.array([r.representative_id == r.id for r in rows], dtype=bool)
        self.disputed = np.array([int(k) in self.dispute_rows for k in self.cluster_keys], dtype=np.float32)
        self.position = {int(i): k for k, i in enumerate(self.ids)}
        self._views: dict[float, DayView] = {}
        self._tokens: dict[int, set[str]] = {}
        self._objects: dict[int, Insight] = {}
        self._kinds: np.ndarray | None = None

    def kind_probabilities(self) -> np.ndarray:
        """(rows, kinds): how likely each row is funding news, a launch, advice, a contrarian
        take or a prediction (insights/kinds.py); computed once, when a reader's profile
        first needs it."""
        if self._kinds is None:
            self._kinds = kind_probabilities(self.texts, self.vectors, self.embedder_name)
        return self._kinds

    def kind_weights(self) -> Thresholds:
        """The thresholds these rows' kinds are judged with (insights/kinds.py)."""
        return kind_thresholds(self.vectors, self.embedder_name)

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def load(cls, session: Session, since: datetime, embedder_name: str | None) -> CandidatePool:
        rows = session.execute(
            sa.select(
                Insight.id,
                Insight.text,
                Insight.speaker,
                Insight.cluster_id,
                Insight.episode_id,
                Insight.score,
                Insight.importance,
                Insight.confidence,
                Insight.created_at,
                Insight.embedding,
                Insight.embedding_model,
                Episode.feed_id,
                Episode.published_at,
                Cluster.show_count,
                Cluster.representative_id,
            )
            .join(Episode, Episode.id == Insight.episode_id)
            .outerjoin(Cluster, Cluster.id == Insight.cluster_id)
            .where(sa.or_(Episode.published_at >= since, Insight.created_at >= since))
            .order_by(Insight.id)
        ).all()
        vectors = None
        if embedder_name and rows and all(r.embedding_model == embedder_name and r.embedding for r in rows):
            vectors = stack([r.embedding for r in rows], len(rows[0].embedding) // 2)
        shared = {r.cluster_id for r in rows if r.cluster_id and (r.show_count or 1) > 1}
        return cls(
            rows,
            vectors,
            _cluster_tellings(session, shared),
            cluster_disputes(session, shared),
            embedder_name,
        )

    def view(self, since: datetime) -> DayView:
        bucket = hour_bucket(since)
        if bucket not in self._views:
            self._views[bucket] = DayView(self, bucket)
        return self._views[bucket]

    def one_per_cluster(self, rows: np.ndarray) -> np.ndarray:
        if not len(rows):
            return rows
        preference = self.quality[rows] + 10.0 * self.is_representative[rows]
        order = np.lexsort((-preference, self.cluster_keys[rows]))
        keys = self.cluster_keys[rows][order]
        first = np.ones(len(order), dtype=bool)
        first[1:] = keys[1:] != keys[:-1]
        return rows[order[first]]

    def words(self, row: int) -> set[str]:
        found = self._tokens.get(row)
        if found is None:
            found = self._tokens[row] = tokens(self.texts[row])
        return found

    def insight_objects(self, session: Session, ids: list[int]) -> dict[int, Insight]:
        """ORM objects (episode and feed loaded) for the picks, cached across subscribers."""
        missing = [i for i in ids if i not in self._objects]
        if missing:
            for insight in session.scalars(
                sa.select(Insight)
                .where(Insight.id.in_(missing))
                .options(joinedload(Insight.episode).joinedload(Episode.feed))
            ):
                self._objects[insight.id] = insight
        return {i: self._objects[i] for i in ids if i in self._objects}

    def also_on(self, row: int) -> list[dict[str, str | None]]:
        """Other shows' tellings of this row's story, one per show, its own show left out."""
        seen = {int(self.feed_ids[row])}
        out: list[dict[str, str | None]] = []
        for telling in self.also_on_rows.get(int(self.cluster_keys[row]), []):
            if telling["feed_id"] in seen:
                continue
            seen.add(int(str(telling["feed_id"])))
            out.append({k: _text(telling[k]) for k in ("show", "episode", "link")})
        return out

    def disputes(self, row: int) -> list[dict[str, Any]]:
        """Where shows disagree on this row's story: [{"detail", "sides": [side, side]}]."""
        return self.dispute_rows.get(int(self.cluster_keys[row]), [])


def _quality(score: float, importance: float | None, confidence: float | None) -> float:
    parts = [score] + [v for v in (importance, confidence) if v is not None]
    return float(min(1.0, max(0.0, sum(parts) / len(parts))))


def _cluster_tellings(session: Session, cluster_ids: set[int]) -> dict[int, list[dict[str, object]]]:
    """Every show's telling of each shared story (including ones older than the window)."""
    out: dict[int, list[dict[str, object]]] = defaultdict(list)
    ids = sorted(cluster_ids)
    for start in range(0, len(ids), 5000):
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
            .where(Insight.cluster_id.in_(ids[start : start + 5000]))
            .order_by(Insight.id)
        )
        for row in rows:
            out[row.cluster_id].append(
                {
                    "feed_id": row.feed_id,
                    "show": row.show,
                    "episode": episode_title(row.title, row.show),
                    "link": listen_link(row.audio_url, row.link, row.start_seconds),
                }
            )
    return out


def _text(value: object) -> str | None:
    return None if value is None else str(value)
