"""Engine set-up and schema migration."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"


def make_engine(url: str) -> sa.Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        # BEGIN IMMEDIATE takes the write lock up front. A deferred transaction that reads
        # and then writes gets SQLITE_BUSY at once (no busy wait) when another process wrote
        # in between; with IMMEDIATE it waits its turn. Transactions are kept short and
        # never span network I/O, so holding the lock from the start costs little.
        sa.event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
        return engine
    return sa.create_engine(url, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # let the "begin" listener issue BEGIN
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


# The newest revision in migrations/versions (tests check they agree). Knowing it here lets
# start-up skip importing Alembic when the schema is current, which is almost always.
SCHEMA_HEAD = "0019"


def search_index_object(name: str | None, type_: str) -> bool:
    """Whether a schema object is the full-text index's, made by migration 0016 outside the
    models (FTS5 tables and their shadow tables, tsvector columns and their GIN indexes)."""
    name = name or ""
    return (
        (type_ == "table" and "_fts" in name)
        or (type_ == "column" and name == "tsv")
        or name.endswith("_tsv")
    )


def current_revision(engine: sa.Engine) -> str | None:
    try:
        with engine.connect() as conn:
            return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    except sa.exc.DBAPIError:
        return None  # no alembic_version table yet


def migrate(engine: sa.Engine, revision: str = "head") -> None:
    """Bring the schema to the newest revision (no-op when it is there), or to `revision`."""
    if revision == "head" and current_revision(engine) == SCHEMA_HEAD:
        return
    logging.getLogger("alembic").setLevel(logging.WARNING)
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def make_session_factory(engine: sa.Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def rows_changed(result: sa.Result[Any]) -> int:
    """How many rows an UPDATE or DELETE changed (its result is a CursorResult)."""
    return int(cast(sa.CursorResult[Any], result).rowcount or 0)


def database_ready(engine: sa.Engine) -> None:
    """Raises when the database cannot answer a trivial query (the health check)."""
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT 1"))
