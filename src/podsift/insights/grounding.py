"""Find a quote in its transcript and turn the match into episode seconds.

Three tries, strictest first: the exact text; the same words in order ignoring case,
punctuation and spacing; then a fuzzy alignment (rapidfuzz) that tolerates the few
words ASR or a model gets wrong ("gonna"/"going to", a dropped "the"). A quote that
matches none of them is not in the episode, and its insight is dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rapidfuzz import fuzz

from podsift.types import Transcript

_WORD = re.compile(r"\w+", re.UNICODE)
_STAMP = re.compile(r"\[\d{1,2}:\d{2}(?::\d{2})?\]")
FUZZY_MIN_SCORE = 90.0
FUZZY_MAX_QUOTE = 600  # characters; longer "quotes" are paraphrase, not quotation


def locate(quote: str, text: str) -> tuple[int, int] | None:
    """Character span of `quote` in `text`, or None."""
    quote = quote.strip()
    if not quote:
        return None
    at = text.find(quote)
    if at >= 0:
        return at, at + len(quote)
    words = [w.lower() for w in _WORD.findall(quote)]
    if not words:
        return None
    pattern = r"\W+".join(re.escape(w) for w in words)
    match = re.search(pattern, text, re.IGNORECASE)
    if match:
        return match.start(), match.end()
    return _fuzzy(words, text) if len(quote) <= FUZZY_MAX_QUOTE and len(words) >= 6 else None


def _fuzzy(words: list[str], text: str) -> tuple[int, int] | None:
    """Align the quote's words against the transcript's words; map back to characters."""
    spans = [(m.start(), m.end()) for m in _WORD.finditer(text)]
    if not spans:
        return None
    # Compare on a normalised word stream; remember where each word starts in it.
    normalised, starts = [], []
    position = 0
    for a, b in spans:
        starts.append(position)
        token = text[a:b].lower()
        normalised.append(token)
        position += len(token) + 1
    haystack = " ".join(normalised)
    needle = " ".join(words)
    alignment = fuzz.partial_ratio_alignment(needle, haystack, score_cutoff=FUZZY_MIN_SCORE)
    if alignment is None:
        return None
    first = _word_at(starts, alignment.dest_start)
    last = _word_at(starts, max(alignment.dest_end - 1, alignment.dest_start))
    return _trim_to_quote((spans[first][0], spans[last][1]), words, text)


def _word_at(starts: list[int], offset: int) -> int:
    lo, hi = 0, len(starts) - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if starts[mid] <= offset:
            lo = mid
        else:
            hi = mid - 1
    return lo


def strip_labels(quote: str, speakers: set[str]) -> str:
    """A model's quote without the "[mm:ss]" stamps and "Name:" labels of the prompt's
    transcript lines, which are not words anyone said."""
    out = _STAMP.sub(" ", quote).strip()
    changed = True
    while changed:
        changed = False
        for name in speakers:
            if out.lower().startswith(name.lower()) and out[len(name) : len(name) + 1] == ":":
                out, changed = out[len(name) + 1 :].strip(), True
    return out


def _trim_to_quote(span: tuple[int, int], words: list[str], text: str) -> tuple[int, int]:
    """A fuzzy match may take in a neighbour's words at either end (the previous
    speaker's "Right." before the quote): drop edge words the quote does not contain."""
    wanted = set(words)
    matches = [m for m in _WORD.finditer(text, span[0], span[1])]
    while len(matches) > 1 and matches[0].group(0).lower() not in wanted:
        matches.pop(0)
    while len(matches) > 1 and matches[-1].group(0).lower() not in wanted:
        matches.pop()
    return (matches[0].start(), matches[-1].end()) if matches else span


@dataclass(frozen=True)
class Grounded:
    quote: str  # verbatim, as it stands in the transcript
    start: float  # seconds
    end: float
    speaker: str | None  # the transcript's label where the quote begins, if it has one


def ground(quote: str, transcript: Transcript) -> Grounded | None:
    """Where the quote stands in the episode, or None when it is not in it."""
    text = transcript.text
    speakers = {s.speaker for s in transcript.segments if s.speaker}
    quote = strip_labels(quote, speakers)
    span = locate(quote, text)
    if span is None:
        return None
    start, end = transcript.span_times(*span)
    return Grounded(text[span[0] : span[1]], start, end, transcript.speaker_at(span[0]))
