"""Every real feed in ../shared/corpus/feeds parses, or fails with a recorded reason."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from podsift.sources.feedparse import FeedParseError, parse_feed
from podsift.sources.scan import add_feeds, scan_feeds
from podsift.store import Episode, Feed
from tests.conftest import CORPUS

FEEDS = CORPUS / "feeds"
NOT_FAST = {
    "feedparser_rss_incomplete_cdata.xml",
    "partytime_no-agenda.xml",
    "podcastparser_itunes_no_xmlns.rss",
    "rssparser_uolNoticias.rss",
    "rssparser_heise.atom",
}
pytestmark = [pytest.mark.corpus, pytest.mark.skipif(not FEEDS.is_dir(), reason="../shared/corpus is absent")]


def test_corpus_feeds_scan_without_escaping_exceptions(http_server, make_core) -> None:  # type: ignore[no-untyped-def]
    files = sorted(FEEDS.iterdir())
    for path in files:
        http_server.add(f"/{path.name}", path.read_bytes(), content_type="application/xml")
    app = make_core(allow_hosts=(http_server.host,))
    add_feeds(app, [http_server.url(f"/{p.name}") for p in files])
    report = scan_feeds(app, datetime(2026, 11, 28, tzinfo=UTC))
    assert report.checked == len(files)
    with app.session() as s:
        counts = dict(s.execute(sa.select(Episode.feed_id, sa.func.count()).group_by(Episode.feed_id)).all())
        for feed in s.scalars(sa.select(Feed)):
            if feed.status == "active":
                assert counts.get(feed.id, 0) > 0 or feed.title, feed.url
            else:
                assert feed.error_reason, feed.url
    # Every corpus feed is readable by one of the two parsers.
    assert report.failed == {}
    assert report.parsed == len(files)


def test_podcasting20_fields_are_kept() -> None:
    feed = parse_feed((FEEDS / "podcastnamespace_example.xml").read_bytes(), "https://example.com/feed.xml")
    first = feed.episodes[0]
    assert {t["type"] for t in first.transcripts} == {"text/plain", "text/vtt"}
    assert any(t["rel"] == "captions" and t["language"] == "es" for t in first.transcripts)
    assert first.persons and first.persons[0]["name"] == "Adam Curry"
    assert first.chapters_url == "https://example.com/ep3_chapters.json"


def test_broken_xml_falls_back_to_feedparser() -> None:
    feed = parse_feed((FEEDS / "partytime_no-agenda.xml").read_bytes(), "https://example.com/na.xml")
    assert feed.parser == "feedparser" and len(feed.episodes) == 29
    assert feed.episodes[0].transcripts[0]["url"].endswith(".srt")
    latin = parse_feed((FEEDS / "rssparser_uolNoticias.rss").read_bytes(), "https://example.com/uol.rss")
    # ISO-8859-1 without a declaration: decoded, not mangled.
    assert (
        latin.episodes[0].title
        == "Ibope: Bolsonaro perde de Haddad, Ciro e Alckmin em simulações de 2º turno"
    )


def test_non_feed_bytes_fail_with_a_reason() -> None:
    with pytest.raises(FeedParseError, match="not a feed"):
        parse_feed(b"<html><body>hello</body></html>", "https://example.com/")
    with pytest.raises(FeedParseError, match="empty"):
        parse_feed(b"  ", "https://example.com/")


@pytest.mark.parametrize(
    "name",
    sorted(p.name for p in FEEDS.iterdir()) if FEEDS.is_dir() else [],
)
def test_fast_reader_agrees_with_podcastparser(name: str) -> None:
    """Episode identity must not depend on which reader ran, or a feed would duplicate."""
    from podsift.sources import feedparse
    from podsift.sources.scan import fallback_key

    body, url = (FEEDS / name).read_bytes(), f"https://example.com/{name}"
    if name in NOT_FAST:  # broken XML, Atom, or an undeclared prefix: the fast reader hands over
        with pytest.raises((feedparse.etree.XMLSyntaxError, feedparse._NotRSS)):
            feedparse._with_lxml(body, url)
        return
    fast = feedparse._with_lxml(body, url)
    slow = feedparse._with_podcastparser(body, url)
    assert fast.title == slow.title

    def view(feed):  # type: ignore[no-untyped-def]
        return sorted(
            (
                e.guid or "",
                fallback_key(e),
                e.audio_url or "",
                str(e.published_at),
                e.duration_seconds or 0,
                repr(e.transcripts),
                e.chapters_url or "",
                tuple(p["name"] for p in e.persons),
            )
            for e in feed.episodes
        )

    assert view(fast) == view(slow)
