"""Saved searches (alerts) and the moments they put in digests.

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "saved_searches",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "subscriber_id", sa.Integer(), sa.ForeignKey("subscribers.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("query", sa.String(300), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("subscriber_id", "query", name="uq_saved_search"),
    )
    op.create_index("ix_saved_searches_subscriber_id", "saved_searches", ["subscriber_id"])
    op.create_table(
        "digest_mentions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("digest_id", sa.Integer(), sa.ForeignKey("digests.id", ondelete="CASCADE"), nullable=False),
        sa.Column(
            "saved_search_id",
            sa.Integer(),
            sa.ForeignKey("saved_searches.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("moment_id", sa.Integer(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("moment", sa.JSON(), nullable=False),
        sa.UniqueConstraint("saved_search_id", "kind", "moment_id", name="uq_mention"),
    )
    op.create_index("ix_digest_mentions_digest_id", "digest_mentions", ["digest_id"])


def downgrade() -> None:
    op.drop_table("digest_mentions")
    op.drop_table("saved_searches")
