"""The per-status debate counts get shards, so that status changes stop queuing on them.

Every create and status change moves the count of its status, in the transaction that
makes the change, and holds that row's lock to its commit. With one row per status
(``debate_counts``) those transactions ran one after another: under a burst of 1,000
debates on one replica an ``UPDATE debate_counts`` waited 11-15 ms on average
(``pg_stat_statements``, 2,001 calls), and the status changes of many replicas would
queue on the same rows.

``debate_count_shards`` holds 16 more rows per status (``shard`` 0-15), all 0. On
PostgreSQL a writer now moves one of them, picked at random; a status's count is its row
in ``debate_counts`` plus its shards. ``debate_counts`` keeps what it held and is not
written on PostgreSQL any more; SQLite, which has one writer at a time, keeps writing it.

A replica of the code before this migration still running while it applies (a rolling
upgrade) keeps moving ``debate_counts``, which the new code adds in: no change is lost or
counted twice. Until it is replaced, that replica's own reports (the admin counts, the
list's total, the queue bound) miss what the new replicas moved.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

SHARDS = 16
"""Rows per status; the code's ``COUNT_SHARDS`` (storage/sql/schema.py)."""


def upgrade() -> None:
    op.create_table(
        "debate_count_shards",
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("shard", sa.SmallInteger, nullable=False, autoincrement=False),
        sa.Column("n", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("status", "shard", name="pk_debate_count_shards"),
    )
    shards = " UNION ALL ".join(f"SELECT {n} AS shard" for n in range(SHARDS))
    op.execute(
        sa.text(
            "INSERT INTO debate_count_shards (status, shard, n) "
            f"SELECT c.status, s.shard, 0 FROM debate_counts AS c CROSS JOIN ({shards}) AS s"
        )
    )


def downgrade() -> None:
    # What the shards hold goes back into the one row per status, then they go.
    op.execute(
        sa.text(
            "UPDATE debate_counts SET n = n + coalesce((SELECT sum(s.n) "
            "FROM debate_count_shards AS s WHERE s.status = debate_counts.status), 0)"
        )
    )
    op.drop_table("debate_count_shards")
