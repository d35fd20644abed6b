"""The hostile corpus (tests/hostile.py), all served on loopback, in one world beside a
healthy show: every input is refused with a recorded reason or handled harmlessly, nothing
crashes or hangs, nothing connects outside the allow-list, and the healthy subscriber still
gets their digest. The tally is printed in the test output."""

from __future__ import annotations

import ipaddress
import logging
import math
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa

from podsift.insights.stage import failed_episodes
from podsift.pipeline import run
from podsift.sources.feeds import feed_overview
from podsift.sources.opml import OPMLError
from podsift.sources.scan import add_feeds, import_opml
from podsift.store import Episode, Feed, Insight
from podsift.store import Transcript as TranscriptRow
from podsift.subscribers import add_subscriber
from tests import hostile
from tests.conftest import free_port
from tests.feedgen import Item, rss

NOW = hostile.NOW
CATEGORIES = ("urls", "feeds", "transcripts", "opml", "audio", "web")


class Sentinel:
    """A loopback port podsift must never connect to: it counts every connection."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def sentinel() -> Iterator[Sentinel]:
    s = Sentinel()
    yield s
    s.close()


async def loopback_resolver(host: str, port: int) -> list[str]:
    """Every name resolves to loopback: if the guard let one through, the sentinel would see it."""
    try:
        return [str(ipaddress.ip_address(host.strip("[]").split("%")[0]))]
    except ValueError:
        return ["127.0.0.1"]


def serve_world(http_server, sentinel: Sentinel) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    """Routes for every hostile feed, transcript and audio file; returns feed URLs by category."""
    http_server.add("/t/good.vtt", hostile.GOOD_VTT, content_type="text/vtt")
    good_item = Item(
        "Storage beats peakers",
        NOW - timedelta(hours=1),
        guid="good",
        transcripts=[(http_server.url("/t/good.vtt"), "text/vtt")],
    )
    http_server.add("/good.xml", rss("Healthy Show", [good_item]))
    feeds = []
    for i, (_, body) in enumerate(hostile.feed_bodies(sentinel.port, http_server.url("/t/good.vtt"))):
        http_server.add(f"/feeds/{i}.xml", body)
        feeds.append(http_server.url(f"/feeds/{i}.xml"))
    # Transport-level hostility: slow, endless, huge, wrong types, redirects, statuses.
    http_server.stream("/feeds/slow.xml", b"<rss>", count=50, delay=0.2)
    http_server.stream("/feeds/endless.xml", b"<item>" * 1000, count=100_000)
    http_server.stream("/feeds/huge-declared.xml", b"x", count=1, length=50 * 1024 * 1024)
    http_server.add("/feeds/as-png.xml", b"\x89PNG\r\n\x1a\n" + b"0" * 100, content_type="image/png")
    http_server.redirect("/feeds/loop-a.xml", http_server.url("/feeds/loop-b.xml"))
    http_server.redirect("/feeds/loop-b.xml", http_server.url("/feeds/loop-a.xml"))
    http_server.redirect("/feeds/self.xml", http_server.url("/feeds/self.xml"))
    for n in range(12):
        http_server.redirect(f"/feeds/chain{n}.xml", http_server.url(f"/feeds/chain{n + 1}.xml"))
    http_server.redirect("/feeds/to-private.xml", f"http://127.0.0.1:{sentinel.port}/feed")
    http_server.redirect("/feeds/to-file.xml", "file:///etc/passwd")
    http_server.redirect("/feeds/to-javascript.xml", "javascript:alert(1)")
    http_server.redirect("/feeds/to-name.xml", f"http://internal.example:{sentinel.port}/feed")
    http_server.redirect("/feeds/no-location.xml", "")
    for status in (204, 400, 401, 403, 404, 410, 429, 500, 502, 503, 999):
        http_server.add(
            f"/feeds/status-{status}.xml", b"", status=status, headers={"Retry-After": "999999999"}
        )
    transport = [
        "slow",
        "endless",
        "huge-declared",
        "as-png",
        "loop-a",
        "self",
        "chain0",
        "to-private",
        "to-file",
        "to-javascript",
        "to-name",
        "no-location",
        *(f"status-{s}" for s in (204, 400, 401, 403, 404, 410, 429, 500, 502, 503, 999)),
    ]
    feeds += [http_server.url(f"/feeds/{name}.xml") for name in transport]
    # One show whose episodes carry every hostile transcript; one whose audio is broken.
    items = []
    for i, (name, mime, body) in enumerate(hostile.transcripts()):
        http_server.add(f"/t/{i}", body, content_type=mime.split(";")[0])
        items.append(
            Item(
                name,
                NOW - timedelta(minutes=10 + i),
                guid=f"t{i}",
                transcripts=[(http_server.url(f"/t/{i}"), mime)],
            )
        )
    http_server.add("/transcripts.xml", rss("Hostile Transcripts", items))
    audio_items = []
    for i, (name, mime, body) in enumerate(hostile.audio_files()):
        http_server.add(f"/a/{i}.mp3", body, content_type=mime)
        audio_items.append(
            Item(name, NOW - timedelta(minutes=5 + i), guid=f"a{i}", audio=http_server.url(f"/a/{i}.mp3"))
        )
    http_server.add("/audio.xml", rss("Hostile Audio", audio_items))
    return {
        "feeds": feeds,
        "transcripts": [http_server.url("/transcripts.xml")],
        "audio": [http_server.url("/audio.xml")],
    }


def test_hostile_corpus(http_server, make_core, sentinel, caplog, web_server, capsys) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.WARNING)
    tally: dict[str, Counter[str]] = {c: Counter() for c in CATEGORIES}
    routes = serve_world(http_server, sentinel)
    app = make_core(
        allow_hosts=(http_server.host,),
        # The slow feed takes 10 s: a 6 s deadline still refuses it and gives the healthy
        # feeds more room on a loaded 2-core machine. (Long runs once found the 80-episode
        # feed empty with 4 s; the cause was not found, the assertion below shows its error.)
        fetch_timeout_seconds=3.0,
        fetch_deadline_seconds=6.0,
        max_feed_bytes=1024 * 1024,
        max_transcript_bytes=1024 * 1024,
        new_feed_days=30,
        new_feed_max_episodes=200,
        asr="faster-whisper:base?device=cpu&compute_type=int8&beam_size=1",
        # Every episode left for speech to text gets its turn in this one run: a hostile
        # transcript that fails for good now sends its episode there at once.
        asr_episodes_per_run=50,
    )
    app.resolver = loopback_resolver
    add_subscriber(app, "healthy@example.com", "batteries, storage", hour=0)

    # URLs: refused when added, or refused when fetched; either way with a reason.
    urls = hostile.odd_urls(sentinel.port)
    _, problems = add_feeds(app, [u for _, u in urls])
    tally["urls"]["inputs"] = len(urls)
    tally["urls"]["refused when added"] = len(problems)
    # OPML: parsed or refused with a clear error, never an unexpected exception.
    for name, data in hostile.opml_documents(sentinel.port):
        tally["opml"]["inputs"] += 1
        try:
            _, opml_problems = import_opml(app, data)
        except (OPMLError, ValueError) as exc:
            assert str(exc), name
            tally["opml"]["refused with a reason"] += 1
        else:
            tally["opml"]["imported, odd entries refused" if opml_problems else "imported"] += 1
    _, problems = add_feeds(
        app, [http_server.url("/good.xml"), *routes["feeds"], *routes["transcripts"], *routes["audio"]]
    )
    assert problems == []

    started = time.monotonic()
    report = run(app, NOW)
    seconds = time.monotonic() - started
    assert report.stage_errors == {}
    assert report.delivery.sent == ["healthy@example.com"] or (
        report.late_delivery is not None and report.late_delivery.sent == ["healthy@example.com"]
    )
    assert seconds < 180, f"the run took {seconds:.0f} s: something hung"

    with app.session() as s:
        feeds = {f.url: f for f in s.scalars(sa.select(Feed))}
        episodes = list(s.scalars(sa.select(Episode)))
        segments = [seg for row in s.scalars(sa.select(TranscriptRow)) for seg in row.segments]
        stored_text = " ".join(
            str(v)
            for table in (Feed, Episode, Insight)
            for row in s.execute(sa.select(table)).scalars()
            for v in vars(row).values()
            if isinstance(v, str)
        )
    # Odd URLs that were added failed when fetched, each with its reason.
    for _, url in urls:
        feed = next(
            (f for u, f in feeds.items() if u.startswith(url.strip().lower()[:40]) and url.strip()), None
        )
        if feed is not None and feed.error_reason:
            tally["urls"]["refused when fetched"] += 1
    assert tally["urls"]["refused when added"] + tally["urls"]["refused when fetched"] >= len(urls) - 2
    for url in routes["feeds"]:
        tally["feeds"]["inputs"] += 1
        feed = feeds[url]
        tally["feeds"]["refused with a reason" if feed.error_reason else "read harmlessly"] += 1
    by_title = Counter()
    for episode in episodes:
        if episode.feed_id == feeds[routes["transcripts"][0]].id:
            by_title["transcripts"] += 1
            ok = episode.state in ("transcribed", "extracted")
            tally["transcripts"]["read harmlessly" if ok else "refused with a reason"] += 1
            assert ok or episode.error_reason, (episode.title, episode.state)
        if episode.feed_id == feeds[routes["audio"][0]].id:
            tally["audio"]["refused with a reason" if episode.error_reason else "waiting"] += 1
            assert episode.state in ("failed", "needs_asr", "skipped") and episode.error_reason, (
                episode.title,
                episode.state,
            )
    # Failures are visible where the admin looks: `episodes failed`, `feeds list`, the admin page.
    failed_ids = {row.id for row in failed_episodes(app) if row.reason}
    audio_feed = next(f for f in feed_overview(app) if f.url == routes["audio"][0])
    audio_failed = [e for e in episodes if e.feed_id == audio_feed.id and e.state == "failed"]
    waiting = [
        (e.feed_id, e.state, e.published_at, (e.error_reason or "")[:80])
        for e in episodes
        if e.state == "needs_asr"
    ]
    assert audio_failed and {e.id for e in audio_failed} <= failed_ids, (report.speech, waiting)
    assert audio_feed.failed_episodes == len(audio_failed)
    tally["transcripts"]["inputs"] = len(hostile.transcripts())
    tally["audio"]["inputs"] = len(hostile.audio_files())
    transcripts_feed = feeds[routes["transcripts"][0]]
    assert by_title["transcripts"] == len(hostile.transcripts()), (
        transcripts_feed.error_reason,
        transcripts_feed.status,
    )
    # What was stored is sane: times in order and finite, no file contents, no entities.
    assert all(
        math.isfinite(seg["start"]) and math.isfinite(seg["end"]) and 0 <= seg["start"] <= seg["end"]
        for seg in segments
    )
    assert "root:x:0:0" not in stored_text and "lollollol" not in stored_text

    # Web input: every hostile form gets a 200 or a 400 page, never a server error.
    from tests.test_web_app import Browser

    port = free_port()
    web_server(app, port)
    browser = Browser(f"http://127.0.0.1:{port}")
    for name, fields in hostile.web_inputs():
        form = {"interests": "", "timezone": "UTC", "send_hour": "7", "top_n": "5", **fields}
        status, _, _ = browser.go("POST", "/signup", {"csrf": browser.csrf("/signup"), **form})
        tally["web"]["inputs"] += 1
        assert status in (200, 400), (name, status)
        tally["web"]["refused (400)" if status == 400 else "accepted (200)"] += 1
    for path in (
        "/signup",
        "/admin/login",
        "/admin/shows/add",
        "/feedback/x",
        "/unsubscribe/x",
        "/confirm/x",
        "/preferences/x",
    ):
        status, _, _ = browser.go(
            "POST", path, {"email": "c@example.com", "url": "http://x/"}
        )  # no CSRF token
        tally["web"]["inputs"] += 1
        assert status in (303, 400, 401, 404), (path, status)
        tally["web"]["refused without a CSRF token or link"] += 1

    for path in hostile.web_paths():
        status, _, _ = browser.go("GET", path)
        tally["web"]["inputs"] += 1
        assert status < 500, (path, status)
        tally["web"]["answered without a server error"] += 1

    crashes = [r for r in caplog.records if r.exc_info]
    assert crashes == [], [r.getMessage() for r in crashes]
    assert sentinel.connections == 0
    total = sum(t["inputs"] for t in tally.values())
    lines = [
        f"hostile corpus: {total} inputs, 0 crashes, {sentinel.connections} connections outside the allow-list, run {seconds:.1f} s"
    ]
    lines += [f"  {c}: " + ", ".join(f"{k} {v}" for k, v in tally[c].items()) for c in CATEGORIES]
    with capsys.disabled():  # the tally belongs in the CI log
        print("\n" + "\n".join(lines))
    assert total >= 300
    assert re.search(r"\d", lines[0])
