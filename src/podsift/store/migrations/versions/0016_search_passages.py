"""Search: passages of every transcript and a full-text index over them and the insights.

SQLite: FTS5 tables with external content (passages_fts, insights_fts), kept in step by
triggers, bm25 ranking and snippets. Postgres: generated tsvector columns with GIN indexes
(websearch_to_tsquery, ts_headline on the hits shown). What is stored now is indexed here.

Revision ID: 0016
Revises: 0015
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

SQLITE = [
    "CREATE VIRTUAL TABLE passages_fts USING fts5(text, speaker, content='passages', content_rowid='id', "
    "tokenize='porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER passages_fts_insert AFTER INSERT ON passages BEGIN "
    "INSERT INTO passages_fts(rowid, text, speaker) VALUES (new.id, new.text, new.speaker); END",
    "CREATE TRIGGER passages_fts_delete AFTER DELETE ON passages BEGIN "
    "INSERT INTO passages_fts(passages_fts, rowid, text, speaker) VALUES ('delete', old.id, old.text, old.speaker); END",
    "CREATE TRIGGER passages_fts_update AFTER UPDATE ON passages BEGIN "
    "INSERT INTO passages_fts(passages_fts, rowid, text, speaker) VALUES ('delete', old.id, old.text, old.speaker); "
    "INSERT INTO passages_fts(rowid, text, speaker) VALUES (new.id, new.text, new.speaker); END",
    "CREATE VIRTUAL TABLE insights_fts USING fts5(text, quote, speaker, content='insights', content_rowid='id', "
    "tokenize='porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER insights_fts_insert AFTER INSERT ON insights BEGIN "
    "INSERT INTO insights_fts(rowid, text, quote, speaker) VALUES (new.id, new.text, new.quote, new.speaker); END",
    "CREATE TRIGGER insights_fts_delete AFTER DELETE ON insights BEGIN "
    "INSERT INTO insights_fts(insights_fts, rowid, text, quote, speaker) "
    "VALUES ('delete', old.id, old.text, old.quote, old.speaker); END",
    "CREATE TRIGGER insights_fts_update AFTER UPDATE OF text, quote, speaker ON insights BEGIN "
    "INSERT INTO insights_fts(insights_fts, rowid, text, quote, speaker) "
    "VALUES ('delete', old.id, old.text, old.quote, old.speaker); "
    "INSERT INTO insights_fts(rowid, text, quote, speaker) VALUES (new.id, new.text, new.quote, new.speaker); END",
    "INSERT INTO insights_fts(insights_fts) VALUES ('rebuild')",
]
POSTGRES = [
    "ALTER TABLE passages ADD COLUMN tsv tsvector GENERATED ALWAYS AS "
    "(to_tsvector('english', coalesce(speaker, '') || ' ' || text)) STORED",
    "CREATE INDEX ix_passages_tsv ON passages USING gin (tsv)",
    "ALTER TABLE insights ADD COLUMN tsv tsvector GENERATED ALWAYS AS "
    "(to_tsvector('english', coalesce(speaker, '') || ' ' || text || ' ' || coalesce(quote, ''))) STORED",
    "CREATE INDEX ix_insights_tsv ON insights USING gin (tsv)",
]


def upgrade() -> None:
    op.create_table(
        "passages",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "episode_id", sa.Integer(), sa.ForeignKey("episodes.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("start_seconds", sa.Double(), nullable=False),
        sa.Column("end_seconds", sa.Double(), nullable=False),
        sa.Column("speaker", sa.Text(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
    )
    op.create_index("ix_passages_episode_id", "passages", ["episode_id"])
    bind = op.get_bind()
    for statement in SQLITE if bind.dialect.name == "sqlite" else POSTGRES:
        op.execute(statement)
    _index_stored(bind)


def _index_stored(bind: sa.Connection) -> None:
    """Passages of the transcripts already stored (the same cut the store paths make)."""
    from podsift.store.passages import passage_rows

    transcripts = sa.table("transcripts", sa.column("episode_id"), sa.column("segments"))
    passages = sa.table(
        "passages",
        sa.column("episode_id"),
        sa.column("start_seconds"),
        sa.column("end_seconds"),
        sa.column("speaker"),
        sa.column("text"),
    )
    for episode_id, segments in bind.execute(sa.select(transcripts.c.episode_id, transcripts.c.segments)):
        rows = passage_rows(
            episode_id, (json.loads(segments) if isinstance(segments, str) else segments) or []
        )
        if rows:
            bind.execute(sa.insert(passages), rows)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for name in ("passages_fts", "insights_fts"):
            op.execute(f"DROP TABLE IF EXISTS {name}")
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS insights_fts_{trigger}")
    else:
        op.execute("DROP INDEX IF EXISTS ix_insights_tsv")
        op.execute("ALTER TABLE insights DROP COLUMN IF EXISTS tsv")
    op.drop_table("passages")
