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
    from podsift.net.client import HttpClient


@dataclass
class App:
    settings: Settings
    engine: sa.Engine
    sessions: sessionmaker[Session]
    extractor: Extractor
    # Tests swap the resolver to show how the address guard decides.
    resolver: Resolver = field(default=system_resolver)

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

    def close(self) -> None:
        self.engine.dispose()


def make_app(settings: Settings | None = None) -> App:
    settings = settings or Settings.load()
    settings.home.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url)
    migrate(engine)
    return App(
        settings=settings,
        engine=engine,
        sessions=make_session_factory(engine),
        extractor=make_extractor(settings.llm),
    )
