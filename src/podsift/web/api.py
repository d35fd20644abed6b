"""The JSON API (`/api/...`, described at /openapi.json): feeds for the admin, a subscriber's
digests by their signed token, and each story with all its tellings."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel

from podsift.clusters.stories import Telling, story
from podsift.digests.read import recorded_digests
from podsift.exports.targets import ExportSetupError, add_target, list_targets, remove_target
from podsift.search import (
    AlertError,
    QueryError,
    SearchFilters,
    add_alert,
    list_alerts,
    remove_alert,
    search_moments,
)
from podsift.search.ask import ask
from podsift.store import Subscriber
from podsift.subscribers import SubscriberError, TokenError, subscriber_for
from podsift.subscribers.steer import instruct, profile_of, remove_part
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


class InstructionsIn(BaseModel):
    text: str  # plain words, at most 500 characters; "" clears


class ProfilePartOut(BaseModel):
    key: str
    words: str


class ProfileOut(BaseModel):
    instructions: str
    understood: str  # the profile in words
    profile: dict[str, Any]  # {"mute": {...}, "boost": {...}, "style": [...]}
    parts: dict[str, list[ProfilePartOut]]  # removable parts by group


class ExportIn(BaseModel):
    kind: str  # readwise | notion
    token: str
    scope: str = "received"  # received | liked
    database_id: str = ""


class ExportOut(BaseModel):
    id: int
    kind: str
    scope: str
    database_id: str | None
    state: str
    error: str | None
    sent: int
    waiting: int
    failed: int


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


def _token_subscriber(request: Request, token: str) -> Subscriber:
    """The subscriber of a preferences token (their page's link); 403 for any other."""
    try:
        sub, _ = subscriber_for(core_of(request), "preferences", token)
    except TokenError as exc:
        raise HTTPException(403, str(exc)) from exc
    return sub


def _exports_of(request: Request, subscriber_id: int) -> list[ExportOut]:
    return [
        ExportOut(
            id=t.id,
            kind=t.kind,
            scope=t.scope,
            database_id=t.where if t.kind == "notion" else None,
            state=t.state,
            error=t.error,
            sent=t.sent,
            waiting=t.waiting,
            failed=t.failed,
        )
        for t in list_targets(core_of(request), subscriber_id)
    ]


@router.get("/exports/{token}", response_model=list[ExportOut], summary="A subscriber's notes-tool exports")
def exports(request: Request, token: str) -> list[ExportOut]:
    return _exports_of(request, _token_subscriber(request, token).id)


@router.post(
    "/exports/{token}", response_model=list[ExportOut], status_code=201, summary="Connect Readwise or Notion"
)
def export_add(request: Request, token: str, body: ExportIn) -> list[ExportOut]:
    sub = _token_subscriber(request, token)
    if body.kind not in ("readwise", "notion"):
        raise HTTPException(
            422, "kind is readwise or notion (a vault is the zip at /preferences/<token>/vault.zip)"
        )
    try:
        add_target(
            core_of(request), body.kind, sub.email, body.token, body.scope, database_id=body.database_id
        )
    except ExportSetupError as exc:
        raise HTTPException(422, str(exc)) from exc
    return _exports_of(request, sub.id)


@router.delete("/exports/{token}/{target_id}", status_code=204, summary="Disconnect an export")
def export_remove(request: Request, token: str, target_id: int) -> None:
    if not remove_target(core_of(request), target_id, _token_subscriber(request, token).id):
        raise HTTPException(404, "no such export of yours")


def _profile_out(words: str, profile: Any) -> ProfileOut:
    return ProfileOut(
        instructions=words,
        understood=profile.describe(),
        profile=profile.to_json(),
        parts={
            g: [ProfilePartOut(key=p.key, words=p.words) for p in ps] for g, ps in profile.parts().items()
        },
    )


@router.get("/profile/{token}", response_model=ProfileOut, summary="A reader's instructions and profile")
def profile_get(request: Request, token: str) -> ProfileOut:
    sub = _token_subscriber(request, token)
    return _profile_out(*profile_of(core_of(request), sub.email))


@router.put("/profile/{token}", response_model=ProfileOut, summary="Steer the digest in plain words")
def profile_put(request: Request, token: str, body: InstructionsIn) -> ProfileOut:
    sub = _token_subscriber(request, token)
    try:
        profile = instruct(core_of(request), sub.email, body.text)
    except SubscriberError as exc:
        raise HTTPException(422, str(exc)) from exc
    return _profile_out(body.text.strip(), profile)


@router.delete("/profile/{token}/parts", response_model=ProfileOut, summary="Drop one part of the profile")
def profile_part_remove(request: Request, token: str, key: str) -> ProfileOut:
    sub = _token_subscriber(request, token)
    try:
        profile = remove_part(core_of(request), sub.email, key)
    except SubscriberError as exc:
        raise HTTPException(404, str(exc)) from exc
    return _profile_out(profile_of(core_of(request), sub.email)[0], profile)


class SearchOut(BaseModel):
    query: str
    moments: list[dict[str, Any]]  # kind, show, episode, speaker, start, snippet (HTML), audio, story…


@router.get("/search", response_model=SearchOut, summary="Moments of the shows by words and meaning")
def search(
    request: Request,
    q: str = "",
    token: str | None = None,
    show: str | None = None,
    speaker: str | None = None,
    since: date | None = None,
    until: date | None = None,
    insights: bool = False,
    limit: int = 20,
) -> SearchOut:
    """A subscriber's token (their preferences link's) or the admin's session."""
    _reader_or_admin(request, token)
    filters = SearchFilters(show, speaker, _day(since), _day(until), insights, limit)
    try:
        moments = search_moments(core_of(request), q, filters)
    except QueryError as exc:
        raise HTTPException(422, str(exc)) from exc
    return SearchOut(query=q, moments=[m.to_json() for m in moments])


def _reader_or_admin(request: Request, token: str | None) -> None:
    """Searching the shows takes a subscriber's token (403 if forged) or the admin's session (401)."""
    if token:
        _token_subscriber(request, token)
    elif admin_of(request) is None:
        raise HTTPException(401, "a subscriber token or the admin's session is needed")


def _day(value: date | None) -> datetime | None:
    return datetime(value.year, value.month, value.day, tzinfo=UTC) if value else None


class AlertIn(BaseModel):
    query: str


class AlertOut(BaseModel):
    id: int
    query: str


def _alerts_of(request: Request, subscriber_id: int) -> list[AlertOut]:
    return [AlertOut(id=a.id, query=a.query) for a in list_alerts(core_of(request), subscriber_id)]


@router.get("/alerts/{token}", response_model=list[AlertOut], summary="A subscriber's saved searches")
def alerts(request: Request, token: str) -> list[AlertOut]:
    return _alerts_of(request, _token_subscriber(request, token).id)


@router.post("/alerts/{token}", response_model=list[AlertOut], status_code=201, summary="Save a search")
def alert_add(request: Request, token: str, body: AlertIn) -> list[AlertOut]:
    sub = _token_subscriber(request, token)
    try:
        add_alert(core_of(request), sub.id, body.query)
    except AlertError as exc:
        raise HTTPException(422, str(exc)) from exc
    return _alerts_of(request, sub.id)


@router.delete("/alerts/{token}/{alert_id}", status_code=204, summary="Forget a saved search")
def alert_remove(request: Request, token: str, alert_id: int) -> None:
    if not remove_alert(core_of(request), alert_id, _token_subscriber(request, token).id):
        raise HTTPException(404, "no such saved search of yours")


@router.get("/ask", summary="An answer from the shows' moments, with citations")
def ask_api(
    request: Request, q: str = "", token: str | None = None, show: str | None = None
) -> dict[str, Any]:
    """Numbered citations into `moments`; "Not discussed in your shows." when nothing supports an
    answer; without a model, the moments alone (`offline`)."""
    _reader_or_admin(request, token)
    try:
        return ask(core_of(request), q, SearchFilters(show=show)).to_json()
    except QueryError as exc:
        raise HTTPException(422, str(exc)) from exc
