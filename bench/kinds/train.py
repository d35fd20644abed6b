"""Train the kind model (src/podsift/insights/kinds.py) and score it on held-out shows.

    .venv/bin/python -m bench.kinds.train            # train, score, write kinds.npz + kinds.json
    .venv/bin/python -m bench.kinds.train --dry-run  # train and score only

Tuning items: `items-tuning.jsonl` (Changelog News, Brain Science, JS Party, Chaincode) and
`items-extra-*.jsonl` (other Changelog shows), labelled once each. Held-out items:
`items-heldout.jsonl` (Lenny's Podcast, Oxide and Friends, Away From Keyboard), split off by
show before any training, labelled twice and adjudicated (`labels-heldout.jsonl`); nothing is
tuned on them. Regularisation is chosen by leave-one-show-out cross-validation on the tuning
items. On the out-of-fold predictions each kind gets three thresholds: `flag` maximises F1;
`mute` maximises F2 (a muted item let through costs the reader more than a good one held
back) among thresholds with precision ≥ 0.25, or never when none has it (the kind cannot be
muted reliably); `sure` is the lowest with precision ≥ 0.5, where the digest may say "you
asked for it", or never.

Feature sets were compared by cross-validation alone (mean F1 over kinds, tuning shows):
MiniLM vector + cues 0.389, prototype cosines + cues 0.407, all three 0.393; the second ships.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from podsift.backends.embeddings import make_embedder
from podsift.insights.kinds import (
    CUE_NAMES,
    EMBEDDER,
    KINDS,
    PROTOTYPE_TEXTS,
    KindModel,
    KindWeights,
    cue_features,
    item_text,
)

HERE = Path(__file__).resolve().parent
TUNING = [("items-tuning.jsonl", "labels-tuning.jsonl")] + [
    (f"items-extra-{k}.jsonl", f"labels-extra-{k}.jsonl") for k in range(1, 11)
]
HELDOUT = ("items-heldout.jsonl", "labels-heldout.jsonl")
C_GRID = (0.03, 0.1, 0.3, 1.0, 3.0)


def load(pairs: list[tuple[str, str]]) -> tuple[list[str], list[str], np.ndarray]:
    texts, groups, labels = [], [], []
    for items_name, labels_name in pairs:
        if not (HERE / labels_name).exists():
            continue
        items = [json.loads(line) for line in (HERE / items_name).read_text().splitlines() if line.strip()]
        marks = {
            row["id"]: row["kinds"] for row in map(json.loads, (HERE / labels_name).read_text().splitlines())
        }
        for item in items:
            if item["id"] not in marks:
                continue
            texts.append(item_text(item["text"]))
            groups.append(item["episode"].split("/")[0])
            labels.append([kind in marks[item["id"]] for kind in KINDS])
    return texts, groups, np.array(labels, dtype=bool)


def features(texts: list[str], prototypes: np.ndarray | None) -> np.ndarray:
    cues = cue_features(texts)
    if prototypes is None:
        return cues
    vectors = make_embedder("local").embed(texts)
    return np.hstack([vectors @ prototypes.T, cues])


def fit(x: np.ndarray, y: np.ndarray, c: float) -> LogisticRegression:
    model = LogisticRegression(C=c, class_weight="balanced", max_iter=2000)
    model.fit(x, y)
    return model


def out_of_fold(x: np.ndarray, y: np.ndarray, groups: list[str], c: float) -> np.ndarray:
    """Each item's probability from a model that never saw its show."""
    probs = np.zeros(len(y))
    for show in sorted(set(groups)):
        test = np.array([g == show for g in groups])
        mean, scale = x[~test].mean(0), x[~test].std(0) + 1e-6
        probs[test] = fit((x[~test] - mean) / scale, y[~test], c).predict_proba((x[test] - mean) / scale)[
            :, 1
        ]
    return probs


def prf(y: np.ndarray, predicted: np.ndarray, beta: float = 1.0) -> dict[str, float]:
    tp = int((y & predicted).sum())
    p = tp / max(int(predicted.sum()), 1)
    r = tp / max(int(y.sum()), 1)
    b2 = beta * beta
    return {
        "precision": round(p, 3),
        "recall": round(r, 3),
        "f1": round((1 + b2) * p * r / (b2 * p + r), 3) if p + r else 0.0,
        "positives": int(y.sum()),
        "flagged": int(predicted.sum()),
    }


GRID = np.arange(0.1, 0.976, 0.025)
MUTE_PRECISION = 0.5  # a mute that drops more good items than right ones is no mute
MUTE_BETA = 1.5  # recall weighs more than precision for a mute, but not so much it mutes half the day
SURE_PRECISION = 0.5  # "boosted: you asked for X" is said only where X is at least even odds
NEVER = 1.01


def best_threshold(y: np.ndarray, probs: np.ndarray, beta: float = 1.0, min_precision: float = 0.0) -> float:
    best, best_f = NEVER, -1.0
    for t in GRID:
        r = prf(y, probs >= t, beta)
        if r["precision"] >= min_precision and r["flagged"] >= 3 and r["f1"] > best_f:
            best, best_f = float(t), r["f1"]
    return round(best, 3)


def sure_threshold(y: np.ndarray, probs: np.ndarray) -> float:
    for t in GRID:
        r = prf(y, probs >= t)
        if r["precision"] >= SURE_PRECISION and r["flagged"] >= 3:
            return round(float(t), 3)
    return NEVER


def train(x: np.ndarray, groups: list[str], y: np.ndarray) -> tuple[KindWeights, dict[str, object]]:
    mean, scale = x.mean(0), x.std(0) + 1e-6
    coef, bias, flag, mute, sure, report = [], [], [], [], [], {}
    for j, kind in enumerate(KINDS):
        scored = {c: out_of_fold(x, y[:, j], groups, c) for c in C_GRID}
        c_best = max(
            C_GRID, key=lambda c: prf(y[:, j], scored[c] >= best_threshold(y[:, j], scored[c]))["f1"]
        )
        flag_t = best_threshold(y[:, j], scored[c_best])
        mute_t = best_threshold(y[:, j], scored[c_best], beta=MUTE_BETA, min_precision=MUTE_PRECISION)
        sure_t = sure_threshold(y[:, j], scored[c_best])
        model = fit((x - mean) / scale, y[:, j], c_best)
        coef.append(model.coef_[0])
        bias.append(model.intercept_[0])
        flag.append(flag_t)
        mute.append(mute_t)
        sure.append(sure_t)
        report[kind] = {
            "C": c_best,
            "flag_threshold": flag_t,
            "mute_threshold": mute_t,
            "sure_threshold": sure_t,
            "cross_validated_flag": prf(y[:, j], scored[c_best] >= flag_t),
            "cross_validated_mute": prf(y[:, j], scored[c_best] >= mute_t),
            "cross_validated_sure": prf(y[:, j], scored[c_best] >= sure_t),
        }
    weights = KindWeights(
        mean, scale, np.array(coef), np.array(bias), np.array(flag), np.array(mute), np.array(sure)
    )
    return weights, report


def score(weights: KindWeights, x: np.ndarray, y: np.ndarray) -> dict[str, object]:
    probs = weights.probabilities(x)
    return {
        kind: {
            "flag": prf(y[:, j], probs[:, j] >= weights.flag[j]),
            "mute": prf(y[:, j], probs[:, j] >= weights.mute[j]),
            "sure": prf(y[:, j], probs[:, j] >= weights.sure[j]),
        }
        for j, kind in enumerate(KINDS)
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="train and score the kind model")
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args()
    texts, groups, y = load(TUNING)
    held_texts, _, held_y = load([HELDOUT])
    embedder = make_embedder("local")
    assert embedder.name == EMBEDDER, embedder.name
    prototypes = embedder.embed(list(PROTOTYPE_TEXTS))
    embedded, embedded_report = train(features(texts, prototypes), groups, y)
    cue_only, cue_report = train(features(texts, None), groups, y)
    card: dict[str, object] = {
        "kinds": list(KINDS),
        "cues": list(CUE_NAMES),
        "prototypes": list(PROTOTYPE_TEXTS),
        "embedder": EMBEDDER,
        "tuning": {
            "items": len(texts),
            "shows": sorted(set(groups)),
            "positives": dict(zip(KINDS, y.sum(0).tolist(), strict=True)),
        },
        "heldout": {
            "items": len(held_texts),
            "shows": ["lenny", "oxide", "afk"],
            "positives": dict(zip(KINDS, held_y.sum(0).tolist(), strict=True)),
        },
        "embedded": embedded_report,
        "cue_only": cue_report,
        "heldout_scores": {
            "embedded": score(embedded, features(held_texts, prototypes), held_y),
            "cue_only": score(cue_only, features(held_texts, None), held_y),
        },
    }
    print(json.dumps(card, indent=1))
    if not args.dry_run:
        KindModel(embedded, cue_only, prototypes, card).save()


if __name__ == "__main__":
    main()
