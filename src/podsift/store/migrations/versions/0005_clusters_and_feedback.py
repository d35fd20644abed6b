"""insight embeddings and clusters; feedback votes; followed feeds and their weights

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "clusters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("representative_id", sa.Integer(), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("show_count", sa.Integer(), nullable=False),
        sa.Column("feed_ids", sa.JSON(), nullable=False),
        sa.Column("first_seen", sa.DateTime(), nullable=False),
        sa.Column("last_seen", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("clusters", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_clusters_last_seen"), ["last_seen"], unique=False)
    with op.batch_alter_table("insights", schema=None) as batch_op:
        batch_op.add_column(sa.Column("embedding", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("embedding_model", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("cluster_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_insights_cluster_id"), ["cluster_id"], unique=False)
        batch_op.create_foreign_key(
            "fk_insights_cluster_id", "clusters", ["cluster_id"], ["id"], ondelete="SET NULL"
        )
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("insight_id", sa.Integer(), nullable=False),
        sa.Column("vote", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["insight_id"], ["insights.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["subscriber_id"], ["subscribers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("subscriber_id", "insight_id", name="uq_feedback_vote"),
    )
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_feedback_subscriber_id"), ["subscriber_id"], unique=False)
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("feed_ids", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("feed_weights", sa.JSON(), nullable=False, server_default="{}"))
    with op.batch_alter_table("digest_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("also_on", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("digest_items", schema=None) as batch_op:
        batch_op.drop_column("also_on")
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.drop_column("feed_weights")
        batch_op.drop_column("feed_ids")
    op.drop_table("feedback")
    with op.batch_alter_table("insights", schema=None) as batch_op:
        batch_op.drop_constraint("fk_insights_cluster_id", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_insights_cluster_id"))
        batch_op.drop_column("cluster_id")
        batch_op.drop_column("embedding_model")
        batch_op.drop_column("embedding")
    op.drop_table("clusters")
