"""What model requests cost, per episode and per model (`podsift stats`).

Counts come from llm_requests, one row per request sent (answered, cut off, refused or
timed out) and per faithfulness-guard event; cost from the cached answers in llm_calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa

from podsift.store import Episode, Feed, LLMCall, LLMRequest

if TYPE_CHECKING:
    from podsift.core import App

FAILED = ("truncated", "invalid", "timeout", "error")


@dataclass
class EpisodeUsage:
    show: str | None
    episode: str | None
    model: str
    calls: int
    tokens_in: int
    tokens_out: int
    cost_usd: float
    failed: int = 0
    seconds: float = 0.0


@dataclass
class ModelUsage:
    model: str
    purpose: str
    requests: int
    failed: int
    tokens_in: int
    tokens_out: int
    seconds: float
    guard_trips: int
    guard_fallbacks: int


def _is_request() -> sa.ColumnElement[bool]:
    return LLMRequest.purpose != "guard"


def usage_by_episode(app: App) -> list[EpisodeUsage]:
    with app.session() as session:
        rows = session.execute(
            sa.select(
                Feed.title,
                Episode.title,
                LLMRequest.model,
                sa.func.count(LLMRequest.id),
                sa.func.sum(LLMRequest.tokens_in),
                sa.func.sum(LLMRequest.tokens_out),
                sa.func.sum(sa.case((LLMRequest.outcome.in_(FAILED), 1), else_=0)),
                sa.func.sum(LLMRequest.seconds),
                Episode.id,
            )
            .join(Episode, Episode.id == LLMRequest.episode_id)
            .join(Feed, Feed.id == Episode.feed_id)
            .where(_is_request())
            .group_by(Feed.title, Episode.id, Episode.title, LLMRequest.model)
            .order_by(Episode.id)
        ).all()
        costs = dict(
            session.execute(
                sa.select(LLMCall.episode_id, sa.func.sum(LLMCall.cost_usd)).group_by(LLMCall.episode_id)
            ).all()
        )
    return [
        EpisodeUsage(
            r[0],
            r[1],
            r[2],
            int(r[3]),
            int(r[4] or 0),
            int(r[5] or 0),
            float(costs.get(r[8]) or 0.0),
            int(r[6] or 0),
            float(r[7] or 0.0),
        )
        for r in rows
    ]


def usage_by_model(app: App) -> list[ModelUsage]:
    """Every request, the story judge's included, and the guard's trips, per model and purpose."""
    with app.session() as session:
        requests = session.execute(
            sa.select(
                LLMRequest.model,
                LLMRequest.purpose,
                sa.func.count(LLMRequest.id),
                sa.func.sum(sa.case((LLMRequest.outcome.in_(FAILED), 1), else_=0)),
                sa.func.sum(LLMRequest.tokens_in),
                sa.func.sum(LLMRequest.tokens_out),
                sa.func.sum(LLMRequest.seconds),
            )
            .where(_is_request())
            .group_by(LLMRequest.model, LLMRequest.purpose)
            .order_by(LLMRequest.model, LLMRequest.purpose)
        ).all()
        guard = session.execute(
            sa.select(LLMRequest.model, LLMRequest.outcome, sa.func.count(LLMRequest.id))
            .where(LLMRequest.purpose == "guard")
            .group_by(LLMRequest.model, LLMRequest.outcome)
        ).all()
    trips = {(m, o): int(n) for m, o, n in guard}
    return [
        ModelUsage(
            m,
            p,
            int(n),
            int(f or 0),
            int(i or 0),
            int(o or 0),
            float(s or 0.0),
            trips.get((m, "trip"), 0) if p == "refine" else 0,
            trips.get((m, "fallback"), 0) if p == "refine" else 0,
        )
        for m, p, n, f, i, o, s in requests
    ]
