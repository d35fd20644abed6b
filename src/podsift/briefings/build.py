"""One digest as one MP3: a spoken intro, then for each insight a narrated lead-in (show,
speaker, the claim in a sentence) and the speaker's own clip — both sides' clips where shows
disagree — and an outro. Every segment is brought to -16 LUFS on its own and peak-limited,
and the whole is encoded once, with ID3 chapters, JSON chapters and a WebVTT transcript."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np

from podsift.backends.narrator.registry import Narrator
from podsift.briefings.audio import RATE, encode_mp3, resample, silence
from podsift.briefings.chapters import Chapter, Cue, chapters_json, id3_tag, webvtt
from podsift.briefings.clips import Clip, ClipSource
from podsift.briefings.loudness import fade, normalise_segment
from podsift.clusters.signals import strip_speaker

GAP = 0.35  # seconds of silence between segments
NARRATOR = "Narrator"
_NUMBERS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
_WORD = re.compile(r"[a-z0-9']+")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'“])")


@dataclass
class BriefingItem:
    rank: int
    text: str  # the reader's text of the insight
    sources: list[ClipSource]  # one telling, or one per side where shows disagree


@dataclass
class BriefingPlan:
    subscriber_id: int
    digest_id: int
    local_date: str
    items: list[BriefingItem]


@dataclass
class BuiltBriefing:
    mp3: bytes
    duration: float
    chapters: list[Chapter]
    cues: list[Cue]
    clips_played: int = 0
    clips_missing: list[int] = field(default_factory=list)  # insight ids read out instead

    def chapters_json(self) -> dict[str, object]:
        return chapters_json(self.chapters, title="podsift briefing")

    def transcript(self) -> str:
        return webvtt(self.cues)


class _Timeline:
    """Segments laid end to end, with the transcript cues they bring."""

    def __init__(self) -> None:
        self.pieces: list[np.ndarray] = []
        self.cues: list[Cue] = []
        self.at = 0.0

    def add(self, samples: np.ndarray, cues: list[tuple[float, float, str | None, str]]) -> None:
        if samples.size == 0:
            return
        for start, end, speaker, text in cues:
            self.cues.append(Cue(self.at + start, self.at + end, speaker, text))
        self.pieces += [samples, silence(GAP)]
        self.at += samples.size / RATE + GAP

    def samples(self) -> np.ndarray:
        return np.concatenate(self.pieces) if self.pieces else silence(1.0)


def spoken_date(local_date: str) -> str:
    day = date.fromisoformat(local_date)
    return f"{day:%A}, {day:%B} {day.day}"


def claim_sentence(text: str, limit: int = 40) -> str:
    """The claim in a sentence: the text's first sentence, at most `limit` words."""
    first = _SENTENCE.split(text.strip(), maxsplit=1)[0].strip()
    words = first.split()
    if len(words) > limit:
        first = " ".join(words[:limit]).rstrip(",;:") + "…"
    return first


def count_words(n: int) -> str:
    return _NUMBERS[n - 1] if 1 <= n <= len(_NUMBERS) else str(n)


def intro_text(plan: BriefingPlan) -> str:
    n = len(plan.items)
    noun = "insight" if n == 1 else "insights"
    return f"Your podsift briefing for {spoken_date(plan.local_date)}. {count_words(n).capitalize()} {noun} today."


def said_in_clip(text: str, quote: str) -> bool:
    """Whether the text is the quote's own words (an offline text is): then the clip says
    it, and a narrator saying it first would only repeat it."""
    words = set(_WORD.findall(text.lower()))
    return bool(words) and len(words & set(_WORD.findall(quote.lower()))) / len(words) >= 0.8


def lead_in(item: BriefingItem) -> str:
    """Who, where, and the claim in a sentence unless the clip itself is that sentence."""
    number = f"Number {count_words(item.rank)}"
    text = strip_speaker(item.text)
    if len(item.sources) > 1:
        return f"{number}: shows disagree. {claim_sentence(text)}"
    source = item.sources[0]
    where = f"from {source.show}"
    if said_in_clip(text, source.quote):
        return (
            f"{number}, {where}. {source.speaker or 'The speaker'}:"
            if source.speaker
            else f"{number}, {where}."
        )
    who = f" Here is {source.speaker}." if source.speaker else ""
    return f"{number}, {where}. {claim_sentence(text)}{who}"


def side_intro(source: ClipSource) -> str:
    return f"{source.speaker} on {source.show}:" if source.speaker else f"On {source.show}:"


def unavailable_text(source: ClipSource) -> str:
    """Read out instead of a clip whose audio is gone or does not say the quote."""
    quote = " ".join(source.quote.split()[:80])
    who = f"{source.speaker} said" if source.speaker else "the words were"
    return f"The clip was not available; {who}: {quote}"


OUTRO = "That's your briefing. The full texts and links are in today's digest."


def assemble(
    plan: BriefingPlan,
    narrator: Narrator,
    clip_of: Callable[[ClipSource], Clip | None],
    title: str = "podsift briefing",
) -> BuiltBriefing:
    timeline = _Timeline()
    missing: list[int] = []
    played = 0

    def say(text: str) -> None:
        speech = narrator.speak(text)
        samples = normalise_segment(fade(resample(speech.samples, speech.rate), RATE, 0.01, 0.05), RATE)
        timeline.add(samples, [(0.0, samples.size / RATE, NARRATOR, text)])

    def play(source: ClipSource, clip: Clip | None) -> None:
        nonlocal played
        if clip is None:
            missing.append(source.insight_id)
            say(unavailable_text(source))
            return
        played += 1
        timeline.add(normalise_segment(clip.samples, RATE), clip.cues)

    say(intro_text(plan))
    chapters: list[Chapter] = []
    for item in plan.items:
        start = timeline.at
        clips = [clip_of(source) for source in item.sources]
        if len(item.sources) == 1 and clips[0] is None:  # no "Maya Chen:" before a missing clip
            missing.append(item.sources[0].insight_id)
            say(
                f"Number {count_words(item.rank)}, from {item.sources[0].show}. {unavailable_text(item.sources[0])}"
            )
        else:
            say(lead_in(item))
            for source, clip in zip(item.sources, clips, strict=True):
                if len(item.sources) > 1:
                    say(side_intro(source))
                play(source, clip)
        first = item.sources[0]
        label = f"{item.rank}. {first.show}: {claim_sentence(strip_speaker(item.text), 14)}"
        chapters.append(Chapter(round(start, 3), round(timeline.at, 3), label, first.link))
    say(OUTRO)
    samples = timeline.samples()
    audio = encode_mp3(samples)
    tag = id3_tag(
        title=f"{title} — {plan.local_date}",
        artist="podsift",
        album=title,
        date=plan.local_date,
        chapters=chapters,
    )
    return BuiltBriefing(tag + audio, samples.size / RATE, chapters, timeline.cues, played, missing)


def write_files(folder: Path, stem: str, built: BuiltBriefing) -> Path:
    """The MP3 with its chapters (.json) and transcript (.vtt) beside it, written atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    for suffix, data in (
        (".json", json.dumps(built.chapters_json(), ensure_ascii=False, indent=1).encode()),
        (".vtt", built.transcript().encode()),
        (".mp3", built.mp3),
    ):
        tmp = folder / f".{stem}{suffix}.tmp"
        tmp.write_bytes(data)
        tmp.replace(folder / f"{stem}{suffix}")
    return folder / f"{stem}.mp3"
