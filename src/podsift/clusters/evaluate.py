"""Measure a same-story model on labelled pairs: precision, recall, and a weight search.

Used by `bench/cluster_pairs.py` (which reports the figures) and by the tests (which hold
the shipped defaults to them). A labelled pair is {"a", "b", "same": bool}.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from podsift.backends.embeddings.registry import Embedder
from podsift.clusters.signals import PairFeatures, SameStoryModel, pair_features, signature, strip_speaker


@dataclass(frozen=True)
class Scores:
    precision: float
    recall: float
    f1: float
    true_pos: int
    false_pos: int
    false_neg: int


def load_pairs(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def featurise(pairs: Sequence[dict[str, object]], embedder: Embedder) -> list[PairFeatures]:
    texts = [strip_speaker(str(p[side])) for p in pairs for side in ("a", "b")]
    vectors = embedder.embed(texts)
    out = []
    for i, pair in enumerate(pairs):
        cosine = float(vectors[2 * i] @ vectors[2 * i + 1])
        out.append(pair_features(cosine, signature(str(pair["a"])), signature(str(pair["b"]))))
    return out


def score(predicted: Iterable[bool], labels: Iterable[bool]) -> Scores:
    tp = fp = fn = 0
    for p, y in zip(predicted, labels, strict=True):
        tp += p and y
        fp += p and not y
        fn += (not p) and y
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Scores(round(precision, 3), round(recall, 3), round(f1, 3), tp, fp, fn)


def evaluate(model: SameStoryModel, features: Sequence[PairFeatures], labels: Sequence[bool]) -> Scores:
    return score((model.score(f) >= model.threshold for f in features), labels)


def _best_threshold(
    model: SameStoryModel, features: Sequence[PairFeatures], labels: Sequence[bool]
) -> SameStoryModel:
    """The threshold with the best F0.5 (precision weighs double: merging two different
    stories hides one from the reader; missing a merge only shows a near-copy)."""
    values = sorted({round(model.score(f), 3) for f in features})
    best, best_value = model, -1.0
    for threshold in values:
        s = evaluate(replace(model, threshold=threshold), features, labels)
        f_half = 1.25 * s.precision * s.recall / (0.25 * s.precision + s.recall) if s.recall else 0.0
        if f_half > best_value:
            best, best_value = replace(model, threshold=threshold), f_half
    return best


FAMILIES = {
    "cosine only": {"w_entities": [0.0], "w_numbers": [0.0], "w_terms": [0.0], "clash_penalty": [0.0]},
    "cosine + entities": {
        "w_entities": [0.1, 0.2, 0.3, 0.4],
        "w_numbers": [0.0],
        "w_terms": [0.0],
        "clash_penalty": [0.0],
    },
    "cosine + entities + figures + terms": {
        "w_entities": [0.0, 0.1, 0.2, 0.3],
        "w_numbers": [0.0, 0.1, 0.2],
        "w_terms": [0.0, 0.2, 0.4, 0.6],
        "clash_penalty": [0.0, 0.1, 0.2],
    },
}


def fit(
    features: Sequence[PairFeatures], labels: Sequence[bool], grid: dict[str, list[float]]
) -> SameStoryModel:
    best, best_f1 = SameStoryModel(), -1.0
    keys = list(grid)
    for values in itertools.product(*(grid[k] for k in keys)):
        model = _best_threshold(SameStoryModel(**dict(zip(keys, values, strict=True))), features, labels)
        f1 = evaluate(model, features, labels).f1
        if f1 > best_f1:
            best, best_f1 = model, f1
    return best


def cross_validate(
    features: Sequence[PairFeatures], labels: Sequence[bool], grid: dict[str, list[float]], folds: int = 5
) -> Scores:
    """Held-out scores: fit on four fifths, predict the fifth, pool the predictions."""
    order = np.random.default_rng(7).permutation(len(features))
    predicted = [False] * len(features)
    for fold in range(folds):
        test = set(order[fold::folds].tolist())
        train = [i for i in range(len(features)) if i not in test]
        model = fit([features[i] for i in train], [labels[i] for i in train], grid)
        for i in test:
            predicted[i] = model.score(features[i]) >= model.threshold
    return score(predicted, labels)
