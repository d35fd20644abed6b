"""Clusters: takes new insights, gives stories: one story told on several shows is one
cluster, corroborated by each telling (embeddings, then an LLM judge on borderline pairs)."""
