"""Readwise (readwise.io/api_deets): each insight a highlight of its episode.

`POST /api/v2/highlights/` takes up to 100 highlights a request and answers with the books
they landed in, each listing the ids of the highlights it created or changed, in the order
sent. Readwise itself merges a highlight sent again with the same text, title, author and
source URL into the one it has, so a send repeated after a crash makes no second highlight.
A changed text updates the highlight by its id (`PATCH /api/v2/highlights/<id>/`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

import httpx2

from podsift.backends.exports.base import ExportError, ExportItem, Outgoing, Requester, Sent, clip

API = "https://readwise.io"
BATCH = 100
# Readwise's field limits (characters).
TEXT, TITLE, AUTHOR, NOTE, URL = 8191, 511, 1024, 8191, 2047


def highlight(item: ExportItem) -> dict[str, Any]:
    author = f"{item.show} · {item.speaker}" if item.speaker else item.show
    tags = " ".join(f".{t}" for t in item.tags)
    fields: dict[str, Any] = {
        "text": clip(item.quote, TEXT),
        "title": clip(item.episode, TITLE),
        "author": clip(author, AUTHOR),
        "category": "podcasts",
        "source_type": "podsift",
        "note": clip(f"{item.claim}\n{tags}".strip() if tags else item.claim, NOTE),
        "location": int(item.start),
        "location_type": "time_offset",
        "highlighted_at": item.highlighted_at or None,
    }
    source = item.episode_url or item.audio_url
    if source:
        fields["source_url"] = clip(source, URL)
    if item.listen_url:
        fields["highlight_url"] = clip(item.listen_url, URL)
    return {k: v for k, v in fields.items() if v is not None}


def check_token(token: str, base_url: str = API, timeout: float = 15.0) -> None:
    """Readwise's token check (204 for a good token); raises ExportError."""
    with httpx2.Client(base_url=base_url, timeout=timeout, headers={"Authorization": f"Token {token}"}) as c:
        Requester("Readwise", c, token)("GET", "/api/v2/auth/")


class ReadwiseExporter:
    kind = "readwise"
    batch = BATCH

    def __init__(
        self,
        token: str,
        base_url: str = API,
        timeout: float = 30.0,
        backoff: float = 1.0,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.client = httpx2.Client(
            base_url=base_url, timeout=timeout, headers={"Authorization": f"Token {token}"}
        )
        extra = {"sleep": sleep} if sleep else {}
        # Readwise allows 240 requests a minute.
        self.request = Requester("Readwise", self.client, token, per_second=4, backoff=backoff, **extra)

    def send(self, jobs: list[Outgoing]) -> list[Sent]:
        sent = [self._update(job) for job in jobs if job.remote_id]
        new = [job.item for job in jobs if not job.remote_id]
        if new:
            sent += self._create(new)
        return sent

    def _create(self, items: list[ExportItem]) -> list[Sent]:
        try:
            answer = self.request(
                "POST", "/api/v2/highlights/", {"highlights": [highlight(i) for i in items]}
            )
        except ExportError as exc:
            if not exc.permanent:
                raise
            if len(items) == 1:
                return [Sent(items[0].insight_id, None, refused=exc.reason)]
            # Which one did it refuse? One at a time.
            return [sent for item in items for sent in self._create([item])]
        return _ids_from(answer.json(), items)

    def _update(self, job: Outgoing) -> Sent:
        fields = highlight(job.item)
        body = {k: fields[k] for k in ("text", "note", "location", "location_type") if k in fields}
        try:
            self.request("PATCH", f"/api/v2/highlights/{job.remote_id}/", body)
        except ExportError as exc:
            if exc.permanent and "(404)" in exc.reason:  # deleted in Readwise: send it anew
                return self._create([job.item])[0]
            if exc.permanent:
                return Sent(job.item.insight_id, job.remote_id, refused=exc.reason)
            raise
        return Sent(job.item.insight_id, job.remote_id)

    def close(self) -> None:
        self.client.close()


def _ids_from(books: Any, items: list[ExportItem]) -> list[Sent]:
    """Highlight ids by book, in the order sent; an item whose id cannot be told is still
    sent (without an id, a later change is sent as a new highlight)."""
    by_book: dict[tuple[str, str], list[str]] = defaultdict(list)
    if isinstance(books, list):
        for book in books:
            if isinstance(book, dict):
                key = (str(book.get("title", "")), str(book.get("author", "")))
                by_book[key] += [str(i) for i in book.get("modified_highlights") or []]
    out = []
    for item in items:
        fields = highlight(item)
        ids = by_book.get((fields["title"], fields["author"]))
        out.append(Sent(item.insight_id, ids.pop(0) if ids else None))
    return out
