"""Signed links end to end through a real `podsift serve` web app and a real SMTP server:
double opt-in, one-click unsubscribe (and what must not unsubscribe), votes, the private
Atom feed, preferences; and Apprise channels to a loopback web hook."""

from __future__ import annotations

import json
import re
import threading
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa

from podsift.delivery.stage import deliver_due
from podsift.store import Delivery, Feedback, Subscriber
from podsift.subscribers import add_subscriber, find_subscriber, links_for
from podsift.subscribers.tokens import Tokens
from tests.conftest import free_port
from tests.seed import seed_insights

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def http(method: str, url: str, body: bytes | None = None) -> tuple[int, str]:
    """No cookies, no session: exactly what a mail client's one-click POST sends."""
    request = urllib.request.Request(url, data=body, method=method)
    if body is not None:
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def links_in(message) -> list[str]:  # type: ignore[no-untyped-def]
    return re.findall(r"http://127\.0\.0\.1:\d+/[^\s\"<>]+", message.get_body(("plain",)).get_content())


def sub_state(app, email: str) -> Subscriber:  # type: ignore[no-untyped-def]
    return find_subscriber(app, email)


@pytest.fixture
def served(make_core, smtp_server, web_server):  # type: ignore[no-untyped-def]
    port = free_port()
    app = make_core(
        smtp_url=smtp_server.url,
        base_url=f"http://127.0.0.1:{port}",
        from_address="podsift <digest@podsift.test>",
    )
    web_server(app, port)
    seed_insights(app, NOW, count=4)
    return app


def test_double_opt_in_then_a_digest_whose_links_work(served, smtp_server) -> None:  # type: ignore[no-untyped-def]
    app = served
    add_subscriber(app, "new@example.com", interests="batteries", hour=0)
    (confirmation,) = smtp_server.to("new@example.com")
    assert "Confirm" in str(confirmation["Subject"])
    assert not deliver_due(app, NOW).sent  # nothing before confirmation
    (confirm_url,) = [u for u in links_in(confirmation) if "/confirm/" in u]
    status, body = http("GET", confirm_url)
    assert status == 200 and 'method="post"' in body and not sub_state(app, "new@example.com").confirmed
    assert http("POST", confirm_url, b"")[0] == 200
    assert sub_state(app, "new@example.com").confirmed

    assert deliver_due(app, NOW).sent == ["new@example.com"]
    digest = smtp_server.to("new@example.com")[-1]
    unsubscribe_header = str(digest["List-Unsubscribe"])
    assert re.search(
        r"<http://127\.0\.0\.1:\d+/unsubscribe/[^>]+>, <mailto:digest@podsift\.test\?subject=unsubscribe>",
        unsubscribe_header,
    )
    assert str(digest["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    assert str(digest["List-Id"]).startswith("podsift daily digest")
    html = digest.get_body(("html",)).get_content()
    assert "Manage preferences" in html and "👍" in html

    urls = links_in(digest)
    up = next(u for u in urls if "/feedback/" in u)
    assert http("GET", up)[0] == 200
    with app.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Feedback)) == 0  # GET records nothing
    assert http("POST", up, b"")[0] == 200
    assert http("POST", up, b"")[0] == 200  # twice: still one vote
    with app.session() as s:
        assert [v for (v,) in s.execute(sa.select(Feedback.vote))] == [1]

    links = links_for(app, sub_state(app, "new@example.com"))
    status, atom = http("GET", links.feed)
    assert status == 200 and "<feed" in atom and "Your podsift digest for 2026-03-10" in atom
    assert "<script>" not in atom  # the digest's HTML travels escaped inside the XML

    preferences = next(u for u in urls if "/preferences/" in u)
    status, form = http("GET", preferences)
    assert status == 200 and "batteries" in form
    body = b"interests=heat+pumps&timezone=Europe%2FBerlin&send_hour=6&top_n=3&all_shows=1&email_enabled=1"
    assert http("POST", preferences, body)[0] == 200
    sub = sub_state(app, "new@example.com")
    assert (sub.interests, sub.timezone, sub.send_hour, sub.top_n) == ("heat pumps", "Europe/Berlin", 6, 3)
    status, page = http(
        "POST", preferences, b"interests=x&timezone=Mars%2FBase&send_hour=6&top_n=3&all_shows=1"
    )
    assert (
        status == 400
        and "unknown time zone" in page
        and sub_state(app, "new@example.com").timezone == "Europe/Berlin"
    )


def test_unsubscribe_only_with_a_genuine_current_token_and_a_post(served, smtp_server) -> None:  # type: ignore[no-untyped-def]
    app = served
    add_subscriber(app, "ann@example.com", hour=0, skip_confirm=True)
    add_subscriber(app, "bob@example.com", hour=0, skip_confirm=True)
    ann, bob = sub_state(app, "ann@example.com"), sub_state(app, "bob@example.com")
    ann_link = links_for(app, ann).unsubscribe
    base = ann_link.rsplit("/", 1)[0]

    forged = Tokens("a-different-secret-key-0123456789").make("unsubscribe", ann.id, ann.token_version)
    assert http("POST", f"{base}/{forged}", b"")[0] == 400
    tampered = app.tokens().make("unsubscribe", bob.id, bob.token_version)[:-3] + "AAA"
    assert http("POST", f"{base}/{tampered}", b"")[0] == 400
    wrong_purpose = app.tokens().make("feedback", bob.id, bob.token_version, i=1, d=1)
    assert http("POST", f"{base}/{wrong_purpose}", b"")[0] == 400
    assert http("GET", ann_link)[0] == 200  # a GET (link scanner) shows a page only
    assert sub_state(app, "ann@example.com").active and sub_state(app, "bob@example.com").active

    status, page = http("POST", ann_link, b"List-Unsubscribe=One-Click")
    assert status == 200 and "unsubscribed" in page
    assert http("POST", ann_link, b"List-Unsubscribe=One-Click")[0] == 200  # idempotent
    assert not sub_state(app, "ann@example.com").active and sub_state(app, "bob@example.com").active
    assert deliver_due(app, NOW).sent == ["bob@example.com"]  # the next run skips ann

    add_subscriber(app, "ann@example.com", hour=0, skip_confirm=True)  # back again: new links
    assert http("POST", ann_link, b"")[0] == 400  # the old link is stale now
    assert sub_state(app, "ann@example.com").active


class Hook:
    """A loopback web hook that records what Apprise's json:// posts."""

    def __init__(self) -> None:
        self.posts: list[dict[str, object]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                outer.posts.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.port = self.httpd.server_address[1]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_apprise_channel_gets_the_markdown_digest(make_core) -> None:  # type: ignore[no-untyped-def]
    hook = Hook()
    try:
        app = make_core(allow_hosts=(f"127.0.0.1:{hook.port}",))
        seed_insights(app, NOW, count=3)
        url = f"json://127.0.0.1:{hook.port}/podsift"
        add_subscriber(app, "chat@example.com", hour=0, channels=[url])
        report = deliver_due(app, NOW)
        assert len(report.sent) == 2  # email (to the outbox here) and the chat channel
        (post,) = hook.posts
        assert post["title"].startswith("Your podsift digest for 2026-03-10")
        assert "**1. " in post["message"] and "listen at" in post["message"]
        assert deliver_due(app, NOW + timedelta(hours=1)).already_sent == 1 and len(hook.posts) == 1
    finally:
        hook.close()


def test_web_hooks_to_private_addresses_are_refused(make_core) -> None:  # type: ignore[no-untyped-def]
    async def resolver(host: str, port: int) -> list[str]:
        return {"hooks.internal.example": ["10.0.0.7"]}[host]

    app = make_core()
    app.resolver = resolver
    seed_insights(app, NOW, count=2)
    add_subscriber(app, "chat@example.com", hour=0, channels=["json://hooks.internal.example/x"])
    report = deliver_due(app, NOW)
    (label,) = [k for k in report.failed if "apprise" in k]
    assert "not a public address" in report.failed[label]
    with app.session() as s:
        assert s.scalar(sa.select(Delivery.state).where(Delivery.channel.startswith("apprise"))) == "failed"
