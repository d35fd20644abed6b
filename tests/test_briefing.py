"""The audio briefing (issue 28), in a world of shows spoken by the narrator itself: the MP3's
duration, chapters (ID3 and JSON), loudness and the words of each clip (heard back with the
packaged Whisper); an ad inserted before a quote; an enclosure that is gone; the private
feed, its files behind the token, and a browser that plays it."""

from __future__ import annotations

import email
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from rapidfuzz import fuzz

from podsift.backends.asr.words import WordSpotter, tokens
from podsift.backends.narrator.registry import make_narrator
from podsift.briefings.audio import RATE, read_window, resample
from podsift.briefings.clips import MAX_CLIP, ClipSource, clip_window
from podsift.briefings.feed import feed_path
from podsift.briefings.spotting import find_quote
from podsift.briefings.stage import briefing_plan, briefings_folder, build_briefings, prune_briefings
from podsift.core import App, make_app
from podsift.pipeline import run
from podsift.settings import Settings
from podsift.sources.scan import add_feeds
from podsift.store import Briefing, BriefingState, Digest, Subscriber
from podsift.subscribers import add_subscriber, preferences_path, update_subscriber
from tests.briefing_world import AD_SHIFTED, GONE, SHOWS, serve_briefing_shows
from tests.conftest import LoopbackServer, free_port
from tests.test_browser import browser  # noqa: F401  (the fixture)

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
EMAIL = "listener@example.com"
pyloudnorm = pytest.importorskip("pyloudnorm")
mutagen_id3 = pytest.importorskip("mutagen.id3")


class World:
    def __init__(self, app: App, server: LoopbackServer, episodes: dict[str, Any], report: Any):
        self.app, self.server, self.episodes, self.report = app, server, episodes, report

    def briefing(self) -> Briefing:
        with self.app.session() as session:
            return session.scalars(sa.select(Briefing)).one()

    def mp3(self) -> Path:
        b = self.briefing()
        return briefings_folder(self.app, b.subscriber_id) / (b.file_name or "")


def make_world(home: Path, database_url: str, **settings: Any) -> tuple[App, LoopbackServer, dict[str, Any]]:
    server = LoopbackServer()
    narrator = make_narrator("auto", home / "world-voice")
    urls, episodes = serve_briefing_shows(server, narrator, NOW)
    app = make_app(
        Settings.load(
            env={},
            home=home,
            database_url=database_url,
            allow_hosts=(server.host,),
            asr="none",
            llm="offline?threshold=0.15",
            base_url="http://127.0.0.1:1",
            **settings,
        )
    )
    add_feeds(app, urls)
    return app, server, episodes


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Any:
    home = tmp_path_factory.mktemp("briefing") / "home"
    app, server, episodes = make_world(home, f"sqlite:///{home.parent / 'podsift.db'}")
    add_subscriber(app, EMAIL, hour=0, top=5, skip_confirm=True)
    update_subscriber(app, EMAIL, briefing=True)
    add_subscriber(app, "reader@example.com", hour=0, top=5, skip_confirm=True)  # not opted in: no briefing
    report = run(app, NOW)
    yield World(app, server, episodes, report)
    app.close()
    server.close()


def decoded(path: Path) -> np.ndarray:
    samples, _ = read_window(path, 0.0, 3600.0, RATE)
    return samples


def vtt_cues(text: str) -> list[tuple[float, float, str, str]]:
    cues = []
    for block in text.strip().split("\n\n")[1:]:
        timing, _, body = block.partition("\n")
        start, _, end = timing.partition(" --> ")
        m = re.match(r"<v ([^>]+)>(.*)", body, re.S)
        cues.append((_seconds(start), _seconds(end), m.group(1) if m else "", m.group(2) if m else body))
    return cues


def _seconds(clock: str) -> float:
    h, m, s = clock.strip().split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


def quote_recall(heard: str, quote: str) -> float:
    """Share of the quote's words heard, a word counting as heard when a heard word spells it
    nearly the same ("governments" / "government")."""
    said, wanted = tokens(heard), tokens(quote)
    return sum(any(fuzz.ratio(w, s) >= 80 for s in said) for w in wanted) / len(wanted)


def test_the_briefing_plays_the_speakers_own_clips_checked_by_ear(world: World) -> None:
    assert world.report.briefings.built == 1, world.report.briefings
    assert world.report.delivery.sent, "the digests went out first"
    row = world.briefing()
    assert row.state == BriefingState.READY
    with world.app.session() as session:
        plan = briefing_plan(session, row.digest_id)
        assert session.scalar(sa.select(Subscriber.email).where(Subscriber.id == row.subscriber_id)) == EMAIL
    shows = [item.sources[0].show for item in plan.items]
    assert sorted(shows) == sorted(title for title, _ in SHOWS.values()), shows

    path = world.mp3()
    samples = decoded(path)
    assert abs(samples.size / RATE - row.duration_seconds) < 0.15
    # Chapters: one per insight, in order, inside the audio; ID3 and JSON say the same.
    chapters = json.loads(path.with_suffix(".json").read_text())
    assert chapters["version"] == "1.2.0"
    assert [c["title"].split(".")[0] for c in chapters["chapters"]] == ["1", "2", "3"]
    tag = mutagen_id3.ID3(path)
    chaps = sorted(tag.getall("CHAP"), key=lambda c: c.start_time)
    assert [(c.start_time, c.end_time) for c in chaps] == [
        (round(c["startTime"] * 1000), round(c["endTime"] * 1000)) for c in chapters["chapters"]
    ]
    ends = [c["endTime"] for c in chapters["chapters"]]
    assert ends == sorted(ends) and ends[-1] < row.duration_seconds
    assert [c.sub_frames["TIT2"].text[0] for c in chaps] == [c["title"] for c in chapters["chapters"]]

    # Loudness: the whole and each insight's chapter at -16 LUFS within 1 LU; no clipping.
    meter = pyloudnorm.Meter(RATE)
    assert abs(meter.integrated_loudness(samples.astype(np.float64)) + 16) <= 1.0
    for c in chapters["chapters"]:
        part = samples[int(c["startTime"] * RATE) : int(c["endTime"] * RATE)].astype(np.float64)
        assert abs(meter.integrated_loudness(part) + 16) <= 1.0, c["title"]
    assert float(np.abs(samples).max()) <= 10 ** (-0.5 / 20)

    # Each clip, heard back: the quote's own words (>= 90%), the ad's never.
    cues = vtt_cues(path.with_suffix(".vtt").read_text())
    spotter = WordSpotter(world.app.settings.home / "models")
    heard_back = set()
    for item, c in zip(plan.items, chapters["chapters"], strict=True):
        source = item.sources[0]
        slug = next(s for s, (title, _) in SHOWS.items() if title == source.show)
        inside = [q for q in cues if c["startTime"] - 0.01 <= q[0] and q[1] <= c["endTime"] + 0.01]
        clip = [q for q in inside if q[2] != "Narrator"]
        if slug == GONE:
            assert clip == []
            read_out = " ".join(q[3] for q in inside)
            assert "The clip was not available" in read_out and source.quote[:40] in read_out
            assert source.speaker and f"{source.speaker} said" in read_out
            continue
        assert clip and all(q[2] == source.speaker for q in clip), inside
        begin, end = clip[0][0], clip[-1][1]
        heard, _ = read_window(path, begin, end, 16000)
        words = " ".join(w.text for w in spotter.words(heard, "en"))
        assert quote_recall(words, source.quote) >= 0.9, (slug, words, source.quote)
        assert "lumen" not in words, words
        assert end - begin <= MAX_CLIP + 0.5
        heard_back.add(slug)
    assert heard_back == set(SHOWS) - {GONE} and AD_SHIFTED in heard_back  # the moved clip was heard


def test_the_private_feed_serves_the_briefing_and_a_browser_plays_it(
    world: World,
    web_server,
    browser,  # noqa: F811  (the fixture)
) -> None:  # type: ignore[no-untyped-def]
    import feedparser
    import httpx2 as httpx

    app = world.app
    web = web_server(app, free_port())
    with app.session() as session:
        sub = session.scalars(sa.select(Subscriber).where(Subscriber.email == EMAIL)).one()
        other = session.scalars(sa.select(Subscriber).where(Subscriber.email != EMAIL)).one()
    url = web.base_url + feed_path(app, sub)
    with httpx.Client() as http:
        reply = http.get(url)
        assert reply.status_code == 200 and reply.headers["content-type"].startswith("application/rss+xml")
        feed = feedparser.parse(reply.content)
        assert not feed.bozo, feed.bozo_exception
        assert feed.feed.title == "Your podsift briefing"
        assert "<itunes:block>Yes</itunes:block>" in reply.text
        [entry] = feed.entries
        assert entry.id == f"podsift-briefing-{sub.id}-{world.briefing().local_date}"
        enclosure = entry.enclosures[0]
        assert enclosure.type == "audio/mpeg" and int(enclosure.length) == world.mp3().stat().st_size
        head = http.get(enclosure.href, headers={"Range": "bytes=0-99"})
        assert head.status_code == 206 and len(head.content) == 100
        assert head.content == world.mp3().read_bytes()[:100]
        chapters = re.search(r'<podcast:chapters url="([^"]+)"', reply.text).group(1)  # type: ignore[union-attr]
        assert http.get(chapters).json()["chapters"]
        transcript = re.search(r'<podcast:transcript url="([^"]+)"', reply.text).group(1)  # type: ignore[union-attr]
        assert http.get(transcript).text.startswith("WEBVTT")
        # Behind the token: another reader's token does not open it; a made-up one neither.
        assert http.get(web.base_url + feed_path(app, other)).text.count("<item>") == 0
        wrong = enclosure.href.replace(feed_path(app, sub).split("/")[2], feed_path(app, other).split("/")[2])
        assert http.get(wrong).status_code == 404
        assert http.get(web.base_url + "/feed/not-a-token/briefing.xml").status_code == 404

    page = browser.new_page()
    page.goto(web.base_url + f"/me/{preferences_path(app, sub).split('/')[-1]}/today")
    player = page.locator("#briefing-player")
    played = player.evaluate(
        "a => new Promise(r => { a.muted = true; a.addEventListener('timeupdate', () => { if (a.currentTime > 0.5) r([a.duration, a.currentTime]); }); a.play(); })"
    )
    assert abs(played[0] - world.briefing().duration_seconds) < 1.0 and played[1] > 0.5
    page.goto(web.base_url + preferences_path(app, sub))
    assert page.locator("#briefing-feed").get_attribute("href") == feed_path(app, sub)
    page.close()


def _mail_text(path: Path) -> str:
    message = email.message_from_bytes(path.read_bytes())
    parts = [p.get_payload(decode=True) for p in message.walk() if not p.is_multipart()]
    return str(message["To"]) + "\n" + "\n".join(p.decode() for p in parts if isinstance(p, bytes))


def test_the_email_links_the_feed_and_a_second_run_builds_nothing_again(world: World) -> None:
    outbox = world.app.settings.resolved_outbox
    mails = [_mail_text(p) for p in outbox.rglob("*.eml")]
    listener = [m for m in mails if EMAIL in m]
    assert listener and "Listen in your podcast app" in listener[0]
    assert not any("Listen in your podcast app" in m for m in mails if EMAIL not in m)
    before = world.mp3().stat().st_mtime_ns
    assert build_briefings(world.app, NOW).built == 0
    assert world.mp3().stat().st_mtime_ns == before


def test_a_failed_briefing_never_stops_the_email_and_is_retried(
    tmp_path: Path, http_server: LoopbackServer
) -> None:
    from podsift.briefings.audio import encode_mp3, silence
    from tests.conftest import podsift_env, run_podsift  # a subprocess with its own narrator setting

    http_server.add(
        "/t/a.vtt",
        "WEBVTT\n\n00:00:00.000 --> 00:00:09.000\n<v Ana Ruiz>Sodium batteries now cost forty dollars a kilowatt hour, which means storage no longer depends on lithium.\n",
        content_type="text/vtt",
    )
    http_server.add("/a/a.mp3", encode_mp3(silence(10.0)), content_type="audio/mpeg")
    from tests.feedgen import Item, rss

    now = datetime.now(UTC)
    item = Item(
        "A 1",
        now - timedelta(hours=1),
        guid="a1",
        audio=http_server.url("/a/a.mp3"),
        transcripts=[(http_server.url("/t/a.vtt"), "text/vtt")],
    )
    http_server.add("/a.xml", rss("Show A", [item]))
    env = podsift_env(tmp_path, http_server, f"sqlite:///{tmp_path / 'p.db'}", "offline?threshold=0.15")
    env["PODSIFT_NARRATOR"] = "openai:tts-1?base_url=http://127.0.0.1:9/v1&api_key=sk-secret-1234&timeout=2"
    run_podsift(env, "feeds", "add", http_server.url("/a.xml"))
    run_podsift(env, "subscribers", "add", EMAIL, "--hour", "0")
    run_podsift(env, "subscribers", "set", EMAIL, "--briefing")
    out = run_podsift(env, "run")
    assert "sent" in out
    home = Path(env["PODSIFT_HOME"])
    assert list((home / "outbox").rglob("*.eml")), "the email went out"
    settings = Settings.load(env={}, home=home, database_url=env["PODSIFT_DATABASE_URL"])
    app = make_app(settings)
    try:
        with app.session() as session:
            row = session.scalars(sa.select(Briefing)).one()
            assert row.state == BriefingState.FAILED and row.attempts == 1
            assert "sk-secret" not in (row.error_reason or "")
        log = (home / "podsift.log").read_text()
        assert "sk-secret" not in log
    finally:
        app.close()


def test_only_the_newest_briefings_are_kept(make_core, database_url) -> None:  # type: ignore[no-untyped-def]
    app = make_core(database_url, briefing_keep=3)
    sub = add_subscriber(app, EMAIL, hour=0)
    folder = briefings_folder(app, sub.id)
    folder.mkdir(parents=True)
    with app.session() as session:
        for day in range(1, 6):
            date = f"2026-11-0{day}"
            digest = Digest(subscriber_id=sub.id, local_date=date, state="sent")
            session.add(digest)
            session.flush()
            for suffix in (".mp3", ".json", ".vtt"):
                (folder / f"{date}-{digest.id}{suffix}").write_bytes(b"x")
            session.add(
                Briefing(
                    subscriber_id=sub.id,
                    digest_id=digest.id,
                    local_date=date,
                    state=BriefingState.READY,
                    file_name=f"{date}-{digest.id}.mp3",
                )
            )
        session.commit()
    assert prune_briefings(app) == 2
    with app.session() as session:
        assert sorted(session.scalars(sa.select(Briefing.local_date))) == [
            "2026-11-03",
            "2026-11-04",
            "2026-11-05",
        ]
    assert sorted(p.name[:10] for p in folder.glob("*.mp3")) == ["2026-11-03", "2026-11-04", "2026-11-05"]
    assert len(list(folder.iterdir())) == 9


def test_a_quote_is_found_where_an_ad_moved_it() -> None:
    from podsift.backends.asr.words import Word

    heard = "and now a word from lumen bank visit today sodium batteries now cost forty dollars a kilowatt"
    heard_words = heard.split(" ")
    words = [Word(w, 10.0 + i * 0.4, 10.3 + i * 0.4) for i, w in enumerate(heard_words)]
    quote = "Sodium batteries now cost forty dollars a kilowatt hour, which means storage no longer depends on lithium."
    assert find_quote(words, quote) == pytest.approx(10.0 + 9 * 0.4)
    assert find_quote(words[:9], quote) is None  # only the ad: not found


def test_a_long_quote_is_cut_at_a_segment_end_within_90_seconds() -> None:
    segments = [{"start": float(s), "end": float(s + 30), "text": "x"} for s in range(0, 300, 30)]
    source = ClipSource(1, 1, "q", None, "Show", None, None, 10.0, 250.0, segments=segments)
    begin, end = clip_window(source, 0.0)
    assert begin == pytest.approx(9.75) and end - begin <= MAX_CLIP
    assert end == pytest.approx(90.25)  # the last segment end before begin + 90, padded


def serve_ranges(server: LoopbackServer, path: str, data: bytes) -> list[int]:
    """`path` with HTTP Range support (as podcast hosts have); the bytes sent, per request."""
    sent: list[int] = []

    def route(h: Any) -> None:
        asked = re.match(r"bytes=(\d+)-(\d*)", h.headers.get("Range", ""))
        first = int(asked.group(1)) if asked else 0
        last = min(int(asked.group(2)) if asked and asked.group(2) else len(data) - 1, len(data) - 1)
        body = data[first : last + 1]
        h.send_response(206 if asked else 200)
        h.send_header("Content-Type", "audio/mpeg")
        h.send_header("Accept-Ranges", "bytes")
        if asked:
            h.send_header("Content-Range", f"bytes {first}-{last}/{len(data)}")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)
        sent.append(len(body))

    server.routes[path] = route
    return sent


def test_a_clip_deep_in_a_long_episode_is_fetched_by_range(make_core, http_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    from podsift.briefings.audio import encode_mp3, silence
    from podsift.briefings.clips import cut_clip, search_window
    from podsift.briefings.sources import EnclosureCache, EpisodeAudio

    app = make_core(allow_hosts=(http_server.host,))
    claim = "Offshore wind auctions failed in three countries this year, because turbine prices rose faster than the prices governments would pay."
    said = make_narrator("auto", tmp_path / "voice").speak(claim)
    spoken = resample(said.samples, said.rate)
    at = 300.0  # five minutes into a ten-minute episode
    data = encode_mp3(np.concatenate([silence(at), spoken, silence(600 - at - spoken.size / RATE)]))
    sent = serve_ranges(http_server, "/a/long.mp3", data)
    end = at + spoken.size / RATE
    source = ClipSource(1, 1, claim, "Tom Reilly", "Power Markets Weekly", None, None, at, end, "en",
                        [{"start": at, "end": end, "text": claim, "speaker": "Tom Reilly"}])  # fmt: skip
    cache = EnclosureCache(tmp_path / "home", 10**9, 7, 10**9, 60)

    async def fetch() -> Any:
        async with app.http_client() as client:
            return await cache.clip_audio(
                client, EpisodeAudio(1, http_server.url("/a/long.mp3"), "audio/mpeg"), *search_window(source)
            )

    audio = asyncio.run(fetch())
    assert audio is not None and audio.ranged
    assert sum(sent) < 0.35 * len(data), (sum(sent), len(data))  # ~2.5 minutes of ten, plus the head
    spotter = WordSpotter(app.settings.home / "models")
    clip = cut_clip(audio, source, spotter)
    assert clip is not None and abs(clip.offset) < 0.5
    words = " ".join(w.text for w in spotter.words(resample(clip.samples, RATE, 16000), "en"))
    assert quote_recall(words, claim) >= 0.9, words


def test_shows_that_disagree_play_both_sides_and_a_written_claim_is_said_first(tmp_path: Path) -> None:
    from podsift.briefings.build import BriefingItem, BriefingPlan, assemble
    from podsift.briefings.clips import Clip
    from podsift.briefings.stage import _side_ids

    narrator = make_narrator("auto", tmp_path / "voice")
    sides = [
        ClipSource(1, 1, "Iron-air batteries will become the workhorse of the grid.", "Leo Park", "Grid Talk", None, None, 0, 4),
        ClipSource(2, 2, "Iron-air storage is a dead end for utilities.", "Sara Okafor", "Power Markets Weekly", None, None, 0, 3),
    ]  # fmt: skip
    written = ClipSource(
        3, 3, "We think heat pumps will win.", "Dan Ruiz", "The Energy Hour", None, None, 0, 2
    )
    plan = BriefingPlan(1, 1, "2026-12-05", [
        BriefingItem(1, "Leo Park: Iron-air batteries will become the workhorse of the grid.", sides),
        BriefingItem(2, "Heat pumps now undercut furnaces on price, which pushes utilities to plan for winter peaks.", [written]),
    ])  # fmt: skip

    def clip_of(source: ClipSource) -> Clip:
        speech = narrator.speak(source.quote)
        samples = resample(speech.samples, speech.rate)
        return Clip(samples, 0.0, 0.0, [(0.0, samples.size / RATE, source.speaker, source.quote)])

    built = assemble(plan, narrator, clip_of)
    cues = vtt_cues(built.transcript())
    spoken = [(q[2], q[3]) for q in cues]
    assert (
        "Narrator",
        "Number one: shows disagree. Iron-air batteries will become the workhorse of the grid.",
    ) in spoken
    order = [who for who, _ in spoken]
    assert order.index("Leo Park") < order.index("Sara Okafor")  # both sides, each introduced
    assert ("Narrator", "Sara Okafor on Power Markets Weekly:") in spoken
    # A claim the clip does not say word for word is said first, then the speaker is named.
    assert (
        "Narrator",
        "Number two, from The Energy Hour. Heat pumps now undercut furnaces on price, which pushes utilities to plan for winter peaks. Here is Dan Ruiz.",
    ) in spoken
    assert built.clips_played == 3 and len(built.chapters) == 2
    disputes = [{"detail": "stance", "sides": [[{"insight_id": 7}, {"insight_id": 8}], [{"insight_id": 9}]]}]
    assert _side_ids(disputes) == [7, 9]


def test_the_plan_queues_a_briefing_only_for_an_opted_in_reader_with_a_sent_digest(
    make_core, database_url
) -> None:  # type: ignore[no-untyped-def]
    from podsift.workers.plan import due_work

    app = make_core(database_url)
    listener = add_subscriber(app, EMAIL, hour=0)
    reader = add_subscriber(app, "reader@example.com", hour=0)
    update_subscriber(app, EMAIL, briefing=True)
    now = datetime.now(UTC)
    today = now.date().isoformat()
    with app.session() as session:
        session.add(Digest(subscriber_id=listener.id, local_date=today, state="pending"))
        session.add(Digest(subscriber_id=reader.id, local_date=today, state="sent"))
        session.commit()

    def briefing_units() -> list[Any]:
        return [u for u in due_work(app, now) if u.task == "build_briefing"]

    assert briefing_units() == []  # not sent yet: the email comes first
    with app.session() as session:
        session.execute(sa.update(Digest).where(Digest.subscriber_id == listener.id).values(state="sent"))
        session.commit()
    [unit] = briefing_units()
    assert unit.kwargs == {"subscriber_id": listener.id} and unit.lock == f"briefing:{listener.id}"
    with app.session() as session:
        digest_id = session.scalar(sa.select(Digest.id).where(Digest.subscriber_id == listener.id))
        session.add(
            Briefing(
                subscriber_id=listener.id, digest_id=digest_id, local_date=today, state="failed", attempts=3
            )
        )
        session.commit()
    assert briefing_units() == []  # failed three times: given up


def test_a_clip_whose_audio_does_not_say_the_quote_is_not_played(tmp_path: Path) -> None:
    from podsift.briefings.audio import encode_mp3
    from podsift.briefings.clips import cut_clip
    from podsift.briefings.sources import ClipAudio

    narrator = make_narrator("auto", tmp_path / "voice")
    other = narrator.speak(
        "The weather tomorrow will be mild, with a light breeze from the west in the afternoon."
    )
    path = tmp_path / "other.mp3"
    path.write_bytes(encode_mp3(resample(other.samples, other.rate)))
    quote = "Offshore wind auctions failed in three countries this year, because turbine prices rose."
    source = ClipSource(1, 1, quote, "Tom Reilly", "Power Markets Weekly", None, None, 0.5, 5.0, "en")
    assert cut_clip(ClipAudio(path), source, WordSpotter(tmp_path / "models")) is None


def test_the_enclosure_cache_keeps_to_its_size_and_age(tmp_path: Path) -> None:
    import os
    import time

    from podsift.briefings.sources import EnclosureCache

    cache = EnclosureCache(tmp_path, max_bytes=2500, max_age_days=1, audio_cap=10**6, deadline=5)
    cache.folder.mkdir(parents=True)
    now = time.time()
    for name, age_hours in (("old", 30), ("a", 3), ("b", 2), ("c", 1), ("d", 0)):
        path = cache.folder / f"{name}.mp3"
        path.write_bytes(b"x" * 1000)
        os.utime(path, (now - age_hours * 3600, now - age_hours * 3600))
    assert cache.evict(keep=cache.folder / "d.mp3") == 3  # too old; then the least recently used
    assert sorted(p.name for p in cache.folder.iterdir()) == ["c.mp3", "d.mp3"]


def test_podsift_briefing_writes_the_file_of_a_recorded_digest(world: World) -> None:
    import subprocess
    import sys

    s = world.app.settings
    env = {
        **__import__("os").environ,
        "PODSIFT_HOME": str(s.home),
        "PODSIFT_DATABASE_URL": s.resolved_database_url,
        "PODSIFT_ALLOW_HOSTS": world.server.host,
        "PODSIFT_ASR": "none",
    }
    day = world.briefing().local_date
    done = subprocess.run(
        [sys.executable, "-m", "podsift", "briefing", EMAIL, "--date", day],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    path = Path(done.stdout.strip())
    assert path == world.mp3() and path.stat().st_size > 10_000
    missing = subprocess.run(
        [sys.executable, "-m", "podsift", "briefing", EMAIL, "--date", "2020-01-01"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert missing.returncode != 0 and "no digest recorded for 2020-01-01" in missing.stderr


def test_the_briefing_is_built_and_served_on_postgres(postgres_url: str, tmp_path: Path) -> None:
    from podsift.briefings.feed import briefing_file, briefing_of_day, ready_briefings

    app, server, _ = make_world(tmp_path / "home", postgres_url, briefing_check_clips=False)
    try:
        add_subscriber(app, EMAIL, hour=0, top=5, skip_confirm=True)
        sub = update_subscriber(app, EMAIL, briefing=True)
        report = run(app, NOW)
        assert report.briefings.built == 1 and report.briefings.clips_missing == 1  # the 404 show
        [ready] = ready_briefings(app, sub.id)
        assert len(ready.chapters) == 3 and ready.duration > 20
        assert briefing_of_day(app, sub.id, ready.local_date) == ready
        path = briefing_file(app, sub.id, ready.id, ".mp3")
        assert path is not None and mutagen_id3.ID3(path).getall("CHAP")
        assert briefing_file(app, sub.id + 1, ready.id, ".mp3") is None  # not another reader's
        assert build_briefings(app, NOW).built == 0
    finally:
        app.close()
        server.close()
