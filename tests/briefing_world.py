"""Three short shows we wrote, spoken by podsift's own narrator, served on loopback with
publisher WebVTT whose times are the audio's: one plain, one whose enclosure has a 10-second
ad inserted before the claim (its transcript was made before the ad), one whose enclosure
is gone (404)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from podsift.backends.narrator.registry import Narrator
from podsift.briefings.audio import RATE, encode_mp3, resample, silence
from tests.feedgen import Item, rss

GAP = 0.6
AD_SECONDS = 10.0
AD = (
    "This part of the show is brought to you by Lumen Bank. Lumen Bank gives small businesses "
    "a free account with no monthly fees. Visit lumen bank dot com today."
)

# slug -> (show, [(speaker, line)]); the middle line is the episode's claim.
SHOWS: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "grid-talk": (
        "Grid Talk",
        [
            ("Maya Chen", "Hello and welcome back to Grid Talk."),
            (
                "Maya Chen",
                "Home batteries are now cheaper than a new roof, which means most families with solar panels will soon store their own power.",
            ),
            ("Maya Chen", "Thanks for listening, see you next week."),
        ],
    ),
    "power-markets": (
        "Power Markets Weekly",
        [
            ("Tom Reilly", "Welcome to Power Markets Weekly."),
            (
                "Tom Reilly",
                "Offshore wind auctions failed in three countries this year, because turbine prices rose faster than the prices governments would pay.",
            ),
            ("Tom Reilly", "That is all for today."),
        ],
    ),
    "storage-notes": (
        "Storage Notes",
        [
            ("Priya Nair", "Good morning, this is Storage Notes."),
            (
                "Priya Nair",
                "Heat pumps outsold gas furnaces in America for the third year in a row, because installers now quote them below a replacement furnace.",
            ),
            ("Priya Nair", "Goodbye for now."),
        ],
    ),
}
AD_SHIFTED = "power-markets"
GONE = "storage-notes"


@dataclass
class Episode:
    vtt: str
    audio: bytes  # what the enclosure serves (with the ad where there is one)
    claim_start: float  # in the transcript's time
    claim: str


def speak(narrator: Narrator, text: str) -> np.ndarray:
    speech = narrator.speak(text)
    return resample(speech.samples, speech.rate)


def episode(narrator: Narrator, lines: list[tuple[str, str]], ad: np.ndarray | None) -> Episode:
    """The spoken episode and its transcript; an ad, if given, goes into the audio (only)
    right before the claim, as dynamic ad insertion does after the transcript was made."""
    pieces, cues, t = [silence(0.5)], ["WEBVTT", ""], 0.5
    claim_start = 0.0
    for k, (speaker, line) in enumerate(lines):
        if k == 1:
            claim_start = t
            if ad is not None:
                pieces.append(ad)
        said = speak(narrator, line)
        end = t + said.size / RATE
        cues += [f"{_clock(t)} --> {_clock(end)}", f"<v {speaker}>{line}", ""]
        pieces += [said, silence(GAP)]
        t = end + GAP
    return Episode("\n".join(cues), encode_mp3(np.concatenate(pieces)), claim_start, lines[1][1])


def ad_audio(narrator: Narrator) -> np.ndarray:
    spoken = speak(narrator, AD)[: int(AD_SECONDS * RATE)]
    return np.concatenate([spoken, silence(AD_SECONDS - spoken.size / RATE)])


def _clock(seconds: float) -> str:
    ms = round(seconds * 1000)
    return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def serve_briefing_shows(server, narrator: Narrator, now: datetime) -> tuple[list[str], dict[str, Episode]]:  # type: ignore[no-untyped-def]
    """The three shows' feeds (URLs) and episodes by slug."""
    urls, episodes = [], {}
    ad = ad_audio(narrator)
    for n, (slug, (title, lines)) in enumerate(SHOWS.items()):
        made = episode(narrator, lines, ad if slug == AD_SHIFTED else None)
        episodes[slug] = made
        server.add(f"/t/{slug}.vtt", made.vtt.encode(), content_type="text/vtt")
        if slug != GONE:
            server.add(f"/a/{slug}.mp3", made.audio, content_type="audio/mpeg")
        item = Item(
            f"{title} {n + 1}",
            now - timedelta(hours=2 + n),
            guid=f"{slug}-1",
            audio=server.url(f"/a/{slug}.mp3"),
            link=f"https://{slug}.example.org/1",
            transcripts=[(server.url(f"/t/{slug}.vtt"), "text/vtt")],
        )
        server.add(f"/{slug}.xml", rss(title, [item]))
        urls.append(server.url(f"/{slug}.xml"))
    return urls, episodes
