"""What only the SQL Knowledge Mound has: the search index kept in step with the items,
index use, and unchanged rows left untouched."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from aragora.errors import ConflictError
from aragora.records.knowledge import KnowledgeItem, KnowledgeLink, SearchFilters
from aragora.storage.sql.database import Database
from aragora.storage.sql.knowledge import RANKED_MATCHES
from aragora.storage.sql.storage import sql_storage

from .support import query_plan

T0 = datetime(2026, 3, 4, tzinfo=UTC)
ZANZIBAR_SQL = (
    "SELECT id FROM knowledge_items WHERE search @@ plainto_tsquery('english', 'zanzibar')"
    " LIMIT 300"
)


def item(n: int, title: str = "Routine note", content: str = "", hours: int = 0) -> KnowledgeItem:
    stamp = T0 + timedelta(hours=hours)
    return KnowledgeItem(f"k{n:03d}", "claim", title, content, stamp, stamp, tags=("t",))


async def test_the_fts_index_follows_inserts_updates_and_deletes(sql_db: Database) -> None:
    """SQLite's external-content FTS table passes its integrity check (the triggers kept it
    in step) after every kind of write; PostgreSQL's generated column always is."""
    store = sql_storage(sql_db)
    await store.knowledge.put([item(n, content=f"word{n} shared") for n in range(30)])
    await store.knowledge.put([item(n, content=f"changed{n} shared") for n in range(0, 30, 3)])
    await store.knowledge.put([replace(item(1, content="word1 shared"), confidence=0.5)])
    for n in range(0, 30, 5):
        await store.knowledge.delete(f"k{n:03d}")
    if sql_db.dialect == "sqlite":
        async with sql_db.write() as conn:
            await conn.execute(
                sa.text(
                    "INSERT INTO knowledge_fts (knowledge_fts, rank) VALUES ('integrity-check', 1)"
                )
            )
    hits = await store.knowledge_index.search("shared", limit=100)
    assert len(hits) == 30 - 6
    assert [h.item.id for h in await store.knowledge_index.search("word3")] == []
    assert [h.item.id for h in await store.knowledge_index.search("changed3")] == ["k003"]


async def test_an_unchanged_item_is_not_rewritten(sql_db: Database) -> None:
    store = sql_storage(sql_db)
    await store.knowledge.put([item(1, content="x")])
    marker = "xmin" if sql_db.dialect == "postgresql" else "rowid"
    query = sa.text(f"SELECT {marker}, updated_at FROM knowledge_items")
    async with sql_db.read() as conn:
        before = (await conn.execute(query)).all()
    assert await store.knowledge.put([item(1, content="x")]) == 0
    async with sql_db.read() as conn:
        assert (await conn.execute(query)).all() == before


async def test_time_windows_hold_when_rows_are_written_out_of_time_order(
    sql_db: Database,
) -> None:
    """SQLite narrows a windowed search to the window's rowid range: items written in an
    order unrelated to their creation times must still all be found."""
    store = sql_storage(sql_db)
    hours = [5, 1, 9, 3, 7, 2, 8]
    await store.knowledge.put([item(n, "Budget review", hours=h) for n, h in enumerate(hours)])
    window = SearchFilters(since=T0 + timedelta(hours=2), until=T0 + timedelta(hours=8))
    found = await store.knowledge_index.search("budget", filters=window)
    assert sorted(h.item.id for h in found) == ["k000", "k003", "k004", "k005"]
    empty = SearchFilters(since=T0 + timedelta(days=9))
    assert await store.knowledge_index.search("budget", filters=empty) == []


async def test_a_rare_word_is_found_through_the_index(sql_db: Database) -> None:
    store = sql_storage(sql_db)
    items = [item(n, content="common words only") for n in range(300)]
    items.append(item(999, content="the zanzibar exception"))
    links = [KnowledgeLink(f"k{n:03d}", "k999", "supports", T0) for n in range(3)]
    await store.knowledge.put(items, links)
    async with sql_db.write() as conn:
        await conn.execute(sa.text("ANALYZE"))
        if sql_db.dialect == "postgresql":
            # Too few rows for the planner to prefer it; check that it can serve the query.
            await conn.execute(sa.text("SET LOCAL enable_seqscan = off"))
            plan = await query_plan(conn, "postgresql", ZANZIBAR_SQL)
            assert "ix_knowledge_items_search" in plan, plan
        else:
            plan = await query_plan(
                conn,
                "sqlite",
                "SELECT rowid FROM knowledge_fts WHERE knowledge_fts MATCH '\"zanzibar\"'",
            )
            assert "VIRTUAL TABLE INDEX" in plan, plan
    hits = await store.knowledge_index.search("Zanzibar")
    assert [h.item.id for h in hits] == ["k999"]
    assert "<mark>zanzibar</mark>" in hits[0].snippet


async def test_postgres_searches_new_items_through_the_index_before_any_vacuum(
    pg_db: Database,
) -> None:
    """Migration 0008: the GIN indexes take new items at once (``fastupdate = off``). With
    the default pending list, items written since the last vacuum are priced as a read of
    all of them, and a rare word's search read the whole table (after a burst of debates,
    every candidate search of every debate, until autovacuum came)."""
    store = sql_storage(pg_db)
    for first in range(0, 3000, 500):  # many writes, as debates make them
        batch = [item(n, content=f"common words only {n}") for n in range(first, first + 500)]
        await store.knowledge.put(batch)
    await store.knowledge.put([item(9999, content="the zanzibar exception")])
    async with pg_db.write() as conn:
        await conn.execute(sa.text("ANALYZE knowledge_items"))  # statistics; lists untouched
        options = dict(
            (await conn.execute(sa.text(
                "SELECT relname, array_to_string(reloptions, ',') FROM pg_class "
                "WHERE relname IN ('ix_knowledge_items_search', 'ix_knowledge_items_tags')"
            ))).all()
        )  # fmt: skip
        plan = await query_plan(conn, "postgresql", ZANZIBAR_SQL)
    assert "ix_knowledge_items_search" in plan, plan
    assert options == {
        "ix_knowledge_items_search": "fastupdate=off",
        "ix_knowledge_items_tags": "fastupdate=off",
    }
    hits = await store.knowledge_index.search("zanzibar")
    assert [h.item.id for h in hits] == ["k9999"]


async def test_postgres_leaves_the_searches_past_enough_unscanned(
    pg_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``search_each(..., enough=n)``: the queries after the one that found ``n`` items are
    not just dropped from the answer: the database never scans or ranks for them."""
    store = sql_storage(pg_db)
    await store.knowledge.put([item(n, "Alpha beta", f"gamma {n}") for n in range(30)])
    sent: list[tuple[str, tuple[Any, ...]]] = []
    driver_rows = pg_db.driver_rows

    async def spy(sql: str, *args: Any) -> list[Any]:
        sent.append((sql, args))
        return await driver_rows(sql, *args)

    monkeypatch.setattr(pg_db, "driver_rows", spy)
    found = await store.knowledge_index.search_each(["alpha beta", "gamma", "beta"], enough=5)
    assert [len(ids) for ids in found] == [10, 0, 0]
    sql, args = sent[0]
    async with pg_db.autocommit() as driver:
        plan = "\n".join(row[0] for row in await driver.fetch(f"EXPLAIN ANALYZE {sql}", *args))
    ctes = plan.split("CTE r")[1:]
    assert [cte.split(maxsplit=1)[0] for cte in ctes] == ["0", "1", "2"], plan
    assert "never executed" not in ctes[0], plan
    for gated in ctes[1:]:
        scans = [line for line in gated.splitlines() if " on knowledge_items" in line]
        assert scans, plan
        assert all("never executed" in line for line in scans), plan


async def test_the_largest_item_is_stored_and_found(sql_db: Database) -> None:
    words = " ".join(f"w{n}" for n in range(14_000)) + " " + "y" * 3000
    big = replace(item(1, "Big one", (words + " needle")[:100_000]), tags=tuple(
        f"tag{n}" for n in range(32)))  # fmt: skip
    store = sql_storage(sql_db)
    assert await store.knowledge.put([big]) == 1
    assert await store.knowledge.get(big.id) == big
    assert [h.item.id for h in await store.knowledge_index.search("needle w13999")] == [big.id]


async def test_one_write_takes_many_items_and_links(sql_db: Database) -> None:
    """More rows than either database takes parameters in one statement."""
    store = sql_storage(sql_db)
    items = [item(n) for n in range(12_000)]
    links = [
        KnowledgeLink(items[n].id, items[n - 1].id, kind, T0)
        for n in range(1, len(items))
        for kind in ("supports", "contradicts")
    ]
    assert await store.knowledge.put(items, links) == len(items)
    assert await store.knowledge.put(items, links) == 0
    assert await store.knowledge.count() == len(items)
    assert len([k async for k in store.knowledge_index.scan_links(batch=5000)]) == len(links)


async def test_a_word_in_more_items_than_are_ranked_still_fills_the_page(
    sql_db: Database,
) -> None:
    store = sql_storage(sql_db)
    items = [item(n, "Routine note", "filler " * (n % 7)) for n in range(RANKED_MATCHES + 50)]
    items.append(item(999, "Routine note note note", "note"))
    await store.knowledge.put(items)
    hits = await store.knowledge_index.search("note", limit=100)
    assert len(hits) == 100
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


async def test_concurrent_writers_of_one_new_item_never_store_it_twice(sql_db: Database) -> None:
    """Each racing write either stores the item, finds it stored (0), or is refused whole
    with ConflictError (PostgreSQL, when both inserted it before either committed)."""
    store = sql_storage(sql_db)
    for n in range(5):
        batch = [item(n * 50 + k) for k in range(50)]
        outcomes = await asyncio.gather(
            *(store.knowledge.put(batch) for _ in range(3)), return_exceptions=True
        )
        assert 50 in outcomes, outcomes
        for outcome in outcomes:
            assert outcome in (0, 50) or isinstance(outcome, ConflictError), outcome
    assert await store.knowledge.count() == 5 * 50
