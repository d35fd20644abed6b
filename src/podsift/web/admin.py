"""Admin pages: sign-in, shows (status, add, OPML in/out, remove, re-scan), discovery and
topics that find shows (add, search, follow or dismiss what they propose)."""

from __future__ import annotations

import asyncio
import html
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from podsift.core import App
from podsift.sources.discover import EpisodeResult, ShowResult, discover
from podsift.sources.feeds import feed_overview, rescan_feed
from podsift.sources.scan import add_feeds, export_opml, import_opml, remove_feed
from podsift.sources.topics import (
    TopicError,
    add_topic,
    dismiss_proposal,
    follow_proposal,
    remove_topic,
    search_topics,
    topic_overview,
)
from podsift.store import utcnow
from podsift.web import auth
from podsift.web.pages import browser_anchor, core_of, render, search_page, with_browser_cookie

router = APIRouter(prefix="/admin")
NAV = [("Shows", "/admin/shows"), ("Discover", "/admin/discover"), ("Topics", "/admin/topics")]


def admin_of(request: Request) -> str | None:
    return auth.session_user(core_of(request), request.cookies.get(auth.SESSION_COOKIE))


def to_login() -> RedirectResponse:
    return RedirectResponse("/admin/login", status_code=303)


def csrf_for(request: Request) -> str:
    return auth.csrf_token(core_of(request), request.cookies.get(auth.SESSION_COOKIE) or "")


async def checked_form(request: Request) -> Any | None:
    """The POSTed form when the admin is signed in and the CSRF token matches, else None."""
    form = await request.form()
    if admin_of(request) is None:
        return None
    if not auth.csrf_ok(
        core_of(request), request.cookies.get(auth.SESSION_COOKIE), str(form.get("csrf", ""))
    ):
        return None
    return form


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> Response:
    csrf = auth.csrf_token(core_of(request), browser_anchor(request))
    return with_browser_cookie(request, render(request, "admin_login.html", {"csrf": csrf}))


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    core = core_of(request)
    form = await request.form()
    csrf = auth.csrf_token(core, browser_anchor(request))
    if not auth.csrf_ok(core, request.cookies.get(auth.BROWSER_COOKIE), str(form.get("csrf", ""))):
        return with_browser_cookie(
            request,
            render(request, "admin_login.html", {"csrf": csrf, "error": "The form expired; try again."}, 400),
        )
    await asyncio.sleep(0.2)  # slows guessing down a little; a proxy should rate-limit too
    cookie = auth.login(core, str(form.get("user", "")), str(form.get("password", "")))
    if cookie is None:
        return render(request, "admin_login.html", {"csrf": csrf, "error": "Wrong user or password."}, 401)
    response = RedirectResponse("/admin/shows", status_code=303)
    response.set_cookie(
        auth.SESSION_COOKIE,
        cookie,
        max_age=auth.SESSION_SECONDS,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    if await checked_form(request) is None:
        return to_login()
    response = RedirectResponse("/admin/login", status_code=303)
    response.delete_cookie(auth.SESSION_COOKIE)
    return response


def refused(request: Request) -> Response:
    """Not signed in: to the login page; signed in with a stale or forged CSRF token: 400."""
    if admin_of(request) is None:
        return to_login()
    return shows_page(request, error="The form expired; try again.", status=400)


def feed_rows(core: App) -> list[dict[str, Any]]:
    """The shows table of the admin page and /api/feeds."""
    return [
        {
            "id": f.id,
            "title": f.title,
            "url": f.url,
            "status": f.status,
            "error": f.error,
            "last_checked": _utc(f.last_checked),
            "next_check": _utc(f.next_check),
            "episodes": f.episodes,
            "failed_episodes": f.failed_episodes,
            "publisher_share": f.publisher_share,
        }
        for f in feed_overview(core, order_by_title=True)
    ]


def _utc(moment: datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else None


def shows_page(
    request: Request, message: str | None = None, error: str | None = None, status: int = 200
) -> Response:
    if admin_of(request) is None:
        return to_login()
    context = {
        "feeds": feed_rows(core_of(request)),
        "csrf": csrf_for(request),
        "nav": NAV,
        "search_action": "/admin/search",
        "message": message,
        "error": error,
    }
    return render(request, "admin_shows.html", context, status)


@router.get("/shows", response_class=HTMLResponse)
def shows(request: Request) -> Response:
    return shows_page(request)


@router.post("/shows/add", response_class=HTMLResponse)
async def add_show(request: Request) -> Response:
    form = await checked_form(request)
    if form is None:
        return refused(request)
    url = str(form.get("url", "")).strip()
    added, problems = await asyncio.to_thread(add_feeds, core_of(request), [url])
    if problems:
        return shows_page(request, error="; ".join(problems), status=400)
    text = f"Following {url}" if added else f"Already following {url}"
    if request.headers.get("HX-Request"):
        return HTMLResponse(f'<p role="status" class="ok">{html.escape(text)}</p>')
    return shows_page(request, message=text)


@router.post("/shows/import", response_class=HTMLResponse)
async def import_shows(request: Request) -> Response:
    form = await checked_form(request)
    if form is None:
        return refused(request)
    upload = form.get("opml")
    data = await upload.read() if hasattr(upload, "read") else b""
    try:
        added, problems = await asyncio.to_thread(import_opml, core_of(request), data[: 5 * 1024 * 1024])
    except ValueError as exc:
        return shows_page(request, error=f"Could not read that OPML: {exc}", status=400)
    return shows_page(
        request, message=f"Imported {len(added)} new show(s)", error="; ".join(problems) or None
    )


@router.get("/shows/export.opml")
def export_shows(request: Request) -> Response:
    if admin_of(request) is None:
        return to_login()
    return Response(
        export_opml(core_of(request)),
        media_type="text/x-opml; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="podsift.opml"'},
    )


@router.post("/shows/{feed_id}/remove", response_class=HTMLResponse)
async def remove_show(request: Request, feed_id: int) -> Response:
    if await checked_form(request) is None:
        return refused(request)
    url = remove_feed(core_of(request), str(feed_id))
    if url is None:
        return shows_page(request, error="No such show", status=404)
    return shows_page(request, message=f"Removed {url}")


@router.post("/shows/{feed_id}/rescan", response_class=HTMLResponse)
async def rescan_show(request: Request, feed_id: int) -> Response:
    if await checked_form(request) is None:
        return refused(request)
    rescan_feed(core_of(request), feed_id)
    return shows_page(request, message="It will be checked on the next scan")


@router.get("/discover", response_class=HTMLResponse)
async def discover_page(request: Request, q: str = "") -> Response:
    if admin_of(request) is None:
        return to_login()
    shows: list[ShowResult] = []
    episodes: list[EpisodeResult] = []
    errors: list[str] = []
    if q.strip():
        shows, episodes, errors = await asyncio.to_thread(discover, core_of(request), q.strip()[:200])
    context = {
        "q": q,
        "shows": shows,
        "episodes": episodes,
        "errors": errors,
        "csrf": csrf_for(request),
        "nav": NAV,
        "search_action": "/admin/search",
    }
    return render(request, "admin_discover.html", context)


# --- topics ---------------------------------------------------------------------------------


def topics_page(
    request: Request, message: str | None = None, error: str | None = None, status: int = 200
) -> Response:
    if admin_of(request) is None:
        return to_login()
    core = core_of(request)
    context = {
        "topics": topic_overview(core),
        "every": core.settings.topic_search_hours,
        "auto": core.settings.topics_auto_follow,
        "csrf": csrf_for(request),
        "nav": NAV,
        "search_action": "/admin/search",
        "message": message,
        "error": error,
    }
    return render(request, "admin_topics.html", context, status)


@router.get("/topics", response_class=HTMLResponse)
def topics(request: Request) -> Response:
    return topics_page(request)


@router.get("/search", response_class=HTMLResponse)
def search(request: Request, q: str | None = None) -> Response:
    if admin_of(request) is None:
        return to_login()
    return search_page(request, q, {"nav": NAV, "search_action": "/admin/search"})


@router.post("/topics/add", response_class=HTMLResponse)
async def topic_add(request: Request) -> Response:
    form = await checked_form(request)
    if form is None:
        return refused(request)
    try:
        topic = add_topic(core_of(request), str(form.get("topic", "")))
    except TopicError as exc:
        return topics_page(request, error=str(exc), status=400)
    return topics_page(request, message=f"Topic '{topic.phrase}' added; searched on the next run")


@router.post("/topics/search", response_class=HTMLResponse)
async def topic_search(request: Request) -> Response:
    if await checked_form(request) is None:
        return refused(request)
    report = await asyncio.to_thread(search_topics, core_of(request), utcnow(), force=True)
    text = f"{report.searched} topic(s) searched: {report.proposed} new show(s) proposed, {report.followed} followed"
    return topics_page(request, message=text, error="; ".join(report.errors.values()) or None)


@router.post("/topics/{topic_id}/remove", response_class=HTMLResponse)
async def topic_remove(request: Request, topic_id: int) -> Response:
    if await checked_form(request) is None:
        return refused(request)
    phrase = remove_topic(core_of(request), topic_id)
    if phrase is None:
        return topics_page(request, error="No such topic", status=404)
    return topics_page(request, message=f"Removed topic '{phrase}'")


@router.post("/proposals/{show_id}/{action}", response_class=HTMLResponse)
async def proposal_decide(request: Request, show_id: int, action: str) -> Response:
    if await checked_form(request) is None:
        return refused(request)
    if action not in ("follow", "dismiss"):
        return topics_page(request, error="Unknown action", status=404)
    decide = follow_proposal if action == "follow" else dismiss_proposal
    try:
        show = await asyncio.to_thread(decide, core_of(request), show_id, utcnow())
    except TopicError as exc:
        return topics_page(request, error=str(exc), status=404)
    return topics_page(request, message=f"{show.title or show.feed_url}: {show.state}")
