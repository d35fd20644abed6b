"""The faithfulness guard on text a model wrote (pure: no I/O).

Every number, name and quoted term in a written insight must appear in what the model was
shown: the passage, its context, or the episode's metadata (show, title, people, speaker
labels). "$500 billion" needs a 500 there; "OpenAI" needs OpenAI; "'distillation'" needs
distillation. A sentence's first word is not taken for a name unless it is one elsewhere.
"""

from __future__ import annotations

import re

_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
_QUOTED = re.compile(r"[\"“‘']([^\"”’']{2,60})[\"”’']")
# Capitalised words and acronyms: "Greg Osuri", "OpenAI", "GPU", "Gen 3".
_NAME = re.compile(r"\b(?:[A-Z][a-z]*[A-Z][\w-]*|[A-Z]{2,}s?|[A-Z][a-z][\w'’-]*)\b")
_SENTENCE_START = re.compile(r"(?:^|[.!?:]\s+|\"\s*)([A-Z][\w'’-]*)")
_WORDS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "hundred": 100,
    "thousand": 1000,
    "half": 50,
    "twice": 2,
    "double": 2,
    "doubling": 2,
    "triple": 3,
    "dozen": 12,
}
# Words a model capitalises that are not names: never checked.
_COMMON = frozenset(
    [
        "I",
        "The",
        "A",
        "An",
        "This",
        "That",
        "These",
        "Those",
        "It",
        "Its",
        "They",
        "Their",
        "He",
        "She",
        "His",
        "Her",
        "We",
        "Our",
        "You",
        "Your",
        "In",
        "On",
        "At",
        "For",
        "With",
        "By",
        "From",
        "As",
        "If",
        "When",
        "While",
        "But",
        "And",
        "Or",
        "So",
        "Because",
        "However",
        "According",
        "Both",
        "Such",
        "Some",
        "Many",
        "Most",
        "More",
        "Less",
        "Even",
        "Only",
        "Also",
        "Not",
        "No",
        "Yes",
    ]
)


def _numbers(text: str) -> set[str]:
    found = {n.replace(",", "").rstrip(".").lstrip("0") or "0" for n in _NUMBER.findall(text)}
    for word in re.findall(r"[a-z]+", text.lower()):
        if word in _WORDS:
            found.add(str(_WORDS[word]))
    return found


def _is_year_or_small(number: str) -> bool:
    return number in {"1", "2"}  # "one of", "two sides": too common to police


def unsupported_terms(written: str, sources: list[str]) -> list[str]:
    """Numbers, names and quoted terms of `written` that no source contains."""
    source = " ".join(s for s in sources if s)
    lowered = source.lower()
    source_numbers = _numbers(source)
    missing: list[str] = []
    for number in sorted(_numbers(" ".join(_NUMBER.findall(written))) - source_numbers):
        if not _is_year_or_small(number):
            missing.append(number)
    starts = {m.group(1) for m in _SENTENCE_START.finditer(written)}
    for match in _NAME.finditer(written):
        name = match.group(0).rstrip("'’s") if match.group(0).endswith(("'s", "’s")) else match.group(0)
        if name in _COMMON or (name in starts and name.lower() not in lowered and _plain(name)):
            continue
        if name.lower() not in lowered and name.rstrip("s").lower() not in lowered:
            missing.append(name)
    for quoted in _QUOTED.findall(written):
        if quoted.strip().lower() not in lowered:
            missing.append(f"'{quoted.strip()}'")
    return list(dict.fromkeys(missing))


def _plain(word: str) -> bool:
    """A capitalised ordinary word ("Frontier", "Regulators") at a sentence's start."""
    return word[1:].islower()


# Talk about the material or echoes of the instructions ("…which is a self-contained insight").
_META = re.compile(
    r"\b(?:the|this) (?:passage|quote|excerpt|transcript|text|segment|snippet)\b"
    r"|\bself-contained\b|\bnon-obvious\b|\b(?:key |valuable |important )?insights?\b",
    re.I,
)
_CONTENT = re.compile(r"[a-z][a-z'’-]{5,}")


# Words any write-up uses whatever its subject: they say nothing about which quote it is about.
_FRAMING = frozenset(
    [
        "argues",
        "argued",
        "explains",
        "explained",
        "says",
        "said",
        "notes",
        "noted",
        "emphasizes",
        "emphasises",
        "highlights",
        "discusses",
        "suggests",
        "believes",
        "points",
        "warns",
        "claims",
        "thinks",
        "according",
        "importance",
        "important",
        "because",
        "should",
        "would",
        "could",
        "which",
        "their",
        "there",
        "these",
        "those",
        "about",
        "other",
        "while",
        "being",
        "speaker",
        "matters",
        "means",
    ]
)
MIN_QUOTE_OVERLAP = 0.3
NO_SPEAKER = "does not name the speaker, {}"


def _stems(text: str) -> set[str]:
    return {w[:5] for w in _CONTENT.findall(text.lower()) if w not in _FRAMING}


def quote_overlap(written: str, quote: str, speaker: str | None) -> float:
    """Share of the insight's content words (5-letter stems) that its quote contains."""
    names = {w[:5] for w in re.findall(r"[a-z]+", (speaker or "").lower())}
    words = _stems(written) - names
    return len(words & _stems(quote)) / len(words) if words else 1.0


def written_faults(
    written: str, sources: list[str], speaker: str | None, example: str, quote: str | None = None
) -> list[str]:
    """Everything wrong with a model's insight, as phrases for a re-ask: terms the passage
    lacks, words lifted from the style example, talk about "the passage", a missing speaker,
    a text about something other than its quote (a small model mixing up passages)."""
    faults = [
        f"mentions {term}, which the passage does not contain" for term in unsupported_terms(written, sources)
    ]
    if quote is not None and quote_overlap(written, quote, speaker) < MIN_QUOTE_OVERLAP:
        faults.append("is not about what the <quote> says (use the quote's own facts)")
    lowered, source = written.lower(), " ".join(sources).lower()
    lifted = sorted({w for w in _CONTENT.findall(lowered) if w in example.lower() and w not in source})
    if len(lifted) >= 2:
        faults.append(f"copies words of the style example ({', '.join(lifted)}) instead of the passage's own")
    if _META.search(written):
        faults.append("talks about the passage or the task instead of stating the claim")
    if speaker and not any(part.lower() in lowered for part in speaker.split() if len(part) > 2):
        faults.append(NO_SPEAKER.format(speaker))
    return faults
