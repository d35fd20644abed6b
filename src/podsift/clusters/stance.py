"""Do two tellings of a story disagree? A pair classifier learned from labelled pairs.

Features of a pair (`pair_features`): the figures (frames.py: do the two sides give one
quantity different values, or the same one), how much the two say alike (their embeddings'
cosine, their shared content words), and the signs of a dispute in ordinary speech: a word
one side asserts and the other denies, opposite words (rise / fall), opposite judgements
("the workhorse of the grid" / "a dead end"), a correction ("actually", "the reports of …
describe"), a prediction one side makes and the other refuses ("will" / "won't"). A logistic
regression over them, trained by bench/pairs/train.py on pairs held out by topic, gives the
probability that the two disagree; its weights ship as plain arrays with a card.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from podsift.clusters.frames import Frame, agreeing, conflicting, frames
from podsift.clusters.signals import stem, strip_speaker

HERE = Path(__file__).resolve().parent
WEIGHTS = HERE / "stance.npz"
CARD = HERE / "stance.json"

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_NAME = re.compile(r"(?<![.!?:]\s)(?<!^)\b[A-Z][A-Za-z0-9]+(?:[A-Z]\w*)?\b")
_NEGATION = {
    "not", "no", "never", "nobody", "nothing", "neither", "nor", "without", "hardly", "isn't", "aren't",
    "wasn't", "weren't", "won't", "wouldn't", "can't", "cannot", "couldn't", "don't", "doesn't", "didn't",
    "shouldn't", "haven't", "hasn't", "nowhere",
}  # fmt: skip
_NOT_A_DENIAL = {("not", "just"), ("not", "only"), ("no", "doubt"), ("not", "least"), ("no", "longer")}
_FILLER = {
    "a", "an", "the", "be", "is", "are", "was", "were", "been", "will", "would", "can", "could", "do",
    "does", "did", "have", "has", "had", "to", "yet", "really", "actually", "necessarily", "that", "so",
    "as", "any", "still", "even", "much", "going", "get", "make", "gonna", "ever", "quite", "all", "that's",
}  # fmt: skip
_STOP = _FILLER | {
    "and", "or", "but", "of", "in", "on", "at", "for", "by", "with", "from", "into", "than", "this", "it",
    "its", "their", "they", "we", "our", "about", "around", "roughly", "only", "now", "new", "says", "said",
    "say", "again", "most", "more", "less", "some", "per", "us", "up", "down", "you", "your", "i", "it's",
    "there", "there's", "what", "which", "who", "just", "like", "think", "know", "people", "thing", "things",
}  # fmt: skip
# Judgements people make of a thing: good or bad for it, on the way up or down.
_GOOD = set(
    [
        "workhorse",
        "backbone",
        "win",
        "wins",
        "winning",
        "winner",
        "dominate",
        "dominates",
        "dominant",
        "essential",
        "future",
        "boom",
        "booming",
        "thrive",
        "thrives",
        "thriving",
        "succeed",
        "succeeds",
        "successful",
        "success",
        "better",
        "best",
        "cheaper",
        "faster",
        "safer",
        "reliable",
        "breakthrough",
        "game-changer",
        "transformative",
        "mainstream",
        "standard",
        "default",
        "inevitable",
        "unstoppable",
        "works",
        "working",
        "solid",
        "strong",
        "stronger",
        "growing",
        "grow",
        "grows",
        "rising",
        "rise",
        "up",
        "gain",
        "gains",
        "beat",
        "beats",
        "outperform",
        "profitable",
        "viable",
        "worth",
        "valuable",
        "useful",
        "easy",
        "easier",
        "simple",
        "simpler",
        "ready",
        "mature",
        "improving",
    ]
)
_BAD = set(
    [
        "dead",
        "end",
        "dying",
        "doomed",
        "fail",
        "fails",
        "failing",
        "failure",
        "flop",
        "bust",
        "overhyped",
        "overblown",
        "hype",
        "bubble",
        "useless",
        "worse",
        "worst",
        "costlier",
        "slower",
        "riskier",
        "unreliable",
        "fragile",
        "niche",
        "dead",
        "obsolete",
        "collapse",
        "collapsing",
        "decline",
        "declining",
        "shrinking",
        "shrink",
        "fall",
        "falling",
        "lose",
        "loses",
        "losing",
        "loser",
        "trap",
        "mistake",
        "wrong",
        "myth",
        "misleading",
        "exaggerated",
        "premature",
        "unproven",
        "unviable",
        "impossible",
        "expensive",
        "harder",
        "hard",
        "broken",
        "stalled",
        "stall",
        "weak",
        "weaker",
        "unprofitable",
        "waste",
        "distraction",
    ]
)
_CORRECTION = re.compile(
    r"\b(?:actually|in fact|in reality|the reality is|contrary to|despite what|the reports? of|the claims? (?:of|that)|"
    r"that's (?:just )?(?:not|wrong|a myth|overblown)|isn't true|not true|overstated|exaggerated|myth|misleading|"
    r"people (?:say|think|claim)|you(?:'ll)? hear|everyone says)\b",
    re.I,
)
_WILL = re.compile(r"\b(?:will|going to|gonna|is set to|are set to|expects?|predict\w*)\b", re.I)
_WONT = re.compile(
    r"\b(?:won't|will not|isn't going to|aren't going to|not going to|never going to|no chance)\b", re.I
)

RELATED = 0.3  # shared content words above which two claims' lone figures count one thing

FEATURES = (
    "bias",
    "cosine",
    "shared_words",
    "frames_conflict",
    "frames_agree",
    "frames_both",
    "denied_shared",
    "negation_gap",
    "opposite_words",
    "judgement_clash",
    "judgement_gap",
    "correction",
    "prediction_refused",
    "contrast_gap",
    "denied_kin",
)
_CONTRAST = {
    "but", "though", "although", "however", "actually", "rather", "instead", "only", "hardly", "barely",
    "far", "wrong", "myth", "overstated", "overblown", "exaggerated", "misleading", "nonsense", "no",
}  # fmt: skip


@dataclass(frozen=True)
class Side:
    text: str
    tokens: list[str]
    content: frozenset[str]
    asserted: frozenset[str]
    denied: frozenset[str]
    frames: list[Frame]
    good: int
    bad: int
    names: frozenset[str]  # capitalised words past a sentence's start: what the claim names


def side(text: str) -> Side:
    body = strip_speaker(text)
    tokens = _WORD.findall(body.lower().replace("’", "'"))
    content = frozenset(stem(w) for w in tokens if w not in _STOP and w not in _NEGATION and len(w) > 2)
    asserted, denied = _polarity(tokens)
    good = sum(w in _GOOD for w in tokens)
    bad = sum(w in _BAD for w in tokens) + body.lower().count("dead end")
    names = frozenset(m.group(0).lower() for m in _NAME.finditer(body))
    return Side(body, tokens, content, asserted, denied, frames(body), good, bad, names)


def _polarity(tokens: list[str]) -> tuple[frozenset[str], frozenset[str]]:
    """(words asserted, words denied): a denial covers the next content word after a negation."""
    denied: set[str] = set()
    for k, word in enumerate(tokens):
        if word not in _NEGATION:
            continue
        following = tokens[k + 1] if k + 1 < len(tokens) else ""
        if (word, following) in _NOT_A_DENIAL:
            continue
        for later in tokens[k + 1 : k + 5]:
            if later in _FILLER or later in _NEGATION:
                continue
            denied.add(stem(later))
            break
    asserted = {stem(w) for w in tokens if w not in _NEGATION and w not in _STOP} - denied
    return frozenset(asserted), frozenset(denied)


_OPPOSITES = [
    ("rise rises rising rose risen", "fall falls falling fell fallen drop drops dropped dropping decline declined declines"),
    ("grow grows grew grown growing expand expanded expands", "shrink shrinks shrank shrunk shrinking contract contracted"),
    ("increase increases increased increasing", "decrease decreases decreased decreasing"),
    ("raise raises raised raising", "lower lowers lowered lowering cut cuts"),
    ("faster quicker", "slower"),
    ("cheaper", "costlier pricier"),
    ("higher", "lower"),
    ("better", "worse"),
    ("more", "fewer less"),
    ("overvalued", "undervalued"),
    ("ahead", "behind"),
    ("bullish", "bearish"),
    ("works work worked working", "fails fail failed failing"),
    ("success succeeded succeeds", "failure"),
    ("strengthen strengthens strengthened", "weaken weakens weakened"),
    ("accelerate accelerates accelerated accelerating", "slow slows slowed slowing"),
    ("easy easier", "hard harder difficult"),
    ("safe safer", "dangerous riskier"),
]  # fmt: skip
_LEMMA: dict[str, set[tuple[int, int]]] = {}
for _index, _sides in enumerate(_OPPOSITES):
    for _side, _forms in enumerate(_sides):
        for _form in _forms.split():
            _LEMMA.setdefault(_form, set()).add((_index, _side))


def opposite_words(a: list[str], b: list[str]) -> tuple[str, str] | None:
    """A word on one side whose opposite is on the other (and neither side has both)."""
    sides_a = {pair for w in a for pair in _LEMMA.get(w, ())}
    sides_b = {pair for w in b for pair in _LEMMA.get(w, ())}
    for index, s in sorted(sides_a):
        if (index, 1 - s) in sides_b and (index, s) not in sides_b and (index, 1 - s) not in sides_a:
            mine = next(w for w in a if (index, s) in _LEMMA.get(w, ()))
            theirs = next(w for w in b if (index, 1 - s) in _LEMMA.get(w, ()))
            return mine, theirs
    return None


def pair_features(a: Side, b: Side, cosine: float) -> np.ndarray:
    shared = (
        len(a.content & b.content) / min(len(a.content), len(b.content)) if a.content and b.content else 0.0
    )
    denied = bool((a.denied & b.asserted) | (b.denied & a.asserted))
    negations = abs(sum(w in _NEGATION for w in a.tokens) - sum(w in _NEGATION for w in b.tokens))
    tone_a, tone_b = a.good - a.bad, b.good - b.bad
    clash = float(tone_a * tone_b < 0)
    refused = (bool(_WILL.search(a.text)) and bool(_WONT.search(b.text))) or (
        bool(_WILL.search(b.text)) and bool(_WONT.search(a.text))
    )
    corrections = abs(len(_CORRECTION.findall(a.text)) - len(_CORRECTION.findall(b.text)))
    contrast = abs(sum(w in _CONTRAST for w in a.tokens) - sum(w in _CONTRAST for w in b.tokens))
    return np.array(
        [
            1.0,
            cosine,
            shared,
            float(figure_clash(a, b) is not None),
            float(agreeing(a.frames, b.frames)),
            float(bool(a.frames and b.frames)),
            float(denied),
            min(negations, 3) / 3,
            float(opposite_words(a.tokens, b.tokens) is not None),
            clash,
            min(abs(tone_a - tone_b), 4) / 4,
            min(corrections, 2) / 2,
            float(refused),
            min(contrast, 3) / 3,
            _denied_kin(a, b),
        ]
    )


_SIGNS = ("denied_shared", "opposite_words", "judgement_clash", "correction", "prediction_refused")


def stance_sign(a: Side, b: Side, cosine: float) -> bool:
    """Does the pair show any offline sign of opposite stances?"""
    x = pair_features(a, b, cosine)
    return any(x[FEATURES.index(name)] > 0 for name in _SIGNS)


def _denied_kin(a: Side, b: Side) -> float:
    """A word one side denies that means about what a word the other asserts means (their
    static word vectors close): "won't pay off" against "is profitable"."""
    from podsift.backends.embeddings.static import packaged_static_vectors

    denied_a, denied_b = a.denied - b.denied, b.denied - a.denied
    if not (denied_a or denied_b):
        return 0.0
    vectors = packaged_static_vectors()
    best = 0.0
    for denied, other in ((denied_a, b.asserted), (denied_b, a.asserted)):
        if not denied or not other:
            continue
        left, right = vectors.word_vectors(sorted(denied)), vectors.word_vectors(sorted(other))
        best = max(best, float((left @ right.T).max()))
    return best


@dataclass(frozen=True)
class StanceModel:
    weights: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    threshold: float  # a pair at or above this probability disagrees
    card: dict[str, Any]

    def probability(self, a: Side, b: Side, cosine: float) -> float:
        x = (pair_features(a, b, cosine) - self.mean) / self.scale
        return 1.0 / (1.0 + math.exp(-float(x @ self.weights)))

    def save(self, weights: Path = WEIGHTS, card: Path = CARD) -> None:
        np.savez(
            weights,
            weights=self.weights,
            mean=self.mean,
            scale=self.scale,
            threshold=np.array([self.threshold]),
        )
        card.write_text(json.dumps(self.card, indent=1, ensure_ascii=False) + "\n")


def load_stance_model(weights: Path = WEIGHTS, card: Path = CARD) -> StanceModel:
    arrays = np.load(weights, allow_pickle=False)
    meta = json.loads(card.read_text())
    if tuple(meta.get("features", ())) != FEATURES:
        raise RuntimeError(
            "the stance model was trained on other features: retrain with bench/pairs/train.py"
        )
    return StanceModel(
        arrays["weights"], arrays["mean"], arrays["scale"], float(arrays["threshold"][0]), meta
    )


@cache
def shipped_stance_model() -> StanceModel:
    return load_stance_model()


def related(a: Side, b: Side) -> bool:
    shared = (
        len(a.content & b.content) / min(len(a.content), len(b.content)) if a.content and b.content else 0.0
    )
    return shared >= RELATED


def figure_clash(a: Side, b: Side) -> tuple[Frame, Frame] | None:
    """Two figures of the claims that cannot both be true (frames.conflicting, told what the
    two claims share)."""
    return conflicting(a.frames, b.frames, related(a, b), a.content, b.content, bool(a.names & b.names))


def detail(a: Side, b: Side) -> str:
    """The dispute in the reader's first line: the two figures, or the two stances."""
    clash = figure_clash(a, b)
    if clash:
        return f"{clash[0].shown} against {clash[1].shown}"
    mine, theirs = _stance(a), _stance(b)
    shared = {w.lower() for w in mine.split()} & {w.lower() for w in theirs.split()}
    return f"{_past_shared(mine, shared)}, against: {_past_shared(theirs, shared)}"


def _past_shared(clause: str, shared: set[str]) -> str:
    """The clause from its first word the other side does not say ("Four-hour batteries
    won't beat…" against "Four-hour batteries now beat…": "won't beat…", "now beat…")."""
    words = clause.split()
    k = 0
    while k < len(words) - 3 and words[k].lower() in shared:
        k += 1
    rest = words[k:]
    return " ".join(rest[:10]) + ("…" if len(rest) > 10 else "")


def _stance(s: Side) -> str:
    """The clause of a side that carries its judgement."""
    clauses = [
        c.strip(" ,.;")
        for c in re.split(r"[,;.!?]|\b(?:because|which|since|but|while)\b", s.text)
        if c.strip(" ,.;")
    ]

    def weight(clause: str) -> int:
        words = _WORD.findall(clause.lower())
        return sum(w in _GOOD or w in _BAD or w in _NEGATION for w in words) + 2 * (
            "dead end" in clause.lower()
        )

    return max(clauses, key=weight, default=s.text)
