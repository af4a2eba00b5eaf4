"""The knowledge search indexes on PostgreSQL take each new item at once.

A GIN index's default (``fastupdate = on``) puts new entries in a pending list that a
vacuum, an autoanalyze or a list grown past ``gin_pending_list_limit`` (4 MB) merges into
the index later. Every scan of the index reads that list whole, and the planner prices it
in. A debate's context and its conflict check each make up to 13 scans (see
:mod:`aragora.knowledge.retrieval`), so between merges every debate paid for the list:

- after a burst of debates had stored ~4,000 items, the planner priced the ``search``
  index like reading the table, and each scan read all of the items (a debate's context:
  8.8 ms of the database; after the merge 0.03 ms a scan);
- with just 7 pending pages (198 entries), finding a question's past decisions took
  7.2 ms instead of 5.9 ms.

With ``fastupdate = off`` an insert updates the index itself. The cost is on writes: a
few items per debate, off its path, but a bulk import (``knowledge.put`` of 5,000 items
at a time) ran at 1,773 items/s instead of 3,685 (``bench/knowledge.py --quick``, 20,000
items).

PostgreSQL only: the two GIN indexes (``ix_knowledge_items_search`` and
``ix_knowledge_items_tags``) change their storage parameter, and what their lists held is
merged now (``gin_clean_pending_list``), inside the migration's transaction. SQLite's FTS5
index has no such list: nothing changes there.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_INDEXES = ("ix_knowledge_items_search", "ix_knowledge_items_tags")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for index in _INDEXES:
        op.execute(f"ALTER INDEX {index} SET (fastupdate = off)")
        op.execute(f"SELECT gin_clean_pending_list('{index}'::regclass)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for index in _INDEXES:
        op.execute(f"ALTER INDEX {index} RESET (fastupdate)")
