"""Any OpenAI-compatible `/embeddings` endpoint: OpenAI, Ollama, vLLM, llama.cpp, TEI."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from podsift.backends.embeddings.registry import EMBEDDER_NAMES, EMBEDDINGS, EmbeddingError
from podsift.backends.embeddings.vectors import normalise
from podsift.backends.llm import openai_client
from podsift.backends.spec import BackendSpec

DEFAULT_MODEL = "text-embedding-3-small"
EMBEDDER_NAMES["openai"] = lambda spec: f"openai:{spec.target or DEFAULT_MODEL}"


class OpenAIEmbedder:
    def __init__(self, spec: BackendSpec) -> None:
        self.model = spec.target or DEFAULT_MODEL
        self.client = openai_client(spec, default_timeout=60)
        self.batch_size = int(spec.number("batch_size", 128))
        self.name = f"openai:{self.model}"
        self.dimensions = int(spec.number("dimensions", 0))  # learnt from the first reply

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        rows: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start : start + self.batch_size])
            try:
                reply = self.client.embeddings.create(model=self.model, input=batch)
            except Exception as exc:  # the SDK's own errors carry status and message
                raise EmbeddingError(f"{self.name}: {type(exc).__name__}: {exc}") from exc
            data = sorted(reply.data, key=lambda d: d.index)
            if len(data) != len(batch):
                raise EmbeddingError(f"{self.name}: asked for {len(batch)} vectors, got {len(data)}")
            rows.extend(d.embedding for d in data)
        if not rows:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        matrix = normalise(np.asarray(rows, dtype=np.float32))
        self.dimensions = matrix.shape[1]
        return matrix


@EMBEDDINGS.register("openai")
def _openai(spec: BackendSpec) -> OpenAIEmbedder:
    return OpenAIEmbedder(spec)
