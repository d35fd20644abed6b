"""disagreements (tellings of one story that conflict), digest_items.disputes, and topics
that find their own shows (topics, topic_shows, feeds.topic_id)

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "disagreements",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "cluster_id", sa.Integer(), sa.ForeignKey("clusters.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("first_id", sa.Integer(), sa.ForeignKey("insights.id", ondelete="CASCADE"), nullable=False),
        sa.Column(
            "second_id", sa.Integer(), sa.ForeignKey("insights.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("first_id", "second_id", name="uq_disagreement_pair"),
    )
    op.create_index("ix_disagreements_cluster_id", "disagreements", ["cluster_id"])
    with op.batch_alter_table("digest_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("disputes", sa.JSON(), nullable=False, server_default="[]"))
    op.create_table(
        "topics",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("phrase", sa.String(200), nullable=False),
        sa.Column(
            "subscriber_id", sa.Integer(), sa.ForeignKey("subscribers.id", ondelete="CASCADE"), nullable=True
        ),
        sa.Column("follow_cap", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("searched_at", sa.DateTime(), nullable=True),
        sa.Column("search_error", sa.Text(), nullable=True),
    )
    op.create_index("ix_topics_subscriber_id", "topics", ["subscriber_id"])
    op.create_table(
        "topic_shows",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("topic_id", sa.Integer(), sa.ForeignKey("topics.id", ondelete="CASCADE"), nullable=False),
        sa.Column("feed_url", sa.String(2048), nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("matches", sa.Integer(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("feed_id", sa.Integer(), sa.ForeignKey("feeds.id", ondelete="SET NULL"), nullable=True),
        sa.Column("found_at", sa.DateTime(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.UniqueConstraint("topic_id", "feed_url", name="uq_topic_show"),
    )
    op.create_index("ix_topic_shows_topic_id", "topic_shows", ["topic_id"])
    with op.batch_alter_table("feeds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("topic_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_feeds_topic_id", "topics", ["topic_id"], ["id"], ondelete="SET NULL")


def downgrade() -> None:
    with op.batch_alter_table("feeds", schema=None) as batch_op:
        batch_op.drop_constraint("fk_feeds_topic_id", type_="foreignkey")
        batch_op.drop_column("topic_id")
    op.drop_index("ix_topic_shows_topic_id", table_name="topic_shows")
    op.drop_table("topic_shows")
    op.drop_index("ix_topics_subscriber_id", table_name="topics")
    op.drop_table("topics")
    with op.batch_alter_table("digest_items", schema=None) as batch_op:
        batch_op.drop_column("disputes")
    op.drop_index("ix_disagreements_cluster_id", table_name="disagreements")
    op.drop_table("disagreements")
