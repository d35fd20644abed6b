from podsift.backends.embeddings.registry import (
    EMBEDDINGS,
    Embedder,
    EmbeddingError,
    embedder_name,
    make_embedder,
)
from podsift.backends.embeddings.vectors import from_blob, normalise, to_blob

__all__ = [
    "EMBEDDINGS",
    "Embedder",
    "EmbeddingError",
    "embedder_name",
    "from_blob",
    "make_embedder",
    "normalise",
    "to_blob",
]
