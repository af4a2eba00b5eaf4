"""Storage at production size: seed a large store, then time the hot paths through the
repositories the service uses.

    python bench/storage.py                       # both backends, full scale
    python bench/storage.py --scale 0.01          # a quick run (1k debates, 50k events)
    python bench/storage.py --backend postgresql --pg-server postgresql://postgres@127.0.0.1:5432

It reports and never gates: the exit status is 0 whatever the figures are (1 only if the
benchmark itself cannot run). It creates its own database (PostgreSQL: a fresh
``aragora_bench_*`` database on the server; SQLite: a file in a temporary directory) and
removes it at the end, also when interrupted.

Workload at ``--scale 1`` (the target size): 100,000 debates and 5,000,000 events. Every
tenth debate has 200 events (the "read one debate's 200 events" case); the others share
the rest (about 33 each). Events carry a ~250-character ``content`` like an agent's
answer; completed debates carry a cached document of ~2 KB. Seeding uses bulk paths
(PostgreSQL ``COPY``, SQLite multi-row ``executemany`` in large transactions), then
``VACUUM ANALYZE`` as autovacuum would, and is reported as rows per second.

Measured through the real code path (``aragora.storage.sql.storage.sql_storage`` on SQLAlchemy and
the async driver), one operation at a time:

- append: ``events.append`` (one fenced write per event: on PostgreSQL one statement that
  commits on its own, on SQLite one transaction) on freshly claimed debates;
  p50 and p99 over 2,000 appends.
- read 200: ``events.read`` of a random 200-event debate; p95 over 500 reads
  (target <= 5 ms on PostgreSQL).
- list page: ``debates.list(limit=50)`` (newest first, with the total) and the same for
  one status; p95 over 300 each (target <= 20 ms).
"""

from __future__ import annotations

import os
import sys

# bench/http.py would shadow the standard library's `http` package (imported by httpx)
# when this runs as `python bench/storage.py`: drop this directory from the import path.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

import argparse
import asyncio
import json
import random
import shutil
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from aragora.debate.events import Event
from aragora.migrations.runner import Migrator
from aragora.records.debates import NewDebate, Storage
from aragora.storage.sql.database import Database, PoolOptions
from aragora.storage.sql.storage import sql_storage

FULL_DEBATES = 100_000
FULL_EVENTS = 5_000_000
LONG_DEBATE = 200
STATUSES = ("completed",) * 8 + ("failed", "cancelled")
CONTENT = (
    "Use PostgreSQL for the shared state and keep SQLite for the single-node edition; "
    "the migration path is a dump and restore, and the event log keeps both honest. "
    "Confidence comes from the replay tests, not from the vendor's benchmark sheet."
)
DOCUMENT = {"summary": "x" * 1800, "messages": [{"agent": "demo", "content": CONTENT}]}
CHUNK = 50_000


@dataclass
class Result:
    backend: str
    debates: int
    events: int
    seed_seconds: float
    append: list[float]
    read: list[float]
    page: list[float]
    page_status: list[float]


def plan(scale: float) -> tuple[int, int]:
    debates = max(20, round(FULL_DEBATES * scale))
    events = max(debates * 20, round(FULL_EVENTS * scale))
    return debates, events


def event_counts(debates: int, events: int) -> list[int]:
    """Every tenth debate has LONG_DEBATE events; the others share the rest evenly."""
    long_ids = range(0, debates, 10)
    rest = events - LONG_DEBATE * len(long_ids)
    short = debates - len(long_ids)
    base, extra = divmod(max(rest, short), short)
    counts = []
    short_seen = 0
    for n in range(debates):
        if n % 10 == 0:
            counts.append(LONG_DEBATE)
        else:
            counts.append(base + (1 if short_seen < extra else 0))
            short_seen += 1
    return counts


def debate_rows(debates: int, start: datetime) -> Iterator[tuple[object, ...]]:
    request = json.dumps({"agents": ["demo", "demo", "demo"], "mode": "auto"})
    document = json.dumps(DOCUMENT)
    for n in range(debates):
        created = start + timedelta(seconds=n)
        status = STATUSES[n % len(STATUSES)]
        yield (f"bench-{n:07d}", status, f"Question number {n} about storage", request,
               document, created, created)  # fmt: skip


def event_rows(counts: list[int], start: datetime) -> Iterator[tuple[object, ...]]:
    data = json.dumps({"content": CONTENT, "confidence": 0.8, "round_number": 1})
    for n, count in enumerate(counts):
        debate_id = f"bench-{n:07d}"
        base = start + timedelta(seconds=n)
        for seq in range(1, count + 1):
            stamp = base + timedelta(milliseconds=seq)
            yield (debate_id, seq, "propose", 1, "demo:pragmatist", stamp.isoformat(), data, stamp)


def chunks(rows: Iterator[tuple[object, ...]], size: int) -> Iterator[list[tuple[object, ...]]]:
    chunk: list[tuple[object, ...]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


RECOUNT = (
    "UPDATE debate_counts SET n = "
    "(SELECT count(*) FROM debates WHERE debates.status = debate_counts.status)"
)


EVENT_COLUMNS = ["debate_id", "seq", "type", "round", "agent", "timestamp", "data", "created_at"]
DEBATE_COLUMNS = ["id", "status", "task", "request", "document", "created_at", "updated_at"]


async def seed_postgres(database: Database, debates: int, counts: list[int]) -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    async with database.writer.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        assert raw is not None
        for chunk in chunks(debate_rows(debates, start), CHUNK):
            await raw.copy_records_to_table("debates", records=chunk, columns=DEBATE_COLUMNS)
        jobs = [(f"bench-{n:07d}", "done", 1, 1, start) for n in range(debates)]
        for chunk in chunks(iter(jobs), CHUNK):
            await raw.copy_records_to_table(
                "jobs", records=chunk,
                columns=["debate_id", "state", "epoch", "attempts", "enqueued_at"],
            )  # fmt: skip
        for chunk in chunks(event_rows(counts, start), CHUNK):
            await raw.copy_records_to_table("debate_events", records=chunk, columns=EVENT_COLUMNS)
        await conn.execute(sa.text(RECOUNT))  # COPY bypassed the repository's counting
        await conn.commit()
    async with database.writer.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(sa.text("VACUUM ANALYZE"))
        # Flush the bulk load's dirty pages now, so the measurements see a settled server
        # rather than a checkpoint writing gigabytes underneath them (needs superuser or
        # pg_checkpoint; without it, measure anyway).
        try:
            await conn.execute(sa.text("CHECKPOINT"))
        except sa.exc.DBAPIError as error:
            print(f"  (no CHECKPOINT: {error.orig})", file=sys.stderr)


def seed_sqlite(path: Path, debates: int, counts: list[int]) -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)

    def naive(value: object) -> object:  # the storage layer keeps UTC as naive ISO text
        return value.replace(tzinfo=None).isoformat(" ") if isinstance(value, datetime) else value

    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("BEGIN")
        conn.executemany(
            f"INSERT INTO debates ({', '.join(DEBATE_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            ([naive(v) for v in row] for row in debate_rows(debates, start)),
        )
        conn.executemany(
            "INSERT INTO jobs (debate_id, state, epoch, attempts, enqueued_at) "
            "VALUES (?, 'done', 1, 1, ?)",
            ((f"bench-{n:07d}", naive(start)) for n in range(debates)),
        )
        conn.execute("COMMIT")
        for chunk in chunks(event_rows(counts, start), CHUNK * 4):
            conn.execute("BEGIN")
            conn.executemany(
                f"INSERT INTO debate_events ({', '.join(EVENT_COLUMNS)}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                ([naive(v) for v in row] for row in chunk),
            )
            conn.execute("COMMIT")
        conn.execute(RECOUNT)  # the bulk insert bypassed the repository's counting
        conn.execute("ANALYZE")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


async def timed(times: list[float], operation: Awaitable[object]) -> None:
    """Await ``operation`` (a coroutine not yet started) and record its milliseconds."""
    started = time.perf_counter()
    await operation
    times.append((time.perf_counter() - started) * 1000)


async def measure(store: Storage, counts: list[int], rng: random.Random) -> tuple[list[float], ...]:
    append: list[float] = []
    for n in range(20):  # 20 fresh debates x 100 appends, each its own transaction
        debate_id = f"append-{n}-{uuid.uuid4().hex[:8]}"
        await store.debates.create(NewDebate(debate_id, "appending"))
        lease = await store.leases.claim("bench", 600)
        assert lease is not None
        for seq in range(1, 101):
            event = Event("propose", lease.debate_id, seq, datetime.now(UTC).isoformat(), 1,
                          "demo:a", {"content": CONTENT, "confidence": 0.8})  # fmt: skip
            await timed(append, store.events.append(event, epoch=lease.epoch))
    long_ids = [f"bench-{n:07d}" for n, c in enumerate(counts) if c == LONG_DEBATE]
    read: list[float] = []
    for _ in range(500):
        debate_id = rng.choice(long_ids)
        await timed(read, store.events.read(debate_id))
    page: list[float] = []
    page_status: list[float] = []
    for _ in range(300):
        await timed(page, store.debates.list(limit=50))
        await timed(page_status, store.debates.list(status="failed", limit=50))
    return append, read, page, page_status


async def run_backend(backend: str, scale: float, pg_server: str) -> Result:
    debates, events = plan(scale)
    counts = event_counts(debates, events)
    rng = random.Random(42)
    options = PoolOptions(pool_size=2, max_overflow=0, command_timeout=None)
    scratch: Path | None = None
    name = f"aragora_bench_{uuid.uuid4().hex[:10]}"
    admin: Database | None = None
    if backend == "postgresql":
        admin = Database(f"{pg_server}/postgres", options=options)
        async with admin.writer.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = f"{pg_server}/{name}"
    else:
        scratch = Path(tempfile.mkdtemp(prefix="aragora-bench-"))
        url = f"sqlite:///{(scratch / 'bench.db').as_posix()}"
    database = Database(url, options=options)
    try:
        await Migrator(database).migrate()
        print(f"  {backend}: seeding {debates:,} debates and {sum(counts):,} events ...",
              file=sys.stderr, flush=True)  # fmt: skip
        started = time.perf_counter()
        if backend == "postgresql":
            await seed_postgres(database, debates, counts)
        else:
            assert scratch is not None
            await asyncio.to_thread(seed_sqlite, scratch / "bench.db", debates, counts)
        seed_seconds = time.perf_counter() - started
        print(f"  {backend}: seeded in {seed_seconds:.1f} s; measuring ...",
              file=sys.stderr, flush=True)  # fmt: skip
        store = sql_storage(database)
        append, read, page, page_status = await measure(store, counts, rng)
        return Result(backend, debates, sum(counts), seed_seconds, append, read, page, page_status)
    finally:
        await database.dispose()
        if admin is not None:
            async with admin.writer.connect() as conn:
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            await admin.dispose()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[round(q) - 1]


def report(results: list[Result], scale: float) -> None:
    debates, events = plan(scale)
    print(f"\nstorage benchmark: scale {scale:g} = {debates:,} debates, {events:,} events "
          f"(every 10th debate has {LONG_DEBATE} events)")  # fmt: skip
    header = (
        f"{'backend':<11} {'seed rows/s':>12} {'seed s':>7} {'append p50':>11} "
        f"{'append p99':>11} {'read 200 p95':>13} {'list p95':>9} {'list+status p95':>16}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        rows = r.debates * 2 + r.events  # debates, jobs and events
        print(
            f"{r.backend:<11} {rows / r.seed_seconds:>12,.0f} {r.seed_seconds:>7.1f} "
            f"{pct(r.append, 50):>9.2f}ms {pct(r.append, 99):>9.2f}ms "
            f"{pct(r.read, 95):>11.2f}ms {pct(r.page, 95):>7.2f}ms "
            f"{pct(r.page_status, 95):>14.2f}ms"
        )
    print("targets: read 200 events p95 <= 5 ms on PostgreSQL; one list page p95 <= 20 ms")
    for r in results:
        if r.backend == "postgresql":
            ok = pct(r.read, 95) <= 5 and max(pct(r.page, 95), pct(r.page_status, 95)) <= 20
            print(f"postgresql targets {'met' if ok else 'NOT met'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--backend", choices=["postgresql", "sqlite", "both"], default="both")
    parser.add_argument("--scale", type=float, default=1.0, help="1 = 100k debates, 5M events")
    parser.add_argument("--pg-server", default="postgresql://postgres@127.0.0.1:5432",
                        help="PostgreSQL server URL without a database name")  # fmt: skip
    args = parser.parse_args()
    backends = ["postgresql", "sqlite"] if args.backend == "both" else [args.backend]
    results = [asyncio.run(run_backend(b, args.scale, args.pg_server)) for b in backends]
    report(results, args.scale)
    return 0


if __name__ == "__main__":
    sys.exit(main())
