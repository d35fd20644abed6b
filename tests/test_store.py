"""The store on SQLite and Postgres: migrations, time zones, keys, idempotent stages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from podsift.insights.stage import extract_insights
from podsift.sources.scan import add_feeds, scan_feeds
from podsift.store import Episode, Feed, Insight, Transcript, migrate
from podsift.transcripts.stage import fetch_transcripts
from tests.conftest import FIXTURES
from tests.feedgen import Item, rss


def test_migrations_are_idempotent_and_complete(make_core, database_url) -> None:  # type: ignore[no-untyped-def]
    app = make_core(database_url)
    migrate(app.engine)  # second time: nothing to do
    tables = set(sa.inspect(app.engine).get_table_names())
    assert {
        "feeds",
        "episodes",
        "transcripts",
        "insights",
        "subscribers",
        "digests",
        "digest_items",
        "alembic_version",
    } <= tables


def test_schema_head_constant_matches_the_migration_scripts() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from podsift.store.db import MIGRATIONS, SCHEMA_HEAD

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(cfg).get_current_head() == SCHEMA_HEAD


def test_models_match_the_migrations(make_core, database_url) -> None:  # type: ignore[no-untyped-def]
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from podsift.store import Base
    from podsift.store.db import search_index_object

    app = make_core(database_url)
    options = {"include_object": lambda obj, name, type_, *_: not search_index_object(name, type_)}
    with app.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts=options), Base.metadata)
    assert diff == []


def test_datetimes_round_trip_as_aware_utc(make_core, database_url) -> None:  # type: ignore[no-untyped-def]
    app = make_core(database_url)
    berlin = datetime(2026, 3, 29, 3, 30, tzinfo=timezone(timedelta(hours=2)))
    with app.session() as s:
        s.add(Feed(url="https://example.org/f", next_check_at=berlin))
        s.commit()
    with app.session() as s:
        stored = s.scalars(sa.select(Feed)).one().next_check_at
    assert stored == berlin and stored.tzinfo == UTC
    with app.session() as s, pytest.raises(sa.exc.StatementError, match="naive"):
        s.add(Feed(url="https://example.org/g", next_check_at=datetime(2026, 1, 1)))
        s.commit()


def test_episode_key_is_unique_per_feed(make_core, database_url) -> None:  # type: ignore[no-untyped-def]
    app = make_core(database_url)
    with app.session() as s:
        feed = Feed(url="https://example.org/f")
        s.add(feed)
        s.flush()
        s.add(Episode(feed_id=feed.id, key="guid-1", fallback_key="a"))
        s.commit()
        s.add(Episode(feed_id=feed.id, key="guid-1", fallback_key="b"))
        with pytest.raises(IntegrityError):
            s.commit()


def episode_with_transcript(http_server, now: datetime) -> Item:  # type: ignore[no-untyped-def]
    return Item(
        "One",
        now - timedelta(hours=1),
        guid="one",
        audio="https://cdn.example.org/1.mp3",
        transcripts=[(http_server.url("/t.vtt"), "text/vtt")],
    )


def test_stages_are_idempotent(http_server, make_core, database_url) -> None:  # type: ignore[no-untyped-def]
    now = datetime(2026, 11, 20, tzinfo=UTC)
    http_server.add(
        "/t.vtt", (FIXTURES / "transcripts" / "policy-signals-12.vtt").read_bytes(), content_type="text/vtt"
    )
    http_server.add(
        "/show.xml",
        rss(
            "Show",
            [
                episode_with_transcript(http_server, now),
                Item("Two", now - timedelta(hours=2), guid="two", audio="https://cdn.example.org/2.mp3"),
                Item("Three", now - timedelta(hours=3), guid="three"),
            ],
        ),
    )
    app = make_core(database_url, allow_hosts=(http_server.host,))
    add_feeds(app, [http_server.url("/show.xml")])
    scan_feeds(app, now)
    first = fetch_transcripts(app)
    assert (first.fetched, first.needs_asr, first.skipped) == (1, 1, 1)
    assert fetch_transcripts(app).fetched == 0
    assert http_server.hits["/t.vtt"] == 1
    made = extract_insights(app, now).insights
    assert made > 0 and extract_insights(app, now).insights == 0
    with app.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Insight)) == made
        assert s.scalar(sa.select(sa.func.count()).select_from(Transcript)) == 1
        states = dict(s.execute(sa.select(Episode.title, Episode.state)).all())
    assert states == {"One": "extracted", "Two": "needs_asr", "Three": "skipped"}


def test_transcript_host_failure_is_retried_then_falls_through(http_server, make_core) -> None:  # type: ignore[no-untyped-def]
    now = datetime(2026, 11, 20, tzinfo=UTC)
    http_server.add("/t.vtt", "", status=503)
    http_server.add(
        "/show.xml",
        rss(
            "Show",
            [
                episode_with_transcript(http_server, now),
            ],
        ),
    )
    app = make_core(allow_hosts=(http_server.host,))
    add_feeds(app, [http_server.url("/show.xml")])
    scan_feeds(app, now)
    for _ in range(2):
        report = fetch_transcripts(app)
        assert "HTTP 503" in next(iter(report.failed.values()))
    assert fetch_transcripts(app).needs_asr == 1
    with app.session() as s:
        episode = s.scalars(sa.select(Episode)).one()
    assert episode.state == "needs_asr" and "HTTP 503" in (episode.error_reason or "")


def test_sqlite_datetimes_are_written_as_sqlalchemy_writes_them(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """UTCDateTime's one-call SQLite writer: same text as SQLAlchemy's (SQLite compares the
    text, so `next_check_at <= now` depends on it), read back as the same aware instant."""
    from sqlalchemy.dialects import sqlite

    from podsift.store.models import UTCDateTime

    dialect = sqlite.dialect()
    fast = UTCDateTime().bind_processor(dialect)
    sqlalchemys = sa.DateTime().dialect_impl(dialect).bind_processor(dialect)
    assert fast is not None and sqlalchemys is not None
    moments = [
        datetime(2026, 11, 20, 12, 0, tzinfo=UTC),
        datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
        datetime(2026, 3, 1, 0, 0, 0, 999999, tzinfo=timezone(timedelta(hours=5))),
        datetime(2024, 2, 29, 23, 59, 59, 1, tzinfo=timezone(timedelta(hours=-9, minutes=-30))),
    ]
    for moment in moments:
        assert fast(moment) == sqlalchemys(moment.astimezone(UTC).replace(tzinfo=None))
    assert fast(None) is None
    with pytest.raises(ValueError, match="naive"):
        fast(datetime(2026, 1, 1))
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'dt.db'}")
    table = sa.Table("t", sa.MetaData(), sa.Column("at", UTCDateTime()))
    table.create(engine)
    with engine.begin() as conn:
        conn.execute(table.insert(), [{"at": m} for m in moments])
        assert list(conn.scalars(sa.select(table.c.at))) == moments
        later = conn.scalar(sa.select(sa.func.count()).where(table.c.at > moments[0]))
    assert later == sum(m > moments[0] for m in moments)
