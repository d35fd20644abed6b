"""Subscriber pages: sign-up, today and the archive (by the signed link in every email),
and the public permalink of each story."""

from __future__ import annotations

import re
import secrets
from collections import Counter
from datetime import timedelta
from typing import Any

import nh3
import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from podsift.clusters.signals import strip_speaker
from podsift.core import App
from podsift.delivery.tokens import TokenError
from podsift.digests.links import listen_link
from podsift.digests.view import format_timestamp, quote_differs
from podsift.store import Cluster, Digest, Episode, Feed, Insight, Subscriber, Transcript, utcnow
from podsift.web import auth

router = APIRouter()
# Capitalised because they start a sentence, not because they name something.
_NOT_NAMES = frozenset(
    [
        "the",
        "a",
        "an",
        "this",
        "that",
        "these",
        "those",
        "it",
        "its",
        "we",
        "i",
        "you",
        "they",
        "he",
        "she",
        "our",
        "my",
        "in",
        "on",
        "at",
        "for",
        "and",
        "but",
        "so",
        "if",
        "when",
    ]
)
PASSAGE_SECONDS = 25.0


def core_of(request: Request) -> App:
    return request.app.state.core  # type: ignore[no-any-return]


def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    return request.app.state.templates.TemplateResponse(request, name, context, status_code=status)  # type: ignore[no-any-return]


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


_NAME = re.compile(r"\b[A-Z][a-zA-Z0-9&'-]+(?:\s+[A-Z][a-zA-Z0-9&'-]+)*")


def _names_in(text: str) -> list[str]:
    """Capitalised runs that are names: a lone capitalised word opening a sentence is not."""
    out = []
    for match in _NAME.finditer(text):
        words = match.group(0).split()
        opens_sentence = match.start() == 0 or text[: match.start()].rstrip().endswith((".", "!", "?", ":"))
        if words[0].lower() in _NOT_NAMES:
            words = words[1:]
        elif opens_sentence and len(words) == 1:
            continue
        name = " ".join(words)
        if len(name) > 2:
            out.append(name)
    return out


def recent_topics(core: App, limit: int = 20) -> list[str]:
    """Interest suggestions from the last two weeks: the topics an LLM gave insights, else
    (offline) the names the insights mention most: people, companies, places, products."""
    since = utcnow() - timedelta(days=14)
    topics: Counter[str] = Counter()
    names: Counter[str] = Counter()
    with core.session() as session:
        rows = session.execute(
            sa.select(Insight.topics, Insight.text)
            .where(Insight.created_at >= since)
            .order_by(Insight.id.desc())
            .limit(2000)
        )
        for insight_topics, text in rows:
            for topic in insight_topics or []:
                if isinstance(topic, str) and 2 < len(topic) < 40:
                    topics[topic.strip().lower()] += 1
            names.update(set(_names_in(strip_speaker(text))))
    chosen = [t for t, _ in topics.most_common(limit)]
    chosen += [n for n, _ in names.most_common(limit) if n.lower() not in chosen]
    return chosen[:limit]


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
    from podsift.delivery.message import AddressError
    from podsift.subscribers import SubscriberError, add_subscriber

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
        with core.session() as session:
            existing = session.scalar(
                sa.select(Subscriber).where(Subscriber.email == values["email"].strip().lower())
            )
        if existing is not None and existing.active:
            # Say the same as for a new address: the form must not reveal who subscribes.
            return render(
                request,
                "message.html",
                {
                    "heading": "Check your email",
                    "text": "If this address is new, a confirmation link is on its way.",
                },
            )
        add_subscriber(
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
    text = "We sent a confirmation link. Your first digest comes after you confirm."
    if not core.settings.base_url:
        text = "You are subscribed."
    return render(request, "message.html", {"heading": "Check your email", "text": text})


def token_subscriber(
    request: Request, purpose: str, token: str
) -> tuple[Subscriber, dict[str, Any]] | HTMLResponse:
    """The subscriber and payload of a genuine, current link; else the "link not valid" page."""
    from podsift.subscribers import subscriber_for

    try:
        return subscriber_for(core_of(request), purpose, token)
    except TokenError as exc:
        context = {"heading": "Link not valid", "text": f"{exc}. Nothing was changed."}
        return render(request, "message.html", context, 400)


def passage(transcript: Transcript | None, start: float, end: float) -> list[dict[str, Any]]:
    if transcript is None:
        return []
    out = []
    for seg in transcript.segments:
        s, e = float(seg.get("start", 0)), float(seg.get("end", 0))
        if e >= start - PASSAGE_SECONDS and s <= end + PASSAGE_SECONDS:
            out.append(
                {
                    "time": format_timestamp(s),
                    "speaker": seg.get("speaker"),
                    "text": seg.get("text", ""),
                    "hit": e > start and s < end,
                }
            )
    return out[:40]


def vote_path(core: App, sub: Subscriber, insight_id: int, vote: int) -> str:
    return f"/feedback/{core.tokens().make('feedback', sub.id, sub.token_version, i=insight_id, d=vote)}"


def digest_items(core: App, sub: Subscriber, digest: Digest) -> list[dict[str, Any]]:
    from podsift.delivery.stage import stored_picks

    items = []
    with core.session() as session:
        for pick in stored_picks(session, digest):
            insight, episode = pick.insight, pick.insight.episode
            transcript = session.scalar(sa.select(Transcript).where(Transcript.episode_id == episode.id))
            items.append(
                {
                    "insight_id": insight.id,
                    "cluster_id": insight.cluster_id,
                    "text": insight.text,
                    "quote": insight.quote,
                    "quote_differs": quote_differs(insight.quote, insight.text),
                    "speaker": insight.speaker,
                    "show": episode.feed.title,
                    "episode": episode.title,
                    "timestamp": format_timestamp(insight.start_seconds),
                    "start": insight.start_seconds,
                    # Media fragment: the browser starts the audio at the insight's second.
                    "audio": listen_link(episode.audio_url, None, insight.start_seconds),
                    "passage": passage(transcript, insight.start_seconds, insight.end_seconds),
                    "also_on": pick.also_on,
                    "why": pick.why,
                    "up": vote_path(core, sub, insight.id, 1),
                    "down": vote_path(core, sub, insight.id, -1),
                }
            )
    return items


def _digest_page(request: Request, token: str, date: str | None) -> Response:
    core = core_of(request)
    found = token_subscriber(request, "preferences", token)
    if isinstance(found, HTMLResponse):
        return found
    sub, _ = found
    with core.session() as session:
        dates = list(
            session.scalars(
                sa.select(Digest.local_date)
                .where(Digest.subscriber_id == sub.id)
                .order_by(Digest.local_date.desc())
                .limit(365)
            )
        )
        day = date or (dates[0] if dates else None)
        digest = (
            session.scalar(sa.select(Digest).where(Digest.subscriber_id == sub.id, Digest.local_date == day))
            if day
            else None
        )
    base = f"/me/{token}"
    context = {
        "date": day or "today",
        "items": digest_items(core, sub, digest) if digest else [],
        "dates": dates,
        "base": base,
        "nav": [("Today", f"{base}/today"), ("Preferences", f"/preferences/{token}")],
    }
    return render(request, "digest_page.html", context, 200 if digest or date is None else 404)


@router.get("/me/{token}", response_class=HTMLResponse)
def me(token: str) -> RedirectResponse:
    return RedirectResponse(f"/me/{token}/today", status_code=303)


@router.get("/me/{token}/today", response_class=HTMLResponse)
def today(request: Request, token: str) -> Response:
    return _digest_page(request, token, None)


@router.get("/me/{token}/digest/{date}", response_class=HTMLResponse)
def digest_on(request: Request, token: str, date: str) -> Response:
    return _digest_page(request, token, date)


def cluster_tellings(core: App, cluster_id: int) -> tuple[Cluster, list[dict[str, Any]]] | None:
    with core.session() as session:
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
            {
                "insight_id": i.id,
                "text": i.text,
                "quote": i.quote,
                "speaker": i.speaker,
                "show": show,
                "episode": e.title,
                "start": i.start_seconds,
                "timestamp": format_timestamp(i.start_seconds),
                "link": listen_link(e.audio_url, e.link, i.start_seconds),
            }
            for i, e, show in rows
        ]
        return cluster, tellings


@router.get("/insight/{cluster_id}", response_class=HTMLResponse)
def insight_page(request: Request, cluster_id: int) -> HTMLResponse:
    found = cluster_tellings(core_of(request), cluster_id)
    if found is None:
        return render(request, "message.html", {"heading": "Not found", "text": "No such insight."}, 404)
    cluster, tellings = found
    notes = ""
    with core_of(request).session() as session:
        rep = session.get(Insight, cluster.representative_id) if cluster.representative_id else None
        if rep is not None and rep.episode.description:
            # Show notes are publisher HTML: keep plain formatting and links, drop the rest.
            notes = nh3.clean(
                rep.episode.description[:5000],
                tags={"p", "br", "a", "em", "strong", "ul", "ol", "li"},
                link_rel="noopener noreferrer nofollow",
                url_schemes={"http", "https"},
            )
    headline = next(
        (t["text"] for t in tellings if t["insight_id"] == cluster.representative_id),
        tellings[0]["text"] if tellings else "",
    )
    return render(
        request,
        "insight.html",
        {
            "headline": headline,
            "notes": notes,
            "shows": cluster.show_count,
            "first_seen": cluster.first_seen.date().isoformat(),
            "tellings": tellings,
        },
    )
