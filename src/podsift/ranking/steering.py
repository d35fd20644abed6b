"""A reader's own instructions applied where they are cheap: mutes are filters, boosts are a
ranking feature whose reason the `why` names, "contrarian first" is an order. No model call.

Mutes drop a candidate when it is from a muted show; when a muted person speaks or is named
in it; when a muted topic appears in it as a phrase, or one of the glossary's terms whose
definition names the topic ("AI" also mutes "LLM", "RAG"), or its embedding is as close to the
topic as a full interest match (cosine ≥ INTEREST_HIGH: rare for a short topic, whose cosine to
a passage says little); or when the kind model (insights/kinds.py: the kind encoder where
MiniLM is installed) gives a muted kind (or a prediction, for "no predictions") at least that
kind's mute threshold (chosen on held-out folds for recall; a kind without one cannot be
muted, and one muted only in its clearest cases is named so, on the profile page).
Boosts give each candidate a value in [0, 1]: the best of a boosted show or person (1), a
boosted topic (its interest relevance), a boosted kind (its probability over the kind's flag
threshold, capped at 1, for kinds the model can be sure of; for contrarian takes, a story shows
disagree on). The `why` says "you asked for" a kind only where the model is right at least half
the time (`sure`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from podsift.insights.kinds import KINDS
from podsift.ranking.pool import CandidatePool, lexical_relevance
from podsift.ranking.score import INTEREST_HIGH, rescale_similarity
from podsift.subscribers.profile import KINDS as READER_KINDS
from podsift.subscribers.profile import ReaderProfile
from podsift.words import related_terms

PREDICTION = KINDS.index("prediction")
CONTRARIAN = KINDS.index("contrarian")


@dataclass
class Steering:
    mute_feeds: set[int] = field(default_factory=set)
    boost_feeds: dict[int, str] = field(default_factory=dict)  # feed id -> show title
    mute_topics: list[str] = field(default_factory=list)
    mute_terms: list[str] = field(default_factory=list)  # the topics and their glossary jargon
    mute_vectors: np.ndarray | None = None
    boost_topics: list[str] = field(default_factory=list)
    boost_vectors: np.ndarray | None = None
    mute_people: list[str] = field(default_factory=list)
    boost_people: list[str] = field(default_factory=list)
    mute_kinds: list[int] = field(default_factory=list)  # indices into insights.kinds.KINDS
    boost_kinds: list[int] = field(default_factory=list)
    contrarian_first: bool = False


def steering_for(
    profile: ReaderProfile, feeds_by_title: dict[str, set[int]], phrase_vectors: dict[str, np.ndarray]
) -> Steering:
    """The profile as ranking applies it: shows resolved to feed ids, topics to their vectors
    (when the embedder gave them), kinds to the kind model's columns."""

    def feeds(titles: list[str]) -> dict[int, str]:
        return {f: t for t in titles for f in feeds_by_title.get(t.lower(), set())}

    def vectors(topics: list[str]) -> np.ndarray | None:
        found = [phrase_vectors[t] for t in topics if t in phrase_vectors]
        return np.stack(found) if found and len(found) == len(topics) else None

    mute_kinds = [KINDS.index(k) for k in profile.mute.kinds if k in KINDS]
    if profile.has_style("no_predictions"):
        mute_kinds.append(PREDICTION)
    return Steering(
        mute_feeds=set(feeds(profile.mute.shows)),
        boost_feeds=feeds(profile.boost.shows),
        mute_topics=list(profile.mute.topics),
        mute_terms=list(
            dict.fromkeys(
                [*profile.mute.topics, *(t for topic in profile.mute.topics for t in related_terms(topic))]
            )
        ),
        mute_vectors=vectors(profile.mute.topics),
        boost_topics=list(profile.boost.topics),
        boost_vectors=vectors(profile.boost.topics),
        mute_people=list(profile.mute.people),
        boost_people=list(profile.boost.people),
        mute_kinds=mute_kinds,
        boost_kinds=[KINDS.index(k) for k in profile.boost.kinds if k in KINDS],
        contrarian_first=profile.has_style("contrarian_first"),
    )


@lru_cache(maxsize=4096)
def _person_pattern(name: str) -> re.Pattern[str]:
    """A person named in full, or by a last name of four letters or more ("Musk")."""
    parts = name.split()
    names = [re.escape(name)] + ([re.escape(parts[-1])] if len(parts) > 1 and len(parts[-1]) >= 4 else [])
    return re.compile(r"\b(?:" + "|".join(names) + r")\b", re.I)


def _mentions(people: list[str], speaker: str, text: str) -> str | None:
    for person in people:
        pattern = _person_pattern(person)
        if pattern.search(speaker) or pattern.search(text):
            return person
    return None


def steer_rows(
    pool: CandidatePool, rows: np.ndarray, steering: Steering
) -> tuple[np.ndarray, np.ndarray, list[str | None]]:
    """(which rows survive the mutes, each row's boost in [0, 1], what boosted it)."""
    n = len(rows)
    keep = np.ones(n, dtype=bool)
    if steering.mute_feeds:
        keep &= ~np.isin(pool.feed_ids[rows], list(steering.mute_feeds))
    vectors = pool.vectors[rows] if pool.vectors is not None else None
    if steering.mute_topics:
        if vectors is not None and steering.mute_vectors is not None:
            keep &= (vectors @ steering.mute_vectors.T).max(axis=1) < INTEREST_HIGH
        for k in np.flatnonzero(keep):
            row = int(rows[k])
            if lexical_relevance(steering.mute_terms, pool.texts[row], pool.words(row))[0] >= 1.0:
                keep[k] = False
    if steering.mute_people:
        for k in np.flatnonzero(keep):
            row = int(rows[k])
            if _mentions(steering.mute_people, pool.speakers[row], pool.texts[row]):
                keep[k] = False
    kinds = None
    if steering.mute_kinds or steering.boost_kinds:
        kinds = pool.kind_probabilities()[rows]
        model = pool.kind_weights()
        for j in steering.mute_kinds:
            keep &= kinds[:, j] < model.mute[j]
    boost = np.zeros(n, dtype=np.float32)
    why: list[str | None] = [None] * n
    if steering.boost_topics:
        _boost_topics(pool, rows, steering, vectors, boost, why)
    if steering.boost_kinds and kinds is not None:
        for j in steering.boost_kinds:
            # A kind the model is never sure of (advice, contrarian takes: no threshold right
            # half the time on held-out folds) does not move the ranking: boosting it was seen
            # to push labelled contrarian takes out (bench/instructions/day.py: 0 against 16).
            unsure = model.sure[j] > 1.0
            value = (
                np.zeros(len(rows)) if unsure else np.clip(kinds[:, j] / max(model.flag[j], 1e-6), 0.0, 1.0)
            )
            sure = kinds[:, j] >= model.sure[j]
            if j == CONTRARIAN:  # a story shows disagree on is one, whatever the model says
                value = np.maximum(value, pool.disputed[rows])
                sure |= pool.disputed[rows] > 0
            _raise(boost, why, value.astype(np.float32), sure, READER_KINDS.get(KINDS[j], KINDS[j]))
    for i in range(n):
        row = int(rows[i])
        feed = int(pool.feed_ids[row])
        if feed in steering.boost_feeds and boost[i] < 1.0:
            boost[i], why[i] = 1.0, f"more of {steering.boost_feeds[feed]}"
        if steering.boost_people and boost[i] < 1.0:
            person = _mentions(steering.boost_people, pool.speakers[row], pool.texts[row])
            if person:
                boost[i], why[i] = 1.0, person
    return keep, boost, why


def _boost_topics(
    pool: CandidatePool,
    rows: np.ndarray,
    steering: Steering,
    vectors: np.ndarray | None,
    boost: np.ndarray,
    why: list[str | None],
) -> None:
    best = np.zeros(len(rows), dtype=np.float32)
    which: np.ndarray = np.zeros(len(rows), dtype=np.int64)
    if vectors is not None and steering.boost_vectors is not None:
        sims = vectors @ steering.boost_vectors.T
        best, which = rescale_similarity(sims.max(axis=1)).astype(np.float32), sims.argmax(axis=1)
    for k in range(len(rows)):
        row = int(rows[k])
        lexical, phrase = lexical_relevance(steering.boost_topics, pool.texts[row], pool.words(row))
        value = max(float(best[k]), lexical)
        label = phrase if lexical >= best[k] else steering.boost_topics[int(which[k])]
        # Only a real match names the reason; a loose one still nudges the score.
        if value > boost[k]:
            boost[k] = value
            why[k] = f"'{label}'" if value >= 0.75 else why[k]


def _raise(boost: np.ndarray, why: list[str | None], value: np.ndarray, sure: np.ndarray, label: str) -> None:
    for k in np.flatnonzero(value > boost):
        boost[k] = value[k]
        why[k] = label if sure[k] else None


def contrarian_first(pool: CandidatePool, rows: np.ndarray, chosen: list[int]) -> list[int]:
    """The picks with contrarian takes (or stories shows disagree on) first, each group in its
    order."""
    probs = pool.kind_probabilities()
    model = pool.kind_weights()

    def contrarian(k: int) -> bool:
        row = int(rows[k])
        return bool(pool.disputed[row]) or bool(probs[row, CONTRARIAN] >= model.sure[CONTRARIAN])

    return sorted(chosen, key=lambda k: not contrarian(k))
