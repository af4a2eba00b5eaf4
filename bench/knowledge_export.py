"""The Knowledge Mound's export at size: seed an embedded store with a million items, then
export it with ``aragora knowledge export`` in a fresh process and report its peak RSS.

    python bench/knowledge_export.py                 # 1,000,000 items (seeding takes minutes)
    python bench/knowledge_export.py --scale 0.05    # 50,000 items, a quick run

Target: **peak RSS <= 300 MB while exporting 1M items** (the export streams from keyset
scans, so memory does not grow with the number of items). The exporting process is a
separate ``aragora knowledge export FILE`` (the same code path as
``POST /api/knowledge/export``), its peak from ``getrusage(RUSAGE_CHILDREN)``. The export
is then checked: valid JSON with ``count`` items. It reports and never gates: the exit
status is 0 whatever the figures are (1 only if the benchmark itself cannot run). It
creates its own SQLite database in a temporary directory and removes it at the end.

Each item is a ~300-character decision with tags and provenance; every second item links
to the first one, so the links scan is exercised as well.
"""

from __future__ import annotations

import os
import sys

# Run as `python bench/knowledge_export.py`, this file's directory comes first on sys.path,
# and bench/http.py would shadow the standard library's `http` package.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

import argparse
import asyncio
import json
import resource
import shutil
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aragora import wiring
from aragora.migrations.runner import ensure_schema
from aragora.records.knowledge import KnowledgeItem, KnowledgeLink
from aragora.settings import load_settings

TARGET_MB = 300
BATCH = 5000


def _items(start: int, stop: int, when: datetime) -> list[KnowledgeItem]:
    return [
        KnowledgeItem(
            id=f"dec-{n:08d}",
            kind="decision",
            title=f"Should service {n % 997} use PostgreSQL or MySQL for workload {n}?",
            content="Decision: PostgreSQL\n\nReasons:\n- demo:analyst: " + "weighing cost " * 18,
            created_at=when + timedelta(microseconds=n),
            updated_at=when + timedelta(microseconds=n),
            source_debate_id=f"{n:08d}",
            confidence=0.5 + (n % 50) / 100,
            tags=("mode:auto", "consensus:majority"),
            provenance={"rounds": 1 + n % 3, "agents": ["demo:a", "demo:b", "demo:c"]},
        )
        for n in range(start, stop)
    ]


async def _seed(data_dir: Path, total: int) -> float:
    settings = load_settings(
        {"ARAGORA_DATA_DIR": str(data_dir), "ARAGORA_DATABASE_URL": _url(data_dir)}
    )
    database = wiring.build_database(settings)
    storage = wiring.build_storage(database)
    try:
        await ensure_schema(database, auto_migrate=True)
        when = datetime(2026, 1, 1, tzinfo=UTC)
        started = time.perf_counter()
        for start in range(0, total, BATCH):
            items = _items(start, min(total, start + BATCH), when)
            links = [
                KnowledgeLink(item.id, "dec-00000000", "supports", when)
                for item in items
                if item.id != "dec-00000000" and int(item.id[4:]) % 2
            ]
            if start == 0:
                await storage.knowledge.put(items[:1])
            await storage.knowledge.put(items, links)
            done = min(total, start + BATCH)
            print(f"\rseeded {done:,}/{total:,}", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
        return time.perf_counter() - started
    finally:
        await storage.close()


def _url(data_dir: Path) -> str:
    return f"sqlite:///{(data_dir / 'aragora.db').as_posix()}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of 1,000,000 items")
    args = parser.parse_args()
    total = max(1, int(1_000_000 * args.scale))
    scratch = Path(tempfile.mkdtemp(prefix="aragora-bench-knowledge-"))
    try:
        seconds = asyncio.run(_seed(scratch, total))
        print(f"seeding: {total:,} items in {seconds:.1f} s ({total / seconds:,.0f}/s)")
        env = {key: value for key, value in os.environ.items() if not key.startswith("ARAGORA_")}
        env.update(ARAGORA_DATA_DIR=str(scratch), ARAGORA_DATABASE_URL=_url(scratch))
        out = scratch / "knowledge_backup.json"
        script = Path(sys.executable).with_name("aragora")
        command = [str(script)] if script.exists() else [sys.executable, "-m", "aragora.cli.main"]
        started = time.perf_counter()
        subprocess.run([*command, "knowledge", "export", str(out)], env=env, check=True)
        elapsed = time.perf_counter() - started
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        with out.open("rb") as handle:
            document = json.load(handle)
        valid = document["count"] == len(document["items"]) == total
        size_mb = out.stat().st_size / 2**20
        print(f"export: {size_mb:,.0f} MB in {elapsed:.1f} s; document valid: {valid}")
        verdict = "met" if peak_mb <= TARGET_MB else "MISSED"
        print(
            f"peak RSS of the exporting process: {peak_mb:,.0f} MB (target <= {TARGET_MB}: "
            f"{verdict})"
        )
        return 0
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"bench/knowledge_export.py: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
