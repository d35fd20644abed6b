"""The JSON API (`/api/...`, described at /openapi.json): feeds for the admin, a subscriber's
digests by their signed token, and each story with all its tellings."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel

from podsift.clusters.stories import Telling, story
from podsift.digests.read import recorded_digests
from podsift.subscribers import TokenError, subscriber_for
from podsift.web.admin import admin_of, feed_rows
from podsift.web.pages import core_of

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
    failed_episodes: int = 0


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
    also_on_more: int
    disputes: list[dict[str, Any]]
    found_for: str | None


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
    core = core_of(request)
    try:
        sub, _ = subscriber_for(core, "preferences", token)
    except TokenError as exc:
        raise HTTPException(403, str(exc)) from exc
    return [
        DigestOut(
            date=d.date,
            state=d.state,
            insights=[
                DigestInsight(
                    insight_id=e.insight_id,
                    cluster_id=e.cluster_id,
                    text=e.text,
                    quote=e.quote,
                    speaker=e.speaker,
                    show=e.podcast,
                    episode=e.episode,
                    start=e.start,
                    audio=e.audio,
                    why=e.why,
                    also_on=e.also_on,
                    also_on_more=e.also_on_more,
                    disputes=e.disputes,
                    found_for=e.found_for,
                )
                for e in d.view.insights
            ],
        )
        for d in recorded_digests(core, sub, limit=limit)
    ]


@router.get(
    "/insights/{cluster_id}", response_model=InsightOut, summary="One story and every show's telling of it"
)
def insight(request: Request, cluster_id: int) -> InsightOut:
    found = story(core_of(request), cluster_id)
    if found is None:
        raise HTTPException(404, "no such insight")
    return InsightOut(
        cluster_id=found.cluster_id,
        show_count=found.show_count,
        first_seen=found.first_seen.isoformat(),
        last_seen=found.last_seen.isoformat(),
        tellings=found.tellings,
    )
