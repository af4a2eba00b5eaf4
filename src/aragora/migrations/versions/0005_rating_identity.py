"""Ratings per model: the leaderboard keys a rating by (provider, model, agent name).

Until now a rating was keyed by the agent's name alone, so a label such as ``lead`` used
with two different models pooled both into one record. ``agent_ratings`` gets ``provider``
and ``model`` columns and the primary key (provider, model, agent).

What happens to the existing rows (nothing is dropped):

1. A name that is a spec's default name, ``provider:model`` or ``provider:model#N`` (every
   agent without a ``#label``), says its model: the row gets that provider and model.
2. Any other name (a ``#label``) is looked up in the stored finished debates: if every
   debate that had an agent of that name ran it on one and the same provider and model,
   the row gets those.
3. A label found with several models, or in no stored debate (purged), cannot be split:
   the row keeps its record with provider and model empty (the leaderboard shows them as
   ``null``), and new debates of that label rate into a new entry for its model.

Step 2 reads the agents of every stored debate document once, inside the database; it
runs only when some row needs it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_UTC = sa.DateTime(timezone=True)
# The sizes of aragora.debate.model (MAX_PROVIDER_CHARS, MAX_MODEL_CHARS,
# MAX_AGENT_NAME_CHARS) as they were when this migration was written.
_PROVIDER, _MODEL, _NAME = 32, 150, 200
_DEFAULT_NAME = re.compile(r"^([a-z][a-z0-9-]*):(\S+?)(?:#\d+)?$")
_AGENTS_OF_DEBATES = {
    "postgresql": (
        "SELECT DISTINCT a->>'name', a->>'provider', a->>'model' FROM debates d,"
        " json_array_elements(d.document->'agents') a"
        " WHERE d.document IS NOT NULL AND json_typeof(d.document->'agents') = 'array'"
    ),
    "sqlite": (
        "SELECT DISTINCT json_extract(a.value, '$.name'), json_extract(a.value, '$.provider'),"
        " json_extract(a.value, '$.model') FROM debates d, json_each(d.document, '$.agents') a"
        " WHERE d.document IS NOT NULL AND json_valid(d.document)"
        " AND json_type(d.document, '$.agents') = 'array'"
    ),
}


def _old_table() -> sa.TableClause:
    numbers = ("elo", "wins", "losses", "draws", "debates")
    return sa.table(
        "agent_ratings",
        sa.column("agent", sa.String),
        *(sa.column(name) for name in numbers),
        sa.column("updated_at", _UTC),  # typed: SQLite keeps it as text
    )


def _columns(*key: str) -> list[Any]:
    return [
        sa.Column("provider", sa.String(_PROVIDER), nullable=False),
        sa.Column("model", sa.String(_MODEL), nullable=False),
        sa.Column("agent", sa.String(_NAME), nullable=False),
        sa.Column("elo", sa.Float, nullable=False),
        sa.Column("wins", sa.Integer, nullable=False),
        sa.Column("losses", sa.Integer, nullable=False),
        sa.Column("draws", sa.Integer, nullable=False),
        sa.Column("debates", sa.Integer, nullable=False),
        sa.Column("updated_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint(*key, name="pk_agent_ratings"),
    ]


def _models_by_label(bind: sa.Connection, labels: set[str]) -> dict[str, tuple[str, str]]:
    """Each label of ``labels`` that stored debates ran on exactly one provider and model."""
    seen: dict[str, set[tuple[str, str]]] = {}
    for name, provider, model in bind.execute(sa.text(_AGENTS_OF_DEBATES[bind.dialect.name])):
        if name in labels and provider and model:
            seen.setdefault(name, set()).add((str(provider), str(model)))
    return {
        name: next(iter(pairs))
        for name, pairs in seen.items()
        if len(pairs) == 1
        and len(next(iter(pairs))[0]) <= _PROVIDER
        and len(next(iter(pairs))[1]) <= _MODEL
    }


def _attribute(bind: sa.Connection, rows: list[dict[str, Any]]) -> None:
    labels: set[str] = set()
    for row in rows:
        found = _DEFAULT_NAME.match(row["agent"])
        if found and len(found.group(1)) <= _PROVIDER and len(found.group(2)) <= _MODEL:
            row["provider"], row["model"] = found.group(1), found.group(2)
        else:
            row["provider"], row["model"] = "", ""
            labels.add(row["agent"])
    if labels:
        known = _models_by_label(bind, labels)
        for row in rows:
            if row["agent"] in known:
                row["provider"], row["model"] = known[row["agent"]]


def upgrade() -> None:
    bind = op.get_bind()
    rows = [dict(row._mapping) for row in bind.execute(sa.select(_old_table()))]
    _attribute(bind, rows)
    op.drop_index("ix_agent_ratings_elo", table_name="agent_ratings")
    op.drop_table("agent_ratings")
    table = op.create_table("agent_ratings", *_columns("provider", "model", "agent"))
    op.create_index("ix_agent_ratings_elo", "agent_ratings", ["elo"])
    if rows:
        op.bulk_insert(table, rows)


def downgrade() -> None:
    # Back to one row per name: where a name has several models, the row with the most
    # debates keeps its place and the others are dropped (the old key cannot hold them).
    bind = op.get_bind()
    current = _old_table()
    kept: dict[str, dict[str, Any]] = {}
    for row in bind.execute(sa.select(current).order_by(current.c.debates.desc())):
        kept.setdefault(row.agent, dict(row._mapping))
    op.drop_index("ix_agent_ratings_elo", table_name="agent_ratings")
    op.drop_table("agent_ratings")
    columns = [
        c for c in _columns("agent") if getattr(c, "name", None) not in ("provider", "model")
    ]
    table = op.create_table("agent_ratings", *columns)
    op.create_index("ix_agent_ratings_elo", "agent_ratings", ["elo"])
    if kept:
        op.bulk_insert(table, list(kept.values()))
