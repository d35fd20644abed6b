from podsift.backends.embeddings.registry import EMBEDDINGS, Embedder, EmbeddingError, make_embedder
from podsift.backends.embeddings.vectors import from_blob, normalise, to_blob

__all__ = ["EMBEDDINGS", "Embedder", "EmbeddingError", "from_blob", "make_embedder", "normalise", "to_blob"]
