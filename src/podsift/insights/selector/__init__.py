"""The learned selector: which spans of an episode are claims worth a reader's time.

`features.py` describes every candidate span (one to four sentences of one turn),
`model.py` scores them with weights learned from labelled passages of real shows
(`bench/selection/`), and `best_spans` picks an episode's best non-overlapping claims,
never one below the model's keep threshold: fewer is better than filler.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from podsift.insights.passages import content_words
from podsift.insights.selector.features import (
    EpisodeSentences,
    candidate_spans,
    glued_chatter,
    in_sponsor_read,
)
from podsift.insights.selector.model import SelectorModel

# The rules `choose` adds to the model's scores, named for the blind benchmark: a change
# here is a new system there (bench/selection/systems.shipped_name).
CHOOSER = "no-chatter"
NEAR_COPY = 0.45  # Jaccard of content words above which two claims say the same
# At most PER_STRETCH picks start within STRETCH sentences (about four minutes; a tenth of
# a short episode) of each other: one long answer is not the whole episode.
PER_STRETCH, STRETCH = 2, 40


@dataclass(frozen=True)
class ScoredSpan:
    first: int  # sentence numbers, inclusive
    last: int
    probability: float


def best_spans(
    episode: EpisodeSentences, model: SelectorModel, limit: int, threshold: float | None = None
) -> list[ScoredSpan]:
    """The episode's strongest claims, best first: at most `limit`, none overlapping another
    or repeating its words, none below the threshold (the model's own unless given)."""
    spans = candidate_spans(episode)
    if not spans or limit <= 0:
        return []
    return choose(
        episode,
        spans,
        model.span_probabilities(episode, spans),
        limit,
        model.threshold if threshold is None else threshold,
    )


def choose(
    episode: EpisodeSentences,
    spans: list[tuple[int, int]],
    probabilities: np.ndarray,
    limit: int,
    floor: float,
) -> list[ScoredSpan]:
    """Greedy by probability: the best span, then each next best that overlaps no pick,
    repeats none of their words, touches no sponsor read, has no greeting, sign-off or show
    housekeeping glued to it (the spans beside it are candidates too) and does not
    crowd one stretch of the episode; none below `floor`."""
    chosen: list[ScoredSpan] = []
    chosen_words: list[set[str]] = []
    taken = np.zeros(len(episode.sentences), dtype=bool)
    stretch = min(STRETCH, len(episode.sentences) // 10)
    for k in np.argsort(-probabilities, kind="stable"):
        p = float(probabilities[k])
        if p < floor or len(chosen) >= limit:
            break
        a, b = spans[k]
        if taken[a : b + 1].any() or in_sponsor_read(episode, a, b) or glued_chatter(episode, a, b):
            continue
        if sum(abs(c.first - a) < stretch for c in chosen) >= PER_STRETCH:
            continue
        words = set(content_words(" ".join(s.text for s in episode.sentences[a : b + 1])))
        if any(len(words & other) / max(len(words | other), 1) > NEAR_COPY for other in chosen_words):
            continue
        chosen.append(ScoredSpan(a, b, p))
        chosen_words.append(words)
        taken[a : b + 1] = True
    return chosen
