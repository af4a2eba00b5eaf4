"""Initial schema: debates, events, jobs, tokens, settings, ratings, receipts.

Debates with their cached document and per-status counts, the event log, the job/lease
queue, API tokens, settings, agent ratings and the receipt chain.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Frozen copies of the column types of this revision (never import the live schema).
_UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "debates",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("task", sa.Text, nullable=False),
        sa.Column("request", sa.JSON, nullable=False),
        sa.Column("document", sa.JSON, nullable=True),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("updated_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_debates"),
    )
    op.create_index("ix_debates_created_at", "debates", ["created_at", "id"])
    op.create_index("ix_debates_status_created_at", "debates", ["status", "created_at", "id"])

    op.create_table(
        "debate_events",
        sa.Column("debate_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer, autoincrement=False, nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("round", sa.Integer, nullable=True),
        sa.Column("agent", sa.String(200), nullable=True),
        sa.Column("timestamp", sa.String(40), nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["debate_id"],
            ["debates.id"],
            name="fk_debate_events_debate_id_debates",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("debate_id", "seq", name="pk_debate_events"),
        sqlite_with_rowid=False,
    )

    counts = op.create_table(
        "debate_counts",
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("n", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("status", name="pk_debate_counts"),
    )
    op.bulk_insert(
        counts,
        [
            {"status": status, "n": 0}
            for status in ("queued", "running", "completed", "failed", "cancelled")
        ],
    )

    op.create_table(
        "jobs",
        sa.Column("debate_id", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("epoch", sa.Integer, nullable=False),
        sa.Column("owner", sa.String(200), nullable=True),
        sa.Column("lease_expires_at", _UTC, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("enqueued_at", _UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["debate_id"], ["debates.id"], name="fk_jobs_debate_id_debates", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("debate_id", name="pk_jobs"),
    )
    op.create_index("ix_jobs_state_enqueued_at", "jobs", ["state", "enqueued_at"])

    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("last_used_at", _UTC, nullable=True),
        sa.Column("revoked_at", _UTC, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_tokens"),
        sa.UniqueConstraint("secret_hash", name="uq_api_tokens_secret_hash"),
    )

    op.create_table(
        "settings",
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("value", sa.JSON, nullable=False),
        sa.Column("updated_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_settings"),
    )

    op.create_table(
        "agent_ratings",
        sa.Column("agent", sa.String(200), nullable=False),
        sa.Column("elo", sa.Float, nullable=False),
        sa.Column("wins", sa.Integer, nullable=False),
        sa.Column("losses", sa.Integer, nullable=False),
        sa.Column("draws", sa.Integer, nullable=False),
        sa.Column("debates", sa.Integer, nullable=False),
        sa.Column("updated_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("agent", name="pk_agent_ratings"),
    )
    op.create_index("ix_agent_ratings_elo", "agent_ratings", ["elo"])

    op.create_table(
        "receipts",
        sa.Column("position", sa.Integer, autoincrement=False, nullable=False),
        sa.Column("id", sa.String(100), nullable=False),
        sa.Column("debate_id", sa.String(64), nullable=False),
        sa.Column("digest", sa.String(128), nullable=False),
        sa.Column("previous_digest", sa.String(128), nullable=True),
        sa.Column("document", sa.JSON, nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("position", name="pk_receipts"),
        sa.UniqueConstraint("id", name="uq_receipts_id"),
        sa.UniqueConstraint("digest", name="uq_receipts_digest"),
    )
    op.create_index("ix_receipts_debate_id", "receipts", ["debate_id"])


def downgrade() -> None:
    for table in (
        "receipts",
        "agent_ratings",
        "settings",
        "api_tokens",
        "jobs",
        "debate_counts",
        "debate_events",
        "debates",
    ):
        op.drop_table(table)
