"""Span embeddings for training and evaluation, computed once and kept outside the repo.

The cache (bench/results/selection-embeddings.npz, ignored by git) maps a text's sha1 to
its MiniLM vector; texts not in it are embedded with podsift's own embedder and added.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from podsift.backends.embeddings import make_embedder

CACHE = Path(__file__).resolve().parents[1] / "results" / "selection-embeddings.npz"
_vectors: dict[str, np.ndarray] | None = None


def _load() -> dict[str, np.ndarray]:
    global _vectors
    if _vectors is None:
        _vectors = {}
        if CACHE.exists():
            data = np.load(CACHE)
            _vectors = dict(zip(data["keys"].tolist(), data["vectors"], strict=True))
    return _vectors


def embed(texts: list[str]) -> np.ndarray:
    vectors = _load()
    keys = [hashlib.sha1(t.encode()).hexdigest() for t in texts]
    missing = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in vectors}.items())
    if missing:
        embedder = make_embedder("local")
        for start in range(0, len(missing), 512):
            batch = missing[start : start + 512]
            for (key, _), vector in zip(batch, embedder.embed([t for _, t in batch]), strict=True):
                vectors[key] = vector
            print(f"  embedded {min(start + 512, len(missing))}/{len(missing)}", flush=True)
        CACHE.parent.mkdir(exist_ok=True)
        np.savez(
            CACHE, keys=np.array(list(vectors)), vectors=np.array(list(vectors.values()), dtype=np.float32)
        )
    return np.array([vectors[k] for k in keys])
