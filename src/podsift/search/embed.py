"""Passage vectors, a budgeted batch each run: the newest passages first (what readers search
for most), `search_embed_passages` a run, so a backlog of old transcripts spreads over runs
instead of stretching one. With nothing to embed, one query and no model loaded."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import sqlalchemy as sa

from podsift.backends.embeddings import EmbeddingError, to_blob
from podsift.progress import progress
from podsift.store import Passage

if TYPE_CHECKING:
    from podsift.core import App

log = logging.getLogger(__name__)
BATCH = 64
# A passage's meaning from its first 120 words (about 160 MiniLM tokens; a minute of speech
# runs to 190): its vector costs 1.8% of the hour's speech-to-text time instead of 2.4%
# (bench/search.py), at a mean cosine of 0.96 to the whole passage's. Keyword search still
# reads every word.
PASSAGE_WORDS = 120


def passage_text(text: str) -> str:
    """What a passage's vector is made from."""
    words = text.split()
    return text if len(words) <= PASSAGE_WORDS else " ".join(words[:PASSAGE_WORDS])


def embed_passages(app: App, limit: int | None = None) -> int:
    """Embed up to `limit` passages (the setting by default) that lack this embedder's
    vector; how many were embedded."""
    limit = app.settings.search_embed_passages if limit is None else limit
    name = app.embedder_name
    if limit <= 0:
        return 0
    with app.session() as session:
        # Another embedder's vectors are never compared with this one's: embed those again.
        # (two range reads of the model index, not a scan: this runs every hour)
        stale = session.scalar(
            sa.select(Passage.id).where(Passage.embedding_model < name).limit(1)
        ) or session.scalar(sa.select(Passage.id).where(Passage.embedding_model > name).limit(1))
        if stale is not None:
            session.execute(
                sa.update(Passage)
                .where(Passage.embedding_model != name)
                .values(embedding=None, embedding_model=None)
            )
            session.commit()
        todo = list(
            session.execute(
                sa.select(Passage.id, Passage.text)
                .where(Passage.embedding.is_(None))
                .order_by(Passage.id.desc())
                .limit(limit)
            )
        )
    if not todo:
        return 0
    try:
        embedder = app.embedder()
    except EmbeddingError as exc:
        log.warning("passages not embedded: %s", exc)
        return 0
    done = 0
    with progress("embedding passages for search", len(todo)) as bar:
        for start in range(0, len(todo), BATCH):
            batch = todo[start : start + BATCH]
            vectors = embedder.embed([passage_text(text) for _, text in batch])
            with app.session() as session:
                session.execute(
                    sa.update(Passage),
                    [
                        {"id": pid, "embedding": to_blob(v), "embedding_model": embedder.name}
                        for (pid, _), v in zip(batch, vectors, strict=True)
                    ],
                )
                session.commit()
            done += len(batch)
            bar.advance(len(batch))
    return done


def passages_waiting(app: App) -> bool:
    """Whether any passage still lacks a vector (one read of the partial index)."""
    if app.settings.search_embed_passages <= 0:
        return False
    with app.session() as session:
        return session.scalar(sa.select(Passage.id).where(Passage.embedding.is_(None)).limit(1)) is not None
