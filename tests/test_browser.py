"""The web app in a real browser (Playwright driving Debian's Chromium): sign up, confirm from
the real SMTP sink, choose interests, run the pipeline, read today's digest with the audio at
the insight's second, vote 👎, unsubscribe; an admin adds a show. Feed and transcript carry
<script>, onerror= and javascript: payloads that must stay inert on every page and in email.
Screenshots of each page go to test-artifacts/screenshots/."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import wave
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from podsift.pipeline import run
from podsift.store import Feedback, Insight, Subscriber
from podsift.web.auth import create_admin
from tests.conftest import free_port
from tests.feedgen import Item, rss

CHROMIUM = os.environ.get("PODSIFT_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = (
    Path(os.environ.get("PODSIFT_ARTIFACTS", Path(__file__).resolve().parents[1] / "test-artifacts"))
    / "screenshots"
)
NOW = datetime.now(UTC).replace(microsecond=0)
EVIL_TITLE = 'Evil <script>alert("title")</script> Radio'
LINES = [
    (
        "Nora Vale",
        "Welcome to the show, I'm Nora Vale, and this week we talk about grid batteries and podcast security.",
    ),
    (
        "Omar Reyes",
        "Grid batteries in Texas now cover the evening peak on most summer days, because more than ten gigawatts of storage were installed in only three years.",
    ),
    (
        "Omar Reyes",
        "Podcast apps that render show notes as HTML are exposed, because a tag like <img src=x onerror=alert('xss')> or a javascript:alert('xss') link runs in the listener's app.",
    ),
    (
        "Nora Vale",
        "Heat pumps outsold gas furnaces in the United States for the third year running, which means the winter peak on the grid will keep moving to electricity.",
    ),
]


def transcript_json() -> bytes:
    segments, t = [], 0.0
    for speaker, body in LINES:
        segments.append({"speaker": speaker, "startTime": t, "endTime": t + 29.0, "body": body})
        t += 30.0
    return json.dumps({"version": "1.0.0", "segments": segments}).encode()


def silent_wav(seconds: int = 150, rate: int = 8000) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(1)
        w.setframerate(rate)
        w.writeframes(b"\x80" * rate * seconds)
    return buffer.getvalue()


def serve_audio(server, path: str, data: bytes) -> None:  # type: ignore[no-untyped-def]
    """Audio with Range support, as a CDN serves it (the browser seeks with it)."""

    def route(h) -> None:  # type: ignore[no-untyped-def]
        start, end = 0, len(data) - 1
        match = re.match(r"bytes=(\d+)-(\d*)", h.headers.get("Range") or "")
        if match:
            start, end = int(match.group(1)), int(match.group(2) or end)
            h.send_response(206)
            h.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        else:
            h.send_response(200)
        h.send_header("Content-Type", "audio/wav")
        h.send_header("Accept-Ranges", "bytes")
        h.send_header("Content-Length", str(end - start + 1))
        h.end_headers()
        h.wfile.write(data[start : end + 1])

    server.routes[path] = route


@pytest.fixture
def browser():  # type: ignore[no-untyped-def]
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):  # CI installs it (.ci/run): missing there is a failure
            pytest.fail(f"no Chromium at {CHROMIUM}")
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--autoplay-policy=no-user-gesture-required",
            ],
        )
        yield launched
        launched.close()


def shot(page, name: str) -> Path:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def assert_inert(page) -> None:  # type: ignore[no-untyped-def]
    """Nothing from feeds or transcripts became markup: only our own scripts, no injected
    elements or handlers, no javascript: links."""
    sources = page.eval_on_selector_all("script", "els => els.map(e => e.getAttribute('src'))")
    assert set(sources) <= {"/static/htmx.min.js", "/static/podsift.js"}, sources
    assert page.locator("img[src=x]").count() == 0
    assert page.locator("[onerror]").count() == 0
    assert page.locator("a[href^='javascript:' i]").count() == 0


def test_sign_up_read_listen_vote_unsubscribe_in_a_browser(
    make_core, http_server, smtp_server, web_server, browser
) -> None:  # type: ignore[no-untyped-def]
    if ARTIFACTS.exists():
        shutil.rmtree(ARTIFACTS)
    http_server.add("/t/ep1.json", transcript_json(), content_type="application/json")
    serve_audio(http_server, "/a/ep1.wav", silent_wav())
    http_server.add(
        "/evil.xml",
        rss(
            EVIL_TITLE,
            [
                Item(
                    "Batteries <img src=x onerror=alert(1)>",
                    NOW - timedelta(hours=2),
                    guid="ep1",
                    audio=http_server.url("/a/ep1.wav"),
                    link="javascript:alert('link')",
                    transcripts=[(http_server.url("/t/ep1.json"), "application/json")],
                    description="<p>Notes <script>alert('notes')</script><a href=\"javascript:alert(1)\">click</a></p>",
                )
            ],
        ),
    )
    port = free_port()
    app = make_core(
        smtp_url=smtp_server.url,
        base_url=f"http://127.0.0.1:{port}",
        allow_hosts=(http_server.host,),
        from_address="podsift <digest@podsift.test>",
    )
    create_admin(app, "admin", "correct horse battery")
    web = web_server(app, port)
    # A phone, in New Zealand: sign-up should pick the time zone up from the browser.
    page = browser.new_page(viewport={"width": 390, "height": 844}, timezone_id="Pacific/Auckland")
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    # An admin adds the show.
    page.goto(f"{web.base_url}/admin/login")
    page.fill("#user", "admin")
    page.fill("#password", "correct horse battery")
    page.click("button[type=submit]")
    page.wait_for_url("**/admin/shows")
    page.fill("#url", http_server.url("/evil.xml"))
    page.click("form[action='/admin/shows/add'] button")
    assert "Following" in page.inner_text("main")
    shot(page, "01-admin-shows")

    # Sign up; the time zone comes from the browser.
    page.context.clear_cookies()
    page.goto(f"{web.base_url}/signup")
    page.fill("#email", "reader@example.com")
    page.fill("#interests", "grid batteries")
    page.fill("#send_hour", "0")
    shot(page, "02-signup")
    page.click("button[type=submit]")
    assert "Check your email" in page.inner_text("h1")
    (confirmation,) = smtp_server.to("reader@example.com")
    confirm_url = re.search(
        r"http://127\.0\.0\.1:\d+/confirm/\S+", confirmation.get_body(("plain",)).get_content()
    ).group(0)
    page.goto(confirm_url)
    shot(page, "03-confirm")
    page.click("button[type=submit]")
    assert "Confirmed" in page.inner_text("h1")

    # Interests, on the preferences page linked from the confirmation.
    page.click("text=Choose your interests and shows")
    page.fill("#interests", "grid batteries, heat pumps")
    page.click("button[type=submit]")
    assert "Saved" in page.inner_text("main")
    shot(page, "04-preferences")
    with app.session() as s:
        reader = s.scalar(sa.select(Subscriber).where(Subscriber.email == "reader@example.com"))
        assert (reader.interests, reader.timezone) == ("grid batteries, heat pumps", "Pacific/Auckland")

    # The pipeline runs; the digest arrives by email with a link to read it in the browser.
    # (in a thread: Playwright's sync API keeps an event loop running in this one)
    with ThreadPoolExecutor(1) as pool:
        report = pool.submit(run, app, NOW).result()
    assert report.delivery.sent == ["reader@example.com"], report.delivery
    with app.session() as s:
        texts = list(s.scalars(sa.select(Insight.text)))
    assert any("onerror" in t for t in texts), texts  # the payload really is in the data
    digest_mail = smtp_server.to("reader@example.com")[-1]
    html_mail = digest_mail.get_body(("html",)).get_content()
    assert (
        "<script" not in html_mail.lower()
        and "<img src=x" not in html_mail
        and 'href="javascript' not in html_mail.lower()
    )
    assert "&lt;img src=x onerror" in html_mail  # shown as text
    web_url = re.search(
        r"http://127\.0\.0\.1:\d+/me/\S+/today", digest_mail.get_body(("plain",)).get_content()
    ).group(0)

    page.goto(web_url)
    assert page.locator("article").count() >= 1
    first = page.locator("article").first
    expected_start = int(first.locator("audio").get_attribute("data-start"))
    current = first.locator("audio").evaluate(
        "a => new Promise(r => { const done = () => r(a.currentTime); if (a.readyState >= 1) done(); "
        "else { a.addEventListener('loadedmetadata', done, {once: true}); a.load(); } })"
    )
    assert abs(current - expected_start) < 1.0 and expected_start > 0, (current, expected_start)
    first.locator("details summary").click()
    assert first.locator(".passage.hit").count() >= 1  # the transcript passage around the moment
    assert_inert(page)
    shot(page, "05-today")

    insight_id = int(first.get_attribute("id").split("-")[1])
    first.locator("button[aria-label='Less like this']").click()
    first.locator("text=less like this").wait_for()
    with app.session() as s:
        assert s.execute(sa.select(Feedback.insight_id, Feedback.vote)).all() == [(insight_id, -1)]
    shot(page, "06-voted")

    first.locator("a", has_text="All tellings").click()
    assert_inert(page)
    shot(page, "07-insight")

    # Search from the box on the reader's pages: a moment, marked, that plays at its second;
    # the hostile transcript is found and stays text.
    page.goto(web_url)
    page.fill("header input[name=q]", "heat pumps")
    page.click("header form.search button")
    page.wait_for_url("**/search?q=*")
    hit = page.locator("article.moment").first
    assert [m.lower() for m in hit.locator("mark").all_inner_texts()][:2] == ["heat", "pumps"]
    assert "Nora Vale" in hit.inner_text()
    start = int(hit.locator("audio").get_attribute("data-start"))
    current = hit.locator("audio").evaluate(
        "a => new Promise(r => { const done = () => r(a.currentTime); if (a.readyState >= 1) done(); "
        "else { a.addEventListener('loadedmetadata', done, {once: true}); a.load(); } })"
    )
    assert start == 90 and abs(current - start) < 1.0, (current, start)
    hit.locator("audio").evaluate("a => a.play()")
    page.wait_for_function("() => document.querySelector('article.moment audio').currentTime > 90.2")
    shot(page, "08-search")
    page.fill("header input[name=q]", "onerror javascript")
    page.click("header form.search button")
    assert page.locator("article.moment").count() >= 1
    assert_inert(page)
    page.goto(f"{web_url.rsplit('/', 1)[0]}/search?q=%22")
    assert "at least one word" in page.inner_text("main")

    page.goto(web_url)
    page.click("nav >> text=Preferences")  # lists the shows by their (hostile) titles
    assert EVIL_TITLE in page.inner_text("main")
    assert_inert(page)

    page.goto(web.base_url + "/admin/shows")  # the admin cookie was cleared: the login page
    assert "sign-in" in page.inner_text("h1").lower()
    page.fill("#user", "admin")
    page.fill("#password", "correct horse battery")
    page.click("button[type=submit]")
    page.wait_for_url("**/admin/shows")
    assert EVIL_TITLE in page.inner_text("main") and "100% of 1" in page.inner_text("main")
    assert_inert(page)
    shot(page, "10-admin-shows-after-run")

    unsubscribe_url = re.search(
        r"<(http://[^>]+/unsubscribe/[^>]+)>", str(digest_mail["List-Unsubscribe"])
    ).group(1)
    page.goto(unsubscribe_url)
    shot(page, "08-unsubscribe")
    page.click("button[type=submit]")
    assert "unsubscribed" in page.inner_text("h1")
    shot(page, "09-unsubscribed")
    with app.session() as s:
        assert not s.scalar(sa.select(Subscriber.active).where(Subscriber.email == "reader@example.com"))
    assert dialogs == []  # no injected script ever ran
    assert len(list(ARTIFACTS.glob("*.png"))) == 11
