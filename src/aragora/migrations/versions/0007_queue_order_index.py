"""The queue index in the claim's own order.

Replaces the queue index (state, priority, enqueued_at) with (state, priority DESC,
enqueued_at, debate_id), the order claims take (``ORDER BY priority DESC, enqueued_at,
debate_id``) and queue positions count in. The old index could not give rows in that
order (its priority ascends, and it ends before the id), so every claim sorted all the
queued jobs: with 10,000 queued, 2.96 ms a claim against 1.17 ms with this one. Nothing
else changes, and the old code runs on the new index alike. The index is built in the
migration's transaction, so writes to ``jobs`` (claims, a debate's end) wait for the build.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_jobs_state_priority_enqueued_at", table_name="jobs")
    op.create_index(
        "ix_jobs_queue_order",
        "jobs",
        ["state", sa.text("priority DESC"), "enqueued_at", "debate_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_jobs_queue_order", table_name="jobs")
    op.create_index(
        "ix_jobs_state_priority_enqueued_at", "jobs", ["state", "priority", "enqueued_at"]
    )
