"""`podsift serve`: the web app (pages.py, admin.py, api.py), the signed-link endpoints (confirm, unsubscribe, feedback, preferences,
private Atom feed) and, optionally, the in-process scheduler.

Every state change is a POST: a GET (what link scanners and previews do) shows a page with
a button and changes nothing. The unsubscribe POST needs no cookie and no form field, so a
mail client's RFC 8058 one-click POST works. Tokens name the subscriber and their current
`token_version`; anything else (forged, for another purpose, from before a re-subscribe) gets
a 400 page and changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.middleware.base import BaseHTTPMiddleware

from podsift.core import App
from podsift.delivery.tokens import TokenError
from podsift.store import Digest, Feed, Subscriber, utcnow
from podsift.web.pages import token_subscriber

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
SECURITY_HEADERS = {
    # No inline scripts or styles anywhere: content from feeds and transcripts is untrusted.
    "Content-Security-Policy": "default-src 'self'; img-src 'self' https: data:; media-src https: http:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


class SecurityHeaders(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.url.path.startswith(
            ("/unsubscribe/", "/preferences/", "/feedback/", "/confirm/", "/feed/")
        ):
            response.headers["Cache-Control"] = "no-store"
        return response


def create_web_app(core: App, scheduler: Any = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if scheduler is not None:
            scheduler.start()
        try:
            yield
        finally:
            if scheduler is not None:
                scheduler.stop()

    # Interactive docs would need a CDN script (blocked by the CSP); /openapi.json describes the API.
    web = FastAPI(title="podsift", lifespan=lifespan, docs_url=None, redoc_url=None)
    web.add_middleware(SecurityHeaders)
    web.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    templates = Jinja2Templates(directory=HERE / "templates")
    web.state.core = core
    web.state.templates = templates
    from podsift.web import admin, api, pages

    web.include_router(pages.router)
    web.include_router(admin.router)
    web.include_router(api.router)

    def page(
        request: Request,
        heading: str,
        text: str,
        action: str | None = None,
        button: str = "",
        status: int = 200,
        links: list[tuple[str, str]] | None = None,
    ) -> HTMLResponse:
        context = {"heading": heading, "text": text, "action": action, "button": button, "links": links or []}
        return templates.TemplateResponse(request, "message.html", context, status_code=status)

    def invalid(request: Request, exc: TokenError) -> HTMLResponse:
        return page(request, "Link not valid", f"{exc}. Nothing was changed.", status=400)

    @web.get("/healthz", response_class=PlainTextResponse)
    def healthz() -> str:
        with core.session() as session:
            session.execute(sa.text("SELECT 1"))
        return "ok"

    # --- unsubscribe ------------------------------------------------------------------------
    @web.get("/unsubscribe/{token}", response_class=HTMLResponse)
    def unsubscribe_page(request: Request, token: str) -> HTMLResponse:
        found = token_subscriber(request, "unsubscribe", token)
        if isinstance(found, HTMLResponse):
            return found
        sub, _ = found
        if not sub.active:
            return page(request, "You are unsubscribed", f"{sub.email} gets no more digests.")
        return page(
            request,
            "Unsubscribe?",
            f"Stop the daily podsift digest to {sub.email}.",
            request.url.path,
            "Unsubscribe",
        )

    @web.post("/unsubscribe/{token}", response_class=HTMLResponse)
    def unsubscribe_now(request: Request, token: str) -> HTMLResponse:
        from podsift.subscribers import unsubscribe

        try:
            sub = unsubscribe(core, token)
        except TokenError as exc:
            return invalid(request, exc)
        return page(
            request, "You are unsubscribed", f"{sub.email} gets no more digests. Sorry to see you go."
        )

    # --- double opt-in ----------------------------------------------------------------------
    @web.get("/confirm/{token}", response_class=HTMLResponse)
    def confirm_page(request: Request, token: str) -> HTMLResponse:
        found = token_subscriber(request, "confirm", token)
        if isinstance(found, HTMLResponse):
            return found
        sub, _ = found
        if sub.confirmed:
            return page(request, "Confirmed", f"{sub.email} is subscribed.")
        return page(
            request,
            "Confirm your subscription",
            f"Send daily digests to {sub.email}.",
            request.url.path,
            "Confirm",
        )

    @web.post("/confirm/{token}", response_class=HTMLResponse)
    def confirm_now(request: Request, token: str) -> HTMLResponse:
        from podsift.subscribers import confirm

        try:
            sub = confirm(core, token)
        except TokenError as exc:
            return invalid(request, exc)
        token = core.tokens().make("preferences", sub.id, sub.token_version)
        return page(
            request,
            "Confirmed",
            f"{sub.email} will get its first digest at {sub.send_hour}:00 ({sub.timezone}).",
            links=[("Choose your interests and shows", f"/preferences/{token}")],
        )

    # --- feedback ---------------------------------------------------------------------------
    @web.get("/feedback/{token}", response_class=HTMLResponse)
    def feedback_page(request: Request, token: str) -> HTMLResponse:
        found = token_subscriber(request, "feedback", token)
        if isinstance(found, HTMLResponse):
            return found
        _, data = found
        more = data.get("d") == 1
        return page(
            request,
            "More like this?" if more else "Less like this?",
            "Your vote tunes which insights you get next.",
            request.url.path,
            "👍 More like this" if more else "👎 Less like this",
        )

    @web.post("/feedback/{token}", response_class=HTMLResponse)
    def feedback_now(request: Request, token: str) -> HTMLResponse:
        from podsift.subscribers import record_vote

        try:
            _, _, vote = record_vote(core, token)
        except TokenError as exc:
            return invalid(request, exc)
        noted = "Noted: " + ("more like this." if vote > 0 else "less like this.")
        if request.headers.get("HX-Request"):  # the digest page's buttons swap in this line
            return HTMLResponse(f'<span role="status" class="ok">{noted}</span>')
        return page(request, "Thanks", noted)

    # --- preferences ------------------------------------------------------------------------
    def preferences_context(sub: Subscriber, token: str) -> dict[str, Any]:
        from podsift.subscribers import links_for

        with core.session() as session:
            feeds = list(session.scalars(sa.select(Feed).where(Feed.status != "gone").order_by(Feed.title)))
        links = links_for(core, sub)
        return {
            "sub": sub,
            "feeds": feeds,
            "action": f"/preferences/{token}",
            "archive_url": f"/me/{token}/today",
            "nav": [("Today", f"/me/{token}/today"), ("Preferences", f"/preferences/{token}")],
            "feed_url": links.feed if links else "",
            "unsubscribe_url": links.unsubscribe if links else "",
        }

    @web.get("/preferences/{token}", response_class=HTMLResponse)
    def preferences_page(request: Request, token: str) -> HTMLResponse:
        found = token_subscriber(request, "preferences", token)
        if isinstance(found, HTMLResponse):
            return found
        sub, _ = found
        return templates.TemplateResponse(request, "preferences.html", preferences_context(sub, token))

    @web.post("/preferences/{token}", response_class=HTMLResponse)
    async def preferences_save(request: Request, token: str) -> HTMLResponse:
        from podsift.subscribers import SubscriberError, update_subscriber

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
        error, saved = None, False
        try:
            sub = update_subscriber(core, sub.email, **values)
            saved = True
        except (SubscriberError, ValueError) as exc:
            error = str(exc)
        context = {**preferences_context(sub, token), "saved": saved, "error": error}
        return templates.TemplateResponse(
            request, "preferences.html", context, status_code=200 if saved else 400
        )

    # --- private Atom feed ------------------------------------------------------------------
    @web.get("/feed/{token}.atom")
    def atom_feed(request: Request, token: str) -> Response:
        from podsift.delivery.stage import digest_view, stored_picks
        from podsift.digests.view import render
        from podsift.subscribers import subscriber_for

        try:
            sub, _ = subscriber_for(core, "feed", token)
        except TokenError as exc:
            return PlainTextResponse(str(exc), status_code=404)
        entries = []
        with core.session() as session:
            digests = session.scalars(
                sa.select(Digest)
                .where(Digest.subscriber_id == sub.id, Digest.state == "sent")
                .order_by(Digest.local_date.desc())
                .limit(30)
            )
            for digest in digests:
                view = digest_view(core, sub, digest.local_date, stored_picks(session, digest))
                entries.append(
                    {
                        "id": digest.id,
                        "title": f"Your podsift digest for {digest.local_date}",
                        "updated": digest.created_at.astimezone(UTC).isoformat(),
                        "html": render(view, "html"),
                    }
                )
        body = templates.get_template("feed.atom").render(
            sub=sub,
            entries=entries,
            updated=entries[0]["updated"] if entries else utcnow().isoformat(),
            self_url=str(request.url),
        )
        return Response(body, media_type="application/atom+xml; charset=utf-8")

    return web
