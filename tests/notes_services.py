"""Loopback servers that speak Readwise's and Notion's APIs as their documentation describes
them: auth headers, field checks and limits, 401 / 429 (Retry-After) / 5xx, Readwise's merge
of a highlight sent again, Notion's 3 requests a second. State is kept in memory, and faults
can be queued for the next requests."""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections import deque
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.conftest import free_port

READWISE_CATEGORIES = {"books", "articles", "tweets", "podcasts"}
READWISE_LIMITS = {
    "text": 8191,
    "title": 511,
    "author": 1024,
    "note": 8191,
    "source_url": 2047,
    "highlight_url": 4095,
}


class NotesServices:
    def __init__(
        self, readwise_token: str = "rw-secret-token-1234", notion_token: str = "secret_notion_abcdef"
    ) -> None:
        self.readwise_tokens = {readwise_token}
        self.notion_tokens = {notion_token}
        self.lock = threading.Lock()
        self.faults: deque[tuple[int, dict[str, str]]] = deque()  # served before anything else
        self.requests: list[tuple[float, str, str]] = []  # (time, method, path)
        self.highlights: dict[int, dict[str, Any]] = {}
        self.notion_db = "0123456789abcdef0123456789abcdef"
        self.notion_properties: dict[str, dict[str, Any]] = {
            "Name": {"id": "title", "type": "title", "title": {}}
        }
        self.pages: dict[str, dict[str, Any]] = {}
        self.notion_too_fast = 0
        self.port = free_port()
        services = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                services.handle(self, "GET")

            def do_POST(self) -> None:
                services.handle(self, "POST")

            def do_PATCH(self) -> None:
                services.handle(self, "PATCH")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def calls(self, method: str, prefix: str) -> int:
        return sum(1 for _, m, p in self.requests if m == method and p.startswith(prefix))

    # --- plumbing -----------------------------------------------------------------------
    def handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        with self.lock:
            self.requests.append((time.monotonic(), method, h.path))
            if self.faults:
                status, headers = self.faults.popleft()
                return _reply(h, status, {"detail": f"fault {status}"}, headers)
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                return _reply(h, 400, {"detail": "JSON parse error"})
            if h.path.startswith("/api/v2/"):
                status, answer = self.readwise(h, method, body)
            elif h.path.startswith("/v1/"):
                status, answer = self.notion(h, method, body)
            else:
                status, answer = 404, {"detail": "not found"}
            headers = {"Retry-After": "1"} if status == 429 else {}
            return _reply(h, status, answer, headers)

    # --- Readwise -----------------------------------------------------------------------
    def readwise(self, h: BaseHTTPRequestHandler, method: str, body: Any) -> tuple[int, Any]:
        auth = h.headers.get("Authorization", "")
        if not auth.startswith("Token ") or auth[6:] not in self.readwise_tokens:
            return 401, {"detail": "Invalid token."}
        if method == "GET" and h.path == "/api/v2/auth/":
            return 204, None
        if method == "POST" and h.path == "/api/v2/highlights/":
            return self._readwise_create(body)
        found = re.fullmatch(r"/api/v2/highlights/(\d+)/", h.path)
        if method == "PATCH" and found:
            hid = int(found.group(1))
            if hid not in self.highlights:
                return 404, {"detail": "Not found."}
            self.highlights[hid].update(
                {k: v for k, v in body.items() if k in ("text", "note", "location", "location_type")}
            )
            return 200, {"id": hid, **self.highlights[hid]}
        return 404, {"detail": "Not found."}

    def _readwise_create(self, body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("highlights"), list):
            return 400, {"highlights": ["This field is required."]}
        errors: list[dict[str, list[str]]] = []
        for hl in body["highlights"]:
            problems: dict[str, list[str]] = {}
            if not isinstance(hl.get("text"), str) or not hl["text"]:
                problems["text"] = ["This field is required."]
            for name, limit in READWISE_LIMITS.items():
                if name in hl and len(str(hl[name])) > limit:
                    problems[name] = [f"Ensure this field has no more than {limit} characters."]
            if hl.get("category", "books") not in READWISE_CATEGORIES:
                problems["category"] = ["Not a valid choice."]
            if hl.get("location_type", "order") not in ("page", "order", "time_offset"):
                problems["location_type"] = ["Not a valid choice."]
            if "location" in hl and not isinstance(hl["location"], int):
                problems["location"] = ["A valid integer is required."]
            if "highlighted_at" in hl:
                try:
                    datetime.fromisoformat(hl["highlighted_at"])
                except (TypeError, ValueError):
                    problems["highlighted_at"] = ["Datetime has wrong format."]
            errors.append(problems)
        if any(errors):
            return 400, {"highlights": errors}
        books: dict[tuple[str, str], dict[str, Any]] = {}
        for hl in body["highlights"]:
            key = (hl.get("title", ""), hl.get("author", ""))
            book = books.setdefault(
                key,
                {
                    "id": abs(hash(key)) % 10**8,
                    "title": key[0],
                    "author": key[1],
                    "category": hl.get("category"),
                    "modified_highlights": [],
                },
            )
            # Readwise merges a highlight sent again (same text, title, author, source URL).
            same = next(
                (
                    i
                    for i, old in self.highlights.items()
                    if all(old.get(k) == hl.get(k) for k in ("text", "title", "author", "source_url"))
                ),
                None,
            )
            hid = same if same is not None else len(self.highlights) + 1
            self.highlights[hid] = {**self.highlights.get(hid, {}), **hl}
            book["modified_highlights"].append(hid)
        return 200, list(books.values())

    # --- Notion -------------------------------------------------------------------------
    def notion(self, h: BaseHTTPRequestHandler, method: str, body: Any) -> tuple[int, Any]:
        auth = h.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.notion_tokens:
            return 401, {
                "object": "error",
                "status": 401,
                "code": "unauthorized",
                "message": "API token is invalid.",
            }
        if not h.headers.get("Notion-Version"):
            return 400, {
                "object": "error",
                "status": 400,
                "code": "missing_version",
                "message": "Notion-Version header failed validation.",
            }
        now = time.monotonic()
        recent = [t for t, _, p in self.requests if p.startswith("/v1/") and t > now - 0.95]
        if len(recent) > 3:
            self.notion_too_fast += 1
            return 429, {
                "object": "error",
                "status": 429,
                "code": "rate_limited",
                "message": "You have been rate limited.",
            }
        path = h.path
        db = re.fullmatch(r"/v1/databases/([0-9a-f]+)(/query)?", path)
        if db:
            if db.group(1) != self.notion_db:
                return 404, {
                    "object": "error",
                    "status": 404,
                    "code": "object_not_found",
                    "message": "Could not find database.",
                }
            if method == "GET":
                return 200, {"object": "database", "id": self.notion_db, "properties": self.notion_properties}
            if method == "PATCH":
                for name, config in body["properties"].items():
                    (kind,) = config.keys()
                    self.notion_properties[name] = {"id": name, "type": kind, kind: {}}
                return 200, {"object": "database", "id": self.notion_db, "properties": self.notion_properties}
            if db.group(2) and method == "POST":
                wanted = body["filter"]["number"]["equals"]
                hits = [
                    {"object": "page", "id": pid}
                    for pid, p in self.pages.items()
                    if p["Podsift ID"]["number"] == wanted
                ]
                return 200, {"object": "list", "results": hits[: body.get("page_size", 100)]}
        if path == "/v1/pages" and method == "POST":
            if body.get("parent", {}).get("database_id") != self.notion_db:
                return 404, {
                    "object": "error",
                    "status": 404,
                    "code": "object_not_found",
                    "message": "Could not find database.",
                }
            problem = self._notion_problem(body["properties"])
            if problem:
                return 400, {"object": "error", "status": 400, "code": "validation_error", "message": problem}
            pid = str(uuid.uuid4())
            self.pages[pid] = body["properties"]
            return 200, {"object": "page", "id": pid}
        page = re.fullmatch(r"/v1/pages/([0-9a-f-]+)", path)
        if page and method == "PATCH":
            if page.group(1) not in self.pages:
                return 404, {
                    "object": "error",
                    "status": 404,
                    "code": "object_not_found",
                    "message": "Could not find page.",
                }
            problem = self._notion_problem(body["properties"])
            if problem:
                return 400, {"object": "error", "status": 400, "code": "validation_error", "message": problem}
            self.pages[page.group(1)].update(body["properties"])
            return 200, {"object": "page", "id": page.group(1)}
        return 404, {"object": "error", "status": 404, "code": "object_not_found", "message": path}

    def _notion_problem(self, properties: dict[str, Any]) -> str | None:
        for name, value in properties.items():
            schema = self.notion_properties.get(name)
            if schema is None:
                return f"{name} is not a property that exists."
            kind = schema["type"]
            if kind not in value:
                return f"{name} is expected to be {kind}."
            if kind in ("title", "rich_text"):
                pieces = value[kind]
                if len(pieces) > 100:
                    return f"{name}: more than 100 rich text pieces."
                if any(len(p["text"]["content"]) > 2000 for p in pieces):
                    return f"body.properties.{name}.{kind}[0].text.content.length should be ≤ 2000."
            if kind == "select" and value[kind] is not None:
                n = value[kind]["name"]
                if "," in n or len(n) > 100:
                    return f"{name}: select option names cannot contain commas (or exceed 100 characters)."
            if kind == "multi_select" and any("," in o["name"] or len(o["name"]) > 100 for o in value[kind]):
                return f"{name}: multi-select option names cannot contain commas."
        return None

    def text_of(self, page: dict[str, Any], name: str) -> str:
        kind = self.notion_properties[name]["type"]
        return "".join(p["text"]["content"] for p in page[name][kind])


def _reply(h: BaseHTTPRequestHandler, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
    data = b"" if body is None or status == 204 else json.dumps(body).encode()
    h.send_response(status)
    for k, v in (headers or {}).items():
        h.send_header(k, v)
    if data:
        h.send_header("Content-Type", "application/json")
    h.send_header("Content-Length", str(len(data)))
    h.end_headers()
    if data:
        h.wfile.write(data)
