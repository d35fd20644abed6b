"""What a subscriber has already received and how they voted, loaded in bulk per run.

Three queries for all subscribers instead of several per subscriber: each one's last digest,
what they were sent (never again: its story is excluded; recent sends: novelty), and votes.
Vectors come from the candidate pool where it has them (sends within the window), else from
the insights table.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import sqlalchemy as sa
from sqlalchemy.orm import Session

from podsift.backends.embeddings.vectors import from_blob
from podsift.ranking.pool import CandidatePool
from podsift.store import Cluster, Digest, DigestItem, DigestState, Feedback, Insight


@dataclass
class SubscriberHistory:
    digests: list[tuple[str, datetime]] = field(default_factory=list)  # (local date, created)
    sent: list[tuple[str, int, int | None, datetime]] = field(
        default_factory=list
    )  # (date, insight, cluster, created)
    votes: list[tuple[int, int]] = field(default_factory=list)  # (insight id, +1/-1)

    def last_digest(self, before_date: str) -> datetime | None:
        times = [created for day, created in self.digests if day < before_date]
        return max(times) if times else None


def load_histories(
    session: Session, subscriber_ids: list[int], pool_since: datetime, now: datetime, novelty_days: int
) -> dict[int, SubscriberHistory]:
    out: dict[int, SubscriberHistory] = defaultdict(SubscriberHistory)
    horizon = min(pool_since, now - timedelta(days=novelty_days))
    for start in range(0, len(subscriber_ids), 5000):
        ids = subscriber_ids[start : start + 5000]
        for sid, day, created in session.execute(
            sa.select(Digest.subscriber_id, Digest.local_date, Digest.created_at).where(
                Digest.subscriber_id.in_(ids)
            )
        ):
            out[sid].digests.append((day, created))
        # Sends that matter: recent ones (novelty) and any whose story is still being told.
        sent = (
            sa.select(
                Digest.subscriber_id,
                Digest.local_date,
                DigestItem.insight_id,
                Insight.cluster_id,
                Digest.created_at,
            )
            .join(DigestItem, DigestItem.digest_id == Digest.id)
            .join(Insight, Insight.id == DigestItem.insight_id)
            .outerjoin(Cluster, Cluster.id == Insight.cluster_id)
            .where(Digest.subscriber_id.in_(ids), Digest.state != DigestState.FAILED)
            .where(sa.or_(Digest.created_at >= horizon, Cluster.last_seen >= pool_since))
        )
        for sid, day, insight_id, cluster_id, created in session.execute(sent):
            out[sid].sent.append((day, insight_id, cluster_id, created))
        for sid, insight_id, vote in session.execute(
            sa.select(Feedback.subscriber_id, Feedback.insight_id, Feedback.vote).where(
                Feedback.subscriber_id.in_(ids)
            )
        ):
            out[sid].votes.append((insight_id, vote))
    return out


class VectorLookup:
    """Vectors by insight id: from the pool when it holds them, else one query per batch."""

    def __init__(self, pool: CandidatePool, embedder_name: str | None) -> None:
        self.pool, self.embedder_name = pool, embedder_name
        self._extra: dict[int, np.ndarray] = {}

    def fetch(self, session: Session, ids: set[int]) -> None:
        missing = [i for i in ids if i not in self.pool.position and i not in self._extra]
        for start in range(0, len(missing), 5000):
            for insight_id, blob, model in session.execute(
                sa.select(Insight.id, Insight.embedding, Insight.embedding_model).where(
                    Insight.id.in_(missing[start : start + 5000])
                )
            ):
                if blob and model == self.embedder_name:
                    self._extra[insight_id] = from_blob(blob)

    def matrix(self, ids: list[int]) -> np.ndarray | None:
        if self.pool.vectors is None:
            return None
        rows = []
        for i in ids:
            position = self.pool.position.get(i)
            if position is not None:
                rows.append(self.pool.vectors[position])
            elif i in self._extra:
                rows.append(self._extra[i])
        return np.stack(rows) if rows else None
