"""`podsift serve`: the web app, one router per concern (`pages`: sign-up, digests and
stories; `links`: the signed links in emails; `admin`; `api`), security headers on every
response and, optionally, the in-process scheduler. Routes call stage functions only."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.middleware.base import BaseHTTPMiddleware

from podsift.core import App
from podsift.digests.view import TEMPLATES as DIGEST_TEMPLATES
from podsift.store import database_ready
from podsift.subscribers import time_zones
from podsift.web import admin, api, links, pages

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
        if request.url.path.startswith(links.PRIVATE_PREFIXES):
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
    # The digest templates too: the web page shares the email's lines about a story.
    templates = Jinja2Templates(directory=[HERE / "templates", DIGEST_TEMPLATES])
    templates.env.globals["time_zones"] = time_zones()  # the time-zone field's choices
    web.state.core = core
    web.state.templates = templates
    web.include_router(pages.router)
    web.include_router(links.router)
    web.include_router(admin.router)
    web.include_router(api.router)

    @web.get("/healthz", response_class=PlainTextResponse)
    def healthz() -> str:
        database_ready(core.engine)
        return "ok"

    return web
