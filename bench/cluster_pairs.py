"""Which signals tell "same story" from "same topic"? Precision/recall on labelled pairs.

    .venv/bin/python bench/cluster_pairs.py [--embeddings local]

Pairs: tests/fixtures/pairs/same_story_pairs.jsonl (hand-written, and paraphrases of claims
in the shared corpus's long transcripts). For each combination of signals it fits weights and
a threshold on all pairs (in-sample) and reports 5-fold cross-validated figures (held-out).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from podsift.backends.embeddings import make_embedder  # noqa: E402
from podsift.clusters.evaluate import FAMILIES, cross_validate, evaluate, featurise, fit, load_pairs, score  # noqa: E402
from podsift.clusters.signals import SameStoryModel  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--embeddings", default="local")
    parser.add_argument("--pairs", type=Path, default=ROOT / "tests/fixtures/pairs/same_story_pairs.jsonl")
    args = parser.parse_args()
    pairs = load_pairs(args.pairs)
    labels = [bool(p["same"]) for p in pairs]
    embedder = make_embedder(args.embeddings)
    started = time.perf_counter()
    features = featurise(pairs, embedder)
    print(
        f"{len(pairs)} pairs ({sum(labels)} same story), embedded in {time.perf_counter() - started:.1f}s with {embedder.name}"
    )
    print(f"{'signals':40} {'in-sample P/R/F1':>20} {'5-fold held-out P/R/F1':>24}  fitted")
    for name, grid in FAMILIES.items():
        model = fit(features, labels, grid)
        inside = evaluate(model, features, labels)
        held = cross_validate(features, labels, grid)
        print(
            f"{name:40} {inside.precision:6.3f}/{inside.recall:.3f}/{inside.f1:.3f}"
            f"   {held.precision:8.3f}/{held.recall:.3f}/{held.f1:.3f}   {model}"
        )
    shipped = SameStoryModel()
    s = evaluate(shipped, features, labels)
    print(
        f"shipped defaults {shipped}: P={s.precision} R={s.recall} F1={s.f1} (tp={s.true_pos} fp={s.false_pos} fn={s.false_neg})"
    )
    borderline = sum(shipped.decide(f) == "borderline" for f in features)
    print(f"borderline pairs (sent to the LLM judge when one is configured): {borderline}/{len(pairs)}")
    # The most a judge can add: every borderline pair decided right (an upper bound; no
    # real model runs here).
    oracle = score(
        (
            (shipped.decide(f) == "same") or (shipped.decide(f) == "borderline" and y)
            for f, y in zip(features, labels, strict=True)
        ),
        labels,
    )
    print(f"with a perfect judge on those: P={oracle.precision} R={oracle.recall} F1={oracle.f1}")


if __name__ == "__main__":
    main()
