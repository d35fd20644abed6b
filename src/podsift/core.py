"""`make_app(settings)`: the core that the CLI, the scheduler and tests drive."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from podsift.insights.registry import Extractor, make_extractor
from podsift.net.guard import Resolver, system_resolver
from podsift.settings import Settings
from podsift.store import make_engine, make_session_factory, migrate

if TYPE_CHECKING:
    from podsift.clusters.judge import StoryJudge
    from podsift.delivery.tokens import Tokens
    from podsift.embeddings import Embedder
    from podsift.net.client import HttpClient
    from podsift.transcripts.asr.registry import SpeechToText

_UNSET = object()


@dataclass
class App:
    settings: Settings
    engine: sa.Engine
    sessions: sessionmaker[Session]
    extractor: Extractor
    # Tests swap the resolver to show how the address guard decides.
    resolver: Resolver = field(default=system_resolver)
    _speech: object = field(default=None, repr=False)
    _embedder: object = field(default=None, repr=False)
    _tokens: object = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self._speech = _UNSET
        self._embedder = _UNSET

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self.sessions() as session:
            yield session

    def http_client(self) -> HttpClient:
        from podsift.net.client import HttpClient

        s = self.settings
        return HttpClient(
            allow_hosts=s.allow_hosts,
            user_agent=s.user_agent,
            timeout=s.fetch_timeout_seconds,
            deadline=s.fetch_deadline_seconds,
            max_redirects=s.max_redirects,
            max_connections=max(s.fetch_concurrency, 4),
            resolver=self.resolver,
        )

    def speech_to_text(self) -> SpeechToText | None:
        """The configured ASR backend (None when `PODSIFT_ASR=none`), built on first use."""
        if self._speech is _UNSET:
            from podsift.transcripts.asr.registry import make_asr

            self._speech = make_asr(self.settings.asr, self.settings.home)
        return self._speech  # type: ignore[return-value]

    def embedder(self) -> Embedder:
        """The configured embedding backend, loaded on first use (a model load takes seconds)."""
        if self._embedder is _UNSET:
            from podsift.embeddings import make_embedder

            self._embedder = make_embedder(self.settings.embeddings)
        return self._embedder  # type: ignore[return-value]

    def tokens(self) -> Tokens:
        """Signer for the links in emails (secret from settings or $PODSIFT_HOME/secret.key)."""
        from podsift.delivery.tokens import Tokens, load_secret

        if self._tokens is None:
            self._tokens = Tokens(load_secret(self.settings.secret_key, self.settings.home))
        return self._tokens  # type: ignore[return-value]

    def story_judge(self) -> StoryJudge | None:
        """An LLM judge for borderline same-story pairs when a model extracts insights."""
        extractor = self.extractor
        if not hasattr(extractor, "client") or not hasattr(extractor, "store"):
            return None
        from podsift.clusters.judge import LLMStoryJudge

        return LLMStoryJudge(extractor.client, extractor.store, extractor.name, self.settings.judge_max_calls)

    def mark_episode(self, episode_id: int, state: str, reason: str | None, attempt: bool = False) -> None:
        """Set an episode's state and reason in a transaction of its own (failure paths)."""
        from podsift.store import Episode

        values: dict[str, object] = {"state": state, "error_reason": reason[:2000] if reason else None}
        if attempt:
            values["attempts"] = Episode.attempts + 1
        with self.session() as session:
            session.execute(sa.update(Episode).where(Episode.id == episode_id).values(**values))
            session.commit()

    def close(self) -> None:
        self.engine.dispose()


def make_app(settings: Settings | None = None) -> App:
    settings = settings or Settings.load()
    settings.home.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url)
    migrate(engine)
    sessions = make_session_factory(engine)
    extractor = make_extractor(settings.llm)
    if hasattr(extractor, "store"):  # model-backed extractors cache and cost their calls
        from podsift.insights.llm.store import DatabaseCallStore

        extractor.store = DatabaseCallStore(sessions)
    return App(settings=settings, engine=engine, sessions=sessions, extractor=extractor)
