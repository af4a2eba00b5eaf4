"""Job priority: a queued debate with a higher priority is claimed first.

Adds ``jobs.priority`` (0 for every existing job) and replaces the queue index
(state, enqueued_at) with (state, priority, enqueued_at), the order claims and queue
positions read.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("priority", sa.Integer, nullable=False, server_default="0"))
        batch.drop_index("ix_jobs_state_enqueued_at")
        batch.create_index(
            "ix_jobs_state_priority_enqueued_at", ["state", "priority", "enqueued_at"]
        )


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_index("ix_jobs_state_priority_enqueued_at")
        batch.create_index("ix_jobs_state_enqueued_at", ["state", "enqueued_at"])
        batch.drop_column("priority")
