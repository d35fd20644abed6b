"""The database-backed cache and cost log of model calls."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from podsift.insights.llm.extractor import CachedCall, CallStore, RequestEntry
from podsift.insights.llm.prompt import PROMPT_VERSION
from podsift.store import LLMCall, LLMRequest


class DatabaseCallStore(CallStore):
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def get(self, key: str) -> CachedCall | None:
        with self.sessions() as session:
            row = session.scalar(sa.select(LLMCall).where(LLMCall.cache_key == key))
            return None if row is None else CachedCall(row.response, row.tokens_in, row.tokens_out)

    def put(self, key: str, episode_id: int | None, model: str, call: CachedCall, cost: float) -> None:
        with self.sessions() as session:
            session.add(
                LLMCall(
                    cache_key=key,
                    episode_id=episode_id,
                    model=model,
                    prompt_version=PROMPT_VERSION,
                    response=call.response,
                    tokens_in=call.tokens_in,
                    tokens_out=call.tokens_out,
                    cost_usd=cost,
                )
            )
            try:
                session.commit()
            except IntegrityError:  # another worker cached the same call
                session.rollback()

    def log_request(self, entry: RequestEntry) -> None:
        with self.sessions() as session:
            session.add(
                LLMRequest(
                    model=entry.model[:200],
                    purpose=entry.purpose,
                    outcome=entry.outcome,
                    episode_id=entry.episode_id,
                    tokens_in=entry.tokens_in,
                    tokens_out=entry.tokens_out,
                    seconds=round(entry.seconds, 3),
                    detail=entry.detail,
                )
            )
            session.commit()
