"""Persistence: schema, engine, migrations."""

from podsift.store.db import make_engine, make_session_factory, migrate
from podsift.store.models import (
    Base,
    Cluster,
    Delivery,
    Digest,
    DigestItem,
    Episode,
    Feed,
    Feedback,
    Insight,
    LLMCall,
    LLMRequest,
    PhraseVector,
    Subscriber,
    Transcript,
    utcnow,
)

__all__ = [
    "Base",
    "Cluster",
    "Delivery",
    "Digest",
    "DigestItem",
    "Episode",
    "Feed",
    "Feedback",
    "Insight",
    "LLMCall",
    "LLMRequest",
    "PhraseVector",
    "Subscriber",
    "Transcript",
    "make_engine",
    "make_session_factory",
    "migrate",
    "utcnow",
]
