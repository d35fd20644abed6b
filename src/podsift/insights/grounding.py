"""Find a quote in its transcript and turn the match into episode seconds."""

from __future__ import annotations

import re

from podsift.transcripts.model import Transcript

_WORD = re.compile(r"\w+", re.UNICODE)


def locate(quote: str, text: str) -> tuple[int, int] | None:
    """Character span of `quote` in `text`: exact, else by the same words in order
    (ignoring case, punctuation and spacing, as ASR output differs in those)."""
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
    return (match.start(), match.end()) if match else None


def ground(quote: str, transcript: Transcript) -> tuple[str, float, float] | None:
    """(verbatim quote as it stands in the transcript, start s, end s), or None."""
    text = transcript.text
    span = locate(quote, text)
    if span is None:
        return None
    start, end = transcript.span_times(*span)
    return text[span[0] : span[1]], start, end
