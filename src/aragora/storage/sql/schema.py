"""The tables, as SQLAlchemy Core: one schema for SQLite and PostgreSQL.

This is the schema the code expects; the migrations in ``aragora.migrations.versions``
build it (a test compares the migrated database with this metadata). Change it only
together with a new migration.

Choices that matter:
- ``debate_events`` has the primary key ``(debate_id, seq)``: it is the uniqueness rule of
  the log and the index that makes "events of a debate after seq N" an index range scan.
  On SQLite the table is ``WITHOUT ROWID``, so it is clustered by that key.
- JSON columns are plain ``JSON`` (text in PostgreSQL, not ``JSONB``): events and
  documents are written once and read whole, never queried inside, and ``JSON`` keeps
  their key order and costs less to write.
- Times are UTC: ``timestamptz`` in PostgreSQL, ISO text in SQLite (see :class:`UTCDateTime`);
  an event keeps its own ``timestamp`` text exactly as the engine wrote it.
- Column sizes of names and ids are the limits the faces check (``aragora.debate.model``,
  ``aragora.records.knowledge``), so what passes validation fits; the stores
  check them too, because SQLite does not enforce a ``VARCHAR`` size and PostgreSQL does.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect

from aragora.debate.model import MAX_AGENT_NAME_CHARS, MAX_MODEL_CHARS, MAX_PROVIDER_CHARS
from aragora.records.knowledge import MAX_ID_CHARS

__all__ = [
    "COUNT_SHARDS",
    "SEARCH_OBJECTS",
    "UTCDateTime",
    "agent_ratings",
    "api_tokens",
    "debate_count_shards",
    "debate_counts",
    "debate_events",
    "debates",
    "jobs",
    "knowledge_items",
    "knowledge_links",
    "metadata",
    "rated_debates",
    "receipts",
    "settings",
    "webhook_attempts",
    "webhook_deliveries",
    "webhooks",
]

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on both databases (SQLite returns naive values)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # raw SQLite text, e.g. from a server default
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


debates = sa.Table(
    "debates",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("task", sa.Text, nullable=False),
    sa.Column("request", sa.JSON, nullable=False),
    sa.Column("document", sa.JSON, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Index("ix_debates_created_at", "created_at", "id"),
    sa.Index("ix_debates_status_created_at", "status", "created_at", "id"),
)

debate_events = sa.Table(
    "debate_events",
    metadata,
    sa.Column(
        "debate_id",
        sa.String(64),
        sa.ForeignKey("debates.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("round", sa.Integer, nullable=True),
    sa.Column("agent", sa.String(MAX_AGENT_NAME_CHARS), nullable=True),
    sa.Column("timestamp", sa.String(40), nullable=False),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sqlite_with_rowid=False,
)

# How many debates have each status, kept in step by every create and status change, so
# the list's total and the admin counts are one small read instead of counting 100k rows.
debate_counts = sa.Table(
    "debate_counts",
    metadata,
    sa.Column("status", sa.String(16), primary_key=True),
    sa.Column("n", sa.BigInteger, nullable=False),
)

COUNT_SHARDS = 16
"""Rows per status in ``debate_count_shards`` (migration 0009 makes them)."""

# More of the same counts, on PostgreSQL: a create or status change moves one of a status's
# COUNT_SHARDS rows here, picked at random, so that concurrent ones seldom wait for the same
# row lock (see migration 0009). A status's count is its row in debate_counts plus its
# shards; one row may be negative (a debate counted queued in one and started in another).
debate_count_shards = sa.Table(
    "debate_count_shards",
    metadata,
    sa.Column("status", sa.String(16), primary_key=True),
    sa.Column("shard", sa.SmallInteger, primary_key=True, autoincrement=False),
    sa.Column("n", sa.BigInteger, nullable=False),
)

# One row per debate: the queue entry and the lease that fences its writer.
jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column(
        "debate_id",
        sa.String(64),
        sa.ForeignKey("debates.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("state", sa.String(16), nullable=False),  # queued | running | done
    sa.Column("epoch", sa.Integer, nullable=False),
    sa.Column("owner", sa.String(200), nullable=True),
    sa.Column("lease_expires_at", UTCDateTime, nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("enqueued_at", UTCDateTime, nullable=False),
    # Higher runs first; equal priorities run in the order they were queued.
    sa.Column("priority", sa.Integer, nullable=False, server_default="0"),
)
# The queue in the claim's order (ORDER BY priority DESC, enqueued_at, debate_id), so a
# claim reads its first queued job off the index instead of sorting every queued one, and
# a queue position counts along it (migration 0007).
sa.Index(
    "ix_jobs_queue_order",
    jobs.c.state,
    jobs.c.priority.desc(),
    jobs.c.enqueued_at,
    jobs.c.debate_id,
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("secret_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("last_used_at", UTCDateTime, nullable=True),
    sa.Column("revoked_at", UTCDateTime, nullable=True),
)

settings = sa.Table(
    "settings",
    metadata,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("value", sa.JSON, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# One rating per (provider, model, name): "a" under two models is two entries. Rows from
# before migration 0005 whose model could not be told have provider = model = "".
agent_ratings = sa.Table(
    "agent_ratings",
    metadata,
    sa.Column("provider", sa.String(MAX_PROVIDER_CHARS), primary_key=True),
    sa.Column("model", sa.String(MAX_MODEL_CHARS), primary_key=True),
    sa.Column("agent", sa.String(MAX_AGENT_NAME_CHARS), primary_key=True),
    sa.Column("elo", sa.Float, nullable=False),
    sa.Column("wins", sa.Integer, nullable=False),
    sa.Column("losses", sa.Integer, nullable=False),
    sa.Column("draws", sa.Integer, nullable=False),
    sa.Column("debates", sa.Integer, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Index("ix_agent_ratings_elo", "elo"),
)

rated_debates = sa.Table(
    "rated_debates",
    metadata,
    sa.Column("debate_id", sa.String(64), primary_key=True),
    sa.Column("rated_at", UTCDateTime, nullable=False),
)

receipts = sa.Table(
    "receipts",
    metadata,
    sa.Column("position", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("id", sa.String(100), nullable=False, unique=True),
    # No foreign key: a receipt is self-contained and outlives any purge of its debate.
    sa.Column("debate_id", sa.String(64), nullable=False),
    sa.Column("digest", sa.String(128), nullable=False, unique=True),
    sa.Column("previous_digest", sa.String(128), nullable=True),
    sa.Column("document", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index("ix_receipts_debate_id", "debate_id"),
)

# --- webhooks (migration 0006) -----------------------------------------------------------------
# The secret is kept as it is: the sender signs with it (it never leaves in a listing).
webhooks = sa.Table(
    "webhooks",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("events", sa.JSON, nullable=False),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("format", sa.String(16), nullable=False),
    sa.Column("secret", sa.String(200), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

# The outbox: one row per (event, subscribed webhook), written in the transaction of what it
# reports. A sender claims due rows (claimed_by / claim_expires_at: a lease, so a sender
# that dies gives its rows back when the claim expires).
webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column(
        "webhook_id",
        sa.String(40),
        sa.ForeignKey("webhooks.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("event", sa.String(32), nullable=False),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # pending | delivered | failed
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", UTCDateTime, nullable=True),
    sa.Column("claimed_by", sa.String(200), nullable=True),
    sa.Column("claim_expires_at", UTCDateTime, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index("ix_webhook_deliveries_state_next_attempt_at", "state", "next_attempt_at"),
    sa.Index("ix_webhook_deliveries_webhook_id_created_at", "webhook_id", "created_at"),
)

webhook_attempts = sa.Table(
    "webhook_attempts",
    metadata,
    sa.Column(
        "delivery_id",
        sa.String(40),
        sa.ForeignKey("webhook_deliveries.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("number", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("status_code", sa.Integer, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("duration_ms", sa.Float, nullable=False),
)

# --- the Knowledge Mound ----------------------------------------------------------------------
# Ids sort by code point on both databases (PostgreSQL: the "C" collation; SQLite compares
# bytes), as the in-memory store sorts them, so scans come out in the same order.
_KNOWLEDGE_ID = sa.String(MAX_ID_CHARS).with_variant(
    sa.String(MAX_ID_CHARS, collation="C"), "postgresql"
)

# Full-text search lives beside these tables and is built by migration 0003 only, in each
# database's own terms (see SEARCH_OBJECTS): on PostgreSQL a stored generated ``search``
# tsvector column with a GIN index, and a GIN index on ``tags`` (JSONB there, for ``@>``);
# on SQLite an FTS5 table ``knowledge_fts`` over (title, content, tags) keyed by the rowid
# and kept in step by triggers.
knowledge_items = sa.Table(
    "knowledge_items",
    metadata,
    sa.Column("id", _KNOWLEDGE_ID, primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("content", sa.Text, nullable=False),
    sa.Column("source_debate_id", sa.String(MAX_ID_CHARS), nullable=True),
    sa.Column("source_agent", sa.String(MAX_AGENT_NAME_CHARS), nullable=True),
    sa.Column("confidence", sa.Float, nullable=True),
    sa.Column("tags", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
    sa.Column("provenance", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Index("ix_knowledge_items_created_at", "created_at"),
)

knowledge_links = sa.Table(
    "knowledge_links",
    metadata,
    sa.Column(
        "source_id",
        _KNOWLEDGE_ID,
        sa.ForeignKey("knowledge_items.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column(
        "target_id",
        _KNOWLEDGE_ID,
        sa.ForeignKey("knowledge_items.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index("ix_knowledge_links_target_id", "target_id"),
)

SEARCH_OBJECTS = frozenset(
    {
        # PostgreSQL
        "search",
        "ix_knowledge_items_search",
        "ix_knowledge_items_tags",
        # SQLite: the FTS5 table and its shadow tables
        "knowledge_fts",
        "knowledge_fts_config",
        "knowledge_fts_data",
        "knowledge_fts_docsize",
        "knowledge_fts_idx",
    }
)
"""Database objects of full-text search that migration 0003 builds outside this metadata
(schema comparisons leave them out)."""
