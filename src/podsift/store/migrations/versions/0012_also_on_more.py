"""digest_items.also_on_more: how many more shows told the story than the digest names
(a story told on 200 shows lists 8 and says "and 192 more shows")

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("digest_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("also_on_more", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("digest_items", schema=None) as batch_op:
        batch_op.drop_column("also_on_more")
