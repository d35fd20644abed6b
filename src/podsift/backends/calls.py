"""The cache of model answers and the log of every model request (`podsift stats`).

Good answers are cached by a key the caller makes (inputs, prompt version, model), so a
re-run asks nothing twice; every request, answered or not, is logged with its tokens and time.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from podsift.store import LLMCall, LLMRequest


@dataclass
class CachedCall:
    response: str
    tokens_in: int
    tokens_out: int


class CallStore:
    """Where calls are cached and every request is logged; the app binds a database one."""

    def get(self, key: str) -> CachedCall | None:
        return None

    def put(
        self, key: str, episode_id: int | None, model: str, call: CachedCall, cost: float, version: str
    ) -> None:
        pass

    def log_request(self, entry: RequestEntry) -> None:
        pass


@dataclass
class RequestEntry:
    model: str
    purpose: str  # extract | refine | judge | guard
    outcome: str  # ok | truncated | invalid | timeout | error | trip | fallback
    episode_id: int | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    seconds: float = 0.0
    detail: str | None = None


class DatabaseCallStore(CallStore):
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def get(self, key: str) -> CachedCall | None:
        with self.sessions() as session:
            row = session.scalar(sa.select(LLMCall).where(LLMCall.cache_key == key))
            return None if row is None else CachedCall(row.response, row.tokens_in, row.tokens_out)

    def put(
        self, key: str, episode_id: int | None, model: str, call: CachedCall, cost: float, version: str
    ) -> None:
        with self.sessions() as session:
            session.add(
                LLMCall(
                    cache_key=key,
                    episode_id=episode_id,
                    model=model,
                    prompt_version=version,
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
