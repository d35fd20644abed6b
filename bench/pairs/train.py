"""Train the disagreement classifier on the tuning topics' labelled pairs; write its weights.

    .venv/bin/python bench/pairs/train.py            # cross-validate by topic, fit, write
    .venv/bin/python bench/pairs/train.py --cv-only

Only tuning topics are read (build.py's HELD_OUT_TOPICS are never loaded here). Cross-
validation leaves one topic out at a time, chooses the regularisation and the threshold (the
lowest whose cross-validated precision reaches TARGET_PRECISION), and the final model is
fitted on every tuning pair. bench/disagreement.py scores the held-out topics.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "selection"))

import build  # noqa: E402
import embed_cache  # noqa: E402

from podsift.clusters.signals import strip_speaker  # noqa: E402
from podsift.clusters.stance import FEATURES, StanceModel, pair_features, side  # noqa: E402

C_GRID = (0.1, 0.3, 1.0, 3.0)
TARGET_PRECISION = 0.90


def final_labels() -> dict[str, dict]:
    """Each pair's label: an adjudication where there is one, else the first labeller's."""
    out: dict[str, dict] = {}
    for row in map(json.loads, build.LABELS.read_text().splitlines()):
        if row["labeller"].startswith("adjudication") or row["id"] not in out:
            out[row["id"]] = row
    return out


def dataset(split: str) -> tuple[np.ndarray, np.ndarray, list[str], list[dict]]:
    labels = final_labels()
    pairs = [p for p in build.load_pairs() if p["split"] == split and p["id"] in labels]
    texts = [build.pair_texts(p) for p in pairs]
    vectors = embed_cache.embed([strip_speaker(t) for pair in texts for t in pair])
    x = np.array(
        [
            pair_features(side(a), side(b), float(vectors[2 * k] @ vectors[2 * k + 1]))
            for k, (a, b) in enumerate(texts)
        ]
    )
    y = np.array([labels[p["id"]]["label"] == "disagree" for p in pairs])
    return x, y, [p["topic"] for p in pairs], pairs


def fit(x: np.ndarray, y: np.ndarray, c: float) -> StanceModel:
    mean, scale = x.mean(axis=0), x.std(axis=0)
    mean[0], scale[0] = 0.0, 1.0
    scale[scale < 1e-9] = 1.0
    clf = LogisticRegression(C=c, max_iter=5000, fit_intercept=False).fit((x - mean) / scale, y)
    return StanceModel(clf.coef_[0], mean, scale, 0.5, {})


def probabilities(model: StanceModel, x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(((x - model.mean) / model.scale) @ model.weights)))


def figures(y: np.ndarray, p: np.ndarray, threshold: float) -> dict:
    said = p >= threshold
    tp = int((said & y).sum())
    return {
        "pairs": len(y),
        "disagree": int(y.sum()),
        "precision": round(tp / max(int(said.sum()), 1), 3),
        "recall": round(tp / max(int(y.sum()), 1), 3),
    }


def threshold_for(y: np.ndarray, p: np.ndarray) -> float:
    for t in np.arange(0.05, 0.99, 0.01):
        if figures(y, p, float(t))["precision"] >= TARGET_PRECISION:
            return round(float(t), 2)
    return 0.99


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cv-only", action="store_true")
    args = parser.parse_args()
    x, y, topics, pairs = dataset("tune")
    print(f"{len(pairs)} tuning pairs, {int(y.sum())} disagree, topics {sorted(set(topics))}")
    best = None
    for c in C_GRID:
        p = np.zeros(len(y))
        for topic in sorted(set(topics)):
            out = np.array([t == topic for t in topics])
            p[out] = probabilities(fit(x[~out], y[~out], c), x[out])
        t = threshold_for(y, p)
        f = figures(y, p, t)
        print(
            f"C={c}: threshold {t}: precision {f['precision']:.2f} recall {f['recall']:.2f}; at 0.5: {figures(y, p, 0.5)}"
        )
        if best is None or f["recall"] > best[0]:
            best = (f["recall"], c, t, f)
    assert best is not None
    _, c, t, f = best
    print(f"chosen: C={c}, threshold {t}")
    if args.cv_only:
        return
    model = fit(x, y, c)
    weights = dict(zip(FEATURES, np.round(model.weights, 3).tolist(), strict=True))
    card = {
        "model": "logistic regression over pair features (clusters/stance.py)",
        "features": list(FEATURES),
        "weights": weights,
        "C": c,
        "threshold": t,
        "trained": dt.date.today().isoformat(),
        "labels": {"pairs": len(pairs), "disagree": int(y.sum()), "topics": sorted(set(topics))},
        "cross_validated_by_topic": f,
    }
    StanceModel(model.weights, model.mean, model.scale, t, card).save()
    print("wrote src/podsift/clusters/stance.npz and stance.json")


if __name__ == "__main__":
    main()
