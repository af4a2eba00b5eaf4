"""Backup and recovery as the runbook does it (pg_dump, then psql into a fresh database),
and the embedded ``aragora backup FILE`` while a writer keeps writing."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import stat
import threading
from pathlib import Path
from typing import IO

import pytest

from aragora.cli.main import main
from aragora.migrations.runner import Migrator
from aragora.records.debates import NewDebate, NewReceipt, Rating, Storage
from aragora.storage.backup import backup_sqlite
from aragora.storage.sql.database import Database
from aragora.storage.sql.storage import sql_storage

from .support import FAST, migrate_async, pg_database, run_demo_debate, sqlite_copy


async def _populate(store: Storage) -> list[str]:
    ids = [await run_demo_debate(store, f"Question {n}: ü?", seed=n + 1) for n in range(3)]
    queued = await store.debates.create(NewDebate("queued-1", "still queued", {"rounds": 1}))
    ids.append(queued.record.id)
    await store.tokens.create(name="ops", role="admin", secret="secret-1")
    await store.settings.set("maintenance", {"enabled": True, "message": "backup"})
    await store.ratings.put(
        [Rating("demo:a", 1523.25, wins=3, debates=3, provider="demo", model="a")]
    )
    await store.receipts.append(NewReceipt("r1", ids[0], "h1", None, {"odr": "0.2"}))
    return ids


async def _tool(
    *args: str, stdin: IO[bytes] | None = None, stdout: IO[bytes] | None = None
) -> None:
    process = await asyncio.create_subprocess_exec(
        *args, stdin=stdin, stdout=stdout or asyncio.subprocess.DEVNULL
    )
    assert await asyncio.wait_for(process.wait(), 60) == 0, args


async def _snapshot(store: Storage, ids: list[str]) -> object:
    return (
        [await store.debates.get(i) for i in ids],
        [await store.events.read(i) for i in ids],
        await store.debates.list(limit=100),
        await store.debates.counts(),
        await store.tokens.list(),
        await store.settings.get("maintenance"),
        await store.ratings.leaderboard(),
        await store.receipts.for_debate(ids[0]),
    )


async def test_pg_dump_restores_identical_debates_and_logs(tmp_path: Path) -> None:
    dump = tmp_path / "backup.sql"
    with pg_database("aragora_backup_src") as source_url:
        await migrate_async(source_url)
        source = sql_storage(Database(source_url, options=FAST))
        try:
            ids = await _populate(source)
            before = await _snapshot(source, ids)
        finally:
            await source.close()
        # pg_dump aragora > backup.sql
        with dump.open("wb") as out:
            await _tool("pg_dump", source_url, stdout=out)
    assert b"debate_events" in dump.read_bytes()[:200_000]
    with pg_database("aragora_backup_dst") as restored_url:
        # psql aragora < backup.sql
        with dump.open("rb") as backup:
            await _tool("psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", restored_url, stdin=backup)
        database = Database(restored_url, options=FAST)
        restored = sql_storage(database)
        try:
            assert await _snapshot(restored, ids) == before
            assert (await Migrator(database).status()).up_to_date
            assert await restored.tokens.authenticate("secret-1") is not None
            lease = await restored.leases.claim("after-restore", 60)  # the queue came back too
            assert lease is not None
            assert lease.debate_id == ids[3]
        finally:
            await restored.close()


def test_embedded_backup_is_consistent_while_a_writer_runs(
    tmp_path: Path, sqlite_template: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = sqlite_copy(sqlite_template, tmp_path)
    path = Path(url.removeprefix("sqlite:///"))
    monkeypatch.setenv("ARAGORA_DATABASE_URL", url)
    with sqlite3.connect(path, isolation_level=None) as setup:
        setup.execute(
            "INSERT INTO debates (id, status, task, request, created_at, updated_at) "
            "VALUES ('d1', 'running', 't', '{}', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
        )
    stop = threading.Event()
    written = 0

    def writer() -> None:
        # Each transaction appends an event and records its seq in the debate row, so a
        # consistent copy always has document.last == the highest seq.
        nonlocal written
        conn = sqlite3.connect(path, isolation_level=None, timeout=10)
        try:
            while not stop.is_set():
                seq = written + 1
                conn.execute("BEGIN IMMEDIATE")
                conn.execute(
                    "INSERT INTO debate_events (debate_id, seq, type, timestamp, data, "
                    "created_at) VALUES ('d1', ?, 'propose', 't', ?, '2026-01-01 00:00:00')",
                    (seq, json.dumps({"pad": "x" * 2000})),
                )
                conn.execute(
                    "UPDATE debates SET document = ? WHERE id = 'd1'", (json.dumps({"last": seq}),)
                )
                conn.execute("COMMIT")
                written = seq
        finally:
            conn.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        copies = []
        for n in range(3):
            while written < 200 * (n + 1):
                stop.wait(0.01)
            target = tmp_path / f"backup-{n}.db"
            assert main(["backup", str(target)]) == 0
            copies.append(target)
    finally:
        stop.set()
        thread.join()
    for target in copies:
        with sqlite3.connect(target) as copy:
            assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            seqs = [s for (s,) in copy.execute("SELECT seq FROM debate_events ORDER BY seq")]
            (document,) = copy.execute("SELECT document FROM debates").fetchone()
        assert seqs == list(range(1, len(seqs) + 1))
        assert json.loads(document)["last"] == len(seqs) > 0
        assert not Path(f"{target}-wal").exists()
    assert written > len(seqs)  # the writer kept going after the last copy began


def test_backup_refuses_to_overwrite_and_postgres(
    tmp_path: Path,
    sqlite_template: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("ARAGORA_DATABASE_URL", sqlite_copy(sqlite_template, tmp_path))
    target = tmp_path / "copy.db"
    target.write_text("keep me")
    assert main(["backup", str(target)]) == 2
    assert "exists" in capsys.readouterr().err
    assert target.read_text() == "keep me"
    assert main(["backup", str(target), "--force"]) == 0
    assert sqlite3.connect(target).execute("SELECT count(*) FROM debates").fetchone() == (0,)
    monkeypatch.setenv("ARAGORA_DATABASE_URL", "postgresql://u:pw@127.0.0.1:5432/aragora")
    assert main(["backup", str(tmp_path / "pg.db")]) == 2
    err = capsys.readouterr().err
    assert "pg_dump" in err
    assert "pw@" not in err
    monkeypatch.setenv("ARAGORA_DATABASE_URL", f"sqlite:///{tmp_path}/missing/none.db")
    assert main(["backup", str(tmp_path / "none-copy.db")]) == 1
    assert "nothing to back up" in capsys.readouterr().err


async def test_embedded_files_are_private(tmp_path: Path) -> None:
    """The database, its WAL and shared-memory files and a backup hold every debate and
    token hash: 0600, in a data directory Aragora creates 0700."""
    data_dir = tmp_path / "new-data-dir"
    database = Database(f"sqlite:///{(data_dir / 'aragora.db').as_posix()}")
    try:
        await Migrator(database).migrate()
        store = sql_storage(database)
        await store.settings.set("k", 1)
        files = {p.name: stat.S_IMODE(p.stat().st_mode) for p in data_dir.iterdir()}
        assert {"aragora.db", "aragora.db-wal", "aragora.db-shm"} <= set(files)
        assert all(mode == 0o600 for mode in files.values()), files
        assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
        copy = tmp_path / "backup.db"
        await backup_sqlite(data_dir / "aragora.db", copy)
        assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    finally:
        await database.dispose()
