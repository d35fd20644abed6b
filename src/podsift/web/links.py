"""The signed-link endpoints in every email: confirm, unsubscribe, feedback, preferences and
the private Atom feed.

Every state change is a POST: a GET (what link scanners and previews do) shows a page with
a button and changes nothing. The unsubscribe POST needs no cookie and no form field, so a
mail client's RFC 8058 one-click POST works. Tokens name the subscriber and their current
`token_version`; anything else (forged, for another purpose, from before a re-subscribe) gets
a 400 page and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, PlainTextResponse, Response
from starlette.datastructures import FormData

from podsift.briefings.feed import (
    MEDIA_TYPES,
    briefing_file,
    briefing_rss,
    feed_path,
    ready_briefings,
    set_briefing,
)
from podsift.digests.read import recorded_digests
from podsift.digests.view import render as render_digest
from podsift.exports.targets import (
    ExportSetupError,
    add_target,
    list_targets,
    remove_target,
    subscriber_vault,
)
from podsift.search import AlertError, add_alert, list_alerts, remove_alert
from podsift.sources.feeds import followed_shows
from podsift.sources.topics import TopicError, add_topic, remove_topic, topic_overview
from podsift.store import Subscriber, utcnow
from podsift.subscribers import (
    SubscriberError,
    TokenError,
    confirm,
    find_subscriber,
    links_for,
    preferences_path,
    record_vote,
    subscriber_for,
    unsubscribe,
    update_subscriber,
)
from podsift.subscribers.profile import ReaderProfile
from podsift.subscribers.steer import instruct, remove_part
from podsift.web.pages import core_of, invalid_link, message_page, reader_pages, render, token_subscriber

if TYPE_CHECKING:
    from podsift.core import App

router = APIRouter()
# Pages behind a signed link are never cached by a proxy or the browser.
PRIVATE_PREFIXES = ("/unsubscribe/", "/preferences/", "/feedback/", "/confirm/", "/feed/")


# --- unsubscribe ----------------------------------------------------------------------------
@router.get("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe_page(request: Request, token: str) -> HTMLResponse:
    found = token_subscriber(request, "unsubscribe", token)
    if isinstance(found, HTMLResponse):
        return found
    sub, _ = found
    if not sub.active:
        return message_page(request, "You are unsubscribed", f"{sub.email} gets no more digests.")
    return message_page(
        request,
        "Unsubscribe?",
        f"Stop the daily podsift digest to {sub.email}.",
        request.url.path,
        "Unsubscribe",
    )


@router.post("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe_now(request: Request, token: str) -> HTMLResponse:
    try:
        sub = unsubscribe(core_of(request), token)
    except TokenError as exc:
        return invalid_link(request, exc)
    return message_page(
        request, "You are unsubscribed", f"{sub.email} gets no more digests. Sorry to see you go."
    )


# --- double opt-in --------------------------------------------------------------------------
@router.get("/confirm/{token}", response_class=HTMLResponse)
def confirm_page(request: Request, token: str) -> HTMLResponse:
    found = token_subscriber(request, "confirm", token)
    if isinstance(found, HTMLResponse):
        return found
    sub, _ = found
    if sub.confirmed:
        return message_page(request, "Confirmed", f"{sub.email} is subscribed.")
    return message_page(
        request,
        "Confirm your subscription",
        f"Send daily digests to {sub.email}.",
        request.url.path,
        "Confirm",
    )


@router.post("/confirm/{token}", response_class=HTMLResponse)
def confirm_now(request: Request, token: str) -> HTMLResponse:
    core = core_of(request)
    try:
        sub = confirm(core, token)
    except TokenError as exc:
        return invalid_link(request, exc)
    return message_page(
        request,
        "Confirmed",
        f"{sub.email} will get its first digest at {sub.send_hour}:00 ({sub.timezone}).",
        links=[("Choose your interests and shows", preferences_path(core, sub))],
    )


# --- feedback -------------------------------------------------------------------------------
@router.get("/feedback/{token}", response_class=HTMLResponse)
def feedback_page(request: Request, token: str) -> HTMLResponse:
    found = token_subscriber(request, "feedback", token)
    if isinstance(found, HTMLResponse):
        return found
    _, data = found
    more = data.get("d") == 1
    return message_page(
        request,
        "More like this?" if more else "Less like this?",
        "Your vote tunes which insights you get next.",
        request.url.path,
        "👍 More like this" if more else "👎 Less like this",
    )


@router.post("/feedback/{token}", response_class=HTMLResponse)
def feedback_now(request: Request, token: str) -> HTMLResponse:
    try:
        _, _, vote = record_vote(core_of(request), token)
    except TokenError as exc:
        return invalid_link(request, exc)
    noted = "Noted: " + ("more like this." if vote > 0 else "less like this.")
    if request.headers.get("HX-Request"):  # the digest page's buttons swap in this line
        return HTMLResponse(f'<span role="status" class="ok">{noted}</span>')
    return message_page(request, "Thanks", noted)


# --- preferences ----------------------------------------------------------------------------
def preferences_context(request: Request, sub: Subscriber, token: str) -> dict[str, Any]:
    core = core_of(request)
    feeds = followed_shows(core)
    links = links_for(core, sub)
    return {
        "sub": sub,
        "feeds": feeds,
        "action": f"/preferences/{token}",
        "archive_url": f"/me/{token}/today",
        **reader_pages(token),
        "feed_url": links.feed if links else "",
        "unsubscribe_url": links.unsubscribe if links else "",
        "topics": topic_overview(core, sub.id),
        "exports": {t.kind: t for t in list_targets(core, sub.id)},
        "reader_profile": ReaderProfile.from_json(sub.reader_profile or {}),
        "alerts": list_alerts(core, sub.id),
        "briefing_feed": feed_path(core, sub) if sub.briefing else "",
    }


def preferences_result(
    request: Request, sub: Subscriber, token: str, error: str | None, failed_status: int = 400
) -> HTMLResponse:
    """The preferences page after a change: "Saved.", or the error with `failed_status`."""
    context = {**preferences_context(request, sub, token), "saved": error is None, "error": error}
    return render(request, "preferences.html", context, 200 if error is None else failed_status)


async def _form_change(
    request: Request,
    token: str,
    change: Callable[[App, Subscriber, FormData], object],
    errors: type[Exception] | tuple[type[Exception], ...],
    failed_status: int = 400,
    refresh: bool = False,
) -> HTMLResponse:
    """A preferences-page form: the link checked, `change` made from the form, the page again
    with "Saved." or the error (`refresh`: the subscriber read again, for what `change` wrote)."""
    found = token_subscriber(request, "preferences", token)
    if isinstance(found, HTMLResponse):
        return found
    sub, _ = found
    form = await request.form()
    error = None
    try:
        change(core_of(request), sub, form)
    except errors as exc:
        error = str(exc)
    if refresh:
        sub = find_subscriber(core_of(request), sub.email)
    return preferences_result(request, sub, token, error, failed_status)


@router.get("/preferences/{token}", response_class=HTMLResponse)
def preferences_page(request: Request, token: str) -> HTMLResponse:
    found = token_subscriber(request, "preferences", token)
    if isinstance(found, HTMLResponse):
        return found
    sub, _ = found
    return render(request, "preferences.html", preferences_context(request, sub, token))


@router.post("/preferences/{token}", response_class=HTMLResponse)
async def preferences_save(request: Request, token: str) -> HTMLResponse:
    found = token_subscriber(request, "preferences", token)
    if isinstance(found, HTMLResponse):
        return found
    sub, _ = found
    form = await request.form()
    values: dict[str, Any] = {
        "interests": str(form.get("interests", "")),
        "timezone": str(form.get("timezone", sub.timezone)),
        "send_hour": int(str(form.get("send_hour") or sub.send_hour)),
        "top_n": int(str(form.get("top_n") or sub.top_n)),
        "paused": form.get("paused") == "1",
        "email_enabled": form.get("email_enabled") == "1",
        "channels": [line for line in str(form.get("channels", "")).splitlines() if line.strip()],
        "feed_ids": None
        if form.get("all_shows", "1") == "1"
        else [int(str(f)) for f in form.getlist("feed")],
    }
    error = None
    try:
        sub = update_subscriber(core_of(request), sub.email, **values)
    except (SubscriberError, ValueError) as exc:
        error = str(exc)
    return preferences_result(request, sub, token, error)


@router.post("/preferences/{token}/topics", response_class=HTMLResponse)
async def topic_add(request: Request, token: str) -> HTMLResponse:
    """Follow a topic: podsift searches the directories for shows on it."""
    return await _form_change(
        request,
        token,
        lambda core, sub, form: add_topic(core, str(form.get("topic", "")), sub.email),
        TopicError,
    )


@router.post("/preferences/{token}/topics/{topic_id}/remove", response_class=HTMLResponse)
async def topic_remove(request: Request, token: str, topic_id: int) -> HTMLResponse:
    found = token_subscriber(request, "preferences", token)
    if isinstance(found, HTMLResponse):
        return found
    sub, _ = found
    removed = remove_topic(core_of(request), topic_id, sub.id)
    return preferences_result(request, sub, token, None if removed else "No such topic of yours.", 404)


# --- the reader's own words -------------------------------------------------------------------
@router.post("/preferences/{token}/instructions", response_class=HTMLResponse)
async def instructions_save(request: Request, token: str) -> HTMLResponse:
    """Read the reader's plain words into a profile (shown back on the page to confirm)."""
    return await _form_change(
        request,
        token,
        lambda core, sub, form: instruct(core, sub.email, str(form.get("instructions", ""))),
        SubscriberError,
        refresh=True,
    )


@router.post("/preferences/{token}/profile/remove", response_class=HTMLResponse)
async def profile_part_remove(request: Request, token: str) -> HTMLResponse:
    return await _form_change(
        request,
        token,
        lambda core, sub, form: remove_part(core, sub.email, str(form.get("key", ""))),
        SubscriberError,
        failed_status=404,
        refresh=True,
    )


# --- saved searches ----------------------------------------------------------------------------
@router.post("/preferences/{token}/alerts", response_class=HTMLResponse)
async def alert_add(request: Request, token: str) -> HTMLResponse:
    return await _form_change(
        request,
        token,
        lambda core, sub, form: add_alert(core, sub.id, str(form.get("query", ""))),
        AlertError,
    )


@router.post("/preferences/{token}/alerts/{alert_id}/remove", response_class=HTMLResponse)
def alert_remove(request: Request, token: str, alert_id: int) -> HTMLResponse:
    found = token_subscriber(request, "preferences", token)
    if isinstance(found, HTMLResponse):
        return found
    sub, _ = found
    removed = remove_alert(core_of(request), alert_id, sub.id)
    return preferences_result(request, sub, token, None if removed else "No such saved search of yours.", 404)


# --- exports to notes tools ------------------------------------------------------------------
@router.post("/preferences/{token}/exports", response_class=HTMLResponse)
async def export_add(request: Request, token: str) -> HTMLResponse:
    """Connect Readwise or Notion: the token is checked (Readwise), kept encrypted, never shown."""

    def connect(core: App, sub: Subscriber, form: FormData) -> object:
        return add_target(
            core,
            str(form.get("kind", "")),
            sub.email,
            str(form.get("access_token", "")),
            str(form.get("scope", "received")),
            database_id=str(form.get("database_id", "")),
        )

    return await _form_change(request, token, connect, ExportSetupError)


@router.post("/preferences/{token}/exports/{target_id}/remove", response_class=HTMLResponse)
def export_remove(request: Request, token: str, target_id: int) -> HTMLResponse:
    found = token_subscriber(request, "preferences", token)
    if isinstance(found, HTMLResponse):
        return found
    sub, _ = found
    removed = remove_target(core_of(request), target_id, sub.id)
    return preferences_result(request, sub, token, None if removed else "No such export of yours.", 404)


@router.get("/preferences/{token}/vault.zip")
def vault_download(request: Request, token: str, scope: str = "received") -> Response:
    """Everything this subscriber received (or liked) as an Obsidian-ready Markdown vault."""
    found = token_subscriber(request, "preferences", token)
    if isinstance(found, HTMLResponse):
        return found
    sub, _ = found
    body = subscriber_vault(core_of(request), sub, "liked" if scope == "liked" else "received")
    return Response(
        body,
        media_type="application/zip",
        headers={"Content-Disposition": 'attachment; filename="podsift-vault.zip"'},
    )


# --- the audio briefing ---------------------------------------------------------------------
@router.post("/preferences/{token}/briefing", response_class=HTMLResponse)
async def briefing_choice(request: Request, token: str) -> HTMLResponse:
    """Opt in to (or out of) the daily audio briefing."""

    def choose(core: App, sub: Subscriber, form: FormData) -> object:
        set_briefing(core, sub.id, str(form.get("briefing", "")) == "on")
        return None

    return await _form_change(request, token, choose, (), refresh=True)


@router.get("/feed/{token}/briefing.xml")
def briefing_feed(request: Request, token: str) -> Response:
    """The subscriber's briefings for their podcast app: RSS behind the feed token."""
    core = core_of(request)
    try:
        sub, _ = subscriber_for(core, "feed", token)
    except TokenError as exc:
        return PlainTextResponse(str(exc), status_code=404)
    root = str(request.base_url).rstrip("/")
    body = briefing_rss(
        ready_briefings(core, sub.id),
        f"{root}/feed/{token}/briefing",
        f"{root}{request.url.path}",
        None,
    )
    return Response(body, media_type="application/rss+xml; charset=utf-8")


@router.get("/feed/{token}/briefing/{briefing_id}.{suffix}")
def briefing_media(request: Request, token: str, briefing_id: int, suffix: str) -> Response:
    """A briefing's MP3 (HTTP Range for seeking), chapters or transcript."""
    core = core_of(request)
    try:
        sub, _ = subscriber_for(core, "feed", token)
    except TokenError as exc:
        return PlainTextResponse(str(exc), status_code=404)
    path = briefing_file(core, sub.id, briefing_id, f".{suffix}")
    if path is None:
        return PlainTextResponse("no such briefing", status_code=404)
    return FileResponse(
        path, media_type=MEDIA_TYPES[f".{suffix}"], headers={"Cache-Control": "private, max-age=3600"}
    )


# --- private Atom feed ----------------------------------------------------------------------
@router.get("/feed/{token}.atom")
def atom_feed(request: Request, token: str) -> Response:
    core = core_of(request)
    try:
        sub, _ = subscriber_for(core, "feed", token)
    except TokenError as exc:
        return PlainTextResponse(str(exc), status_code=404)
    entries = [
        {
            "id": d.id,
            "title": f"Your podsift digest for {d.date}",
            "updated": d.created_at.astimezone(UTC).isoformat(),
            "html": render_digest(d.view, "html"),
        }
        for d in recorded_digests(core, sub, sent_only=True)
    ]
    body = request.app.state.templates.get_template("feed.atom").render(
        sub=sub,
        entries=entries,
        updated=entries[0]["updated"] if entries else utcnow().isoformat(),
        self_url=str(request.url),
    )
    return Response(body, media_type="application/atom+xml; charset=utf-8")
