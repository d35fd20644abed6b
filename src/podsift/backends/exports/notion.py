"""Notion (developers.notion.com): each insight a row of the reader's database.

The integration token (`Authorization: Bearer`, `Notion-Version`) must be shared with the
database. Before the first row of a run, the database's properties are read and the ones
podsift fills are added when missing (its title property, whatever its name, takes the
claim). Notion allows about 3 requests a second; a text property is an array of pieces of
at most 2,000 characters (100 pieces), select names at most 100 characters and no commas.
A page is created once; a claim taken over from a process that died mid-send first looks
for its row by "Podsift ID", so a crash never makes a second row; a changed text updates
the row (`PATCH /v1/pages/<id>`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx2

from podsift.backends.exports.base import ExportError, ExportItem, Outgoing, Requester, Sent, clip

API = "https://api.notion.com"
VERSION = "2022-06-28"
PIECE, PIECES, NAME, URL = 2000, 100, 100, 2000
# The properties podsift fills, besides the title, and their types.
PROPERTIES: dict[str, dict[str, Any]] = {
    "Quote": {"rich_text": {}},
    "Speaker": {"rich_text": {}},
    "Show": {"select": {}},
    "Episode": {"rich_text": {}},
    "Listen": {"url": {}},
    "Story": {"url": {}},
    "Date": {"date": {}},
    "Tags": {"multi_select": {}},
    "Podsift ID": {"number": {}},
}


def rich_text(text: str) -> list[dict[str, Any]]:
    """Text in pieces of 2,000 characters, 100 pieces at most (Notion's limits)."""
    text = clip(text, PIECE * PIECES)
    return [{"type": "text", "text": {"content": text[i : i + PIECE]}} for i in range(0, len(text), PIECE)]


def option_name(name: str) -> str:
    """A select option's name: no commas, 100 characters at most."""
    return clip(name.replace(",", " ").strip(), NAME) or "-"


def properties(item: ExportItem, title: str) -> dict[str, Any]:
    props: dict[str, Any] = {
        title: {"title": rich_text(item.claim)},
        "Quote": {"rich_text": rich_text(item.quote)},
        "Speaker": {"rich_text": rich_text(item.speaker or "")},
        "Show": {"select": {"name": option_name(item.show)}},
        "Episode": {"rich_text": rich_text(item.episode)},
        "Listen": {"url": item.listen_url[:URL] if item.listen_url else None},
        "Story": {"url": item.story_url[:URL] if item.story_url else None},
        "Tags": {"multi_select": [{"name": option_name(t)} for t in dict.fromkeys(item.tags)]},
        "Podsift ID": {"number": item.insight_id},
    }
    if item.published:
        props["Date"] = {"date": {"start": item.published}}
    return props


class NotionExporter:
    kind = "notion"
    batch = 10  # a page a request: small claims, so a stop leaves little claimed

    def __init__(
        self,
        token: str,
        database_id: str,
        base_url: str = API,
        timeout: float = 30.0,
        backoff: float = 1.0,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.database_id = database_id
        self.client = httpx2.Client(
            base_url=base_url,
            timeout=timeout,
            headers={"Authorization": f"Bearer {token}", "Notion-Version": VERSION},
        )
        extra = {"sleep": sleep} if sleep else {}
        self.request = Requester("Notion", self.client, token, per_second=3, backoff=backoff, **extra)
        self.title: str | None = None

    def send(self, jobs: list[Outgoing]) -> list[Sent]:
        if self.title is None:
            self.title = self._prepare_database()
        return [self._send_one(job, self.title) for job in jobs]

    def _prepare_database(self) -> str:
        """The title property's name; adds the properties podsift fills that are missing."""
        database = self.request("GET", f"/v1/databases/{self.database_id}").json()
        found: dict[str, Any] = database.get("properties") or {}
        title = next((name for name, p in found.items() if p.get("type") == "title"), None)
        if title is None:
            raise ExportError("Notion: the database has no title property")
        missing = {name: kind for name, kind in PROPERTIES.items() if name not in found}
        wrong = [n for n, kind in PROPERTIES.items() if n in found and found[n].get("type") not in kind]
        if wrong:
            raise ExportError(f"Notion: the database's properties {', '.join(wrong)} have other types")
        if missing:
            self.request("PATCH", f"/v1/databases/{self.database_id}", {"properties": missing})
        return title

    def _send_one(self, job: Outgoing, title: str) -> Sent:
        item, page_id = job.item, job.remote_id
        try:
            if page_id is None and job.recovering:
                page_id = self._find(item.insight_id)
            body = {"properties": properties(item, title)}
            if page_id is None:
                body["parent"] = {"database_id": self.database_id}
                page = self.request("POST", "/v1/pages", body).json()
                return Sent(item.insight_id, str(page.get("id") or "") or None)
            self.request("PATCH", f"/v1/pages/{page_id}", body)
            return Sent(item.insight_id, page_id)
        except ExportError as exc:
            if exc.permanent:
                return Sent(item.insight_id, page_id, refused=exc.reason)
            raise

    def _find(self, insight_id: int) -> str | None:
        query = {"filter": {"property": "Podsift ID", "number": {"equals": insight_id}}, "page_size": 1}
        results = self.request("POST", f"/v1/databases/{self.database_id}/query", query).json()
        pages = results.get("results") or []
        return str(pages[0]["id"]) if pages else None

    def close(self) -> None:
        self.client.close()
