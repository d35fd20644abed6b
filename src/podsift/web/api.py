"""The JSON API (`/api/...`, described at /openapi.json): feeds for the admin, a subscriber's
digests by their signed token, and each story with all its tellings."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel

from podsift.delivery.tokens import TokenError
from podsift.store import Digest
from podsift.web.admin import admin_of, feed_rows
from podsift.web.pages import cluster_tellings, core_of, digest_items

router = APIRouter(prefix="/api", tags=["api"])


class FeedOut(BaseModel):
    id: int
    title: str | None
    url: str
    status: str
    error: str | None
    last_checked: str | None
    next_check: str | None
    episodes: int
    publisher_share: str


class Telling(BaseModel):
    insight_id: int
    text: str
    quote: str
    speaker: str | None
    show: str | None
    episode: str | None
    start: float
    link: str | None


class DigestInsight(BaseModel):
    insight_id: int
    cluster_id: int | None
    text: str
    quote: str
    speaker: str | None
    show: str | None
    episode: str | None
    start: float
    audio: str | None
    why: str
    also_on: list[dict[str, str | None]]


class DigestOut(BaseModel):
    date: str
    state: str
    insights: list[DigestInsight]


class InsightOut(BaseModel):
    cluster_id: int
    show_count: int
    first_seen: str
    last_seen: str
    tellings: list[Telling]


@router.get("/feeds", response_model=list[FeedOut], summary="Followed shows and their status (admin session)")
def feeds(request: Request) -> list[FeedOut]:
    if admin_of(request) is None:
        raise HTTPException(401, "sign in at /admin/login")
    return [FeedOut(**row) for row in feed_rows(core_of(request))]


@router.get(
    "/digests/{token}", response_model=list[DigestOut], summary="A subscriber's digests, newest first"
)
def digests(request: Request, token: str, limit: int = 30) -> list[DigestOut]:
    from podsift.subscribers import subscriber_for

    core = core_of(request)
    try:
        sub, _ = subscriber_for(core, "preferences", token)
    except TokenError as exc:
        raise HTTPException(403, str(exc)) from exc
    with core.session() as session:
        rows = list(
            session.scalars(
                sa.select(Digest)
                .where(Digest.subscriber_id == sub.id)
                .order_by(Digest.local_date.desc())
                .limit(min(limit, 365))
            )
        )
    return [
        DigestOut(
            date=d.local_date,
            state=d.state,
            insights=[
                DigestInsight(**{k: v for k, v in item.items() if k in DigestInsight.model_fields})
                for item in digest_items(core, sub, d)
            ],
        )
        for d in rows
    ]


@router.get(
    "/insights/{cluster_id}", response_model=InsightOut, summary="One story and every show's telling of it"
)
def insight(request: Request, cluster_id: int) -> InsightOut:
    found = cluster_tellings(core_of(request), cluster_id)
    if found is None:
        raise HTTPException(404, "no such insight")
    cluster, tellings = found
    return InsightOut(
        cluster_id=cluster.id,
        show_count=cluster.show_count,
        first_seen=cluster.first_seen.isoformat(),
        last_seen=cluster.last_seen.isoformat(),
        tellings=[Telling(**{k: v for k, v in t.items() if k in Telling.model_fields}) for t in tellings],
    )
