"""Passage vectors, for searching transcripts by meaning.

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (no batch copy): on SQLite a table copy would drop the FTS triggers.
    op.add_column("passages", sa.Column("embedding", sa.LargeBinary(), nullable=True))
    op.add_column("passages", sa.Column("embedding_model", sa.String(200), nullable=True))
    op.create_index(
        "ix_passages_unembedded",
        "passages",
        ["id"],
        sqlite_where=sa.text("embedding IS NULL"),
        postgresql_where=sa.text("embedding IS NULL"),
    )
    op.create_index("ix_passages_embedding_model", "passages", ["embedding_model"])


def downgrade() -> None:
    op.drop_index("ix_passages_embedding_model", "passages")
    op.drop_index("ix_passages_unembedded", "passages")
    op.drop_column("passages", "embedding_model")
    op.drop_column("passages", "embedding")
