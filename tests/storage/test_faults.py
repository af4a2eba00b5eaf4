"""A database that goes away: fail fast, say which database (password masked), recover."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable
from urllib.parse import urlsplit

import pytest

from aragora.errors import DatabaseUnavailableError
from aragora.records.debates import NewDebate
from aragora.storage.sql.database import Database, PoolOptions
from aragora.storage.sql.storage import sql_storage
from tests.tcp_proxy import TcpProxy

from .support import psql

QUICK = PoolOptions(
    pool_size=2, max_overflow=0, pool_timeout=2, connect_timeout=1, command_timeout=2
)


@pytest.fixture
async def proxied(pg_session_url: str, pg_db: Database) -> AsyncIterator[tuple[TcpProxy, str]]:
    """A proxy to the test server and the URL of the session database through it, with a
    password in the URL (trust authentication ignores it) to prove it is masked."""
    parts = urlsplit(pg_session_url)
    proxy = TcpProxy(parts.port or 5432)
    await proxy.start()
    url = f"postgresql://postgres:hunter2-secret@127.0.0.1:{proxy.port}{parts.path}"
    yield proxy, url
    await proxy.close()


async def _fails_fast(operation: Awaitable[object], limit: float) -> str:
    started = time.monotonic()
    with pytest.raises(DatabaseUnavailableError) as caught:
        await operation
    assert time.monotonic() - started < limit
    return str(caught.value)


async def test_lost_database_fails_fast_and_recovers(proxied: tuple[TcpProxy, str]) -> None:
    proxy, url = proxied
    database = Database(url, options=QUICK)
    store = sql_storage(database)
    try:
        await store.debates.create(NewDebate("d1", "before the outage"))
        await proxy.cut()
        message = await _fails_fast(store.debates.get("d1"), limit=QUICK.pool_timeout + 1)
        assert f"127.0.0.1:{proxy.port}" in message
        assert "postgres:***@" in message
        assert "hunter2" not in message
        assert "\n" not in message
        await _fails_fast(store.debates.create(NewDebate("d2", "during")), limit=3)
        await _fails_fast(store.ping(), limit=3)
        await proxy.start()  # the database is back, on the same address
        assert (await store.debates.get("d1")).task == "before the outage"
        await store.debates.create(NewDebate("d2", "after the outage"))
        assert (await store.debates.list()).total == 2
    finally:
        await store.close()


async def test_a_silent_database_times_out(proxied: tuple[TcpProxy, str]) -> None:
    proxy, url = proxied
    proxy.blackhole = True
    database = Database(url, options=QUICK)
    try:
        message = await _fails_fast(database.ping(), limit=QUICK.connect_timeout + 2)
        assert "hunter2" not in message
    finally:
        await database.dispose()


async def test_terminated_backends_are_replaced(pg_session_url: str, pg_db: Database) -> None:
    store = sql_storage(pg_db)
    await store.debates.create(NewDebate("d1", "t"))
    name = urlsplit(pg_session_url).path.lstrip("/")
    killed = psql(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        f"WHERE datname = '{name}' AND pid <> pg_backend_pid()"
    )
    assert int(killed) >= 1
    # The pool notices the dead connections when it checks them out and reconnects.
    assert (await store.debates.get("d1")).task == "t"
    await store.debates.update("d1", status="running")


async def test_a_write_right_after_terminated_backends_succeeds(
    pg_session_url: str, pg_db: Database
) -> None:
    # Writes are not retried: the pool must not hand out a connection the server closed,
    # whether the close was seen already or the connection sat idle (then it is pinged).
    store = sql_storage(pg_db)
    await store.debates.create(NewDebate("d1", "t"))
    name = urlsplit(pg_session_url).path.lstrip("/")
    for pause in (0.0, 1.5):
        await asyncio.sleep(pause)
        killed = psql(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            f"WHERE datname = '{name}' AND pid <> pg_backend_pid()"
        )
        assert int(killed) >= 1
        await asyncio.sleep(0.05)  # the driver hears of the close
        await store.debates.update("d1", status="running")
        await store.debates.create(NewDebate(f"d-after-{pause}", "t"))


async def test_event_reads_survive_terminated_backends(
    pg_session_url: str, pg_db: Database
) -> None:
    # Replay reads go straight to the driver (Database.driver_rows): a dead pooled
    # connection must be dropped and the read retried, as for SQLAlchemy reads.
    store = sql_storage(pg_db)
    await store.debates.create(NewDebate("d1", "t"))
    assert await store.events.read("d1") == []  # the pool now holds a reader connection
    name = urlsplit(pg_session_url).path.lstrip("/")
    killed = psql(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        f"WHERE datname = '{name}' AND pid <> pg_backend_pid()"
    )
    assert int(killed) >= 1
    assert await store.events.read("d1") == []
    assert await store.events.read("d1", since=0, limit=5) == []


async def test_a_write_whose_connection_dies_before_its_driver_begins_is_unavailable(
    pg_session_url: str, pg_db: Database
) -> None:
    # The claim begins its transaction through the driver (Database.driver_connection),
    # outside SQLAlchemy's error handling: a backend lost just then is still "unavailable",
    # and the next claim runs on a fresh connection.
    store = sql_storage(pg_db)
    await store.debates.create(NewDebate("d1", "t"))
    with pytest.raises(DatabaseUnavailableError, match="unavailable"):
        await _driver_after_termination(pg_db)
    lease = await store.leases.claim("w", 30)
    assert lease is not None
    assert lease.debate_id == "d1"


async def _driver_after_termination(database: Database) -> None:
    async with database.write() as conn:
        driver = (await conn.get_raw_connection()).driver_connection
        assert driver is not None
        psql(f"SELECT pg_terminate_backend({driver.get_server_pid()})")
        await asyncio.sleep(0.05)  # the driver hears of the close
        await database.driver_connection(conn)


async def test_an_unreachable_database_is_named(unused_tcp_port: int) -> None:
    database = Database(
        f"postgresql://app:pw-secret@127.0.0.1:{unused_tcp_port}/aragora", options=QUICK
    )
    try:
        message = await _fails_fast(database.ping(), limit=3)
    finally:
        await database.dispose()
    assert message.startswith(
        f"database postgresql://app:***@127.0.0.1:{unused_tcp_port}/aragora unavailable: "
        "connection refused"
    ), message
    assert "pw-secret" not in message
