"""A reader's own instructions and the profile read out of them; their own write-ups of the
insights of a digest; and the model requests spent on those, per reader and day.

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscribers") as batch:
        batch.add_column(sa.Column("instructions", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("reader_profile", sa.JSON(), nullable=False, server_default="{}"))
    with op.batch_alter_table("digest_items") as batch:
        batch.add_column(sa.Column("styled_text", sa.Text(), nullable=True))
        batch.add_column(sa.Column("glossary", sa.JSON(), nullable=False, server_default="[]"))
    op.create_table(
        "reader_model_usage",
        sa.Column(
            "subscriber_id",
            sa.Integer(),
            sa.ForeignKey("subscribers.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("local_date", sa.String(10), primary_key=True),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("tokens", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("reader_model_usage")
    with op.batch_alter_table("digest_items") as batch:
        batch.drop_column("glossary")
        batch.drop_column("styled_text")
    with op.batch_alter_table("subscribers") as batch:
        batch.drop_column("reader_profile")
        batch.drop_column("instructions")
