"""Shows we wrote that tell one story three ways (two agree, one disagrees), served on a
loopback server with publisher transcripts: for disagreement and topic tests."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from tests.feedgen import Item, rss

GREETING = "Welcome back to the show, it's great to have you with us again this week."
THANKS = "That's all for today, thanks for listening and see you next week."
SHOWS = {
    "grid-talk": (
        "Grid Talk",
        "Maya Chen",
        [
            "Four-hour batteries now beat gas peakers on cost in most US markets, which means utilities "
            "will stop ordering new peaker plants this decade.",
            "Utility-scale battery packs now cost about $60/kWh, because Chinese cell makers doubled their "
            "output in a single year.",
        ],
    ),
    "power-markets": (
        "Power Markets Weekly",
        "Tom Reilly",
        [
            "Four-hour batteries won't beat gas peakers on cost in most US markets for at least a decade, "
            "because the gas turbines are already paid for.",
            "Utility-scale battery packs still cost around $80/kWh, because shipping and installation add "
            "more than the cells themselves in most projects we see.",
        ],
    ),
    "energy-hour": (
        "The Energy Hour",
        "Priya Nair",
        [
            "Four-hour batteries now beat gas peakers on cost in most US markets, so the peaker fleet will "
            "shrink as old plants retire.",
            "Texas added four gigawatts of batteries last year, more than any other state, because its "
            "market pays for evening power.",
        ],
    ),
}


def transcript(speaker: str, claims: list[str]) -> bytes:
    lines: list[tuple[str, str]] = [("Host", GREETING)]
    for claim in claims:
        lines += [(speaker, claim), ("Host", "Okay. Let's move on to the next thing.")]
    lines.append(("Host", THANKS))
    segments, start = [], 0.0
    for who, text in lines:
        end = start + max(4.0, len(text.split()) / 2.5)
        segments.append({"speaker": who, "startTime": start, "endTime": end, "body": text})
        start = end
    return json.dumps({"version": "1.0.0", "segments": segments}).encode()


def serve_story_shows(server, now: datetime, slugs: list[str] | None = None) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Serve the shows (each one episode, published two hours before `now`); their feed URLs."""
    urls = {}
    for slug in slugs or list(SHOWS):
        title, speaker, claims = SHOWS[slug]
        server.add(f"/t/{slug}.json", transcript(speaker, claims), content_type="application/json")
        item = Item(
            f"{title}: batteries and the evening peak",
            now - timedelta(hours=2),
            guid=f"{slug}-1",
            audio=server.url(f"/a/{slug}.mp3"),
            transcripts=[(server.url(f"/t/{slug}.json"), "application/json")],
            description="Battery storage, gas peakers and what they cost.",
        )
        server.add(f"/{slug}.xml", rss(title, [item]))
        urls[slug] = server.url(f"/{slug}.xml")
    return urls
