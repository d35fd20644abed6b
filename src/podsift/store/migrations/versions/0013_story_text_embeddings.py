"""Insight vectors are of the story text (the quote, plus a written claim that is not its
words), no longer of the chosen text alone: stored vectors are cleared so the next run
embeds them anew, and a story is never split because one telling's text was its lead-in.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(sa.text("UPDATE insights SET embedding = NULL, embedding_model = NULL"))


def downgrade() -> None:
    op.execute(sa.text("UPDATE insights SET embedding = NULL, embedding_model = NULL"))
