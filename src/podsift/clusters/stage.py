"""The clustering stage: embed new insights once, then join each to its story's cluster.

Runs after extraction and before delivery. Work is taken by state (no vector yet, no
cluster yet), so a crashed run resumes; the conditional UPDATE (`cluster_id IS NULL`) keeps
two concurrent runs from filing one insight twice.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Session

from podsift.backends.embeddings import EmbeddingError, to_blob
from podsift.backends.embeddings.vectors import stack
from podsift.clusters.disagree import disputes_same_thing, file_disagreements
from podsift.clusters.index import ClusterIndex
from podsift.clusters.signals import SameStoryModel, story_text
from podsift.progress import progress
from podsift.store import Cluster, Episode, Insight, rows_changed

if TYPE_CHECKING:
    from podsift.core import App

log = logging.getLogger(__name__)
EMBED_BATCH = 256


@dataclass
class ClusterReport:
    embedded: int = 0
    clustered: int = 0
    joined: int = 0
    started: int = 0
    judged: int = 0
    disagreements: int = 0
    seconds: float = 0.0
    error: str | None = None


def embed_insights(app: App) -> int:
    """Give every insight without a vector of the configured model one (batched)."""
    with app.session() as session:
        todo = session.execute(
            sa.select(Insight.id, Insight.text, Insight.quote)
            .where(
                sa.or_(
                    Insight.embedding.is_(None),
                    Insight.embedding_model.is_(None),
                    Insight.embedding_model != app.embedder_name,
                )
            )
            .order_by(Insight.id)
        ).all()
    if not todo:
        return 0  # no model is loaded for nothing
    embedder = app.embedder()
    done = 0
    with progress("embedding insights", len(todo)) as bar:
        for start in range(0, len(todo), EMBED_BATCH):
            batch = todo[start : start + EMBED_BATCH]
            vectors = embedder.embed([story_text(row.text, row.quote) for row in batch])
            with app.session() as session:
                session.execute(
                    sa.update(Insight),
                    [
                        {"id": row.id, "embedding": to_blob(v), "embedding_model": embedder.name}
                        for row, v in zip(batch, vectors, strict=True)
                    ],
                )
                session.commit()
            done += len(batch)
            bar.advance(len(batch))
    return done


def unclustered_insights(app: App) -> int:
    """Insights not filed in a story yet (with or without a vector)."""
    with app.session() as session:
        return int(session.scalar(sa.select(sa.func.count()).where(Insight.cluster_id.is_(None))) or 0)


def cluster_insights(app: App, now: datetime) -> ClusterReport:
    started = time.perf_counter()
    report = ClusterReport()
    try:
        report.embedded = embed_insights(app)
    except EmbeddingError as exc:  # no vectors: ranking falls back to words, nothing is lost
        log.error("embedding failed, insights stay unclustered: %s", exc)
        report.error = str(exc)
        return report
    model = SameStoryModel(threshold=app.settings.same_story_threshold)
    with app.session() as session:
        new = session.execute(
            sa.select(Insight.id, Insight.text, Insight.quote, Insight.embedding)
            .join(Episode, Episode.id == Insight.episode_id)
            .where(Insight.cluster_id.is_(None), Insight.embedding_model == app.embedder_name)
            # Filed in the order they were said (a story grows from its first telling), not
            # the order extraction finished in: feeds are fetched concurrently, so that order,
            # and with it which stories form, changed from run to run.
            .order_by(
                Episode.published_at.asc().nulls_last(),
                Episode.feed_id,
                Episode.id,
                Insight.start_seconds,
                Insight.id,
            )
        ).all()
        if not new:
            return report
        embedder = app.embedder()
        window = session.execute(
            sa.select(Insight.cluster_id, Insight.text, Insight.quote, Insight.embedding)
            .where(
                Insight.cluster_id.is_not(None),
                Insight.embedding_model == embedder.name,
                Insight.created_at >= now - timedelta(days=app.settings.cluster_window_days),
            )
            .order_by(Insight.id)
        ).all()
    index = ClusterIndex(embedder.dimensions, model, capacity=len(window) + len(new))
    index.add_many(
        stack([r.embedding for r in window], embedder.dimensions),
        [r.cluster_id for r in window],
        [story_text(r.text, r.quote) for r in window],
    )
    # Deciding holds no transaction (the LLM judge may take seconds and writes its cache);
    # new clusters get temporary negative ids, made real below.
    provisional = iter(range(-1, -(len(new) + 2), -1))
    judge = app.story_judge() if app.story_judge else None
    assignments = index.assign(
        stack([r.embedding for r in new], embedder.dimensions),
        [story_text(r.text, r.quote) for r in new],
        lambda: next(provisional),
        judge,
        disputes_same_thing,
    )
    filed: list[int] = []
    with app.session() as session:
        real: dict[int, int] = {}
        touched: set[int] = set()
        for row, assignment in zip(new, assignments, strict=True):
            cluster_id = assignment.cluster_id
            if cluster_id < 0:
                if cluster_id not in real:
                    cluster = Cluster(first_seen=now, last_seen=now, feed_ids=[])
                    session.add(cluster)
                    session.flush()
                    real[cluster_id] = cluster.id
                cluster_id = real[cluster_id]
            result = session.execute(
                sa.update(Insight)
                .where(Insight.id == row.id, Insight.cluster_id.is_(None))
                .values(cluster_id=cluster_id)
            )
            if rows_changed(result) == 1:
                filed.append(row.id)
                touched.add(cluster_id)
                report.clustered += 1
                report.joined += assignment.joined
                report.started += not assignment.joined
        refresh_clusters(session, touched | set(real.values()))
        session.commit()
    report.disagreements = file_disagreements(app, filed, judge)
    report.judged = index.judged
    report.seconds = time.perf_counter() - started
    return report


def member_quality(extractor: str, score: float, confidence: float | None) -> float:
    """How well an insight tells its story: model-written claims are self-contained
    sentences; offline ones are quotes, so they rank below a model's telling."""
    return score + (0.0 if extractor.startswith("offline") else 0.5) + 0.2 * (confidence or 0.0)


def refresh_clusters(session: Session, cluster_ids: set[int]) -> None:
    """Recount members, shows, first/last seen and the representative; drop empty clusters."""
    if not cluster_ids:
        return
    rows = session.execute(
        sa.select(
            Insight.cluster_id,
            Insight.id,
            Insight.score,
            Insight.confidence,
            Insight.extractor,
            Insight.created_at,
            Episode.published_at,
            Episode.feed_id,
        )
        .join(Episode, Episode.id == Insight.episode_id)
        .where(Insight.cluster_id.in_(cluster_ids))
    ).all()
    members: dict[int, list[sa.Row]] = defaultdict(list)
    for row in rows:
        members[row.cluster_id].append(row)
    for cluster_id in cluster_ids:
        group = members.get(cluster_id)
        if not group:
            session.execute(sa.delete(Cluster).where(Cluster.id == cluster_id))
            continue
        seen = [min(r.published_at or r.created_at, r.created_at) for r in group]
        best = max(group, key=lambda r: (member_quality(r.extractor, r.score, r.confidence), -r.id))
        feeds = sorted({r.feed_id for r in group})
        session.execute(
            sa.update(Cluster)
            .where(Cluster.id == cluster_id)
            .values(
                size=len(group),
                show_count=len(feeds),
                feed_ids=feeds,
                first_seen=min(seen),
                last_seen=max(seen),
                representative_id=best.id,
            )
        )
