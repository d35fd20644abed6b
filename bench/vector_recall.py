"""How much of the exact nearest-neighbour list the search's vector shortlist finds, on real
MiniLM vectors of real speech: 12,000 speaker turns of The Changelog's transcripts in pieces of
20-60 words, read as bench/search.py reads them (from a `fetch`ed or cloned
thechangelog/transcripts beside the project), 300 of them as queries, the rest as the index (built as the search builds it past
EXACT_BELOW); and the search time of the shortlist against a full product at 400,000 vectors.

    .venv/bin/python bench/vector_recall.py [--passages 12000]"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.search import MIRROR, speech  # noqa: E402  (the search bench's reader of the same speech)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=12_000)
    args = parser.parse_args()
    if not MIRROR.exists():
        sys.exit(f"{MIRROR} is missing: fetch or clone thechangelog/transcripts there")
    from podsift.backends.embeddings import make_embedder
    from podsift.search import ann
    from podsift.search.ann import VectorIndex

    texts = [text for _, text in speech(limit_files=200)][: args.passages]
    started = time.perf_counter()
    vectors = np.asarray(make_embedder("local").embed(texts), dtype=np.float32)
    print(f"{len(texts)} passages embedded in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    queries, base = vectors[:300], vectors[300:]
    ann.EXACT_BELOW = 0  # the shortlist path, as past 50,000 vectors
    index = VectorIndex.build(np.arange(len(base), dtype=np.int64), base)
    found = []
    for q in queries:
        ids, _ = index.nearest(q, 40)
        exact = np.argsort(-(base @ q))[:40]
        found.append(len(set(ids.tolist()) & set(exact.tolist())) / 40)
    print(
        f"recall of the exact 40 nearest: {np.mean(found):.3f} ({ann.DIMENSIONS} components, shortlist {ann.SHORTLIST})"
    )
    # Time at the search's scale: the real vectors, each repeated with a little noise.
    rng = np.random.default_rng(0)
    copies = -(-400_000 // len(base))
    big = np.vstack([base + 0.02 * rng.standard_normal(base.shape).astype(np.float32) for _ in range(copies)])
    big = big[:400_000] / np.linalg.norm(big[:400_000], axis=1, keepdims=True)
    started = time.perf_counter()
    index = VectorIndex.build(np.arange(len(big), dtype=np.int64), big)
    built = time.perf_counter() - started
    started = time.perf_counter()
    for q in queries[:100]:
        index.nearest(q, 40)
    shortlist = (time.perf_counter() - started) * 10
    started = time.perf_counter()
    for q in queries[:100]:
        np.argpartition(-(big @ q), 40)[:40]
    exact_ms = (time.perf_counter() - started) * 10
    print(
        f"400,000 vectors: built in {built:.1f} s; a search {shortlist:.1f} ms against {exact_ms:.1f} ms exact"
    )


if __name__ == "__main__":
    main()
