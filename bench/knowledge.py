"""The Knowledge Mound at production size: import through ``put``, full-text search
latency, and a streaming export with its peak memory.

    python bench/knowledge.py                        # both backends, 100k then 1M items
    python bench/knowledge.py --quick                # 20k items, a minute or two
    python bench/knowledge.py --scale 0.5 --backend sqlite

It reports and never gates: the exit status is 0 whatever the figures are (1 only if the
benchmark itself cannot run). Each size gets a fresh database (PostgreSQL: a new
``aragora_kbench_*`` database on the server; SQLite: a file in a temporary directory),
dropped at the end, also when interrupted.

Workload: items made of sentences drawn from a fixed-seed generator (a vocabulary of
20k words with Zipf-like frequencies, so a few words occur in most items and most in
very few); titles of 4-10 words, contents of 3-12 sentences (~700 characters on
average), 1-4 of 39 tags, five kinds, one link per ten items.

Measured through the real code path (``aragora.storage.sql.storage.sql_storage``):

- import: ``knowledge.put`` in batches of 5,000 items (generating them is not counted),
  reported as items/s;
- search: ``knowledge_index.search(limit=10)`` over 200 queries of 1-3 words, common and
  rare mixed, a quarter of them with filters (kind, tag, time window); p50 and p95
  (targets at 1M: PostgreSQL p95 <= 50 ms, SQLite p95 <= 100 ms);
- export: ``knowledge_index.scan_items`` plus JSON serialisation of every item to a file,
  in a child process so its peak RSS is the export's own (target <= 300 MB at 1M).
"""

from __future__ import annotations

import os
import sys

# bench/http.py would shadow the standard library's `http` package (imported by httpx via
# aragora.migrations) when this runs as `python bench/knowledge.py`: drop this directory.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

import argparse
import asyncio
import contextlib
import random
import shutil
import sqlite3
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import sqlalchemy as sa

from aragora.migrations.runner import Migrator
from aragora.records.knowledge import (
    ITEM_KINDS,
    KnowledgeItem,
    KnowledgeLink,
    SearchFilters,
)
from aragora.storage.sql.database import Database, PoolOptions, sqlite_path
from aragora.storage.sql.storage import sql_storage


def words(text: str) -> list[str]:
    return text.split()


FULL = 1_000_000
BATCH = 5_000
QUERIES = 200
START = datetime(2025, 1, 1, tzinfo=UTC)
COMMON = words(
    "agent debate decision database latency storage replica consensus vote evidence claim "
    "model cost budget cache query index migration schema backup risk security token "
    "service queue lease event stream search confidence judge round critique proposal "
    "answer review policy incident deploy cluster memory network timeout retry failure"
)
TAGS = [
    f"tag-{name}"
    for name in words(
        "ops perf db cache security cost infra ml ux api sdk docs legal finance hr sales "
        "support eu us apac mobile web backend frontend data privacy audit billing search "
        "queue release incident oncall vendor contract design research growth platform"
    )
]
SYLLABLES = words("ka lo mi nu pe ra si to vu ze bra cle dri flo gru pla tre sno qua xi")


def vocabulary(rng: random.Random) -> list[str]:
    """COMMON first, then made-up words up to 20k: the list's order is the frequency rank."""
    vocab = list(COMMON)
    seen = set(vocab)
    while len(vocab) < 20_000:
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            vocab.append(word)
    return vocab


@dataclass
class Corpus:
    """Sentences and titles built once, combined into items cheaply."""

    vocab: list[str]
    sentences: list[str] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)

    @classmethod
    def build(cls, seed: int = 7) -> Corpus:
        rng = random.Random(seed)
        vocab = vocabulary(rng)
        cumulative = list(_accumulate([1 / (rank + 10) for rank in range(len(vocab))]))
        corpus = cls(vocab)
        fillers = ("the", "a", "of", "to", "and", "in", "for", "with", "is", "was")
        for _ in range(100_000):
            picked = rng.choices(vocab, cum_weights=cumulative, k=rng.randint(6, 16))
            mixed = [w if rng.random() > 0.3 else f"{rng.choice(fillers)} {w}" for w in picked]
            corpus.sentences.append(" ".join(mixed).capitalize() + ".")
        for _ in range(50_000):
            picked = rng.choices(vocab, cum_weights=cumulative, k=rng.randint(4, 10))
            corpus.titles.append(" ".join(picked).capitalize())
        return corpus

    def items(self, count: int) -> Iterator[KnowledgeItem]:
        rng = random.Random(1234)  # the same items on every backend
        for n in range(count):
            created = START + timedelta(seconds=30 * n)
            yield KnowledgeItem(
                id=f"kn-{n:08d}",
                kind=ITEM_KINDS[n % len(ITEM_KINDS)] if n % 7 else "decision",
                title=rng.choice(self.titles),
                content=" ".join(rng.choices(self.sentences, k=rng.randint(3, 12))),
                created_at=created,
                updated_at=created,
                source_debate_id=f"debate-{n // 5:07d}",
                source_agent=rng.choice(("demo:skeptic", "demo:pragmatist", "openai:gpt")),
                confidence=round(rng.random(), 3),
                tags=tuple(rng.sample(TAGS, rng.randint(1, 4))),
                provenance={"round": rng.randint(1, 4), "rule": "majority"},
            )

    def queries(self, count: int, items: int) -> list[tuple[str, SearchFilters | None]]:
        """1-3 words each, every word common (top 50) or rare (rank 2,000+) at even odds;
        every fourth query filtered by kind, tag or a time window."""
        rng = random.Random(11)
        common = self.vocab[:50]
        rare = self.vocab[2_000:]
        span = timedelta(seconds=30 * items)
        result: list[tuple[str, SearchFilters | None]] = []
        for n in range(count):
            size = 1 + n % 3
            picked = [rng.choice(common if rng.random() < 0.5 else rare) for _ in range(size)]
            filters = None
            if n % 4 == 3:
                since = START + span * rng.random() * 0.5
                filters = rng.choice((
                    SearchFilters(kinds=("decision",)),
                    SearchFilters(tags=(rng.choice(TAGS),)),
                    SearchFilters(since=since, until=since + span / 4),
                ))  # fmt: skip
            result.append((" ".join(picked), filters))
        return result


def _accumulate(values: list[float]) -> Iterator[float]:
    total = 0.0
    for value in values:
        total += value
        yield total


@dataclass
class Result:
    backend: str
    items: int
    import_seconds: float
    search: list[float]
    search_hits: int
    export_seconds: float
    export_rss_mb: float


def batches(
    corpus: Corpus, count: int
) -> Iterator[tuple[list[KnowledgeItem], list[KnowledgeLink]]]:
    batch: list[KnowledgeItem] = []
    for item in corpus.items(count):
        batch.append(item)
        if len(batch) == BATCH:
            yield batch, _links(batch)
            batch = []
    if batch:
        yield batch, _links(batch)


def _links(batch: list[KnowledgeItem]) -> list[KnowledgeLink]:
    return [
        KnowledgeLink(batch[n].id, batch[n - 1].id, "supports", batch[n].created_at)
        for n in range(1, len(batch), 10)
    ]


async def settle(database: Database) -> None:
    """What autovacuum or a quiet period would do after a bulk load."""
    if database.dialect == "postgresql":
        async with database.writer.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(sa.text("VACUUM ANALYZE knowledge_items"))
            try:
                await conn.execute(sa.text("CHECKPOINT"))
            except sa.exc.DBAPIError as error:
                print(f"  (no CHECKPOINT: {error.orig})", file=sys.stderr)
        return
    path = sqlite_path(database.url)
    assert path is not None
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as raw:
        raw.execute("ANALYZE")
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")


async def measure_search(database: Database, corpus: Corpus, items: int) -> tuple[list[float], int]:
    index = sql_storage(database).knowledge_index
    times: list[float] = []
    hits = 0
    queries = corpus.queries(QUERIES, items)
    for query, filters in queries[:10]:  # warm the pool and caches
        await index.search(query, filters=filters)
    for query, filters in queries:
        started = time.perf_counter()
        found = await index.search(query, limit=10, filters=filters)
        times.append((time.perf_counter() - started) * 1000)
        hits += len(found)
    return times, hits


async def export(url: str, target: Path) -> int:
    """Stream every item into ``target`` as one JSON document; returns the count."""
    database = Database(url, options=PoolOptions(pool_size=1, max_overflow=0))
    count = 0
    try:
        index = sql_storage(database).knowledge_index
        with target.open("wb") as out:
            out.write(b'{"format":"aragora.knowledge","version":1,"items":[')
            async for item in index.scan_items(batch=1000):
                out.write(b"," if count else b"")
                out.write(orjson.dumps({
                    "id": item.id, "kind": item.kind, "title": item.title,
                    "content": item.content,
                    "source": {"debate_id": item.source_debate_id, "agent": item.source_agent},
                    "confidence": item.confidence, "tags": list(item.tags),
                    "created_at": item.created_at.isoformat(),
                    "updated_at": item.updated_at.isoformat(),
                    "provenance": dict(item.provenance),
                }))  # fmt: skip
                count += 1
            out.write(b'],"count":%d}\n' % count)
    finally:
        await database.dispose()
    return count


def export_in_child(url: str, directory: Path) -> tuple[float, float]:
    """Run :func:`export` in a fresh interpreter; its seconds and peak RSS in MB."""
    target = directory / "export.json"
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, __file__, "--export-to", str(target), url])
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    if child.returncode != 0:
        raise RuntimeError(f"export child failed with {child.returncode}")
    size = target.stat().st_size
    target.unlink()
    print(f"  export file {size / 1e6:,.0f} MB", file=sys.stderr, flush=True)
    return seconds, usage.ru_maxrss / 1024


async def run_size(
    backend: str, items: int, corpus: Corpus, pg_server: str, *, keep: bool = False
) -> Result:
    options = PoolOptions(pool_size=2, max_overflow=0, command_timeout=None)
    scratch = Path(tempfile.mkdtemp(prefix="aragora-kbench-"))
    name = f"aragora_kbench_{uuid.uuid4().hex[:10]}"
    admin: Database | None = None
    if backend == "postgresql":
        admin = Database(f"{pg_server}/postgres", options=options)
        async with admin.writer.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = f"{pg_server}/{name}"
    else:
        url = f"sqlite:///{(scratch / 'bench.db').as_posix()}"
    database = Database(url, options=options)
    try:
        await Migrator(database).migrate()
        store = sql_storage(database)
        print(f"  {backend}: importing {items:,} items ...", file=sys.stderr, flush=True)
        put_seconds = 0.0
        done = 0
        for batch, links in batches(corpus, items):
            started = time.perf_counter()
            await store.knowledge.put(batch, links)
            put_seconds += time.perf_counter() - started
            done += len(batch)
            if done % 100_000 == 0:
                print(f"    {done:,} ({done / put_seconds:,.0f}/s)", file=sys.stderr, flush=True)
        await settle(database)
        print(f"  {backend}: imported in {put_seconds:.0f} s; searching ...",
              file=sys.stderr, flush=True)  # fmt: skip
        search, hits = await measure_search(database, corpus, items)
        await database.dispose()
        export_seconds, rss = export_in_child(url, scratch)
        return Result(backend, items, put_seconds, search, hits, export_seconds, rss)
    finally:
        await database.dispose()
        if keep:
            print(f"  kept {url} (drop it yourself)", file=sys.stderr, flush=True)
        elif admin is not None:
            async with admin.writer.connect() as conn:
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if admin is not None:
            await admin.dispose()
        if not keep:
            shutil.rmtree(scratch, ignore_errors=True)


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def report(results: list[Result]) -> None:
    print(f"\nknowledge benchmark: {QUERIES} queries of 1-3 words (limit 10), a quarter filtered")
    header = (
        f"{'backend':<11} {'items':>10} {'import/s':>9} {'import s':>9} {'search p50':>11} "
        f"{'search p95':>11} {'hits/q':>7} {'export/s':>9} {'export s':>9} {'export RSS':>11}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.backend:<11} {r.items:>10,} {r.items / r.import_seconds:>9,.0f} "
            f"{r.import_seconds:>9.0f} {pct(r.search, 50):>9.1f}ms {pct(r.search, 95):>9.1f}ms "
            f"{r.search_hits / len(r.search):>7.1f} {r.items / r.export_seconds:>9,.0f} "
            f"{r.export_seconds:>9.1f} {r.export_rss_mb:>8.0f} MB"
        )
    print("targets at 1M items: search p95 <= 50 ms (PostgreSQL), <= 100 ms (SQLite); "
          "export peak RSS <= 300 MB")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--backend", choices=["postgresql", "sqlite", "both"], default="both")
    parser.add_argument("--scale", type=float, nargs="+", default=[0.1, 1.0],
                        help="sizes as fractions of 1M items (default: 0.1 1)")  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="one size of 20k items")
    parser.add_argument("--pg-server", default="postgresql://postgres@127.0.0.1:5432",
                        help="PostgreSQL server URL without a database name")  # fmt: skip
    parser.add_argument("--keep", action="store_true", help="keep the databases (for study)")
    parser.add_argument("--export-to", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("url", nargs="?", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.export_to is not None:  # the child of export_in_child
        print(f"  exported {asyncio.run(export(args.url, args.export_to)):,} items",
              file=sys.stderr)  # fmt: skip
        return 0
    sizes = [20_000] if args.quick else [max(1_000, round(FULL * s)) for s in args.scale]
    backends = ["postgresql", "sqlite"] if args.backend == "both" else [args.backend]
    print("  building the corpus ...", file=sys.stderr, flush=True)
    corpus = Corpus.build()
    results = []
    for size in sizes:
        for backend in backends:
            run = run_size(backend, size, corpus, args.pg_server, keep=args.keep)
            results.append(asyncio.run(run))
            report(results[-1:])
    report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
