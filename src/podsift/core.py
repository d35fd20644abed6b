"""`make_app(settings)`: the one place that builds the database and every backend.

The CLI, the web app, the scheduler, workers and tests all start here and hand the `App` to
stage functions. Stages import `App` for its type only: the core depends on the stages'
backends, never the other way round.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from podsift.backends.asr.registry import SpeechToText, check_asr_spec, make_asr
from podsift.backends.calls import CallStore, DatabaseCallStore
from podsift.backends.embeddings import Embedder, embedder_name, make_embedder
from podsift.backends.judge import LLMStoryJudge, StoryJudge
from podsift.backends.llm import ChatClient, chat_model
from podsift.backends.mail import Transport, make_transport
from podsift.backends.narrator.registry import Narrator, check_narrator_spec, make_narrator
from podsift.backends.spec import Lazy, parse_spec
from podsift.insights.registry import Extractor, make_extractor
from podsift.net.client import HttpClient
from podsift.net.guard import Resolver, system_resolver
from podsift.settings import Settings
from podsift.store import Episode, EpisodeState, make_engine, make_session_factory, migrate
from podsift.subscribers.tokens import Tokens, load_secret


@dataclass
class App:
    settings: Settings
    engine: sa.Engine
    sessions: sessionmaker[Session]
    extractor: Extractor
    # The cache and log of model requests (the database's; a no-op one for offline use).
    calls: CallStore
    # The configured chat model (None when insights are extracted offline).
    chat: Lazy[ChatClient] | None
    # Loaded on first use: a speech or embedding model takes seconds to load.
    speech_to_text: Lazy[SpeechToText | None]
    embedder: Lazy[Embedder]
    # The loaded embedder's `name`, known without loading it (stored beside every vector).
    embedder_name: str
    # Signs the links in emails (secret from settings or $PODSIFT_HOME/secret.key).
    tokens: Lazy[Tokens]
    # A new judge per clustering run (each run has its own call budget); None offline.
    story_judge: Callable[[], StoryJudge] | None
    # The voice of the audio briefing (a speech model takes seconds to load).
    narrator: Lazy[Narrator]
    # Tests swap the resolver to show how the address guard decides.
    resolver: Resolver = field(default=system_resolver)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self.sessions() as session:
            yield session

    def http_client(self) -> HttpClient:
        s = self.settings
        return HttpClient(
            allow_hosts=s.allow_hosts,
            user_agent=s.user_agent,
            timeout=s.fetch_timeout_seconds,
            deadline=s.fetch_deadline_seconds,
            max_redirects=s.max_redirects,
            max_connections=max(s.fetch_concurrency, 4),
            max_per_host=s.fetch_per_host,
            resolver=self.resolver,
        )

    def mail(self) -> Transport:
        """A new connection for digest and confirmation emails: SMTP, or the outbox folder."""
        return make_transport(self.settings.smtp_url, self.settings.resolved_outbox)

    def mark_episode(
        self, episode_id: int, state: EpisodeState, reason: str | None, attempt: bool = False
    ) -> None:
        """Set an episode's state and reason in a transaction of its own (failure paths)."""
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
    # A misspelt backend is a configuration error now, not a failed stage in every run.
    check_asr_spec(settings.asr)
    check_narrator_spec(settings.narrator)
    embeddings_name = embedder_name(settings.embeddings)  # also refuses an unknown backend
    settings.home.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url)
    migrate(engine)
    sessions = make_session_factory(engine)
    llm = parse_spec(settings.llm or "offline")
    chat = chat_model(llm)
    calls = DatabaseCallStore(sessions) if chat is not None else CallStore()
    return App(
        settings=settings,
        engine=engine,
        sessions=sessions,
        extractor=make_extractor(settings.llm, chat, calls),
        calls=calls,
        chat=chat,
        speech_to_text=Lazy(lambda: make_asr(settings.asr, settings.home)),
        embedder=Lazy(lambda: make_embedder(settings.embeddings)),
        embedder_name=embeddings_name,
        tokens=Lazy(lambda: Tokens(load_secret(settings.secret_key, settings.home))),
        story_judge=_story_judge(
            chat, calls, f"{llm.scheme}:{llm.target}", settings.judge_max_calls, settings.stance_max_calls
        ),
        narrator=Lazy(lambda: make_narrator(settings.narrator, settings.home)),
    )


def _story_judge(
    chat: Lazy[ChatClient] | None, calls: CallStore, name: str, max_calls: int, max_stance_calls: int
) -> Callable[[], StoryJudge] | None:
    if chat is None:
        return None
    return lambda: LLMStoryJudge(chat(), calls, name, max_calls, max_stance_calls)
