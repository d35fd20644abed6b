"""Do two claims agree, disagree, or say different things? The packaged MiniLM read over
both claims at once, adapted to the question.

A sentence embedding cannot tell "will become the workhorse of the grid" from "is a dead end
for utilities": both are about the same thing, so their vectors are close. Read together, the
model's attention can weigh one claim's words against the other's. The adaptation is small:
low-rank updates (LoRA, rank 8) to each layer's linear maps and a three-way head, learned
by bench/pairs/train_encoder.py from labelled pairs of real claims; they ship as plain
arrays (~1 MB) and are merged into MiniLM's weights when loaded, so inference is the numpy
BERT the embedder uses (no torch). A pair is read in both orders and the two averaged: the
answer does not depend on which telling came first.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from podsift.backends.embeddings.lora import LoraClassifier, softmax

HERE = Path(__file__).resolve().parent
WEIGHTS = HERE / "pair_encoder.npz"
CARD = HERE / "pair_encoder.json"
CLASSES = ("agree", "disagree", "different")
MAX_TOKENS = 160
SEEN_PAIRS = 4096


class PairEncoder(LoraClassifier):
    def __init__(self, folder: Path, arrays: dict[str, np.ndarray], threshold: float = 0.5) -> None:
        super().__init__(folder, arrays, MAX_TOKENS)
        self.threshold = threshold
        self._seen: dict[tuple[str, str], float] = {}

    def probabilities(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        """(len(pairs), 3): agree, disagree, different, averaged over both orders."""
        if not pairs:
            return np.zeros((0, len(CLASSES)), dtype=np.float32)
        forward = self._classify(list(pairs))
        backward = self._classify([(b, a) for a, b in pairs])
        return (forward + backward) / 2

    def disagreement(self, a: str, b: str) -> float:
        """P(disagree); the same two texts are read once a process (a story syndicated on
        several feeds repeats its pairs), and a text never disputes itself."""
        if a.strip() == b.strip():
            return 0.0
        key = _unordered(a, b)
        self.prefetch([key])
        return self._seen[key]

    def prefetch(self, pairs: Sequence[tuple[str, str]]) -> None:
        """Read the pairs not yet read in batches (several times faster a pair than one at a
        time); `disagreement` then answers from what was read."""
        keys = {_unordered(a, b) for a, b in pairs if a.strip() != b.strip()}
        todo = sorted(keys - self._seen.keys())[:SEEN_PAIRS]
        if not todo:
            return
        if len(self._seen) + len(todo) > SEEN_PAIRS:
            self._seen.clear()
        column = CLASSES.index("disagree")
        for key, p in zip(todo, self.probabilities(todo)[:, column], strict=True):
            self._seen[key] = float(p)

    def _classify(self, pairs: list[tuple[str, str]]) -> np.ndarray:
        return softmax(self.logits(pairs))

    @staticmethod
    def save(arrays: dict[str, np.ndarray], threshold: float, card: dict[str, Any]) -> None:
        payload: dict[str, Any] = {"threshold": np.array([threshold]), **arrays}
        np.savez_compressed(WEIGHTS, **payload)
        CARD.write_text(json.dumps(card, indent=1, ensure_ascii=False) + "\n")


def _unordered(a: str, b: str) -> tuple[str, str]:
    """One key for a pair in either order (the encoder's answer does not depend on it)."""
    return (a, b) if a <= b else (b, a)


def load_pair_encoder(weights: Path = WEIGHTS) -> PairEncoder | None:
    """The shipped pair encoder over the packaged MiniLM; None where either is missing."""
    from podsift.backends.embeddings.local import packaged_minilm

    folder = packaged_minilm()
    if folder is None or not weights.is_file():
        return None
    with np.load(weights, allow_pickle=False) as data:
        arrays = {k: data[k].astype(np.float32) for k in data.files if k != "threshold"}
        threshold = float(data["threshold"][0])
    return PairEncoder(folder, arrays, threshold)


@cache
def shipped_pair_encoder() -> PairEncoder | None:
    """None where MiniLM is missing or PODSIFT_PAIR_ENCODER=off (about 0.2 s of CPU a pair
    compared; the hand-featured stance classifier then decides)."""
    if os.environ.get("PODSIFT_PAIR_ENCODER", "on").strip().lower() in ("off", "0", "false", "no"):
        return None
    return load_pair_encoder()
