"""A BERT sentence encoder (mean pooling, normalised) in numpy: the packaged MiniLM
without torch.

sentence-transformers needs torch, whose import and model load took 4 s and ~580 MiB
before a busy run could embed its first insight; this reads the same safetensors weights
and the same tokenizer (`tokenizers`, already a faster-whisper dependency) in 0.1 s and
gives the same vectors (cosine >= 0.99999 against sentence-transformers, tested), so the
embedder keeps its name and stored vectors stay comparable. Only a plain BERT with mean
pooling qualifies (`BertSentenceEncoder.supports`); any other model goes to
sentence-transformers.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from podsift.backends.embeddings.vectors import normalise
from podsift.backends.spec import cpu_threads

TOKENS_PER_BATCH = 2048


class BertSentenceEncoder:
    """Embeds like sentence-transformers' Transformer + mean Pooling + Normalize."""

    def __init__(self, folder: Path, batch_size: int = 32) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        config = json.loads((folder / "config.json").read_text())
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.dimensions = int(config["hidden_size"])
        self.batch_size = batch_size
        self.threads = cpu_threads()
        weights = load_file(str(folder / "model.safetensors"))
        # Linear weights transposed once, so each layer is one (tokens x in) @ (in x out).
        self.w = {
            key: np.ascontiguousarray(value.T) if _is_linear(key, value) else value
            for key, value in weights.items()
        }
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(_max_length(folder, config))
        self.tokenizer.no_padding()

    @staticmethod
    def supports(folder: Path) -> bool:
        """A BERT encoder whose sentence-transformers modules are Transformer, mean Pooling
        and (optionally) Normalize, with its weights in safetensors and a fast tokenizer."""
        try:
            config = json.loads((folder / "config.json").read_text())
            modules = [
                m["type"].rsplit(".", 1)[-1] for m in json.loads((folder / "modules.json").read_text())
            ]
            pooling = json.loads((folder / "1_Pooling" / "config.json").read_text())
        except (OSError, ValueError, KeyError, TypeError):
            return False
        mean_only = pooling.get("pooling_mode_mean_tokens") and not any(
            v for k, v in pooling.items() if k.startswith("pooling_mode_") and k != "pooling_mode_mean_tokens"
        )
        return (
            config.get("model_type") == "bert"
            and config.get("hidden_act") == "gelu"
            and config.get("position_embedding_type", "absolute") == "absolute"
            and modules in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"])
            and bool(mean_only)
            and (folder / "model.safetensors").is_file()
            and (folder / "tokenizer.json").is_file()
        )

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """float32 (len(texts), dimensions), L2-normalised; batches of similar length."""
        from threadpoolctl import threadpool_limits

        encoded = [e.ids for e in self.tokenizer.encode_batch(list(texts))]
        out = np.zeros((len(encoded), self.dimensions), dtype=np.float32)

        def encode(rows: list[int]) -> None:
            width = max(len(encoded[i]) for i in rows)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.float32)
            for r, i in enumerate(rows):
                ids[r, : len(encoded[i])] = encoded[i]
                mask[r, : len(encoded[i])] = 1.0
            out[rows] = self._encode(ids, mask)

        # Batches in parallel, one BLAS thread each: numpy's element-wise steps (GELU, the
        # softmax, layer norms) run on one core, and with BLAS threading alone half the
        # machine idled through them (2,000 claims: 10.5 s; this way 6.8 s, torch 6.1 s).
        with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(self.threads) as pool:
            list(pool.map(encode, self._batches([len(ids) for ids in encoded])))
        return normalise(out)

    def _batches(self, lengths: list[int]) -> list[list[int]]:
        """Rows of similar length, at most `batch_size` rows and TOKENS_PER_BATCH padded
        tokens a batch: one long text does not pad 31 short ones to its length."""
        batches: list[list[int]] = []
        current: list[int] = []
        for i in sorted(range(len(lengths)), key=lengths.__getitem__):
            if current and (
                len(current) >= self.batch_size or (len(current) + 1) * lengths[i] > TOKENS_PER_BATCH
            ):
                batches.append(current)
                current = []
            current.append(i)
        return [*batches, current] if current else batches

    def _encode(self, ids: np.ndarray, mask: np.ndarray, types: np.ndarray | None = None) -> np.ndarray:
        """Mean of the last layer's token states; `types` marks a pair's second text."""
        w, (batch, width) = self.w, ids.shape
        token_types = w["embeddings.token_type_embeddings.weight"]
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:width]
            + (token_types[0] if types is None else token_types[types])
        ).reshape(batch * width, -1)
        x = self._norm(x, "embeddings.LayerNorm")
        # Padding never attends: a large negative score before the softmax.
        padding = ((mask[:, None, None, :] - 1.0) * 1e9).astype(np.float32)
        for layer in range(self.layers):
            x = self._layer(x, f"encoder.layer.{layer}.", batch, width, padding)
        tokens = x.reshape(batch, width, -1) * mask[:, :, None]
        return (tokens.sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)).astype(np.float32)

    def _layer(self, x: np.ndarray, p: str, batch: int, width: int, padding: np.ndarray) -> np.ndarray:
        heads, size = self.heads, x.shape[-1] // self.heads

        def split(name: str) -> np.ndarray:
            return self._linear(x, p + name).reshape(batch, width, heads, size).transpose(0, 2, 1, 3)

        query, key, value = (
            split("attention.self.query"),
            split("attention.self.key"),
            split("attention.self.value"),
        )
        scores = query @ key.transpose(0, 1, 3, 2) / np.float32(math.sqrt(size)) + padding
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        scores /= scores.sum(axis=-1, keepdims=True)
        attended = (scores @ value).transpose(0, 2, 1, 3).reshape(batch * width, heads * size)
        x = self._norm(
            self._linear(attended, p + "attention.output.dense") + x, p + "attention.output.LayerNorm"
        )
        hidden = _gelu(self._linear(x, p + "intermediate.dense"))
        return self._norm(self._linear(hidden, p + "output.dense") + x, p + "output.LayerNorm")

    def _linear(self, x: np.ndarray, name: str) -> np.ndarray:
        result: np.ndarray = x @ self.w[name + ".weight"] + self.w[name + ".bias"]
        return result

    def _norm(self, x: np.ndarray, name: str) -> np.ndarray:
        mean = x.mean(axis=-1, keepdims=True)
        centred = x - mean
        variance = (centred * centred).mean(axis=-1, keepdims=True)
        result: np.ndarray = (
            centred / np.sqrt(variance + self.eps) * self.w[name + ".weight"] + self.w[name + ".bias"]
        )
        return result


def _is_linear(key: str, value: np.ndarray) -> bool:
    return key.startswith("encoder.") and key.endswith(".weight") and value.ndim == 2


def _max_length(folder: Path, config: dict[str, object]) -> int:
    try:
        return int(json.loads((folder / "sentence_bert_config.json").read_text())["max_seq_length"])
    except (OSError, ValueError, KeyError):
        return int(str(config.get("max_position_embeddings", 512)))


def _gelu(x: np.ndarray) -> np.ndarray:
    """BERT's exact GELU, x * Phi(x), with erf from Abramowitz & Stegun 7.1.26 (error under
    1.5e-7; numpy has no erf), computed in place: it runs on every token's 1,536 values."""
    z = np.abs(x)
    z *= np.float32(1 / math.sqrt(2))
    t = z * np.float32(0.3275911)
    t += 1
    np.reciprocal(t, out=t)
    poly = t * np.float32(1.061405429)
    for c in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
        poly += np.float32(c)
        poly *= t
    np.square(z, out=z)
    np.negative(z, out=z)
    np.exp(z, out=z)
    poly *= z  # 1 - erf(|x| / sqrt 2)
    # x * Phi(x) = x/2 * (1 + erf(x/sqrt 2)); for x < 0, erf is negative: 1 + erf = poly.
    half = np.where(x >= 0, 2 - poly, poly)
    half *= x
    half *= np.float32(0.5)
    return half
