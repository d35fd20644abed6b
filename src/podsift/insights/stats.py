"""What model calls cost, per episode (`podsift stats`)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from podsift.core import App
from podsift.store import Episode, Feed, LLMCall


@dataclass
class EpisodeUsage:
    show: str | None
    episode: str | None
    model: str
    calls: int
    tokens_in: int
    tokens_out: int
    cost_usd: float


def usage_by_episode(app: App) -> list[EpisodeUsage]:
    with app.session() as session:
        rows = session.execute(
            sa.select(
                Feed.title,
                Episode.title,
                LLMCall.model,
                sa.func.count(LLMCall.id),
                sa.func.sum(LLMCall.tokens_in),
                sa.func.sum(LLMCall.tokens_out),
                sa.func.sum(LLMCall.cost_usd),
            )
            .join(Episode, Episode.id == LLMCall.episode_id)
            .join(Feed, Feed.id == Episode.feed_id)
            .group_by(Feed.title, Episode.id, Episode.title, LLMCall.model)
            .order_by(Episode.id)
        ).all()
    return [EpisodeUsage(*r[:3], int(r[3]), int(r[4] or 0), int(r[5] or 0), float(r[6] or 0.0)) for r in rows]
