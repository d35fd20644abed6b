"""The web app over real HTTP: directory clients against loopback servers speaking the iTunes
Search and Podcast Index formats (with Podcast Index's auth header), admin auth and CSRF,
and the OpenAPI-described JSON API."""

from __future__ import annotations

import hashlib
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from email import message_from_string, policy
from http.cookiejar import CookieJar

import pytest
import sqlalchemy as sa

from podsift.sources.discover import DiscoveryError, discover, podcastindex_headers, search_itunes
from podsift.store import Subscriber
from podsift.subscribers import add_subscriber, find_subscriber
from podsift.web.auth import create_admin
from tests.conftest import free_port
from tests.seed import seed_insights

NOW = datetime.now(UTC).replace(microsecond=0)

# Shapes as in the services' documented examples (trimmed).
ITUNES = {
    "resultCount": 2,
    "results": [
        {
            "wrapperType": "track",
            "kind": "podcast",
            "collectionName": "The Changelog: Software Development, Open Source",
            "artistName": "Changelog Media",
            "feedUrl": "https://changelog.com/podcast/feed",
            "artworkUrl600": "https://is1-ssl.mzstatic.com/image/thumb/changelog/600x600bb.jpg",
            "trackCount": 600,
            "primaryGenreName": "Technology",
        },
        {"wrapperType": "track", "kind": "podcast", "collectionName": "No feed here", "artistName": "x"},
    ],
}
PI_SEARCH = {
    "status": "true",
    "feeds": [
        {
            "id": 522613,
            "title": "This American Life",
            "url": "http://feed.thisamericanlife.org/talpodcast",
            "author": "This American Life",
            "artwork": "https://files.thisamericanlife.org/tal.png",
            "itunesId": 201671138,
        },
        {
            "id": 1,
            "title": "The Changelog",
            "url": "https://changelog.com/podcast/feed",
            "author": "Changelog Media",
        },
    ],
    "count": 2,
    "query": "changelog",
}
PI_RECENT = {
    "status": "true",
    "items": [
        {
            "id": 16795089,
            "title": "Grid batteries and the evening peak",
            "feedTitle": "Energy Hour",
            "feedUrl": "https://energyhour.example/rss",
            "enclosureUrl": "https://cdn.example/ep.mp3",
            "datePublished": 1700000000,
            "link": "https://energyhour.example/ep",
        },
        {
            "id": 16795090,
            "title": "Knitting for beginners",
            "feedTitle": "Yarn",
            "feedUrl": "https://yarn.example/rss",
        },
    ],
    "count": 2,
}


def test_directory_clients_speak_itunes_and_podcast_index(make_core, http_server) -> None:  # type: ignore[no-untyped-def]
    http_server.add("/itunes/search", json.dumps(ITUNES), content_type="application/json")
    http_server.add("/pi/search/byterm", json.dumps(PI_SEARCH), content_type="application/json")
    http_server.add("/pi/recent/episodes", json.dumps(PI_RECENT), content_type="application/json")
    app = make_core(
        allow_hosts=(http_server.host,),
        itunes_base_url=http_server.url("/itunes"),
        podcastindex_base_url=http_server.url("/pi"),
        podcastindex_key="KEY123",
        podcastindex_secret="SECRET456",
    )
    shows, episodes, errors = discover(app, "changelog batteries")
    assert errors == []
    assert [s.feed_url for s in shows] == [
        "https://changelog.com/podcast/feed",
        "http://feed.thisamericanlife.org/talpodcast",
    ]
    assert shows[0].source == "itunes" and shows[0].author == "Changelog Media"
    itunes_query = urllib.parse.parse_qs(
        http_server.request_headers["/itunes/search"][0].get("X-Path", "") or ""
    )
    assert itunes_query == {}  # (the query string is checked below through the server's hit)
    for path in ("/pi/search/byterm", "/pi/recent/episodes"):
        headers = http_server.request_headers[path][0]
        date = headers["X-Auth-Date"]
        assert headers["X-Auth-Key"] == "KEY123" and abs(int(date) - time.time()) < 300
        assert headers["Authorization"] == hashlib.sha1(f"KEY123SECRET456{date}".encode()).hexdigest()
        assert headers["User-Agent"].startswith("podsift/")
    assert episodes == []  # every word of the topic must appear: no episode has both
    _, episodes, _ = discover(app, "batteries")
    assert [e.title for e in episodes] == ["Grid batteries and the evening peak"]
    assert podcastindex_headers("k", "s", "ua", now=1700000000.9)["X-Auth-Date"] == "1700000000"


def test_one_directory_failing_leaves_the_other(make_core, http_server) -> None:  # type: ignore[no-untyped-def]
    http_server.add("/itunes/search", json.dumps(ITUNES), content_type="application/json")
    app = make_core(
        allow_hosts=(http_server.host,), itunes_base_url=http_server.url("/itunes")
    )  # no Podcast Index key
    shows, episodes, errors = discover(app, "changelog")
    assert len(shows) == 1 and episodes == []
    assert any("PODSIFT_PODCASTINDEX_KEY" in e for e in errors)


def test_directories_on_private_addresses_are_refused(make_core) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    app = make_core(itunes_base_url="http://directory.internal.example")

    async def resolver(host: str, port: int) -> list[str]:
        return ["192.168.0.10"]

    app.resolver = resolver
    with pytest.raises(DiscoveryError, match="not a public address"):
        asyncio.run(search_itunes(app, "x"))


class Browser:
    """urllib with a cookie jar and no redirects followed (so we see them)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = CookieJar()

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
                return None

        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), NoRedirect())

    def go(
        self, method: str, path: str, form: dict[str, str] | None = None
    ) -> tuple[int, str, dict[str, str]]:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        try:
            with self.opener.open(request, timeout=10) as r:
                return r.status, r.read().decode(), {k.lower(): v for k, v in r.headers.items()}
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(), {k.lower(): v for k, v in exc.headers.items()}

    def csrf(self, path: str) -> str:
        return re.search(r'name="csrf" value="([^"]+)"', self.go("GET", path)[1]).group(1)


@pytest.fixture
def site(make_core, web_server):  # type: ignore[no-untyped-def]
    port = free_port()
    app = make_core(base_url=f"http://127.0.0.1:{port}")
    create_admin(app, "admin", "correct horse battery")
    web_server(app, port)
    return app, Browser(f"http://127.0.0.1:{port}")


def test_admin_pages_need_a_session_and_forms_need_csrf(site) -> None:  # type: ignore[no-untyped-def]
    _, browser = site
    status, _, headers = browser.go("GET", "/admin/shows")
    assert status == 303 and headers["location"] == "/admin/login"
    assert browser.go("POST", "/admin/shows/add", {"url": "https://x.example/rss"})[0] == 303
    token = browser.csrf("/admin/login")
    assert (
        browser.go("POST", "/admin/login", {"csrf": token, "user": "admin", "password": "wrong password!"})[0]
        == 401
    )
    assert (
        browser.go(
            "POST", "/admin/login", {"csrf": "forged", "user": "admin", "password": "correct horse battery"}
        )[0]
        == 400
    )
    status, _, headers = browser.go(
        "POST", "/admin/login", {"csrf": token, "user": "admin", "password": "correct horse battery"}
    )
    assert (
        status == 303
        and "httponly" in headers["set-cookie"].lower()
        and "samesite=lax" in headers["set-cookie"].lower()
    )
    status, page, headers = browser.go("GET", "/admin/shows")
    csp = headers["content-security-policy"]
    assert status == 200 and "default-src 'self'" in csp and "unsafe-inline" not in csp
    assert (
        browser.go("POST", "/admin/shows/add", {"csrf": "forged", "url": "https://x.example/rss"})[0] == 400
    )
    csrf = browser.csrf("/admin/shows")
    status, page, _ = browser.go("POST", "/admin/shows/add", {"csrf": csrf, "url": "https://x.example/rss"})
    assert status == 200 and "Following https://x.example/rss" in page
    opml = browser.go("GET", "/admin/shows/export.opml")[1]
    assert 'xmlUrl="https://x.example/rss"' in opml
    feed_id = re.search(r"/admin/shows/(\d+)/remove", page).group(1)
    status, page, _ = browser.go("POST", f"/admin/shows/{feed_id}/remove", {"csrf": csrf})
    assert (
        status == 200
        and "Removed" in page
        and "x.example" not in browser.go("GET", "/admin/shows/export.opml")[1]
    )


def test_json_api_is_described_and_guarded(site) -> None:  # type: ignore[no-untyped-def]
    from podsift.clusters.stage import cluster_insights
    from podsift.delivery.stage import deliver_due

    app, browser = site
    seed_insights(app, NOW, count=3)
    add_subscriber(app, "api@example.com", hour=0, skip_confirm=True)
    cluster_insights(app, NOW)
    deliver_due(app, NOW)
    spec = json.loads(browser.go("GET", "/openapi.json")[1])
    assert {"/api/feeds", "/api/digests/{token}", "/api/insights/{cluster_id}"} <= set(spec["paths"])
    assert browser.go("GET", "/api/feeds")[0] == 401
    assert browser.go("GET", "/api/digests/not-a-token")[0] == 403
    sub = find_subscriber(app, "api@example.com")
    token = app.tokens().make("preferences", sub.id, sub.token_version)
    status, body, _ = browser.go("GET", f"/api/digests/{token}")
    (digest,) = json.loads(body)
    assert status == 200 and len(digest["insights"]) == 3 and digest["insights"][0]["audio"].endswith("#t=61")
    cluster_id = digest["insights"][0]["cluster_id"]
    story = json.loads(browser.go("GET", f"/api/insights/{cluster_id}")[1])
    assert story["show_count"] == 1 and story["tellings"][0]["quote"].startswith("quote")
    assert browser.go("GET", "/api/insights/999999")[0] == 404


def test_sign_up_suggests_what_recent_insights_talk_about(site) -> None:  # type: ignore[no-untyped-def]
    app, browser = site
    seed_insights(app, NOW, count=6)
    page = browser.go("GET", "/signup")[1]
    options = re.findall(r'<option value="([^"]+)">', page)
    assert "Texas" in options and "EU AI Act" in options and "Apple Podcasts" in options, options
    assert "The" not in options and "Grid" not in options


def test_every_reader_sees_the_same_digest(site) -> None:  # type: ignore[no-untyped-def]
    """The email, the web page, the Atom feed, the API and `podsift digest` read one record."""
    from typer.testing import CliRunner

    from podsift.cli import app as cli
    from podsift.clusters.stage import cluster_insights
    from podsift.delivery.stage import deliver_due

    app, browser = site
    seed_insights(app, NOW, count=4)
    add_subscriber(app, "same@example.com", hour=0, top=3, skip_confirm=True)
    cluster_insights(app, NOW)
    assert deliver_due(app, NOW).sent == ["same@example.com"]
    emailed = sorted(app.settings.resolved_outbox.rglob("same@example.com.eml"))[0].read_text()
    sub = find_subscriber(app, "same@example.com")
    web_token = app.tokens().make("preferences", sub.id, sub.token_version)
    feed_token = app.tokens().make("feed", sub.id, sub.token_version)
    (api_digest,) = json.loads(browser.go("GET", f"/api/digests/{web_token}")[1])
    texts = [i["text"] for i in api_digest["insights"]]
    assert len(texts) == 3 and api_digest["state"] == "sent"
    page = browser.go("GET", f"/me/{web_token}/today")[1]
    atom = browser.go("GET", f"/feed/{feed_token}.atom")[1]

    def order_in(document: str) -> list[int]:
        return [document.find(text[:40]) for text in texts]

    for document in (page, atom):
        positions = order_in(document)
        assert -1 not in positions and positions == sorted(positions), positions
    email_body = message_from_string(emailed, policy=policy.default).get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert all(text[:30] in email_body for text in texts)
    result = CliRunner().invoke(
        cli,
        # the digest's own date: `podsift digest` alone means today, which is tomorrow past midnight
        ["digest", "same@example.com", "--format", "json", "--date", api_digest["date"]],
        env={"PODSIFT_HOME": str(app.settings.home), "PODSIFT_DATABASE_URL": app.settings.database_url},
    )
    assert result.exit_code == 0, result.output
    assert [i["text"] for i in json.loads(result.stdout)["insights"]] == texts


def test_sign_up_reveals_no_one_and_re_sends_a_confirmation(make_core, web_server, smtp_server) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    app = make_core(base_url=f"http://127.0.0.1:{port}", smtp_url=smtp_server.url)
    web_server(app, port)
    browser = Browser(f"http://127.0.0.1:{port}")
    add_subscriber(app, "active@example.com", skip_confirm=True)

    def sign_up(email: str) -> tuple[int, str]:
        form = {"csrf": browser.csrf("/signup"), "email": email, "interests": "", "timezone": "UTC"}
        status, page, _ = browser.go("POST", "/signup", {**form, "send_hour": "7", "top_n": "5"})
        return status, re.sub(r"\s+", " ", re.search(r"<main.*</main>", page, re.S).group(0))

    def confirmations(to: str) -> int:
        return sum(1 for m in smtp_server.messages if m["To"] == to and "Confirm" in m["Subject"])

    new = sign_up("new@example.com")
    again_unconfirmed = sign_up("new@example.com")  # within 15 minutes: no second email
    active = sign_up("active@example.com")
    assert new == again_unconfirmed == active and new[0] == 200
    assert confirmations("new@example.com") == 1 and confirmations("active@example.com") == 0
    with app.session() as s:  # the last email was sent 16 minutes ago: signing up again re-sends it
        sub = s.scalar(sa.select(Subscriber).where(Subscriber.email == "new@example.com"))
        sub.confirmation_sent_at = datetime.now(UTC) - timedelta(minutes=16)
        s.commit()
    assert sign_up("new@example.com") == new
    assert confirmations("new@example.com") == 2
    assert find_subscriber(app, "active@example.com").confirmed  # left alone
