"""Polling feeds: new episodes, conditional GET, backoff, 410, moves, bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from podsift.sources.opml import OPMLError, parse_opml
from podsift.sources.scan import add_feeds, backfill, export_opml, import_opml, scan_feeds
from podsift.store import Episode, Feed
from tests.feedgen import Item, rss

NOW = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)


def items(
    n: int, start: datetime = NOW, step: timedelta = timedelta(days=1), prefix: str = "ep"
) -> list[Item]:
    return [
        Item(
            f"Episode {i}",
            start - i * step,
            guid=f"{prefix}-{i}",
            audio=f"https://cdn.example.org/{prefix}{i}.mp3?tracking=1",
        )
        for i in range(n)
    ]


def episodes(app, feed_url: str | None = None) -> list[Episode]:  # type: ignore[no-untyped-def]
    with app.session() as s:
        q = sa.select(Episode).order_by(Episode.published_at.desc())
        if feed_url:
            q = q.join(Feed).where(Feed.url == feed_url)
        return list(s.scalars(q))


def feed_row(app, url: str) -> Feed:  # type: ignore[no-untyped-def]
    with app.session() as s:
        return s.scalars(sa.select(Feed).where(Feed.url == url)).one()


def test_new_feed_queues_only_its_newest_recent_episodes(http_server, make_core, database_url) -> None:  # type: ignore[no-untyped-def]
    http_server.add("/show.xml", rss("Show", items(40)))
    app = make_core(database_url, allow_hosts=(http_server.host,))
    add_feeds(app, [http_server.url("/show.xml")])
    report = scan_feeds(app, NOW)
    eps = episodes(app)
    assert report.new_episodes == 40 and len(eps) == 40
    assert [e.title for e in eps if e.state == "new"] == ["Episode 0", "Episode 1", "Episode 2"]
    assert sum(e.state == "archived" for e in eps) == 37
    # Backfill asks for the archived ones of the last 6 days (episodes 3-5; 6 is at the boundary).
    assert backfill(app, http_server.url("/show.xml"), days=5, now=NOW) == 3
    assert sum(e.state == "new" for e in episodes(app)) == 6


def test_quiet_feed_still_queues_its_latest_episode(http_server, make_core) -> None:  # type: ignore[no-untyped-def]
    http_server.add("/quiet.xml", rss("Quiet", items(5, start=NOW - timedelta(days=30))))
    app = make_core(allow_hosts=(http_server.host,))
    add_feeds(app, [http_server.url("/quiet.xml")])
    scan_feeds(app, NOW)
    assert [e.title for e in episodes(app) if e.state == "new"] == ["Episode 0"]


def test_rescan_uses_conditional_get_and_adds_only_new_items(http_server, make_core, database_url) -> None:  # type: ignore[no-untyped-def]
    http_server.add("/show.xml", rss("Show", items(2)), etag='"v1"')
    app = make_core(database_url, allow_hosts=(http_server.host,))
    add_feeds(app, [http_server.url("/show.xml")])
    scan_feeds(app, NOW)
    report = scan_feeds(app, NOW + timedelta(hours=1))
    assert report.not_modified == 1 and report.parsed == 0
    assert http_server.request_headers["/show.xml"][-1]["If-None-Match"] == '"v1"'
    # Not due yet: the poll interval has not passed, so no request at all.
    scan_feeds(app, NOW + timedelta(hours=1, minutes=5))
    assert http_server.hits["/show.xml"] == 2
    newer = [
        Item("Brand new", NOW + timedelta(hours=3), guid="ep-new", audio="https://cdn.example.org/new.mp3")
    ]
    http_server.add("/show.xml", rss("Show", newer + items(2)), etag='"v2"')
    report = scan_feeds(app, NOW + timedelta(hours=4))
    assert report.parsed == 1 and report.new_episodes == 1 and report.queued_episodes == 1
    assert len(episodes(app)) == 3


def test_identical_body_without_validators_is_not_reparsed(http_server, make_core) -> None:  # type: ignore[no-untyped-def]
    http_server.add("/show.xml", rss("Show", items(2)))
    app = make_core(allow_hosts=(http_server.host,))
    add_feeds(app, [http_server.url("/show.xml")])
    scan_feeds(app, NOW)
    report = scan_feeds(app, NOW, force=True)
    assert report.unchanged == 1 and report.parsed == 0


def test_republished_feed_makes_no_duplicates(http_server, make_core) -> None:  # type: ignore[no-untyped-def]
    original = items(3)
    http_server.add("/show.xml", rss("Show", original))
    app = make_core(allow_hosts=(http_server.host,))
    add_feeds(app, [http_server.url("/show.xml")])
    scan_feeds(app, NOW)
    # Same episodes re-published by a new host: new guids, new tracking query strings.
    moved = [
        Item(i.title, i.published, guid=f"newhost-{n}", audio=i.audio.replace("tracking=1", "t=2"))  # type: ignore[union-attr]
        for n, i in enumerate(original)
    ]
    http_server.add("/show.xml", rss("Show", moved))
    report = scan_feeds(app, NOW, force=True)
    assert report.new_episodes == 0 and len(episodes(app)) == 3


def test_items_without_guid_are_keyed_by_enclosure_title_and_date(http_server, make_core) -> None:  # type: ignore[no-untyped-def]
    http_server.add(
        "/show.xml", rss("Show", [Item("No guid", NOW, audio="https://cdn.example.org/a.mp3?x=1")])
    )
    app = make_core(allow_hosts=(http_server.host,))
    add_feeds(app, [http_server.url("/show.xml")])
    scan_feeds(app, NOW)
    scan_feeds(app, NOW, force=True)
    http_server.add(
        "/show.xml", rss("Show", [Item("No guid", NOW, audio="https://cdn.example.org/a.mp3?x=2")])
    )
    scan_feeds(app, NOW, force=True)
    assert len(episodes(app)) == 1


def test_gone_feed_is_marked_and_not_fetched_again(http_server, make_core) -> None:  # type: ignore[no-untyped-def]
    http_server.add("/gone.xml", "", status=410)
    app = make_core(allow_hosts=(http_server.host,))
    add_feeds(app, [http_server.url("/gone.xml")])
    report = scan_feeds(app, NOW)
    assert report.gone == [http_server.url("/gone.xml")]
    assert feed_row(app, http_server.url("/gone.xml")).status == "gone"
    scan_feeds(app, NOW + timedelta(days=2), force=True)
    assert http_server.hits["/gone.xml"] == 1


def test_errors_back_off_with_reason_and_other_feeds_go_on(http_server, make_core, database_url) -> None:  # type: ignore[no-untyped-def]
    http_server.add("/ok.xml", rss("OK", items(1)))
    http_server.add("/broken.xml", "", status=500)
    app = make_core(database_url, allow_hosts=(http_server.host,))
    add_feeds(app, [http_server.url("/broken.xml"), http_server.url("/ok.xml")])
    report = scan_feeds(app, NOW)
    assert report.failed == {http_server.url("/broken.xml"): "HTTP 500"}
    assert len(episodes(app, http_server.url("/ok.xml"))) == 1
    broken = feed_row(app, http_server.url("/broken.xml"))
    assert broken.status == "error" and broken.error_count == 1 and broken.error_reason == "HTTP 500"
    first_delay = broken.next_check_at - NOW  # type: ignore[operator]
    assert timedelta(minutes=23) < first_delay < timedelta(minutes=37)  # 30 min +- 20 % jitter
    scan_feeds(app, broken.next_check_at)
    broken = feed_row(app, http_server.url("/broken.xml"))
    assert broken.error_count == 2
    assert broken.next_check_at - broken.last_checked_at > timedelta(minutes=47)  # type: ignore[operator]
    http_server.add("/broken.xml", rss("Fixed", items(1, prefix="b")))
    scan_feeds(app, broken.next_check_at)
    fixed = feed_row(app, http_server.url("/broken.xml"))
    assert (fixed.status, fixed.error_count, fixed.error_reason) == ("active", 0, None)


def test_three_permanent_redirects_in_a_row_move_the_feed(http_server, make_core) -> None:  # type: ignore[no-untyped-def]
    http_server.redirect("/old.xml", "/new.xml", 301)
    http_server.add("/new.xml", rss("Show", items(1)))
    app = make_core(allow_hosts=(http_server.host,))
    add_feeds(app, [http_server.url("/old.xml")])
    for n in range(2):
        report = scan_feeds(app, NOW + timedelta(hours=n), force=True)
        assert not report.moved
        assert feed_row(app, http_server.url("/old.xml")).redirect_count == n + 1
    report = scan_feeds(app, NOW + timedelta(hours=3), force=True)
    assert report.moved == {http_server.url("/old.xml"): http_server.url("/new.xml")}
    assert feed_row(app, http_server.url("/new.xml")).redirect_count == 0


def test_move_onto_a_feed_already_followed_keeps_both(http_server, make_core) -> None:  # type: ignore[no-untyped-def]
    http_server.redirect("/old.xml", "/new.xml", 308)
    http_server.add("/new.xml", rss("Show", items(1)))
    app = make_core(allow_hosts=(http_server.host,))
    add_feeds(app, [http_server.url("/old.xml"), http_server.url("/new.xml")])
    for n in range(4):
        report = scan_feeds(app, NOW + timedelta(hours=n), force=True)
        assert not report.moved and report.checked == 2
    old = feed_row(app, http_server.url("/old.xml"))
    assert old.redirect_url == http_server.url("/new.xml") and old.redirect_count == 4
    assert feed_row(app, http_server.url("/new.xml")).url == http_server.url("/new.xml")


def test_temporary_redirect_never_moves_the_feed(http_server, make_core) -> None:  # type: ignore[no-untyped-def]
    http_server.redirect("/old.xml", "/new.xml", 302)
    http_server.add("/new.xml", rss("Show", items(1)))
    app = make_core(allow_hosts=(http_server.host,))
    add_feeds(app, [http_server.url("/old.xml")])
    for n in range(4):
        scan_feeds(app, NOW + timedelta(hours=n), force=True)
    assert feed_row(app, http_server.url("/old.xml")).redirect_count == 0


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE rss [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<rss version="2.0"><channel><title>&lol9;</title></channel></rss>"""


def test_bad_feeds_fail_clearly_and_the_run_goes_on(http_server, make_core) -> None:  # type: ignore[no-untyped-def]
    mib = b"<" * (1024 * 1024)
    http_server.add("/laughs.xml", BILLION_LAUGHS)
    http_server.stream("/huge.xml", mib, 50, length=50 * len(mib))
    http_server.redirect("/loop.xml", "/loop2.xml")
    http_server.redirect("/loop2.xml", "/loop.xml")
    http_server.redirect("/elsewhere.xml", "http://127.0.0.1:9/feed.xml")
    http_server.add("/html.xml", "<html><body>Not a feed</body></html>", content_type="text/html")
    http_server.add("/good.xml", rss("Good", items(1)))
    app = make_core(allow_hosts=(http_server.host,))
    names = ["laughs", "huge", "loop", "elsewhere", "html", "good"]
    add_feeds(app, [http_server.url(f"/{n}.xml") for n in names])
    report = scan_feeds(app, NOW)
    failed = {url.rsplit("/", 1)[1]: reason for url, reason in report.failed.items()}
    assert "entity" in failed["laughs.xml"]
    assert "cap" in failed["huge.xml"]
    assert "redirect loop" in failed["loop.xml"]
    assert "127.0.0.1:9" in failed["elsewhere.xml"] and "not a public address" in failed["elsewhere.xml"]
    assert "parse error" in failed["html.xml"]
    assert "good.xml" not in failed
    assert len(episodes(app, http_server.url("/good.xml"))) == 1


def test_feed_urls_are_validated(make_core) -> None:  # type: ignore[no-untyped-def]
    app = make_core()
    added, problems = add_feeds(
        app, ["itpc://example.org/feed", "ftp://x/y", "not a url", "https://EXAMPLE.org/feed"]
    )
    assert [f.url for f in added] == ["https://example.org/feed"]
    assert len(problems) == 2
    _, again = add_feeds(app, ["https://example.org/feed"])
    assert again == []


def test_opml_round_trip_and_invalid_opml(make_core, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = make_core()
    opml = b"""<?xml version="1.0"?><opml version="2.0"><head/><body>
      <outline text="Tech"><outline text="A &amp; B" type="rss" xmlUrl="https://a.example/feed"/></outline>
      <outline text="C" xmlUrl="https://c.example/rss"/><outline text="no url"/></body></opml>"""
    added, _ = import_opml(app, opml)
    assert [f.url for f in added] == ["https://a.example/feed", "https://c.example/rss"]
    exported = export_opml(app)
    assert [(e.url, e.title) for e in parse_opml(exported)] == [
        ("https://a.example/feed", "A & B"),
        ("https://c.example/rss", "C"),
    ]
    for bad, message in [
        (b"not xml at all", "invalid OPML"),
        (b"<rss><channel/></rss>", "root element is <rss>"),
        (BILLION_LAUGHS.replace("rss", "opml").encode(), "entities"),
    ]:
        with pytest.raises(OPMLError, match=message):
            import_opml(app, bad)


def test_without_query_agrees_with_urlsplit() -> None:
    """The fast path of fallback keys gives the very text stored keys were made from."""
    from urllib.parse import urlsplit, urlunsplit

    from podsift.sources.scan import without_query

    urls = [
        "https://cdn.example.com/show/ep1.mp3",
        "https://cdn.example.com/show/ep1.mp3?utm=x&b=2",
        "https://cdn.example.com/show/ep1.mp3#t=10",
        "https://cdn.example.com/show/ep1.mp3#frag?not-a-query",
        "http://cdn.example.com",
        "http://cdn.example.com?x",
        "https://dts.podtrac.com/redirect.mp3/traffic.example.com/a;b/ep.mp3?c",
        "HTTPS://CDN.example.com/Ep.mp3?x",
        " https://cdn.example.com/ep.mp3",
        "https://cdn.example.com/e p.mp3?x",
        "https://cdn.example.com/ep\t1.mp3",
        "https://[2001:db8::1]/ep.mp3?x",
        "https://cdn.example.com:8443/ep.mp3?x",
        "ftp://cdn.example.com/ep.mp3?x",
        "/relative/ep.mp3?x",
        "https://cdn.example.com/épisode.mp3?x",
    ]
    for url in urls:
        assert without_query(url) == urlunsplit(urlsplit(url)._replace(query="", fragment="")), url
