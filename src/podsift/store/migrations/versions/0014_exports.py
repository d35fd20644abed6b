"""Exports to notes tools (Readwise, Notion, Markdown vaults): their targets, the ledger of
what each was sent, and the vault files podsift wrote.

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "export_targets",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "subscriber_id", sa.Integer(), sa.ForeignKey("subscribers.id", ondelete="CASCADE"), nullable=True
        ),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("sealed_token", sa.Text(), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("error_reason", sa.Text(), nullable=True),
        sa.Column("error_at", sa.DateTime(), nullable=True),
        sa.Column("last_run_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_export_targets_subscriber_id", "export_targets", ["subscriber_id"])
    op.create_table(
        "exports",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "target_id", sa.Integer(), sa.ForeignKey("export_targets.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column(
            "insight_id", sa.Integer(), sa.ForeignKey("insights.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("remote_id", sa.Text(), nullable=True),
        sa.Column("content_hash", sa.String(64), nullable=True),
        sa.Column("versions", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("claimed_at", sa.DateTime(), nullable=True),
        sa.Column("claimed_by", sa.String(200), nullable=True),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("error_reason", sa.Text(), nullable=True),
        sa.UniqueConstraint("target_id", "insight_id", name="uq_export_insight"),
    )
    op.create_index("ix_export_state", "exports", ["state"])
    op.create_index("ix_exports_insight_id", "exports", ["insight_id"])
    op.create_table(
        "export_files",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "target_id", sa.Integer(), sa.ForeignKey("export_targets.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("written_hash", sa.String(64), nullable=True),
        sa.Column("writing_hash", sa.String(64), nullable=True),
        sa.Column("edited", sa.Boolean(), nullable=False),
        sa.Column("written_at", sa.DateTime(), nullable=True),
        sa.UniqueConstraint("target_id", "path", name="uq_export_file"),
    )


def downgrade() -> None:
    op.drop_table("export_files")
    op.drop_index("ix_exports_insight_id", table_name="exports")
    op.drop_index("ix_export_state", table_name="exports")
    op.drop_table("exports")
    op.drop_index("ix_export_targets_subscriber_id", table_name="export_targets")
    op.drop_table("export_targets")
