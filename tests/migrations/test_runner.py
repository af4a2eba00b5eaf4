"""Migrations: the runbook's commands, concurrent replicas, failed migrations, start-up check."""

from __future__ import annotations

import asyncio
import contextlib
import runpy
import sqlite3
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from aragora.cli.main import main
from aragora.errors import SchemaMismatchError, StorageError
from aragora.migrations.runner import MIGRATE_COMMAND, Migrator, ensure_schema
from aragora.records.debates import NewDebate
from aragora.records.knowledge import KnowledgeItem
from aragora.settings import load_settings
from aragora.storage.sql.database import Database
from aragora.storage.sql.schema import COUNT_SHARDS
from aragora.storage.sql.storage import sql_storage

from ..storage.support import FAST, pg_database

HEAD = "0009"
"""The newest revision shipped; bump it with every new migration."""
REVISIONS = ("0001", "0002", "0003", "0004", "0005", "0006", "0007", "0008", "0009")

BROKEN = '''
"""Broken on purpose: creates a table, then fails."""
import sqlalchemy as sa
from alembic import op

revision = "0099"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("half_done", sa.Column("id", sa.Integer, primary_key=True))
    op.add_column("debates", sa.Column("extra", sa.Integer))
    op.execute("SELECT * FROM no_such_table")


def downgrade() -> None:
    pass
'''


def _runner(
    url: str, action: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    """``python -m aragora.migrations.runner ACTION`` as the runbook runs it (the module
    executed as ``__main__``, in this process so the test stays fast)."""
    monkeypatch.setenv("ARAGORA_DATABASE_URL", url)
    monkeypatch.setattr(sys, "argv", ["python -m aragora.migrations.runner", action])
    monkeypatch.delitem(sys.modules, "aragora.migrations.runner", raising=False)
    with pytest.raises(SystemExit) as exited:
        runpy.run_module("aragora.migrations.runner", run_name="__main__", alter_sys=True)
    captured = capsys.readouterr()
    code = exited.value.code
    return (code if isinstance(code, int) else 1), captured.out, captured.err


async def _tables(database: Database) -> set[str]:
    async with database.read(primary=True) as conn:
        return set(await conn.run_sync(lambda sync: sa.inspect(sync).get_table_names()))


async def _columns(database: Database, table: str) -> set[str]:
    async with database.read(primary=True) as conn:
        columns = await conn.run_sync(lambda sync: sa.inspect(sync).get_columns(table))
    return {column["name"] for column in columns}


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> object:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path.as_posix()}/aragora.db"
        return
    with pg_database("aragora_migrate") as url:
        yield url


def test_the_runbook_commands(
    empty_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _runner(empty_url, "status", monkeypatch, capsys)
    assert code == 0, err
    assert "current revision: (none: empty database)" in out
    assert f"head revision: {HEAD}" in out
    assert f"pending: {len(REVISIONS)}" in out
    assert "  0001  Initial schema" in out
    assert "  0002  Job priority" in out
    assert "  0003  Knowledge Mound" in out
    code, out, err = _runner(empty_url, "migrate", monkeypatch, capsys)
    assert code == 0, err
    assert f"from (empty) to {HEAD}: applied {', '.join(REVISIONS)}" in out
    code, out, _ = _runner(empty_url, "migrate", monkeypatch, capsys)
    assert code == 0
    assert f"up to date at revision {HEAD}" in out
    code, out, _ = _runner(empty_url, "status", monkeypatch, capsys)
    assert code == 0
    assert f"current revision: {HEAD}" in out
    assert "pending: none" in out


async def test_replicas_migrating_at_once() -> None:
    """Four migrators, each on its own connection, start on one fresh database at once:
    one applies the schema, the others wait for the advisory lock and find nothing to do."""
    with pg_database("aragora_race") as url:
        databases = [Database(url, options=FAST) for _ in range(4)]
        try:
            results = await asyncio.gather(*(Migrator(db).migrate() for db in databases))
            assert sorted(len(r.applied) for r in results) == [0, 0, 0, len(REVISIONS)]
            assert all(r.after == HEAD for r in results)
            async with databases[0].read() as conn:
                versions = (await conn.execute(sa.text("SELECT * FROM alembic_version"))).all()
            assert versions == [(HEAD,)]
        finally:
            for database in databases:
                await database.dispose()


async def test_sqlite_migrators_at_once(tmp_path: Path) -> None:
    """Four migrators on one embedded database (already in WAL mode, as any database an
    Aragora process has opened is): BEGIN IMMEDIATE lets one apply the schema at a time."""
    path = tmp_path / "race.db"
    with contextlib.closing(sqlite3.connect(path)) as first:
        first.execute("PRAGMA journal_mode=WAL")
    url = f"sqlite:///{path.as_posix()}"
    databases = [Database(url, options=FAST) for _ in range(4)]
    try:
        results = await asyncio.gather(*(Migrator(db).migrate() for db in databases))
        assert sorted(len(r.applied) for r in results) == [0, 0, 0, len(REVISIONS)]
        assert (await Migrator(databases[0]).status()).up_to_date
    finally:
        for database in databases:
            await database.dispose()


async def test_a_failing_migration_changes_nothing(empty_url: str, tmp_path: Path) -> None:
    extra = tmp_path / "versions"
    extra.mkdir()
    (extra / "0099_broken.py").write_text(textwrap.dedent(BROKEN))
    database = Database(empty_url, options=FAST)
    try:
        broken = Migrator(database, extra_versions=[extra])
        # From empty: every revision and 0099 in one transaction, so none remains.
        with pytest.raises(StorageError, match="nothing was changed"):
            await broken.migrate()
        assert await _tables(database) == set()
        assert (await broken.status()).current is None
        # From the head: the failed 0099 leaves the schema exactly as it was.
        await Migrator(database).migrate()
        tables = await _tables(database)
        columns = await _columns(database, "debates")
        with pytest.raises(StorageError, match="no_such_table"):
            await broken.migrate()
        assert await _tables(database) == tables
        assert "half_done" not in tables
        assert await _columns(database, "debates") == columns
        status = await broken.status()
        assert (status.current, status.head) == (HEAD, "0099")
    finally:
        await database.dispose()


async def test_a_server_refuses_an_out_of_date_schema(empty_url: str) -> None:
    database = Database(empty_url, options=FAST)
    try:
        with pytest.raises(SchemaMismatchError) as refused:
            await ensure_schema(database, auto_migrate=False)
        assert MIGRATE_COMMAND in str(refused.value)
        assert "ARAGORA_AUTO_MIGRATE=true" in str(refused.value)
        assert await _tables(database) == set()
        status = await ensure_schema(database, auto_migrate=True)
        assert status.up_to_date
        assert (await ensure_schema(database, auto_migrate=False)).current == HEAD
        async with database.write() as conn:  # as if a newer Aragora had migrated it
            await conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
        for auto in (False, True):
            with pytest.raises(SchemaMismatchError, match="9999, which this Aragora does not"):
                await ensure_schema(database, auto_migrate=auto)
        with pytest.raises(SchemaMismatchError):
            await Migrator(database).migrate()
    finally:
        await database.dispose()


def test_auto_migrate_defaults_to_embedded_mode_only() -> None:
    assert load_settings({}).effective_auto_migrate is True
    assert load_settings({"ARAGORA_DATABASE_URL": "sqlite:///x.db"}).effective_auto_migrate
    production = {"ARAGORA_DATABASE_URL": "postgresql://a@db/aragora"}
    assert load_settings(production).effective_auto_migrate is False
    assert load_settings({**production, "ARAGORA_AUTO_MIGRATE": "true"}).effective_auto_migrate
    assert not load_settings({"ARAGORA_AUTO_MIGRATE": "false"}).effective_auto_migrate


def test_aragora_migrate_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ARAGORA_DATABASE_URL", raising=False)
    monkeypatch.setenv("ARAGORA_DATA_DIR", str(tmp_path / "data"))
    assert main(["migrate", "status"]) == 0
    assert f"pending: {len(REVISIONS)}" in capsys.readouterr().out
    assert main(["migrate"]) == 0
    assert f"applied {', '.join(REVISIONS)}" in capsys.readouterr().out
    assert (tmp_path / "data" / "aragora.db").is_file()
    assert main(["migrate", "status"]) == 0
    assert "pending: none" in capsys.readouterr().out
    with pytest.raises(SystemExit) as usage:
        main(["migrate", "sideways"])
    assert usage.value.code == 2


@pytest.mark.parametrize("command", [["migrate"], ["migrate", "status"]])
def test_an_unreachable_database_is_one_line(
    command: list[str],
    unused_tcp_port: int,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = f"postgresql://aragora:s3cr3t-pw@127.0.0.1:{unused_tcp_port}/aragora"
    monkeypatch.setenv("ARAGORA_DATABASE_URL", url)
    assert main(command) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert f"postgresql://aragora:***@127.0.0.1:{unused_tcp_port}/aragora" in err
    assert "unavailable: connection refused" in err
    assert "s3cr3t-pw" not in err


def test_the_runner_reports_an_unreachable_database(
    unused_tcp_port: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"postgresql://u:pw-x@127.0.0.1:{unused_tcp_port}/aragora"
    code, out, err = _runner(url, "status", monkeypatch, capsys)
    assert code == 1
    assert err.count("\n") == 1, err
    assert "postgresql://u:***@" in err
    assert "pw-x" not in err + out


async def test_0002_gives_existing_jobs_priority_zero(empty_url: str) -> None:
    """A database at 0001 with a queued debate moves to 0002 keeping the job, at priority 0."""
    database = Database(empty_url, options=FAST)
    try:
        migrator = Migrator(database)
        await migrator.migrate(target="0001")
        async with database.write() as conn:
            await conn.execute(
                sa.text(
                    "INSERT INTO debates (id, status, task, request, created_at, updated_at) "
                    "VALUES ('d1', 'queued', 't', '{}', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                )
            )
            await conn.execute(
                sa.text(
                    "INSERT INTO jobs (debate_id, state, epoch, attempts, enqueued_at) "
                    "VALUES ('d1', 'queued', 0, 0, CURRENT_TIMESTAMP)"
                )
            )
        await migrator.migrate()
        async with database.read() as conn:
            rows = (await conn.execute(sa.text("SELECT debate_id, priority FROM jobs"))).all()
        assert rows == [("d1", 0)]
    finally:
        await database.dispose()


async def test_0003_adds_the_knowledge_mound_to_a_used_database(empty_url: str) -> None:
    """A database at 0002 holding a debate moves to 0003 keeping it, and its Knowledge
    Mound then stores and finds items."""
    database = Database(empty_url, options=FAST)
    try:
        migrator = Migrator(database)
        await migrator.migrate(target="0002")
        # Written as the code of 0002's time did (today's code writes later columns).
        async with database.write() as conn:
            await conn.execute(
                sa.text(
                    "INSERT INTO debates (id, status, task, request, created_at, updated_at) "
                    "VALUES ('d1', 'queued', 'Which database?', '{}', CURRENT_TIMESTAMP, "
                    "CURRENT_TIMESTAMP)"
                )
            )
        await migrator.migrate()
        store = sql_storage(database)
        assert (await store.debates.get("d1")).task == "Which database?"
        now = datetime.now(UTC)
        note = KnowledgeItem("k1", "decision", "Use PostgreSQL", "Replicas scale reads.", now, now)
        assert await store.knowledge.put([note]) == 1
        hits = await store.knowledge_index.search("replica")
        assert [hit.item for hit in hits] == [note]
    finally:
        await database.dispose()


async def _count_rows(database: Database, table: str) -> list[tuple[str, int, int]]:
    """``table`` (``debate_counts`` or its shards) as (status, rows, total) per status."""
    async with database.read(primary=True) as conn:
        result = await conn.execute(
            sa.text(f"SELECT status, count(*), sum(n) FROM {table} GROUP BY status ORDER BY status")
        )
        return [(str(s), int(rows), int(total)) for s, rows, total in result]


async def test_0009_adds_count_shards_keeping_the_counts(empty_url: str) -> None:
    """A database at 0008 whose counts hold debates moves to 0009 with the same counts and
    16 empty shards per status (the code's COUNT_SHARDS), which the code moves on
    PostgreSQL; an old replica's write to the old row still counts once; going back to
    0008 folds the shards into the old rows."""
    database = Database(empty_url, options=FAST)
    try:
        migrator = Migrator(database)
        await migrator.migrate(target="0008")
        async with database.write() as conn:
            await conn.execute(sa.text("UPDATE debate_counts SET n = 3 WHERE status = 'queued'"))
            await conn.execute(sa.text("UPDATE debate_counts SET n = 5 WHERE status = 'failed'"))
        await migrator.migrate()
        statuses = ("cancelled", "completed", "failed", "queued", "running")
        assert await _count_rows(database, "debate_count_shards") == [
            (status, COUNT_SHARDS, 0) for status in statuses
        ]
        store = sql_storage(database)
        for n in range(20):
            await store.debates.create(NewDebate(f"d{n}", "Which database?"))
        await store.debates.update("d0", status="cancelled")
        async with database.write() as conn:  # a replica still on the code before 0009
            await conn.execute(
                sa.text("UPDATE debate_counts SET n = n + 1 WHERE status = 'failed'")
            )
        counts = await store.debates.counts()
        assert (counts["queued"], counts["cancelled"], counts["failed"]) == (22, 1, 6)
        assert (await store.debates.list(status="queued")).total == 22
        if database.dialect == "postgresql":
            old = await _count_rows(database, "debate_counts")
            assert [total for _, _, total in old] == [0, 0, 6, 3, 0], "shards moved instead"
        await _downgrade(database, migrator, "0008")
        assert await _count_rows(database, "debate_counts") == [
            ("cancelled", 1, 1),
            ("completed", 1, 0),
            ("failed", 1, 6),
            ("queued", 1, 22),
            ("running", 1, 0),
        ]
    finally:
        await database.dispose()


async def _downgrade(database: Database, migrator: Migrator, target: str) -> None:
    """Alembic's downgrade to ``target`` (the runner only upgrades; operators restore a
    backup to go back, but each migration's downgrade must still work)."""
    from alembic import command

    def run(conn: sa.Connection) -> None:
        config = migrator._config()
        config.attributes["connection"] = conn
        command.downgrade(config, target)

    async with database.writer.connect() as conn:
        await conn.run_sync(run)
        await conn.commit()
