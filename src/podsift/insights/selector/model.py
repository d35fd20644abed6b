"""The learned selector: is a candidate span a claim worth a reader's time?

A logistic regression over the span's dense signals (how it opens and ends, what it carries,
whose turn it is in) and its mean static word vector (features.py). Trained
by `bench/selection/train.py` from labelled passages of real shows and shipped as plain
arrays (`selector.npz`, no pickle) with a card (`selector.json`: the labels it saw, how they
were split, its held-out scores). Scoring is a few matrix products and prefix sums: every
candidate of an episode-hour in milliseconds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from podsift.insights.selector.features import (
    SPAN_FEATURES,
    STATIC_DIMENSIONS,
    EpisodeSentences,
    span_features,
    span_static,
)

HERE = Path(__file__).resolve().parent
WEIGHTS = HERE / "selector.npz"
CARD = HERE / "selector.json"


class SelectorModelError(RuntimeError):
    """The shipped weights are missing or do not match the features this code computes."""


@dataclass(frozen=True)
class SelectorModel:
    mean: np.ndarray  # per dense feature, for standardising
    scale: np.ndarray
    dense: np.ndarray  # weights per dense feature
    static: np.ndarray  # weights on the span's mean static word vector
    threshold: float  # a span at or above this probability is a keep
    card: dict[str, Any]

    def logits(self, episode: EpisodeSentences, spans: list[tuple[int, int]]) -> np.ndarray:
        if not spans:
            return np.zeros(0)
        x = (span_features(episode, spans) - self.mean) / self.scale
        logits = x @ self.dense
        if episode.static_cumulative is not None:  # without the packaged MiniLM: signals only
            logits = logits + span_static(episode, spans) @ self.static
        return np.asarray(logits)

    def span_probabilities(self, episode: EpisodeSentences, spans: list[tuple[int, int]]) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.logits(episode, spans)))

    def save(self, weights: Path = WEIGHTS, card: Path = CARD) -> None:
        np.savez_compressed(
            weights,
            mean=self.mean,
            scale=self.scale,
            dense=self.dense,
            static=self.static.astype(np.float32),
            threshold=np.array([self.threshold]),
        )
        card.write_text(json.dumps(self.card, indent=1, ensure_ascii=False) + "\n")


def load_model(weights: Path = WEIGHTS, card: Path = CARD) -> SelectorModel:
    try:
        arrays = np.load(weights, allow_pickle=False)
        meta = json.loads(card.read_text())
    except (OSError, ValueError) as exc:
        raise SelectorModelError(f"cannot read the selector's weights ({weights}): {exc}") from exc
    if tuple(meta.get("features", ())) != SPAN_FEATURES or arrays["static"].shape != (STATIC_DIMENSIONS,):
        raise SelectorModelError(
            "the selector's weights were trained on other features than this code computes: "
            "retrain with bench/selection/train.py"
        )
    return SelectorModel(
        mean=arrays["mean"],
        scale=arrays["scale"],
        dense=arrays["dense"],
        static=arrays["static"].astype(np.float64),
        threshold=float(arrays["threshold"][0]),
        card=meta,
    )


@cache
def shipped_model() -> SelectorModel:
    """The weights that ship with podsift, loaded once per process."""
    return load_model()
