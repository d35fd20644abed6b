"""The packaged MiniLM adapted to a question by low-rank updates (LoRA) and a linear head
over the mean of its last layer: the pair encoder (do two claims disagree?) and the kind
encoder (is this funding news, advice, a prediction?) are both this.

The updates are learned in torch by bench/lora_torch.py and ship as plain arrays; here they
are merged into MiniLM's weights once, when loaded, so inference is the numpy BERT the
embedder uses (no torch) and costs what one MiniLM pass costs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from podsift.backends.embeddings.bert_numpy import BertSentenceEncoder

LORA_TARGETS = (
    "attention.self.query",
    "attention.self.key",
    "attention.self.value",
    "attention.output.dense",
    "intermediate.dense",
    "output.dense",
)
BATCH = 16

Input = str | tuple[str, str]


class LoraClassifier(BertSentenceEncoder):
    def __init__(self, folder: Path, arrays: dict[str, np.ndarray], max_tokens: int) -> None:
        super().__init__(folder)
        for name in list(self.w):
            if not name.endswith(".weight"):
                continue
            stem = name.removesuffix(".weight")
            if stem + ".down" in arrays:
                # Stored transposed (in x out); the update is down.T @ up.T.
                delta = arrays[stem + ".down"].T @ arrays[stem + ".up"].T
                self.w[name] = np.ascontiguousarray(self.w[name] + delta.astype(np.float32))
        self.head_weight = np.ascontiguousarray(arrays["head.weight"].T.astype(np.float32))
        self.head_bias = arrays["head.bias"].astype(np.float32)
        self.inputs = self.input_tokenizer(folder, max_tokens)

    @staticmethod
    def input_tokenizer(folder: Path, max_tokens: int) -> Any:
        """MiniLM's tokenizer cutting at `max_tokens` (a pair: the longer text first)."""
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        tokenizer.enable_truncation(max_tokens, strategy="longest_first")
        tokenizer.no_padding()
        return tokenizer

    def logits(self, inputs: Sequence[Input]) -> np.ndarray:
        """(len(inputs), outputs): the head's logits; texts of similar length batched."""
        encoded = self.inputs.encode_batch(list(inputs))
        out = np.zeros((len(encoded), self.head_bias.shape[0]), dtype=np.float32)
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i].ids))
        for start in range(0, len(order), BATCH):
            rows = order[start : start + BATCH]
            width = max(len(encoded[i].ids) for i in rows)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            types = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.float32)
            for r, i in enumerate(rows):
                n = len(encoded[i].ids)
                ids[r, :n], types[r, :n], mask[r, :n] = encoded[i].ids, encoded[i].type_ids, 1.0
            out[rows] = self._encode(ids, mask, types) @ self.head_weight + self.head_bias
        return out


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return np.asarray(shifted / shifted.sum(axis=1, keepdims=True))


def sigmoid(logits: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-logits)))
