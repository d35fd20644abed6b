"""The daily job end to end, through the real `podsift` command in a subprocess:
three shows on a loopback server, two subscribers, a real SMTP server, SQLite or Postgres."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import FIXTURES
from tests.feedgen import Item, rss

DAY1 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
TRANSCRIPTS = FIXTURES / "transcripts"

# Independent of podsift's parsers: where each claim starts in the fixture files we wrote.
CLAIM_STARTS = {
    "The EU AI Act matters less": 17,
    "Compute thresholds are a poor proxy": 36,
    "The real bottleneck for AI policy": 50,
    "Open-source models complicate export controls": 70,
    "Open-source models now trail": 5,
    "Quantization is the unsung hero": 24,
    "Licenses are the hidden risk": 44,
    "The biggest cost in running open models": 58,
    "Grid batteries in Texas": 9,
    "Battery pack prices fell": 28,
    "Data centers for AI": 44,
    "The interconnection queue": 58,
    "Watermarking AI-generated text": 8,
    "Liability rules will shape": 30,
}


def normalize(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def fixture_text(name: str) -> str:
    raw = (TRANSCRIPTS / name).read_text(encoding="utf-8")
    if name.endswith(".json"):
        raw = " ".join(s["body"] for s in json.loads(raw)["segments"])
    raw = re.sub(r"<[^>]+>", " ", raw).replace("&amp;", "&")
    raw = re.sub(r"^[^\n]*-->[^\n]*$|^\d+$|^\d+:\d+$", " ", raw, flags=re.M)
    return normalize(re.sub(r"\b[A-Z][a-z]+ [A-Z][a-z]+: ", " ", raw))


def serve_shows(server, with_new_episode: bool = False) -> None:  # type: ignore[no-untyped-def]
    def transcript(path: str, name: str, mime: str) -> tuple[str, str]:
        server.add(path, (TRANSCRIPTS / name).read_bytes(), content_type=mime)
        return server.url(path), mime

    old = [
        Item(
            f"Archive {i}", DAY1 - timedelta(days=30 + i), guid=f"old-{i}", audio=server.url(f"/a/old{i}.mp3")
        )
        for i in range(20)
    ]
    policy = [
        Item(
            "Who audits the models?",
            DAY1 - timedelta(hours=20),
            guid="ps-12",
            audio=server.url("/a/ps12.mp3"),
            transcripts=[transcript("/t/ps12.vtt", "policy-signals-12.vtt", "text/vtt")],
            persons=["Daniel Reyes"],
        ),
    ]
    if with_new_episode:
        policy.insert(
            0,
            Item(
                "Watermarks and liability",
                DAY1 + timedelta(hours=6),
                guid="ps-13",
                audio=server.url("/a/ps13.mp3"),
                transcripts=[transcript("/t/ps13.html", "policy-signals-13.html", "text/html")],
            ),
        )
    server.add(
        "/policy.xml", rss("Policy Signals", policy + old), etag='"p2"' if with_new_episode else '"p1"'
    )
    server.add(
        "/weights.xml",
        rss(
            "Open Weights Weekly",
            [
                Item(
                    "The six-month gap",
                    DAY1 - timedelta(hours=30),
                    guid="ow-40",
                    audio=server.url("/a/ow40.mp3"),
                    transcripts=[transcript("/t/ow40.srt", "open-weights-40.srt", "application/x-subrip")],
                ),
                *old,
            ],
        ),
        etag='"w1"',
    )
    server.add(
        "/grid.xml",
        rss(
            "Grid & Power",
            [
                Item(
                    "Batteries after sunset",
                    DAY1 - timedelta(hours=10),
                    guid="gp-7",
                    link="https://grid.example.org/7",
                    audio=server.url("/a/gp7.mp3"),
                    transcripts=[transcript("/t/gp7.json", "grid-power-7.json", "application/json")],
                ),
            ],
        ),
    )


@pytest.fixture
def podsift(tmp_path: Path, database_url: str, http_server, smtp_server):  # type: ignore[no-untyped-def]
    env = {
        **os.environ,
        "PODSIFT_HOME": str(tmp_path / "home"),
        "PODSIFT_DATABASE_URL": database_url,
        "PODSIFT_ALLOW_HOSTS": http_server.host,
        "PODSIFT_SMTP_URL": smtp_server.url,
        "PODSIFT_FROM": "podsift <digest@podsift.test>",
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "podsift", *args], env=env, capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 0, proc.stderr
        return proc

    return run


def digest_json(podsift, email: str, date: str) -> dict:  # type: ignore[no-untyped-def]
    return json.loads(podsift("digest", email, "--date", date, "--format", "json").stdout)


def test_daily_job_end_to_end(podsift, http_server, smtp_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    serve_shows(http_server)
    opml = tmp_path / "shows.opml"
    outlines = "".join(
        f'<outline text="{n}" type="rss" xmlUrl="{http_server.url(p)}"/>'
        for n, p in [("Policy", "/policy.xml"), ("Weights", "/weights.xml"), ("Grid", "/grid.xml")]
    )
    opml.write_text(f'<?xml version="1.0"?><opml version="2.0"><body>{outlines}</body></opml>')
    podsift("feeds", "import", str(opml))
    podsift(
        "subscribers",
        "add",
        "ada@example.com",
        "--interests",
        "AI policy, open-source models",
        "--timezone",
        "Europe/Berlin",
        "--hour",
        "7",
    )
    podsift(
        "subscribers",
        "add",
        "grace@example.com",
        "--interests",
        "batteries, power grid",
        "--timezone",
        "America/New_York",
        "--hour",
        "6",
    )

    started = time.perf_counter()
    first = podsift("run", "--now", DAY1.isoformat())
    elapsed = time.perf_counter() - started
    print(f"podsift run on the end-to-end fixture: {elapsed:.2f} s\n{first.stdout}")
    assert "2 sent" in first.stdout

    assert len(smtp_server.messages) == 2
    assert len(smtp_server.to("ada@example.com")) == 1 and len(smtp_server.to("grace@example.com")) == 1
    texts = {
        name: fixture_text(name)
        for name in ["policy-signals-12.vtt", "open-weights-40.srt", "grid-power-7.json"]
    }
    all_text = " ".join(texts.values())
    for email in ("ada@example.com", "grace@example.com"):
        message = smtp_server.to(email)[0]
        assert message.get_content_type() == "multipart/alternative"
        assert message["Message-ID"].startswith("<digest.2026-11-20.")
        body_text = message.get_body(("plain",)).get_content()
        digest = digest_json(podsift, email, "2026-11-20")
        assert 1 <= len(digest["insights"]) <= 5
        for insight in digest["insights"]:
            assert normalize(insight["quote"]) in all_text  # verbatim from the transcript
            prefix = next(
                p for p in CLAIM_STARTS if insight["quote"].startswith(p)
            )  # a claim, no intro or ad
            assert int(insight["start"]) == CLAIM_STARTS[prefix]
            assert insight["link"].endswith(f"#t={CLAIM_STARTS[prefix]}")
            assert insight["text"][:40] in body_text.replace("\n   ", " ")
    ada = digest_json(podsift, "ada@example.com", "2026-11-20")["insights"]
    grace = digest_json(podsift, "grace@example.com", "2026-11-20")["insights"]
    assert ada[0]["podcast"] in ("Policy Signals", "Open Weights Weekly")
    assert "AI policy" in ada[0]["why"] or "open-source models" in ada[0]["why"]
    assert grace[0]["podcast"] == "Grid & Power"
    assert [i["podcast"] for i in ada[:2]] != [i["podcast"] for i in grace[:2]]

    # A second run the same day sends nothing.
    second = podsift("run", "--now", (DAY1 + timedelta(hours=2)).isoformat())
    assert "0 sent" in second.stdout and len(smtp_server.messages) == 2

    # The feed gains one episode: only it is added, and the next day's digest carries it.
    serve_shows(http_server, with_new_episode=True)
    day2 = DAY1 + timedelta(days=1)
    third = podsift("run", "--now", day2.isoformat())
    assert "1 new episode(s)" in third.stdout
    feeds = {f["title"]: f for f in json.loads(podsift("feeds", "list", "--json").stdout)}
    assert feeds["Policy Signals"]["episodes"] == 22 and feeds["Policy Signals"]["status"] == "active"
    assert feeds["Open Weights Weekly"]["episodes"] == 21
    ada_day2 = digest_json(podsift, "ada@example.com", "2026-11-21")["insights"]
    assert ada_day2 and all(i["episode"] == "Watermarks and liability" for i in ada_day2[:1])
    sent_day1 = {i["quote"] for i in ada}
    assert not sent_day1 & {i["quote"] for i in ada_day2}  # nothing comes back
    assert len(smtp_server.to("ada@example.com")) == 2
