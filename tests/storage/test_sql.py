"""What only the SQL store has: the migrated schema, index use, replica routing, PgBouncer
mode, the driver inside a write's transaction and its errors translated, hashed secrets,
masked URLs, and a whole debate run through the fenced sink."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.ext.asyncio import AsyncConnection

from aragora import wiring
from aragora.debate.events import Event
from aragora.debate.model import Task
from aragora.debate.ports import FakeClock
from aragora.debate.protocol import DebateProtocol, Mode
from aragora.debate.state import DebateSetup
from aragora.errors import (
    ConfigurationError,
    ConflictError,
    DatabaseUnavailableError,
    DataRejectedError,
    StorageError,
)
from aragora.records.debates import (
    DebateOutcome,
    FencedEventSink,
    NewDebate,
    NewReceipt,
    NewWebhook,
    Storage,
    new_webhook_id,
)
from aragora.records.webhooks import OutboxEvent
from aragora.runtime.document import debate_document
from aragora.settings import load_settings
from aragora.storage.sql.append import append_postgres
from aragora.storage.sql.database import (
    Database,
    PoolOptions,
    dump_json,
    mask_url,
    translate_error,
)
from aragora.storage.sql.debates import queued_ahead
from aragora.storage.sql.events import events_after
from aragora.storage.sql.schema import SEARCH_OBJECTS, debate_events, debates, jobs, metadata
from aragora.storage.sql.storage import sql_storage

from .support import FAST, migrate_async, pg_database, query_plan, sqlite_copy


async def test_the_migrated_schema_is_the_code_schema(sql_db: Database) -> None:
    async with sql_db.writer.connect() as conn:
        diff = await conn.run_sync(
            lambda sync: compare_metadata(
                MigrationContext.configure(
                    sync, opts={"compare_type": True, "include_name": _not_search}
                ),
                metadata,
            )
        )
    assert diff == []


def _not_search(name: str | None, type_: str, parents: object) -> bool:
    """Leave out the full-text search objects each database builds its own way."""
    return name not in SEARCH_OBJECTS


async def _insert_debates(
    conn: AsyncConnection, ids: Sequence[str], status: str, now: datetime
) -> None:
    """Debate rows straight into the table (many at once, for the planner tests)."""
    await conn.execute(
        debates.insert(),
        [
            {"id": id_, "status": status, "task": "t", "request": {},
             "created_at": now, "updated_at": now}
            for id_ in ids
        ],
    )  # fmt: skip


async def test_reading_after_a_seq_is_an_index_scan(sql_db: Database) -> None:
    store = sql_storage(sql_db)
    now = datetime.now(UTC)
    async with sql_db.write() as conn:  # enough rows that a planner would avoid an index
        await _insert_debates(conn, [f"d{n}" for n in range(50)], "running", now)
        await conn.execute(
            debate_events.insert(),
            [
                {"debate_id": f"d{n}", "seq": seq, "type": "propose", "timestamp": "t",
                 "data": {}, "created_at": now}
                for n in range(50)
                for seq in range(1, 101)
            ],
        )  # fmt: skip
    query = events_after("d7", 40, 100)
    async with sql_db.write() as conn:
        compiled = query.compile(conn.sync_connection, compile_kwargs={"literal_binds": True})
        if sql_db.dialect == "postgresql":
            await conn.execute(sa.text("ANALYZE debate_events"))
            plan = await query_plan(conn, sql_db.dialect, str(compiled))
            # An index range scan (plain or bitmap, the planner's choice), never a table scan.
            assert "Seq Scan" not in plan, plan
            assert (
                "Index Scan on pk_debate_events" in plan
                or "Index Scan using pk_debate_events" in plan
            ), plan
            assert "(seq > 40)" in plan, plan
        else:
            plan = await query_plan(conn, sql_db.dialect, str(compiled))
            assert "SEARCH debate_events USING PRIMARY KEY (debate_id=? AND seq>?)" in plan, plan
    assert [e.seq for e in await store.events.read("d7", since=40, limit=3)] == [41, 42, 43]


async def test_the_queue_is_read_in_claim_order_off_its_index(sql_db: Database) -> None:
    """The claim's lookup takes its first queued job off the queue index, without sorting
    the queue, and a queue position near the front counts along the same index."""
    now = datetime.now(UTC)
    async with sql_db.write() as conn:  # enough rows that a planner would avoid an index
        await _insert_debates(conn, [f"d{n:04d}" for n in range(2000)], "queued", now)
        await conn.execute(
            jobs.insert(),
            [
                {"debate_id": f"d{n:04d}", "state": "queued" if n % 4 else "done", "epoch": 0,
                 "attempts": 0, "enqueued_at": now - timedelta(seconds=n), "priority": n % 3}
                for n in range(2000)
            ],
        )  # fmt: skip
    first_queued = (
        "SELECT debate_id FROM jobs WHERE state = 'queued'"
        " ORDER BY priority DESC, enqueued_at, debate_id LIMIT 1"
    )
    ahead = queued_ahead(2, now - timedelta(seconds=1901), "d1901")  # 24 jobs ahead
    async with sql_db.write() as conn:
        ahead_sql = str(ahead.compile(conn.sync_connection, compile_kwargs={"literal_binds": True}))
        if sql_db.dialect == "postgresql":
            await conn.execute(sa.text("ANALYZE jobs"))
            plans = [
                await query_plan(conn, sql_db.dialect, sql)
                for sql in (first_queued + " FOR UPDATE SKIP LOCKED", ahead_sql)
            ]
            assert "ix_jobs_queue_order" in plans[0], plans[0]
            assert "Sort" not in plans[0], plans[0]
        else:
            plans = [
                await query_plan(conn, sql_db.dialect, sql) for sql in (first_queued, ahead_sql)
            ]
            assert "INDEX ix_jobs_queue_order (state=?)" in plans[0], plans[0]
            assert "TEMP B-TREE" not in plans[0], plans[0]
        assert "ix_jobs_queue_order" in plans[1], plans[1]
    store = sql_storage(sql_db)
    expected = sorted(
        (n for n in range(2000) if n % 4), key=lambda n: (-(n % 3), -n)
    )  # priority first, then the oldest (the largest n)
    assert await store.leases.position(f"d{expected[0]:04d}") == 1
    assert await store.leases.position("d1901") == expected.index(1901) + 1 == 25
    assert await store.leases.position(f"d{expected[700]:04d}") == 701
    lease = await store.leases.claim("w", 30)
    assert lease is not None
    assert lease.debate_id == f"d{expected[0]:04d}"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_read_only_queries_go_to_the_replica(
    backend: str, tmp_path: Path, sqlite_template: Path
) -> None:
    """Point the read URL at a second database holding different rows: get, list, events
    and search answer from it; writes and primary reads go to the primary."""
    if backend == "sqlite":
        primary_url = sqlite_copy(sqlite_template, tmp_path, "primary.db")
        replica_url = sqlite_copy(sqlite_template, tmp_path, "replica.db")
        await _route(primary_url, replica_url)
        return
    with pg_database("aragora_primary") as primary_url, pg_database("aragora_replica") as replica:
        await migrate_async(primary_url)
        await migrate_async(replica)
        await _route(primary_url, replica)


async def _route(primary_url: str, replica_url: str) -> None:
    primary = sql_storage(Database(primary_url, options=FAST))
    replica = sql_storage(Database(replica_url, options=FAST))
    routed_db = Database(primary_url, read_url=replica_url, options=FAST)
    routed = sql_storage(routed_db)
    try:
        await routed.debates.create(NewDebate("same-id", "written via the primary"))
        await replica.debates.create(NewDebate("same-id", "only on the replica"))
        lease = await replica.leases.claim("w", 30)
        assert lease is not None
        await replica.events.append(
            Event("debate_start", "same-id", 1, "t", data={"on": "replica"}), epoch=lease.epoch
        )
        assert (await routed.debates.get("same-id")).task == "only on the replica"
        assert (await routed.debates.get("same-id", primary=True)).task == "written via the primary"
        page = await routed.debates.list(query="replica")
        assert [d.task for d in page.items] == ["only on the replica"]
        assert [e.data for e in await routed.events.read("same-id")] == [{"on": "replica"}]
        assert await routed.events.read("same-id", primary=True) == []
        assert (await primary.debates.get("same-id")).task == "written via the primary"
        assert routed_db.read_display_url == mask_url(replica_url)
    finally:
        for store in (primary, replica, routed):
            await store.close()


async def test_pgbouncer_mode_disables_statement_caches(pg_db: Database) -> None:
    bouncer = Database(pg_db.url, options=PoolOptions(pool_size=1, pgbouncer=True))
    store = sql_storage(bouncer)
    try:
        for n in range(3):  # the same statements, repeatedly, on one connection
            await store.debates.create(NewDebate(f"d{n}", "t"))
            await store.debates.get(f"d{n}")
            lease = await store.leases.claim("w", 30)  # sent to the driver itself
            assert lease is not None
            debate = lease.debate_id
            await store.events.append_many(
                [Event("propose", debate, seq, "t", 1, "a", {}) for seq in (1, 2)],
                epoch=lease.epoch,
            )
            outcome = DebateOutcome("completed", {"n": n}, [], followups=True)
            end = [Event("debate_end", debate, 3, "t", data={})]
            await store.events.append_and_finish(end, epoch=lease.epoch, outcome=outcome)
            await store.debates.update(debate, status="completed", document={"n": n})
            head = await store.receipts.head()
            digest = f"{n:064d}"
            previous = None if head is None else head.digest
            await store.receipts.append(NewReceipt(f"r{n}", debate, digest, previous, {}))
            assert await store.receipts.for_debate(debate) != []
            assert await store.knowledge_index.search_each(["anything"]) == [[]]
        async with bouncer.writer.connect() as conn:
            raw = await conn.get_raw_connection()
            assert raw.driver_connection is not None
            assert raw.driver_connection._stmt_cache.get_max_size() == 0
            # SQLAlchemy's own cache of prepared statements is off too.
            assert getattr(raw.dbapi_connection, "_prepared_statement_cache", "?") is None
            names = (await conn.execute(sa.text("SELECT name FROM pg_prepared_statements"))).all()
            assert all(not name.startswith("__asyncpg_stmt_") for (name,) in names)
    finally:
        await bouncer.dispose()


async def test_the_default_pool_keeps_the_connections_a_busy_spell_opened(pg_db: Database) -> None:
    """With the settings' defaults the pool closes none of the connections it opened at its
    peak when they are given back: under a burst, each one closed and opened again cost
    both processes a connection and every statement prepared anew (see
    ``Settings.db_max_overflow``). The peak is the same ``pool_size`` + ``max_overflow``."""
    settings = load_settings({"ARAGORA_DATABASE_URL": pg_db.url})
    database = wiring.build_database(settings)
    peak = settings.db_pool_size + settings.db_max_overflow
    opened: list[object] = []
    sa.event.listen(database.writer.sync_engine, "connect", lambda conn, _: opened.append(conn))
    try:

        async def busy_spell() -> None:
            everyone_in = asyncio.Barrier(peak)

            async def hold() -> None:
                async with database.writer.connect() as conn:
                    await conn.execute(sa.text("SELECT 1"))
                    await everyone_in.wait()

            await asyncio.wait_for(asyncio.gather(*(hold() for _ in range(peak))), 30)

        await busy_spell()
        assert len(opened) == peak
        await busy_spell()
        await busy_spell()
        assert len(opened) == peak, "connections were closed and opened again"
    finally:
        await database.dispose()


async def _driver_write(database: Database, sql: str, *, fail: bool = False) -> None:
    """``sql`` sent to the driver first thing in a write block, which then fails if told."""
    async with database.write() as conn:
        driver = await database.driver_connection(conn)
        await driver.execute(sql)
        if fail:
            raise RuntimeError("the block fails")


async def test_the_driver_of_a_write_block_is_in_its_transaction(pg_db: Database) -> None:
    store = sql_storage(pg_db)
    await store.debates.create(NewDebate("d1", "before"))
    with pytest.raises(RuntimeError):
        await _driver_write(pg_db, "UPDATE debates SET task = 'rolled back'", fail=True)
    assert (await store.debates.get("d1")).task == "before"
    async with pg_db.write() as conn:
        await conn.execute(debates.update().values(task="mixed"))
        driver = await pg_db.driver_connection(conn)
        await driver.execute("UPDATE debates SET task = task || ' and committed'")
    assert (await store.debates.get("d1")).task == "mixed and committed"
    with pytest.raises(DataRejectedError, match="refused a value"):
        await _driver_write(pg_db, "UPDATE debates SET task = NULL")
    async with pg_db.read() as conn:
        with pytest.raises(StorageError):  # autocommit: no transaction to be in
            await pg_db.driver_connection(conn)


def _event(seq: int, **data: Any) -> Event:
    return Event("propose", "d1", seq, f"2026-01-02T03:04:0{seq}+00:00", 1, "a", data)


async def test_a_batch_behind_an_uncommitted_one_collides_on_the_key(pg_db: Database) -> None:
    """Two batches for the same seqs, the second checked while the first is uncommitted:
    both pass the checks, the second waits on the first's keys and, once it commits,
    collides with them (ConflictError), storing nothing."""
    store = sql_storage(pg_db)
    await store.debates.create(NewDebate("d1", "t"))
    lease = await store.leases.claim("w", 30)
    assert lease is not None
    first = [_event(1, by="first"), _event(2, by="first")]
    async with pg_db.write() as conn:
        driver = await pg_db.driver_connection(conn)
        assert await append_postgres(driver, first, epoch=lease.epoch, created_at=datetime.now(UTC))
        second = asyncio.create_task(
            store.events.append_many([_event(1, by="second")], epoch=lease.epoch)
        )
        await asyncio.sleep(0.2)
        assert not second.done()  # waiting on the first's uncommitted keys
    with pytest.raises(ConflictError, match="seq 1 is already stored"):
        await second
    assert await store.events.read("d1", primary=True) == first


async def test_an_append_in_flight_keeps_its_debate_from_a_claim(pg_db: Database) -> None:
    """The append reads the job row FOR SHARE: a claim of the debate (its lease expired)
    meanwhile passes it over; once the append has committed, the claim takes it and its
    new owner sees the events."""
    clock = FakeClock(tick=0.001)
    store = sql_storage(pg_db, now=clock.now)
    await store.debates.create(NewDebate("d1", "t"))
    lease = await store.leases.claim("w1", 10)
    assert lease is not None
    clock.advance(11)  # expired, but its worker is still appending
    async with pg_db.write() as conn:
        driver = await pg_db.driver_connection(conn)
        assert await append_postgres(
            driver, [_event(1), _event(2)], epoch=lease.epoch, created_at=clock.now()
        )
        assert await store.leases.claim("w2", 10) is None
    again = await store.leases.claim("w2", 10)
    assert again is not None
    assert (again.debate_id, again.epoch) == ("d1", lease.epoch + 1)
    assert await store.events.last_seq("d1") == 2


async def test_driver_writes_store_the_json_text_sqlalchemy_would(pg_db: Database) -> None:
    """Events, documents and outbox rows written through the driver hold exactly the text
    the engines' serializer gives (key order, non-ASCII, floats), as SQLAlchemy stores."""
    store = sql_storage(pg_db)
    await store.webhooks.create(
        NewWebhook(new_webhook_id(), "https://hooks.example/x", ("debate.completed",), "s")
    )
    data = {"z": 1, "a": [1.5, None, 'ü \u2028 \\ "q"'], "m": {"b": True, "e": 1e-7}}
    await store.debates.create(NewDebate("d1", "t", data))
    lease = await store.leases.claim("w", 30)
    assert lease is not None
    outcome = DebateOutcome("completed", data, [OutboxEvent("debate.completed", data)])
    await store.events.append_and_finish(
        [_event(1, **data), _event(2, **data)], epoch=lease.epoch, outcome=outcome
    )

    async def texts(sql: str) -> list[str]:
        return [str(row[0]) for row in await pg_db.rows(sa.text(sql), primary=True)]

    [written] = await texts("SELECT request::text FROM debates")
    assert written == dump_json(data)
    assert await texts("SELECT data::text FROM debate_events") == [written, written]
    assert await texts("SELECT document::text FROM debates") == [written]
    assert await texts("SELECT data::text FROM webhook_deliveries") == [written]
    assert [e.data for e in await store.events.read("d1")] == [data, data]
    stored = await store.receipts.append(NewReceipt("r1", "d1", "x" * 64, None, data))
    assert await texts("SELECT document::text FROM receipts") == [written]
    assert await store.receipts.for_debate("d1") == [stored]
    assert await store.receipts.head() == stored


async def test_autocommit_statements_commit_each_on_its_own(pg_db: Database) -> None:
    """A statement sent in an autocommit block is in no transaction and commits as it
    runs, whatever follows; errors leave the block translated."""
    store = sql_storage(pg_db)
    await store.debates.create(NewDebate("d1", "before"))

    async def update_then_fail() -> None:
        async with pg_db.autocommit() as driver:
            assert not driver.is_in_transaction()
            await driver.execute("UPDATE debates SET task = 'after' WHERE id = 'd1'")
            await driver.execute("SELECT * FROM nowhere")

    with pytest.raises(StorageError, match="nowhere"):
        await update_then_fail()
    assert (await store.debates.get("d1", primary=True)).task == "after"


async def test_the_ping_answers_while_every_pooled_connection_is_out(sql_db: Database) -> None:
    """The health check's ping has a connection of its own: a pool busy with requests is
    not a database down."""
    busy = Database(sql_db.url, options=PoolOptions(pool_size=1, max_overflow=0, pool_timeout=0.2))
    try:
        async with busy.reader.connect(), busy.writer.connect():
            with pytest.raises(DatabaseUnavailableError, match="no connection free"):
                await busy.rows(sa.text("SELECT 1"))
            await asyncio.wait_for(busy.ping(), 5)
    finally:
        await busy.dispose()


async def test_autocommit_is_for_postgresql(sqlite_db: Database) -> None:
    with pytest.raises(ConfigurationError, match="autocommit is for PostgreSQL"):
        async with sqlite_db.autocommit():
            pass


def test_errors_of_the_driver_itself_are_translated() -> None:
    shown = "postgresql://a:***@h/d"
    for error, kind in [
        (asyncpg.DeadlockDetectedError("deadlock detected"), DatabaseUnavailableError),
        (asyncpg.QueryCanceledError("canceling statement"), DatabaseUnavailableError),
        (asyncpg.ConnectionDoesNotExistError("connection was closed"), DatabaseUnavailableError),
        (asyncpg.InterfaceError("connection is closed"), DatabaseUnavailableError),
        (asyncpg.StringDataRightTruncationError("value too long"), DataRejectedError),
        (asyncpg.UndefinedTableError('relation "x" does not exist'), StorageError),
    ]:
        translated = translate_error(error, shown)
        assert type(translated) is kind, (error, translated)
        assert str(translated).startswith(f"database {shown} ")


async def test_token_secrets_are_stored_hashed(sql_db: Database) -> None:
    store = sql_storage(sql_db)
    await store.tokens.create(name="n", role="operator", secret="plain-secret-value")
    async with sql_db.read() as conn:
        rows = (await conn.execute(sa.text("SELECT * FROM api_tokens"))).all()
    assert "plain-secret-value" not in repr(rows)
    assert len(rows[0].secret_hash) == 64


def test_urls_are_masked() -> None:
    assert (
        mask_url("postgresql://app:hunter2@db:5432/aragora")
        == "postgresql://app:***@db:5432/aragora"
    )
    assert mask_url("postgresql://app@db/aragora") == "postgresql://app@db/aragora"
    assert mask_url("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"
    error = translate_error(
        ConnectionRefusedError(111, "Connect call failed"), "postgresql://a:***@h/d"
    )
    assert isinstance(error, DatabaseUnavailableError)
    assert str(error).startswith("database postgresql://a:***@h/d unavailable: connection refused")
    with pytest.raises(ConfigurationError, match=r"mysql://u:\*\*\*@h/d"):
        Database("mysql://u:pw@h/d")
    with pytest.raises(ConfigurationError):
        Database("sqlite:///:memory:")
    with pytest.raises(DatabaseUnavailableError, match=r"^database sqlite:////proc/no/x.db"):
        Database("sqlite:////proc/no/x.db")


async def test_a_debate_runs_through_the_fenced_sink(store: Storage) -> None:
    """The engine writes a whole debate through FencedEventSink; the stored log folds to
    the same document as the events the engine produced."""
    settings = load_settings({"ARAGORA_DEMO_DELAY": "0"})
    debate_id = str(uuid.uuid4())
    await store.debates.create(NewDebate(debate_id, "Tabs or spaces?"))
    lease = await store.leases.claim("worker", 60)
    assert lease is not None
    produced: list[Event] = []

    class Recording(FencedEventSink):
        async def append(self, event: Event) -> None:
            await super().append(event)
            produced.append(event)

        async def append_many(self, events: Sequence[Event]) -> None:
            await super().append_many(events)
            produced.extend(events)

    panel = wiring.build_panel(["demo", "demo", "demo"], settings, seed=7)
    setup = DebateSetup(
        debate_id=debate_id,
        task=Task("Tabs or spaces?", ""),
        protocol=DebateProtocol(mode=Mode.DEBATE, rounds=2),
        panel=tuple(p for p, _ in panel),
        seed=7,
    )
    engine = wiring.build_engine(settings, sink=Recording(store.events, lease.epoch))
    await engine.start(setup, {p.name: llm for p, llm in panel})
    stored = await store.events.read(debate_id)
    assert stored == produced
    document: dict[str, Any] = debate_document(debate_id, stored)
    assert document == debate_document(debate_id, produced)
    assert document["status"] == "completed"
    await store.debates.update(debate_id, status="completed", document=document)
    assert (await store.debates.get(debate_id)).document == document


async def test_dispose_waits_for_a_connection_in_use_and_closes_it(sql_db: Database) -> None:
    """Work finishing as the database closes returns its connection, which is then closed:
    a connection still out when its pool is disposed would be dropped open by the garbage
    collector (asyncpg's "unclosed connection")."""
    in_use = asyncio.Event()
    finish = asyncio.Event()

    async def last_write() -> Any:
        async with sql_db.write() as conn:
            driver = (await conn.get_raw_connection()).driver_connection
            in_use.set()
            await finish.wait()
            await conn.execute(sa.text("SELECT 1"))
        return driver

    writing = asyncio.create_task(last_write())
    await in_use.wait()
    disposing = asyncio.create_task(sql_db.dispose())
    await asyncio.sleep(0.05)
    assert not disposing.done()  # waits for the connection in use
    finish.set()
    driver = await writing
    await asyncio.wait_for(disposing, 5)
    if sql_db.dialect == "postgresql":
        assert driver.is_closed()
    else:
        assert driver._connection is None  # aiosqlite's closed connection
