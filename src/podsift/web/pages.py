"""Subscriber pages: sign-up, today and the archive (by the signed link in every email),
and the public permalink of each story."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import nh3
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from podsift.briefings.feed import briefing_of_day, feed_path, media_path
from podsift.clusters.stories import story
from podsift.core import App
from podsift.digests.read import digest_page
from podsift.net.links import format_timestamp
from podsift.ranking.topics import recent_topics
from podsift.search import QueryError, SearchFilters, search_moments
from podsift.search.ask import ask
from podsift.store import Subscriber
from podsift.subscribers import AddressError, SubscriberError, TokenError, sign_up, subscriber_for
from podsift.web import auth

router = APIRouter()


def core_of(request: Request) -> App:
    core: App = request.app.state.core
    return core


def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    response: HTMLResponse = request.app.state.templates.TemplateResponse(
        request, name, context, status_code=status
    )
    return response


def message_page(
    request: Request,
    heading: str,
    text: str,
    action: str | None = None,
    button: str = "",
    status: int = 200,
    links: list[tuple[str, str]] | None = None,
) -> HTMLResponse:
    """A heading, a line of text and, for a state change, one button that POSTs to `action`."""
    context = {"heading": heading, "text": text, "action": action, "button": button, "links": links or []}
    return render(request, "message.html", context, status)


def browser_anchor(request: Request) -> str:
    """A random per-browser value the public forms' CSRF tokens are bound to."""
    anchor = request.cookies.get(auth.BROWSER_COOKIE)
    if not anchor:
        anchor = secrets.token_urlsafe(16)
        request.state.new_browser_cookie = anchor
    return anchor


def with_browser_cookie(request: Request, response: Response) -> Response:
    anchor = getattr(request.state, "new_browser_cookie", None)
    if anchor:
        response.set_cookie(
            auth.BROWSER_COOKIE, anchor, httponly=True, samesite="lax", secure=request.url.scheme == "https"
        )
    return response


def token_subscriber(
    request: Request, purpose: str, token: str
) -> tuple[Subscriber, dict[str, Any]] | HTMLResponse:
    """The subscriber and payload of a genuine, current link; else the "link not valid" page."""
    try:
        return subscriber_for(core_of(request), purpose, token)
    except TokenError as exc:
        return invalid_link(request, exc)


def invalid_link(request: Request, exc: TokenError) -> HTMLResponse:
    """A forged, stale or misdirected link: it changed nothing, and the page says so."""
    return message_page(request, "Link not valid", f"{exc}. Nothing was changed.", status=400)


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> HTMLResponse:
    return render(request, "home.html", {"nav": [("Sign up", "/signup")]})


@router.get("/signup", response_class=HTMLResponse)
def signup_page(request: Request) -> Response:
    core = core_of(request)
    context = {
        "csrf": auth.csrf_token(core, browser_anchor(request)),
        "topics": recent_topics(core),
        "form": {},
    }
    return with_browser_cookie(request, render(request, "signup.html", context))


@router.post("/signup", response_class=HTMLResponse)
async def signup(request: Request) -> Response:
    core = core_of(request)
    form = await request.form()
    anchor = browser_anchor(request)
    values = {k: str(form.get(k, "")) for k in ("email", "interests", "timezone", "send_hour", "top_n")}
    context: dict[str, Any] = {
        "csrf": auth.csrf_token(core, anchor),
        "topics": recent_topics(core),
        "form": values,
    }
    if not auth.csrf_ok(core, request.cookies.get(auth.BROWSER_COOKIE), str(form.get("csrf", ""))):
        context["error"] = "The form expired. Please submit it again."
        return with_browser_cookie(request, render(request, "signup.html", context, 400))
    try:
        sign_up(
            core,
            values["email"],
            values["interests"],
            values["timezone"] or "UTC",
            int(values["send_hour"] or 7),
            int(values["top_n"] or 5),
        )
    except (SubscriberError, AddressError, ValueError) as exc:
        context["error"] = str(exc)
        return with_browser_cookie(request, render(request, "signup.html", context, 400))
    # The same page for a new, a subscribed and an unconfirmed address: it reveals no one.
    if core.settings.base_url:
        return message_page(
            request,
            "Check your email",
            "If this address needs confirming, a link is on its way. "
            "Your first digest comes after you confirm.",
        )
    return message_page(request, "Subscribed", "This address gets the daily digest.")


def _digest_page(request: Request, token: str, date: str | None) -> Response:
    found = token_subscriber(request, "preferences", token)
    if isinstance(found, HTMLResponse):
        return found
    sub, _ = found
    core = core_of(request)
    page = digest_page(core, sub, date)
    base = f"/me/{token}"
    briefing = briefing_of_day(core, sub.id, page.date) if page.date and sub.briefing else None
    context = {
        "briefing": media_path(core, sub, briefing.id) if briefing else None,
        "briefing_feed": feed_path(core, sub) if sub.briefing else None,
        "date": page.date or "today",
        "items": page.view.insights if page.view else [],
        "mentions": page.view.mentions if page.view else [],
        "dates": page.archive,
        "base": base,
        **reader_pages(token),
    }
    return render(request, "digest_page.html", context, 200 if page.view or date is None else 404)


def search_page(request: Request, q: str | None, context: dict[str, Any]) -> HTMLResponse:
    """Moments for `q` (a subscriber's or the admin's page); a query it cannot search says why."""
    return _query_page(
        request,
        q,
        context,
        "search.html",
        "moments",
        [],
        lambda core, q: search_moments(core, q, SearchFilters(limit=30)),
    )


def ask_page(request: Request, q: str | None, context: dict[str, Any]) -> HTMLResponse:
    return _query_page(request, q, context, "ask.html", "answer", None, ask)


def _query_page(
    request: Request,
    q: str | None,
    context: dict[str, Any],
    template: str,
    key: str,
    empty: object,
    answer_for: Callable[[App, str], object],
) -> HTMLResponse:
    """A search-box page: `answer_for(q)` under `key` (`empty` for an empty box, which is the
    page itself), or the QueryError's message with a 400."""
    result, error = empty, None
    if q is not None and q.strip():
        try:
            result = answer_for(core_of(request), q)
        except QueryError as exc:
            error = str(exc)
    context = {**context, "search_query": (q or "")[:300], key: result, "error": error}
    return render(request, template, context, 400 if error else 200)


def reader_pages(token: str) -> dict[str, Any]:
    """What every page of a reader's own carries: the nav and the search and ask boxes."""
    base = f"/me/{token}"
    return {
        "nav": [("Today", f"{base}/today"), ("Preferences", f"/preferences/{token}")],
        "search_action": f"{base}/search",
        "ask_action": f"{base}/ask",
    }


@router.get("/me/{token}/ask", response_class=HTMLResponse)
def me_ask(request: Request, token: str, q: str | None = None) -> Response:
    found = token_subscriber(request, "preferences", token)
    return found if isinstance(found, HTMLResponse) else ask_page(request, q, reader_pages(token))


@router.get("/me/{token}/search", response_class=HTMLResponse)
def me_search(request: Request, token: str, q: str | None = None) -> Response:
    found = token_subscriber(request, "preferences", token)
    return found if isinstance(found, HTMLResponse) else search_page(request, q, reader_pages(token))


@router.get("/me/{token}", response_class=HTMLResponse)
def me(token: str) -> RedirectResponse:
    return RedirectResponse(f"/me/{token}/today", status_code=303)


@router.get("/me/{token}/today", response_class=HTMLResponse)
def today(request: Request, token: str) -> Response:
    return _digest_page(request, token, None)


@router.get("/me/{token}/digest/{date}", response_class=HTMLResponse)
def digest_on(request: Request, token: str, date: str) -> Response:
    return _digest_page(request, token, date)


@router.get("/insight/{cluster_id}", response_class=HTMLResponse)
def insight_page(request: Request, cluster_id: int) -> HTMLResponse:
    found = story(core_of(request), cluster_id)
    if found is None:
        return message_page(request, "Not found", "No such insight.", status=404)
    # Show notes are publisher HTML: keep plain formatting and links, drop the rest.
    notes = nh3.clean(
        (found.notes or "")[:5000],
        tags={"p", "br", "a", "em", "strong", "ul", "ol", "li"},
        link_rel="noopener noreferrer nofollow",
        url_schemes={"http", "https"},
    )
    tellings = [{**vars(t), "timestamp": format_timestamp(t.start)} for t in found.tellings]
    return render(
        request,
        "insight.html",
        {
            "headline": found.headline,
            "notes": notes,
            "shows": found.show_count,
            "first_seen": found.first_seen.date().isoformat(),
            "tellings": tellings,
            "disputes": found.disputes,
        },
    )
