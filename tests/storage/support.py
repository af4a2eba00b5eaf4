"""Test support for storage: throwaway PostgreSQL databases, migrated SQLite files, a
controllable clock, and the one helper that builds a store for each backend."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncConnection

from aragora import wiring
from aragora.debate.model import Task
from aragora.debate.protocol import DebateProtocol, Mode
from aragora.debate.state import DebateSetup
from aragora.migrations.runner import Migrator
from aragora.records.debates import FencedEventSink, NewDebate, Storage
from aragora.runtime.document import debate_document
from aragora.settings import load_settings
from aragora.storage.sql.database import Database, PoolOptions

# The server the tests use (scripts/test checks that it is reachable; CI=true makes a
# missing one an error there, and the tests needing it fail here rather than skip).
PG_SERVER = os.environ.get("ARAGORA_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
TABLES = (
    "debates, debate_events, jobs, api_tokens, settings, agent_ratings, receipts, "
    "knowledge_items, knowledge_links, rated_debates, webhooks, webhook_deliveries, "
    "webhook_attempts"
)
FAST = PoolOptions(pool_size=4, max_overflow=4, pool_timeout=5, connect_timeout=3)


def psql(sql: str, database: str = "postgres") -> str:
    """Run ``sql`` with psql against the test server; returns stdout (raises on error)."""
    return subprocess.run(
        ["psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-d", f"{PG_SERVER}/{database}",
         "-c", sql],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.strip()  # fmt: skip


def pg_url(name: str) -> str:
    return f"{PG_SERVER}/{name}"


def sweep_orphans() -> None:
    """Drop test databases left by test processes that were killed before cleaning up
    (their names carry the creating process id, and that process no longer exists)."""
    names = psql("SELECT datname FROM pg_database WHERE datname ~ '^aragora_[a-z_]+_p[0-9]+_'")
    for name in names.split():
        found = re.search(r"_p([0-9]+)_[0-9a-f]+$", name)
        if found and not Path(f"/proc/{found.group(1)}").exists():
            psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def pg_database(prefix: str = "aragora_test") -> Iterator[str]:
    """A fresh, empty PostgreSQL database (its URL), dropped afterwards."""
    name = f"{prefix}_p{os.getpid()}_{uuid.uuid4().hex[:10]}"
    psql(f'CREATE DATABASE "{name}"')
    try:
        yield pg_url(name)
    finally:
        psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def migrate_async(url: str) -> None:
    """Bring the database at ``url`` to the head revision."""
    database = Database(url, options=FAST)
    try:
        await Migrator(database).migrate()
    finally:
        await database.dispose()


def migrate(url: str) -> None:
    """:func:`migrate_async` outside any running event loop (session fixtures)."""
    asyncio.run(migrate_async(url))


def sqlite_copy(template: Path, directory: Path, name: str = "aragora.db") -> str:
    """A copy of a migrated SQLite ``template`` in ``directory``; returns its URL."""
    target = directory / name
    shutil.copyfile(template, target)
    return f"sqlite:///{target.as_posix()}"


async def run_demo_debate(store: Storage, task: str, *, seed: int = 7) -> str:
    """Create a debate, claim it and run it with demo agents through the fenced sink;
    stores the final document. Returns its id (it must be the only queued debate)."""
    settings = load_settings({"ARAGORA_DEMO_DELAY": "0"})
    debate_id = str(uuid.UUID(int=seed))
    await store.debates.create(NewDebate(debate_id, task, {"agents": ["demo"] * 3}))
    lease = await store.leases.claim("worker", 60)
    assert lease is not None
    assert lease.debate_id == debate_id
    panel = wiring.build_panel(["demo", "demo", "demo"], settings, seed=seed)
    setup = DebateSetup(
        debate_id=debate_id,
        task=Task(task, ""),
        protocol=DebateProtocol(mode=Mode.DEBATE, rounds=2),
        panel=tuple(p for p, _ in panel),
        seed=seed,
    )
    engine = wiring.build_engine(settings, sink=FencedEventSink(store.events, lease.epoch))
    await engine.start(setup, {p.name: llm for p, llm in panel})
    document = debate_document(debate_id, await store.events.read(debate_id, primary=True))
    await store.debates.update(debate_id, status=document["status"], document=document)
    await store.leases.release(lease)
    return debate_id


async def query_plan(conn: AsyncConnection, dialect: str, sql: str) -> str:
    """The database's plan for ``sql``: PostgreSQL's EXPLAIN, SQLite's EXPLAIN QUERY PLAN."""
    if dialect == "postgresql":
        return "\n".join(str(row[0]) for row in await conn.exec_driver_sql(f"EXPLAIN {sql}"))
    rows = await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")
    return "\n".join(str(row[-1]) for row in rows)
