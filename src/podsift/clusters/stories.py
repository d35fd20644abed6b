"""A story as readers see it: every show's telling of one insight, first to last."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from podsift.clusters.disagree import cluster_disputes
from podsift.net.links import listen_link
from podsift.sources.titles import episode_title
from podsift.store import Cluster, Episode, Feed, Insight

if TYPE_CHECKING:
    from podsift.core import App


@dataclass
class Telling:
    insight_id: int
    text: str
    quote: str
    speaker: str | None
    show: str | None
    episode: str | None
    start: float
    link: str | None


@dataclass
class Story:
    cluster_id: int
    show_count: int
    first_seen: datetime
    last_seen: datetime
    representative_id: int | None
    tellings: list[Telling]
    # The representative episode's show notes: publisher HTML, to be sanitised before showing.
    notes: str | None
    # Where shows disagree: [{"detail", "sides": [{speaker, show, quote, link, ...}]}].
    disputes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def headline(self) -> str:
        chosen = [t.text for t in self.tellings if t.insight_id == self.representative_id]
        return chosen[0] if chosen else (self.tellings[0].text if self.tellings else "")


MAX_ID = 2**63 - 1  # ids are 64-bit at most in every database podsift uses


def story(app: App, cluster_id: int) -> Story | None:
    """The story with this id, or None (also for an id no database could hold)."""
    if not 0 < cluster_id <= MAX_ID:
        return None
    with app.session() as session:
        cluster = session.get(Cluster, cluster_id)
        if cluster is None:
            return None
        rows = session.execute(
            sa.select(Insight, Episode, Feed.title)
            .join(Episode, Episode.id == Insight.episode_id)
            .join(Feed, Feed.id == Episode.feed_id)
            .where(Insight.cluster_id == cluster_id)
            .order_by(Insight.created_at)
        ).all()
        tellings = [
            Telling(
                i.id,
                i.text,
                i.quote,
                i.speaker,
                show,
                episode_title(e.title, show),
                i.start_seconds,
                listen_link(e.audio_url, e.link, i.start_seconds),
            )
            for i, e, show in rows
        ]
        rep = session.get(Insight, cluster.representative_id) if cluster.representative_id else None
        notes = rep.episode.description if rep is not None else None
        return Story(
            cluster.id,
            cluster.show_count,
            cluster.first_seen,
            cluster.last_seen,
            cluster.representative_id,
            tellings,
            notes,
            cluster_disputes(session, {cluster.id}).get(cluster.id, []),
        )
