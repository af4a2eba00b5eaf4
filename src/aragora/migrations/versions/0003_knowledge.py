"""Knowledge Mound: items, links and their full-text search.

Adds ``knowledge_items`` and ``knowledge_links`` (cascading from items, indexed by target)
and the search index in each database's own terms:

- PostgreSQL: a stored generated ``search`` tsvector ('english'; title weighted A, content
  B, tags C) with a GIN index, and a GIN index (``jsonb_path_ops``) on the JSONB ``tags``
  for ``tags @> '["a", "b"]'`` filters.
- SQLite: an FTS5 table ``knowledge_fts`` (title, content, tags; ``porter unicode61``)
  with external content ``knowledge_items`` keyed by its rowid, kept in step by triggers;
  its rowids are stable because ``knowledge_items`` is never rebuilt (backups copy pages).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Frozen copies of the column types of this revision (never import the live schema).
_UTC = sa.DateTime(timezone=True)
_ID = sa.String(200).with_variant(sa.String(200, collation="C"), "postgresql")
_TAGS = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

_PG_SEARCH = """
ALTER TABLE knowledge_items ADD COLUMN search tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('english'::regconfig, title), 'A')
    || setweight(to_tsvector('english'::regconfig, content), 'B')
    || setweight(to_tsvector('english'::regconfig, tags::text), 'C')
) STORED
"""
_PG_INDEXES = (
    "CREATE INDEX ix_knowledge_items_search ON knowledge_items USING gin (search)",
    "CREATE INDEX ix_knowledge_items_tags ON knowledge_items USING gin (tags jsonb_path_ops)",
)

_SQLITE_FTS = (
    "CREATE VIRTUAL TABLE knowledge_fts USING fts5("
    "title, content, tags, content='knowledge_items', content_rowid='rowid', "
    "tokenize='porter unicode61')",
    "CREATE TRIGGER knowledge_items_fts_insert AFTER INSERT ON knowledge_items BEGIN "
    "INSERT INTO knowledge_fts (rowid, title, content, tags) "
    "VALUES (new.rowid, new.title, new.content, new.tags); END",
    "CREATE TRIGGER knowledge_items_fts_delete AFTER DELETE ON knowledge_items BEGIN "
    "INSERT INTO knowledge_fts (knowledge_fts, rowid, title, content, tags) "
    "VALUES ('delete', old.rowid, old.title, old.content, old.tags); END",
    # Only a change of the searched text touches the index.
    "CREATE TRIGGER knowledge_items_fts_update AFTER UPDATE OF title, content, tags "
    "ON knowledge_items BEGIN "
    "INSERT INTO knowledge_fts (knowledge_fts, rowid, title, content, tags) "
    "VALUES ('delete', old.rowid, old.title, old.content, old.tags); "
    "INSERT INTO knowledge_fts (rowid, title, content, tags) "
    "VALUES (new.rowid, new.title, new.content, new.tags); END",
)


def upgrade() -> None:
    op.create_table(
        "knowledge_items",
        sa.Column("id", _ID, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("source_debate_id", sa.String(200), nullable=True),
        sa.Column("source_agent", sa.String(200), nullable=True),
        sa.Column("confidence", sa.Float, nullable=True),
        sa.Column("tags", _TAGS, nullable=False),
        sa.Column("provenance", sa.JSON, nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("updated_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_knowledge_items"),
    )
    op.create_index("ix_knowledge_items_created_at", "knowledge_items", ["created_at"])
    op.create_table(
        "knowledge_links",
        sa.Column("source_id", _ID, nullable=False),
        sa.Column("target_id", _ID, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["knowledge_items.id"],
            name="fk_knowledge_links_source_id_knowledge_items",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["target_id"],
            ["knowledge_items.id"],
            name="fk_knowledge_links_target_id_knowledge_items",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("source_id", "target_id", "kind", name="pk_knowledge_links"),
    )
    op.create_index("ix_knowledge_links_target_id", "knowledge_links", ["target_id"])
    if op.get_bind().dialect.name == "postgresql":
        for statement in (_PG_SEARCH, *_PG_INDEXES):
            op.execute(statement)
    else:
        for statement in _SQLITE_FTS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER knowledge_items_fts_{trigger}")
        op.execute("DROP TABLE knowledge_fts")
    op.drop_table("knowledge_links")
    op.drop_table("knowledge_items")
