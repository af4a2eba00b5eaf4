"""Claims racing on PostgreSQL, each claimer on a connection of its own: every debate is
claimed once, and the status counts stay exact when claims race each other and the status
changes that lock a debate's row before the claim can, or race each other."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest
import sqlalchemy as sa

from aragora.records.debates import DEBATE_STATUSES, Lease, NewDebate, Storage
from aragora.storage.sql.database import Database, PoolOptions
from aragora.storage.sql.debates import count_changes_script
from aragora.storage.sql.schema import COUNT_SHARDS, debates, jobs
from aragora.storage.sql.storage import sql_storage

CLAIMERS = 20
QUEUED = 50


@pytest.fixture
async def many(pg_db: Database) -> AsyncIterator[tuple[Database, Storage]]:
    """The test's PostgreSQL database with a pool of a connection per claimer, and a store
    on it holding ``QUEUED`` queued debates of mixed priorities."""
    database = Database(
        pg_db.url, options=PoolOptions(pool_size=CLAIMERS + 2, max_overflow=0, pool_timeout=10)
    )
    store = sql_storage(database)
    for n in range(QUEUED):
        await store.debates.create(NewDebate(f"d{n:02d}", "t", priority=n % 3))
    yield database, store
    await database.dispose()


async def _race(store: Storage, *others: Callable[[], Awaitable[None]]) -> list[Lease]:
    """Every claimer draining the queue at once (and ``others`` beside them); the leases."""
    start = asyncio.Event()

    async def drain(n: int) -> list[Lease]:
        await start.wait()
        got = []
        while (lease := await store.leases.claim(f"claimer-{n}", 30)) is not None:
            got.append(lease)
        return got

    async def other(run: Callable[[], Awaitable[None]]) -> list[Lease]:
        await start.wait()
        await run()
        return []

    racing = [asyncio.create_task(drain(n)) for n in range(CLAIMERS)]
    racing += [asyncio.create_task(other(run)) for run in others]
    await asyncio.sleep(0)
    start.set()
    results = await asyncio.gather(*racing)
    assert sum(1 for leases in results[:CLAIMERS] if leases) >= 2, "the claimers raced"
    return [lease for leases in results for lease in leases]


async def _counts_match_rows(database: Database, store: Storage) -> dict[str, int]:
    rows = await database.rows(
        sa.select(debates.c.status, sa.func.count()).group_by(debates.c.status), primary=True
    )
    stored = dict.fromkeys(DEBATE_STATUSES, 0) | {str(status): int(n) for status, n in rows}
    assert await store.debates.counts() == stored
    return stored


async def test_concurrent_claimers_take_every_debate_once(
    many: tuple[Database, Storage],
) -> None:
    database, store = many
    leases = await _race(store)
    assert sorted(lease.debate_id for lease in leases) == [f"d{n:02d}" for n in range(QUEUED)]
    assert {lease.epoch for lease in leases} == {1}
    assert await _counts_match_rows(database, store) == {
        "queued": 0,
        "running": QUEUED,
        "completed": 0,
        "failed": 0,
        "cancelled": 0,
    }
    rows = await database.rows(
        sa.select(jobs.c.debate_id, jobs.c.state, jobs.c.epoch, jobs.c.attempts, jobs.c.owner),
        primary=True,
    )
    owners = {lease.debate_id: lease.owner for lease in leases}
    assert {row.debate_id: (row.state, row.epoch, row.attempts, row.owner) for row in rows} == {
        debate_id: ("running", 1, 1, owner) for debate_id, owner in owners.items()
    }


async def test_claims_racing_cancellations_keep_the_counts_exact(
    many: tuple[Database, Storage],
) -> None:
    # A cancellation locks the debate's row, then the job's row, then the counts: a claim
    # meeting it leaves the debate's row alone (the runner would mark it running) and
    # neither waits for the other in a cycle.
    database, store = many
    cancelled = [f"d{n:02d}" for n in range(0, QUEUED, 2)]

    async def cancel() -> None:
        for debate_id in cancelled:
            await store.debates.update(debate_id, status="cancelled")

    leases = await _race(store, cancel)
    claimed = [lease.debate_id for lease in leases]
    assert len(claimed) == len(set(claimed)), "no debate claimed twice"
    assert set(claimed) >= {f"d{n:02d}" for n in range(1, QUEUED, 2)}
    counts = await _counts_match_rows(database, store)
    assert counts["cancelled"] == len(cancelled)
    assert counts["running"] == QUEUED - len(cancelled)


async def test_status_changes_racing_on_one_debate_keep_the_counts_exact(
    many: tuple[Database, Storage],
) -> None:
    # Each change reads the status it replaces under the row's lock, so whichever order
    # they commit in, every change moves the counts from the status it really replaced.
    database, store = many
    statuses = ("running", "completed", "failed", "cancelled", "queued")
    start = asyncio.Event()

    async def change(n: int) -> None:
        await start.wait()
        for k in range(5):
            debate_id = f"d{(n + k) % 3:02d}"
            await store.debates.update(debate_id, status=statuses[(n * 7 + k) % len(statuses)])

    racing = [asyncio.create_task(change(n)) for n in range(CLAIMERS)]
    await asyncio.sleep(0)
    start.set()
    await asyncio.gather(*racing)
    counts = await _counts_match_rows(database, store)
    assert sum(counts.values()) == QUEUED


async def test_status_changes_in_different_count_shards_do_not_wait_for_each_other(
    pg_db: Database,
) -> None:
    # Every create and status change moves a count in the transaction making the change,
    # and holds that row's lock to its commit; with one row per status they all queued
    # on it. Each picks one of COUNT_SHARDS rows instead: only the same shard waits.
    async with pg_db.autocommit() as first, pg_db.autocommit() as second:
        holding = first.transaction()
        await holding.start()
        try:
            await first.execute(count_changes_script("queued", "running", 1))
            other = second.transaction()
            await other.start()
            await second.execute("SET LOCAL lock_timeout = '200ms'")
            await second.execute(count_changes_script("queued", "running", 2))
            await other.rollback()
            same = second.transaction()
            await same.start()
            await second.execute("SET LOCAL lock_timeout = '200ms'")
            with pytest.raises(asyncpg.LockNotAvailableError):
                await second.execute(count_changes_script("queued", "running", 1))
            await same.rollback()
        finally:
            await holding.rollback()
    with pytest.raises(ValueError, match=r"not in 0\.\.15"):
        count_changes_script("queued", "running", COUNT_SHARDS)
