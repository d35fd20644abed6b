"""phrase_vectors: interest phrases embedded once per model

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "phrase_vectors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("phrase_hash", sa.String(length=64), nullable=False),
        sa.Column("phrase", sa.Text(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("model", "phrase_hash", name="uq_phrase_vector"),
    )


def downgrade() -> None:
    op.drop_table("phrase_vectors")
