"""Is the quote where the transcript says? Dynamic ad insertion gives each listener (and
each download) other ads, so an enclosure fetched today can be shifted against the one the
transcript was made from. A few seconds transcribed with the packaged Whisper tell."""

from __future__ import annotations

from podsift.backends.asr.words import Word, tokens

QUOTE_WORDS = 8  # the quote's first words looked for


def heard_share(words: list[Word], quote: str, slack: int = 6) -> float:
    """Share of the quote's first words among the first words heard (0..1)."""
    wanted = tokens(quote)[:QUOTE_WORDS]
    if not wanted:
        return 0.0
    heard = [w.text for w in words[: len(wanted) + slack]]
    return _in_order(wanted, heard) / len(wanted)


def find_quote(words: list[Word], quote: str, least: float = 0.6) -> float | None:
    """The time the quote starts among `words`, or None when it is not heard there."""
    wanted = tokens(quote)[:QUOTE_WORDS]
    if not wanted:
        return None
    best, best_at = 0.0, None
    for i, word in enumerate(words):
        if word.text not in wanted[:3]:  # a start must be one of the quote's first words
            continue
        share = _in_order(wanted, [w.text for w in words[i : i + len(wanted) + 3]]) / len(wanted)
        if share > best:
            best, best_at = share, word.start - _lead(wanted, word.text, words, i)
    return best_at if best >= least else None


def _lead(wanted: list[str], first: str, words: list[Word], i: int) -> float:
    """When the match starts at the quote's 2nd or 3rd word, step back to the 1st."""
    skipped = wanted.index(first)
    if skipped == 0 or i == 0:
        return 0.0
    return max(words[i].start - words[max(i - skipped, 0)].start, 0.0)


def _in_order(wanted: list[str], heard: list[str]) -> int:
    """Length of the longest common subsequence: words in order, some missing or misheard."""
    previous = [0] * (len(heard) + 1)
    for a in wanted:
        current = [0]
        for j, b in enumerate(heard):
            current.append(previous[j] + 1 if a == b else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]
