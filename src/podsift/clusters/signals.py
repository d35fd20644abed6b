"""Lexical signals that tell "the same story" from "the same topic".

One small sentence embedding puts a same-story paraphrase and a same-company, different-story
pair at the same cosine (both about 0.37 with MiniLM). What separates them is usually what the
sentences name: people, companies, places, figures and rare terms. `Signature` holds those;
`pair_features` compares two; `same_story_score` combines them with the cosine using weights
fitted on labelled pairs (bench/cluster_pairs.py measures and reports them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SPEAKER_PREFIX = re.compile(r"^\s*[A-Z][\w.'-]*(?:\s+[A-Z][\w.'-]*){0,3}:\s+")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9'&.-]*[A-Za-z0-9]|[A-Za-z]")
_NUMBER = re.compile(
    r"(?<![\w.])\$?(\d+(?:[.,]\d+)*)(?:\s*(%|percent|k|m|bn|billion|million|thousand|nm|gw|mw|x))?", re.I
)
_NUMBER_WORDS = dict(
    pair.split("=")
    for pair in [
        "two=2",
        "three=3",
        "four=4",
        "five=5",
        "six=6",
        "seven=7",
        "eight=8",
        "nine=9",
        "ten=10",
        "twelve=12",
        "twenty=20",
        "fifty=50",
        "hundred=100",
        "thousand=1000",
        "thousandfold=1000",
        "hundredfold=100",
        "tenfold=10",
        "half=50%",
        "third=3",
    ]
)
# fmt: off
_STOP = frozenset("""
a an and are as at be been but by can could did do does for from had has have he her his how i if in
into is it its just like many may more most much my new no not now of on one only or our out over
own says said say so some such than that the their them then there these they this those to too up
us very was we were what when where which while who why will with would you your about after again
against all also any because before being below between both down during each few further here just
less off once other same should through under until whom yet get gets got make makes made way ways
use used uses using first last next year years day days week weeks month months time times today
thing things lot lots really think know going want people
""".split())  # noqa: SIM905
# fmt: on
_CAPITAL_STOP = _STOP | {"despite", "according", "every", "even", "starting", "once", "maybe", "yesterday"}


@dataclass(frozen=True)
class Signature:
    entities: frozenset[str]
    numbers: frozenset[str]
    terms: frozenset[str]


def strip_speaker(text: str) -> str:
    return _SPEAKER_PREFIX.sub("", text, count=1)


def story_text(text: str, quote: str) -> str:
    """What one telling of a story says, for matching it with others: the speaker's own words
    (the quote), whatever text was chosen from them, so a lead-in or a shorter text never
    splits a story; a model's written claim is added where it is not the quote's words."""
    from podsift.insights.passages import clean_disfluencies

    claim, spoken = strip_speaker(text).strip(), clean_disfluencies(quote or "").strip()
    if not spoken:
        return claim
    inside = set(_WORD.findall(claim.lower())) <= set(_WORD.findall(spoken.lower()))
    return spoken if inside else f"{claim} {spoken}"


def stem(word: str) -> str:
    """The word lower-cased with a common ending cut: plurals, -ing, -ed."""
    word = word.lower().strip(".'-")
    for suffix, replacement in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)] + replacement
    return word


def _spelled_numbers(lowered: list[str]) -> tuple[set[str], set[int]]:
    """Numbers spelled over several words, each one figure: "one hundred and fifty" is 150
    (read word by word it was 100 and 50, matching "a hundred hours" and the "fifty" of
    another claim). Their values, and the positions of the words they used."""
    from podsift.clusters.frames import spoken_number  # frames builds on this module

    values: set[str] = set()
    used_words: set[int] = set()
    k = 0
    while k < len(lowered):
        value, used = spoken_number(lowered, k)
        if used >= 2:
            values.add(str(int(value)) if value == int(value) else f"{value:g}")
            used_words.update(range(k, k + used))
        k += max(used, 1)
    return values, used_words


def signature(text: str) -> Signature:
    text = strip_speaker(text)
    entities: set[str] = set()
    terms: set[str] = set()
    numbers: set[str] = set()
    for match in _NUMBER.finditer(text):
        numbers.add(match.group(1).replace(",", ""))
    words = _WORD.findall(text)
    spelled, spelled_words = _spelled_numbers([w.lower().strip(".") for w in words])
    numbers |= spelled
    for k, word in enumerate(words):
        lowered = word.lower().strip(".")
        if k in spelled_words:
            continue
        if lowered in _NUMBER_WORDS:
            numbers.add(_NUMBER_WORDS[lowered].rstrip("%"))
            continue
        is_name = word[0].isupper() and lowered not in _CAPITAL_STOP
        if is_name or any(c.isupper() for c in word[1:]):  # OpenAI, DeepSeek, iPhone
            entities.add(lowered.removesuffix("'s"))
        if lowered not in _STOP and len(lowered) >= 4:
            terms.add(stem(lowered.removesuffix("'s")))
    return Signature(frozenset(entities), frozenset(numbers), frozenset(terms))


def _overlap(a: frozenset[str], b: frozenset[str]) -> float:
    """Overlap coefficient: 1.0 when the smaller set is inside the larger; 0 when either is empty."""
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


@dataclass(frozen=True)
class PairFeatures:
    cosine: float
    entities: float
    numbers: float
    terms: float
    # Both sides name figures and none agree: a strong sign of two different stories.
    number_clash: bool


def pair_features(cosine: float, a: Signature, b: Signature) -> PairFeatures:
    clash = bool(a.numbers and b.numbers and not (a.numbers & b.numbers))
    return PairFeatures(
        cosine=cosine,
        entities=_overlap(a.entities, b.entities),
        numbers=_overlap(a.numbers, b.numbers),
        terms=_jaccard(a.terms, b.terms),
        number_clash=clash,
    )


@dataclass(frozen=True)
class SameStoryModel:
    """score = cosine + w_entities·entities + w_numbers·numbers + w_terms·terms − clash_penalty.
    Pairs scoring at or above `threshold` are one story; those within `band` below it are
    "borderline" and go to the LLM judge when one is configured."""

    # Fitted by bench/cluster_pairs.py on the labelled pairs: named entities and shared
    # terms did not help once figures were in (see the closing note of issue 5).
    w_entities: float = 0.0
    w_numbers: float = 0.2
    w_terms: float = 0.0
    clash_penalty: float = 0.2
    threshold: float = 0.595
    band: float = 0.15

    @property
    def max_bonus(self) -> float:
        return self.w_entities + self.w_numbers + self.w_terms

    def score(self, f: PairFeatures) -> float:
        return (
            f.cosine
            + self.w_entities * f.entities
            + self.w_numbers * f.numbers
            + self.w_terms * f.terms
            - (self.clash_penalty if f.number_clash else 0.0)
        )

    def decide(self, f: PairFeatures) -> str:
        """'same', 'different' or 'borderline'."""
        value = self.score(f)
        if value >= self.threshold:
            return "same"
        return "borderline" if value >= self.threshold - self.band else "different"
