"""Topics that find their own shows: loopback servers speaking the iTunes Search and Podcast
Index JSON (with Podcast Index's auth), loopback feeds, the CLI, the web pages, automatic
following with a cap, and dropping shows that gave nothing."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import urllib.parse
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from podsift.sources.topics import add_topic, drop_idle_topic_shows, mentions, search_topics, topic_overview
from podsift.store import Digest, DigestItem, Episode, Feed, Insight, TopicShow
from podsift.subscribers import add_subscriber, find_subscriber
from podsift.subscribers.links import preferences_path
from podsift.web.auth import create_admin
from tests.conftest import free_port
from tests.feedgen import Item, rss
from tests.stories import serve_story_shows
from tests.test_web_app import Browser

NOW = datetime.now(UTC).replace(microsecond=0)
TOPIC = "battery storage"


def _json(h, data: object, status: int = 200) -> None:  # type: ignore[no-untyped-def]
    body = json.dumps(data).encode()
    h.send_response(status)
    h.send_header("Content-Type", "application/json")
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    h.wfile.write(body)


def serve_directories(server) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Three story shows, three more feeds and both directories, all on loopback."""
    feeds = serve_story_shows(server, NOW)
    recent = [Item(f"Battery storage, part {n}", NOW - timedelta(days=n), guid=f"sn-{n}") for n in (1, 3)]
    server.add("/storage-nation.xml", rss("Storage Nation", recent))
    old = [Item("Battery storage in 2020", NOW - timedelta(days=60), guid="ob-1")]
    server.add("/old-batteries.xml", rss("Old Batteries", old))
    server.add(
        "/cooking.xml", rss("Cooking Daily", [Item("Cooking with gas", NOW - timedelta(days=1), guid="c-1")])
    )
    feeds |= {k: server.url(f"/{k}.xml") for k in ("storage-nation", "old-batteries", "cooking")}
    iso = lambda days: (NOW - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    episodes = {  # iTunes: wrapperType podcastEpisode results (trimmed)
        "resultCount": 3,
        "results": [
            {
                "wrapperType": "podcastEpisode",
                "kind": "podcast-episode",
                "trackName": "Batteries and the evening peak",
                "collectionName": "Grid Talk",
                "feedUrl": feeds["grid-talk"],
                "releaseDate": iso(0),
                "description": "Battery storage, gas peakers and what they cost.",
                "episodeUrl": server.url("/a/grid-talk.mp3"),
            },
            {
                "wrapperType": "podcastEpisode",
                "trackName": "Battery storage in 2020",
                "collectionName": "Old Batteries",
                "feedUrl": feeds["old-batteries"],
                "releaseDate": iso(60),
                "description": "Battery storage then.",
            },
            {
                "wrapperType": "podcastEpisode",
                "trackName": "Cooking with gas",
                "collectionName": "Cooking Daily",
                "feedUrl": feeds["cooking"],
                "releaseDate": iso(1),
                "description": "Stoves and storage jars.",
            },
        ],
    }
    shows = {  # iTunes: podcast results; one names a private address (refused when read)
        "resultCount": 4,
        "results": [
            {
                "wrapperType": "track",
                "kind": "podcast",
                "collectionName": name,
                "feedUrl": url,
                "artistName": "Someone",
                "artworkUrl600": "https://img.example.org/a.jpg",
            }
            for name, url in [
                ("Storage Nation", feeds["storage-nation"]),
                ("Old Batteries", feeds["old-batteries"]),
                ("Cooking Daily", feeds["cooking"]),
                ("Intranet Storage", "http://10.1.2.3/feed.xml"),
            ]
        ],
    }
    pi_recent = {
        "status": "true",
        "items": [
            {
                "id": 1,
                "title": "Why batteries won't win yet",
                "feedTitle": "Power Markets Weekly",
                "feedUrl": feeds["power-markets"],
                "datePublished": int(NOW.timestamp()) - 7200,
                "description": "Battery storage against gas peakers.",
                "enclosureUrl": server.url("/a/pm.mp3"),
            },
            {
                "id": 2,
                "title": "Knitting",
                "feedTitle": "Yarn",
                "feedUrl": "https://yarn.example.org/rss",
                "datePublished": int(NOW.timestamp()),
                "description": "Wool.",
            },
        ],
        "count": 2,
    }
    pi_search = {
        "status": "true",
        "feeds": [
            {"id": 7, "title": "Storage Nation", "url": feeds["storage-nation"], "author": "SN"},
            {"id": 8, "title": "The Energy Hour", "url": feeds["energy-hour"], "author": "EH"},
        ],
        "count": 2,
    }
    server.queries = []

    def itunes(h) -> None:  # type: ignore[no-untyped-def]
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(h.path).query)
        server.queries.append(query)
        _json(h, episodes if query.get("entity") == ["podcastEpisode"] else shows)

    def podcastindex(data: object):  # type: ignore[no-untyped-def]
        def route(h) -> None:  # type: ignore[no-untyped-def]
            date = h.headers.get("X-Auth-Date", "")
            expected = hashlib.sha1(f"KEY123SECRET456{date}".encode()).hexdigest()
            ok = h.headers.get("X-Auth-Key") == "KEY123" and h.headers.get("Authorization") == expected
            _json(
                h,
                data if ok else {"status": "false", "description": "Authorization failed"},
                200 if ok else 401,
            )

        return route

    server.routes["/itunes/search"] = itunes
    server.routes["/pi/recent/episodes"] = podcastindex(pi_recent)
    server.routes["/pi/search/byterm"] = podcastindex(pi_search)
    return feeds


def directory_settings(server) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {
        "allow_hosts": (server.host,),
        "asr": "none",
        "itunes_base_url": server.url("/itunes"),
        "podcastindex_base_url": server.url("/pi"),
        "podcastindex_key": "KEY123",
        "podcastindex_secret": "SECRET456",
    }


def test_a_topic_matches_every_word_plural_or_not() -> None:
    assert mentions("battery storage", "Why Batteries are the new STORAGE king")
    assert not mentions("battery storage", "Stoves and storage jars")
    assert not mentions("the", "the")  # a topic of stop words matches nothing


def podsift(env: dict[str, str], *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "podsift", *args], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_topics_find_shows_through_the_cli_and_label_their_insights(
    tmp_path: Path, http_server, sqlite_url: str
) -> None:  # type: ignore[no-untyped-def]
    # SQLite only: the same stage on Postgres is the auto-follow test below (37 s saved).
    database_url = sqlite_url
    feeds = serve_directories(http_server)
    env = {
        **os.environ,
        "PODSIFT_HOME": str(tmp_path / "home"),
        "PODSIFT_DATABASE_URL": database_url,
        "PODSIFT_ALLOW_HOSTS": http_server.host,
        "PODSIFT_ASR": "none",
        "PODSIFT_ITUNES_BASE_URL": http_server.url("/itunes"),
        "PODSIFT_PODCASTINDEX_BASE_URL": http_server.url("/pi"),
        "PODSIFT_PODCASTINDEX_KEY": "KEY123",
        "PODSIFT_PODCASTINDEX_SECRET": "SECRET456",
    }
    podsift(env, "subscribers", "add", "reader@example.org", "--interests", "grid", "--hour", "0")
    assert "for everyone" in podsift(env, "topics", "add", TOPIC)
    said = " ".join(podsift(env, "topics", "search").split())
    assert "1 topic(s) searched: 4 new show(s) proposed, 0 followed" in said
    assert {"podcastEpisode", "podcast"} == {q["entity"][0] for q in http_server.queries}
    (topic,) = json.loads(podsift(env, "topics", "list", "--json"))
    found = {s["feed_url"]: s for s in topic["shows"]}
    assert set(found) == {feeds[k] for k in ("grid-talk", "power-markets", "storage-nation", "energy-hour")}
    assert found[feeds["storage-nation"]]["matches"] == 2
    assert found[feeds["storage-nation"]]["source"] == "itunes,podcastindex"
    assert found[feeds["grid-talk"]]["evidence"] == ["Batteries and the evening peak"]
    assert found[feeds["power-markets"]]["source"] == "podcastindex"
    assert all(s["state"] == "proposed" for s in topic["shows"])
    # a second search proposes nothing new
    assert "0 new show(s) proposed" in " ".join(podsift(env, "topics", "search", "--force").split())
    ids = {url: s["id"] for url, s in found.items()}
    assert "dismissed" in podsift(env, "topics", "dismiss", str(ids[feeds["storage-nation"]]))
    for show in ("grid-talk", "power-markets", "energy-hour"):
        assert "followed" in podsift(env, "topics", "follow", str(ids[feeds[show]]))
    podsift(env, "topics", "search", "--force")
    (topic,) = json.loads(podsift(env, "topics", "list", "--json"))
    states = {s["feed_url"]: s["state"] for s in topic["shows"]}
    assert states[feeds["storage-nation"]] == "dismissed"  # not proposed again
    # the run scans the followed shows; their insights say why they are there
    podsift(env, "run")
    digest = json.loads(podsift(env, "digest", "reader@example.org", "--format", "json"))
    text = podsift(env, "digest", "reader@example.org", "--format", "text")
    print(text)
    assert digest["insights"]
    assert all(i["found_for"] == "found for your topic 'battery storage'" for i in digest["insights"])
    assert "(found for your topic 'battery storage')" in text
    html = podsift(env, "digest", "reader@example.org", "--format", "html")
    assert (
        "Found for your topic &#39;battery storage&#39;" in html
        or "Found for your topic 'battery storage'" in html
    )
    assert any(i["disputes"] for i in digest["insights"])  # the story shows also disagree


def test_auto_follow_keeps_to_the_cap_and_drops_shows_that_gave_nothing(
    make_core, http_server, database_url: str
) -> None:  # type: ignore[no-untyped-def]
    feeds = serve_directories(http_server)
    app = make_core(database_url, topics_auto_follow=True, **directory_settings(http_server))
    topic = add_topic(app, TOPIC, cap=2)
    report = search_topics(app, NOW)
    assert (report.searched, report.proposed, report.followed) == (1, 4, 2)
    assert "10.1.2.3" not in str(report.errors)  # a refused feed is no proposal, not an error
    with app.session() as s:
        followed = {url: topic_id for url, topic_id in s.execute(sa.select(Feed.url, Feed.topic_id))}
        shows = {t.feed_url: t for t in s.scalars(sa.select(TopicShow))}
    assert followed == {
        feeds["storage-nation"]: topic.id,
        feeds[min(("energy-hour", "grid-talk", "power-markets"), key=lambda k: feeds[k])]: topic.id,
    }
    assert "http://10.1.2.3/feed.xml" not in shows
    kept_url, gone_url = sorted(followed)
    # a digest ten days later took an insight from one of them; nothing came from the other
    subscriber = add_subscriber(app, "reader@example.org")
    with app.session() as s:
        kept = s.scalar(sa.select(Feed.id).where(Feed.url == kept_url))
        episode = Episode(feed_id=kept, key="e1", fallback_key="f1", title="E", state="extracted")
        s.add(episode)
        s.flush()
        insight = Insight(
            episode_id=episode.id,
            text="Battery storage grew.",
            quote="q",
            quote_hash="h",
            start_seconds=1.0,
            end_seconds=2.0,
            extractor="offline",
        )
        s.add(insight)
        s.flush()
        digest = Digest(
            subscriber_id=subscriber.id, local_date="2026-01-01", created_at=NOW + timedelta(days=10)
        )
        digest.items = [DigestItem(insight_id=insight.id, rank=1, score=1.0)]
        s.add(digest)
        s.commit()
    assert drop_idle_topic_shows(app, NOW + timedelta(days=29)) == 0  # too soon
    assert drop_idle_topic_shows(app, NOW + timedelta(days=31)) == 1
    with app.session() as s:
        assert set(s.scalars(sa.select(Feed.url))) == {kept_url}
        assert s.scalar(sa.select(TopicShow.state).where(TopicShow.feed_url == gone_url)) == "dropped"
    # the next search neither proposes nor follows it again; the freed place goes to another show
    report = search_topics(app, NOW + timedelta(days=31), force=True)
    with app.session() as s:
        assert gone_url not in set(s.scalars(sa.select(Feed.url)))
        assert s.scalar(sa.select(TopicShow.state).where(TopicShow.feed_url == gone_url)) == "dropped"
    assert report.followed == 1


def test_a_failing_directory_is_recorded_on_the_topic_and_the_others_still_answer(
    make_core, http_server
) -> None:  # type: ignore[no-untyped-def]
    serve_directories(http_server)
    settings = directory_settings(http_server) | {"podcastindex_secret": "WRONG"}
    app = make_core(**settings)
    add_topic(app, TOPIC)
    report = search_topics(app, NOW)
    assert report.proposed == 2  # iTunes alone: Grid Talk (an episode) and Storage Nation (a show, read)
    assert "/pi/search/byterm: HTTP 401" in report.errors[TOPIC] and "SECRET" not in report.errors[TOPIC]
    (overview,) = topic_overview(app)
    assert overview.error == report.errors[TOPIC] and overview.searched_at == NOW


@pytest.fixture
def site(make_core, web_server, http_server):  # type: ignore[no-untyped-def]
    serve_directories(http_server)
    port = free_port()
    app = make_core(base_url=f"http://127.0.0.1:{port}", **directory_settings(http_server))
    create_admin(app, "admin", "correct horse battery")
    web_server(app, port)
    return app, Browser(f"http://127.0.0.1:{port}")


def test_topics_on_the_web_pages(site) -> None:  # type: ignore[no-untyped-def]
    app, browser = site
    # a subscriber follows a topic from their preferences page
    add_subscriber(app, "reader@example.org")
    prefs = preferences_path(app, find_subscriber(app, "reader@example.org"))
    status, page, _ = browser.go("POST", f"{prefs}/topics", {"topic": TOPIC})
    assert status == 200 and TOPIC in page and "searched on the next run" in page
    assert browser.go("POST", f"{prefs}/topics", {"topic": "   "})[0] == 400
    # the admin searches and decides
    token = browser.csrf("/admin/login")
    browser.go("POST", "/admin/login", {"csrf": token, "user": "admin", "password": "correct horse battery"})
    status, page, _ = browser.go("GET", "/admin/topics")
    assert status == 200 and "for reader@example.org" in page
    csrf = browser.csrf("/admin/topics")
    assert browser.go("POST", "/admin/topics/search", {"csrf": "forged"})[0] == 400
    status, page, _ = browser.go("POST", "/admin/topics/search", {"csrf": csrf})
    assert status == 200 and "4 new show(s) proposed" in page and "Storage Nation" in page
    follow = re.search(r"/admin/proposals/(\d+)/follow", page).group(1)
    status, page, _ = browser.go("POST", f"/admin/proposals/{follow}/follow", {"csrf": csrf})
    assert status == 200 and ": followed" in page
    dismiss = re.search(r"/admin/proposals/(\d+)/dismiss", page).group(1)
    status, page, _ = browser.go("POST", f"/admin/proposals/{dismiss}/dismiss", {"csrf": csrf})
    assert status == 200 and ": dismissed" in page
    # the subscriber sees what their topic found, and can stop following it
    status, page, _ = browser.go("GET", prefs)
    assert "followed" in page and "dismissed" in page
    topic_id = re.search(rf"{prefs}/topics/(\d+)/remove", page).group(1)
    status, page, _ = browser.go("POST", f"{prefs}/topics/{topic_id}/remove")
    assert status == 200 and "Stop following this topic" not in page
