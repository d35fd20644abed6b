"""What kind of item an insight is, read by the packaged MiniLM adapted to the question.

The kind model in kinds.py weighs an insight's closeness to twenty short descriptions and a
few cue counts; a sentence vector says what an item is about, not whether it gives advice or
goes against the consensus, and that model could not mute advice or recognise contrarian takes.
This one reads the words: MiniLM with low-rank updates (LoRA, rank 8) on its upper layers and
five independent outputs (funding, launch, advice, contrarian, prediction), learned from the
labelled items of bench/kinds by bench/kinds/train_encoder.py. Its thresholds (flag, mute,
sure) come from tuning shows it was not fitted on; its card
(`kind_encoder.json`) holds them and the held-out shows' figures. One MiniLM pass an insight
(about 10 ms on one core), remembered by text for the process.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from podsift.backends.embeddings.lora import LoraClassifier, sigmoid
from podsift.insights.kinds import KINDS, item_text

HERE = Path(__file__).resolve().parent
WEIGHTS = HERE / "kind_encoder.npz"
CARD = HERE / "kind_encoder.json"
MAX_TOKENS = 128
REMEMBERED = 20_000


@dataclass(frozen=True)
class KindThresholds:
    flag: np.ndarray  # (kinds,): at or above, the item counts as of that kind (best F1)
    mute: np.ndarray  # (kinds,): the bar a muted kind uses; > 1: the kind cannot be muted
    sure: np.ndarray  # (kinds,): where the model is right at least half the time; > 1: never


class KindEncoder(LoraClassifier):
    def __init__(
        self,
        folder: Path,
        arrays: dict[str, np.ndarray],
        thresholds: dict[str, np.ndarray],
        blend: np.ndarray,
        card: dict[str, Any],
    ) -> None:
        super().__init__(folder, arrays, MAX_TOKENS)
        self.thresholds = KindThresholds(
            **{k: np.asarray(thresholds[k], dtype=np.float64) for k in ("flag", "mute", "sure")}
        )
        # Per kind, the encoder's weight against the prototype-and-cue model (kinds.py) in
        # the probability a run uses; chosen on the validation shows.
        self.blend = np.asarray(blend, dtype=np.float64)
        self.card = card
        self._seen: dict[str, np.ndarray] = {}

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """(texts, kinds): each text's probability of each kind (independent outputs)."""
        words = [item_text(t) for t in texts]
        todo = sorted({w for w in words if w not in self._seen})
        if todo:
            if len(self._seen) + len(todo) > REMEMBERED:
                self._seen.clear()
            for text, row in zip(todo, sigmoid(self.logits(todo)), strict=True):
                self._seen[text] = row.astype(np.float64)
        if not words:
            return np.zeros((0, len(KINDS)))
        return np.stack([self._seen[w] for w in words])


def save_kind_encoder(
    arrays: dict[str, np.ndarray], thresholds: dict[str, np.ndarray], blend: np.ndarray, card: dict[str, Any]
) -> None:
    payload = {
        **arrays,
        **{f"threshold.{k}": np.asarray(v, dtype=np.float64) for k, v in thresholds.items()},
        "blend": np.asarray(blend, dtype=np.float64),
    }
    np.savez_compressed(WEIGHTS, **payload)  # type: ignore[arg-type]
    CARD.write_text(json.dumps(card, indent=1, ensure_ascii=False) + "\n")


def read_arrays(weights: Path = WEIGHTS) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray]:
    """(the LoRA factors and head, the thresholds by name, the blend) as saved."""
    with np.load(weights, allow_pickle=False) as data:
        arrays = {
            k: data[k].astype(np.float32)
            for k in data.files
            if not k.startswith("threshold.") and k != "blend"
        }
        thresholds = {k.removeprefix("threshold."): data[k] for k in data.files if k.startswith("threshold.")}
        blend = data["blend"] if "blend" in data.files else np.ones(len(KINDS))
    return arrays, thresholds, blend


def load_kind_encoder(weights: Path = WEIGHTS, card: Path = CARD) -> KindEncoder | None:
    """The shipped kind encoder over the packaged MiniLM; None where either is missing."""
    from podsift.backends.embeddings.local import packaged_minilm

    folder = packaged_minilm()
    if folder is None or not weights.is_file():
        return None
    arrays, thresholds, blend = read_arrays(weights)
    meta = json.loads(card.read_text()) if card.is_file() else {}
    return KindEncoder(folder, arrays, thresholds, blend, meta)


@cache
def shipped_kind_encoder() -> KindEncoder | None:
    """None where MiniLM or the weights are missing, or PODSIFT_KIND_ENCODER=off (the
    prototype-and-cue model in kinds.py then decides)."""
    if os.environ.get("PODSIFT_KIND_ENCODER", "on").strip().lower() in ("off", "0", "false", "no"):
        return None
    return load_kind_encoder()
