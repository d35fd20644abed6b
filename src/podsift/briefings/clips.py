"""A clip of the speaker's own voice: the quote's seconds, padded, checked against the words
of the quote, found again where an inserted ad moved it, and faded in and out."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from podsift.backends.asr.words import SPOT_RATE, WordSpotter
from podsift.briefings.audio import RATE, AudioError, read_window
from podsift.briefings.loudness import fade
from podsift.briefings.sources import ClipAudio
from podsift.briefings.spotting import find_quote, heard_share

log = logging.getLogger(__name__)
PAD = 0.25
MAX_CLIP = 90.0
SEARCH = 60.0  # how far an inserted ad may have moved the quote, either way
CHECK_SECONDS = 8.0
SEARCH_STEP = 30.0
HEARD = 0.5  # share of the quote's first words that must be heard where the clip starts


@dataclass
class ClipSource:
    """One telling to play: an insight of an episode, with what the briefing says of it."""

    insight_id: int
    episode_id: int
    quote: str
    speaker: str | None
    show: str
    episode: str | None
    link: str | None
    start: float
    end: float
    language: str | None = None
    segments: list[dict[str, Any]] = field(default_factory=list)  # the transcript's

    def cues(self, offset: float, begin: float, end: float) -> list[tuple[float, float, str | None, str]]:
        """Transcript lines inside [begin, end) of the audio, in clip time (0 = begin)."""
        out = []
        for seg in self.segments:
            s, e = float(seg["start"]) + offset, float(seg["end"]) + offset
            if e <= begin or s >= end:
                continue
            out.append(
                (max(s, begin) - begin, min(e, end) - begin, seg.get("speaker") or self.speaker, seg["text"])
            )
        return out


@dataclass
class Clip:
    samples: np.ndarray
    offset: float  # seconds the quote moved against the transcript (an inserted ad)
    begin: float  # where in the episode's audio the clip starts
    cues: list[tuple[float, float, str | None, str]]


def clip_window(source: ClipSource, offset: float) -> tuple[float, float]:
    """[begin, end) in the audio: padded, at most MAX_CLIP, ended at a segment's end."""
    begin = max(source.start + offset - PAD, 0.0)
    end = source.end + offset + PAD
    if end - begin > MAX_CLIP:
        ends = [float(s["end"]) + offset for s in source.segments]
        fitting = [e for e in ends if begin + 5.0 < e <= begin + MAX_CLIP]
        end = max(fitting) + PAD if fitting else begin + MAX_CLIP
    return begin, min(end, begin + MAX_CLIP)


def search_window(source: ClipSource) -> tuple[float, float]:
    """The stretch of the episode a clip may be found in (the audio a range read fetches)."""
    return max(source.start - SEARCH - PAD, 0.0), min(source.end, source.start + MAX_CLIP) + SEARCH + PAD


def read_episode(audio: ClipAudio, start: float, end: float, rate: int) -> tuple[np.ndarray, float]:
    """Samples of [start, end) in episode seconds, and the episode second of the first."""
    samples, begins = read_window(audio.path, start - audio.base, end - audio.base, rate)
    return samples, begins + audio.base


def quote_offset(audio: ClipAudio, source: ClipSource, spotter: WordSpotter | None) -> float | None:
    """0 when the quote is heard where the transcript puts it; the shift when it is heard
    within ±SEARCH seconds; None when it is not heard at all (the clip is unavailable)."""
    if spotter is None:
        return 0.0
    start = source.start
    head, _ = read_episode(audio, start - PAD, start + CHECK_SECONDS, SPOT_RATE)
    if heard_share(spotter.words(head, source.language, times=False), source.quote) >= HEARD:
        return 0.0
    # Nearest first, 30 s at a time (Whisper's own window): most shifts are one ad long.
    for begin in sorted(np.arange(-SEARCH, SEARCH, SEARCH_STEP), key=abs):
        piece, at = read_episode(audio, start + begin, start + begin + SEARCH_STEP + CHECK_SECONDS, SPOT_RATE)
        found = find_quote(spotter.words(piece, source.language), source.quote)
        if found is not None:
            return at + found - start
    return None


def cut_clip(audio: ClipAudio, source: ClipSource, spotter: WordSpotter | None) -> Clip | None:
    """The clip, or None when its audio cannot be read or does not say the quote."""
    try:
        offset = quote_offset(audio, source, spotter)
        if offset is None:
            log.warning("briefing: the quote of insight %s is not in its audio", source.insight_id)
            return None
        begin, end = clip_window(source, offset)
        samples, begins = read_episode(audio, begin, end, RATE)
    except AudioError as exc:
        log.warning("briefing: insight %s: %s", source.insight_id, exc)
        return None
    if samples.size < RATE // 2:
        return None
    return Clip(
        fade(samples, RATE), offset, begins, source.cues(offset, begins, begins + samples.size / RATE)
    )
