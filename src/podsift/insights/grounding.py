"""Find a quote in its transcript and turn the match into episode seconds.

Three tries, strictest first: the exact text; the same words in order ignoring case,
punctuation and spacing; then a fuzzy alignment (rapidfuzz) that tolerates the few
words ASR or a model gets wrong ("gonna"/"going to", a dropped "the"). A quote that
matches none of them is not in the episode, and its insight is dropped.
"""

from __future__ import annotations

import re

from rapidfuzz import fuzz

from podsift.transcripts.model import Transcript

_WORD = re.compile(r"\w+", re.UNICODE)
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
    return spans[first][0], spans[last][1]


def _word_at(starts: list[int], offset: int) -> int:
    lo, hi = 0, len(starts) - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if starts[mid] <= offset:
            lo = mid
        else:
            hi = mid - 1
    return lo


def ground(quote: str, transcript: Transcript) -> tuple[str, float, float] | None:
    """(verbatim quote as it stands in the transcript, start s, end s), or None."""
    text = transcript.text
    span = locate(quote, text)
    if span is None:
        return None
    start, end = transcript.span_times(*span)
    return text[span[0] : span[1]], start, end
