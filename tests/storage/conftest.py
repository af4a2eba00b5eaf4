"""Fixtures: the same store on each backend (memory, SQLite, PostgreSQL), empty per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from aragora.debate.ports import FakeClock
from aragora.records.debates import Storage
from aragora.storage.memory.storage import memory_storage
from aragora.storage.sql.database import Database
from aragora.storage.sql.storage import sql_storage

from .support import (
    FAST,
    TABLES,
    migrate,
    pg_database,
    sqlite_copy,
    sweep_orphans,
)


@pytest.fixture(scope="session")
def pg_session_url() -> Iterator[str]:
    """One migrated PostgreSQL database for the session; tests empty it before use."""
    sweep_orphans()
    with pg_database("aragora_contract") as url:
        migrate(url)
        yield url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that tests copy (faster than migrating each time)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrate(f"sqlite:///{path.as_posix()}")
    return path


@pytest.fixture
def clock() -> FakeClock:
    """Time for the store: 1 ms passes at every reading, so no two stamps are equal."""
    return FakeClock(tick=0.001)


@pytest.fixture
async def pg_db(pg_session_url: str) -> AsyncIterator[Database]:
    """The session's PostgreSQL database, emptied, with a fresh pool for this test."""
    database = Database(pg_session_url, options=FAST)
    async with database.write() as conn:
        await conn.execute(sa.text(f"TRUNCATE {TABLES}"))
        await conn.execute(sa.text("UPDATE debate_counts SET n = 0"))
        await conn.execute(sa.text("UPDATE debate_count_shards SET n = 0"))
    yield database
    await database.dispose()


@pytest.fixture
async def sqlite_db(sqlite_template: Path, tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(sqlite_copy(sqlite_template, tmp_path), options=FAST)
    yield database
    await database.dispose()


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, clock: FakeClock) -> Storage:
    """An empty store on each backend, stamped by ``clock``."""
    if request.param == "memory":
        return memory_storage(now=clock.now)
    database: Database = request.getfixturevalue(
        "sqlite_db" if request.param == "sqlite" else "pg_db"
    )
    return sql_storage(database, now=clock.now)


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_db(request: pytest.FixtureRequest) -> Database:
    """An empty migrated database on each SQL backend."""
    database: Database = request.getfixturevalue(
        "sqlite_db" if request.param == "sqlite" else "pg_db"
    )
    return database
