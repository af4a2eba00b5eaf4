"""Rated debates: each finished debate updates the agents' ratings exactly once.

Adds ``rated_debates`` (debate id, when); the rating update inserts its row in the same
transaction, so a debate finished again after a crash, or by a second worker, is not
counted twice.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rated_debates",
        sa.Column("debate_id", sa.String(64), nullable=False),
        sa.Column("rated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("debate_id", name="pk_rated_debates"),
    )


def downgrade() -> None:
    op.drop_table("rated_debates")
