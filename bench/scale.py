"""Scale-out on this machine: the PostgreSQL queue, many concurrent debates over two
replicas, and recovery from a replica killed mid-run.

    python bench/scale.py             # full run (2,000 claims; 500 debates over 2 replicas)
    python bench/scale.py --quick     # a smaller run (500 claims; 100 debates)

It reports and never gates: the exit status is 0 whatever the figures are (1 only if the
benchmark itself cannot run). It creates fresh ``aragora_bench_scale_*`` databases on the
PostgreSQL server (``--pg-server``) and drops them at the end, also when interrupted; the
replicas use the shared Redis (``--redis``, a database index of its own) as production does.

Figures:

1. **Claims per second** of the queue: ``leases.claim`` (``FOR UPDATE SKIP LOCKED``) called
   directly through the storage layer on a fresh database holding N queued debates, by 1
   claimer and by 4 concurrent claimers (4 connection pools, as 4 replicas would have).
2. **Concurrent debates**: D debates (``mode=debate``, 1 round, 3 demo agents answering in
   ``ARAGORA_DEMO_DELAY=1`` second each, like a slow LLM) are queued first, stored exactly
   as ``POST /api/v1/debates`` stores them, so that all of them can run at once; then 2
   ``aragora serve`` replicas start with ``ARAGORA_MAX_CONCURRENT_DEBATES=D/2`` each and
   Redis as their bus. Reported: how many complete, the peak number running at once, the
   time until none is queued and the wall time from spawning the replicas to the last end.
3. **Event-loop lag** in the replicas, target p99 <= 50 ms: each replica is started through
   a small wrapper (``python -c``) that adds a sampler task to its event loop (sleep 0.1 s,
   record the overshoot) and writes the samples to a file every second; nothing in the
   product changes. The target applies to the samples from each replica's first answer to
   ``GET /api/health`` until the kill (both replicas running debates); the survivor's whole
   run is shown too. Start-up itself is left out: before it listens a replica serves
   nothing a late loop could delay, and its one long step (~0.2 s: importing the Redis
   client, building the routes) would be the p99 of a quick run's ~30 samples on its own;
   ``bench/startup.py`` times start-up.
4. **Recovery**: ``--kill-after`` seconds (2) after no debate is left queued, one replica
   is killed with SIGKILL. For each unfinished debate it held, the time from the kill to
   its first event appended by the survivor (min/median/max), with ``ARAGORA_LEASE_TTL``
   (``--lease-ttl``, 10 s) of lease. The survivor runs at most D/2 debates, so orphans also
   wait for its own debates to free a slot.
"""

from __future__ import annotations

import os
import sys

# Run as `python bench/scale.py`, this file's directory comes first on sys.path, and
# bench/http.py would shadow the standard library's `http` package (httpx imports it).
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

import argparse
import asyncio
import contextlib
import json
import signal
import socket
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx

from aragora.migrations.runner import Migrator
from aragora.records.debates import NewDebate
from aragora.runtime.debate_request import RequestDefaults, parse_request
from aragora.storage.sql.database import Database, PoolOptions
from aragora.storage.sql.storage import sql_storage

TARGET_LAG_P99_MS = 50.0
ADMIN_TOKEN = "arg_bench-scale-admin-token-0123456789abcdef"
START_TIMEOUT = 60.0
BODY = {"task": "Should we use Postgres or MySQL?", "mode": "debate", "rounds": 1}

# Runs inside each replica: a lag sampler on whatever event loop the command creates.
LAG_WRAPPER = """
import asyncio, json, os, sys, time
import uvloop
path = os.environ["BENCH_LAG_FILE"]
samples = []

async def _sample():
    flushed = time.time()
    while True:
        start = time.perf_counter()  # uvloop's loop.time() counts whole milliseconds
        await asyncio.sleep(0.1)
        samples.append((time.time(), max(0.0, time.perf_counter() - start - 0.1)))
        if time.time() - flushed >= 1.0:
            flushed = time.time()
            with open(path + ".tmp", "w") as out:
                json.dump(samples, out)
            os.replace(path + ".tmp", path)

def _with_sampler(make):
    def factory(*args, **kwargs):
        loop = make(*args, **kwargs)
        loop.call_soon(lambda: loop.create_task(_sample()))
        return loop
    return factory

uvloop.new_event_loop = _with_sampler(uvloop.new_event_loop)
asyncio.new_event_loop = _with_sampler(asyncio.new_event_loop)
from aragora.cli.main import main
sys.argv[0] = "aragora"
sys.exit(main(sys.argv[1:]))
"""


# --- databases ------------------------------------------------------------------------------
def psql(server: str, database: str, sql: str) -> str:
    done = subprocess.run(
        ["psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-d", f"{server}/{database}",
         "-c", sql],
        check=True, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return done.stdout.strip()


@contextlib.contextmanager
def fresh_database(server: str) -> Iterator[str]:
    name = f"aragora_bench_scale_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    psql(server, "postgres", f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        psql(server, "postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def migrate(url: str) -> None:
    database = Database(url, options=PoolOptions(pool_size=1, max_overflow=0))
    try:
        await Migrator(database).migrate()
    finally:
        await database.dispose()


# --- 1. claims per second -------------------------------------------------------------------
async def claims_per_second(url: str, queued: int, claimers: int) -> tuple[float, int]:
    """Claims/s emptying a queue of ``queued`` debates with ``claimers`` claimers, and how
    many were claimed (each must be claimed exactly once)."""
    options = PoolOptions(pool_size=2, max_overflow=0)
    databases = [Database(url, options=options) for _ in range(claimers)]
    try:
        stores = [sql_storage(d) for d in databases]

        async def drain(n: int) -> list[str]:
            got = []
            while (lease := await stores[n].leases.claim(f"bench-{n}", 60)) is not None:
                got.append(lease.debate_id)
            return got

        started = time.perf_counter()
        claimed = await asyncio.gather(*(drain(n) for n in range(claimers)))
        elapsed = time.perf_counter() - started
    finally:
        for database in databases:
            await database.dispose()
    every = [i for got in claimed for i in got]
    if len(every) != len(set(every)):
        raise RuntimeError("a debate was claimed twice")
    return len(every) / elapsed, len(every)


async def seed_queue(url: str, queued: int) -> None:
    database = Database(url, options=PoolOptions(pool_size=8, max_overflow=0))
    try:
        store = sql_storage(database)
        ids = iter(range(queued))

        async def create() -> None:
            for n in ids:
                await store.debates.create(NewDebate(f"bench-{n:06d}", "Tabs or spaces?"))

        await asyncio.gather(*(create() for _ in range(8)))
    finally:
        await database.dispose()


async def seed_debates(url: str, debates: int) -> None:
    """Queue ``debates`` demo debates exactly as ``POST /api/v1/debates`` stores them."""
    defaults = RequestDefaults(agents=("demo",) * 3, agent_timeout=120.0, debate_timeout=900.0)
    database = Database(url, options=PoolOptions(pool_size=8, max_overflow=0))
    try:
        store = sql_storage(database)
        numbers = iter(range(debates))

        async def create() -> None:
            for n in numbers:
                request = parse_request(BODY, defaults, seed=n)
                new = NewDebate(str(uuid.uuid4()), request.task, request.to_stored())
                await store.debates.create(new)

        await asyncio.gather(*(create() for _ in range(8)))
    finally:
        await database.dispose()


async def measure_claims(server: str, queued: int) -> dict[int, tuple[float, int]]:
    results = {}
    with fresh_database(server) as name:
        url = f"{server}/{name}"
        await migrate(url)
        await seed_queue(url, queued)
        for claimers in (1, 4):
            psql(
                server,
                name,
                "UPDATE jobs SET state = 'queued', owner = NULL, lease_expires_at = NULL",
            )
            results[claimers] = await claims_per_second(url, queued, claimers)
    return results


# --- 2-4. replicas --------------------------------------------------------------------------
@dataclass
class Replica:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    lag_file: Path
    ready_at: float = 0.0
    """When it first answered ``GET /api/health`` (epoch seconds)."""

    def owns(self, owner: str | None) -> bool:
        return owner is not None and owner.split(":")[1:2] == [str(self.process.pid)]

    def lag(self, since: float, until: float) -> list[float]:
        """Lag samples (ms) of the sleeps begun at ``since`` or later and ended by ``until``
        (epoch seconds; each sample is stamped when its 0.1 s sleep ended)."""
        try:
            samples = json.loads(self.lag_file.read_text())
        except (OSError, ValueError):
            return []
        return [lag * 1000 for at, lag in samples if since <= at - 0.1 - lag and at <= until]

    def tail(self, lines: int = 20) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def replica_environment(directory: Path, **overrides: str) -> dict[str, str]:
    skip = ("ANTHROPIC_", "OPENAI_", "OPENROUTER_", "GEMINI_", "OLLAMA_", "ARAGORA_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(skip)}
    env["NO_PROXY"] = env["no_proxy"] = "localhost,127.0.0.1,::1"
    env.update(
        ARAGORA_DATA_DIR=str(directory),
        ARAGORA_ADMIN_TOKEN=ADMIN_TOKEN,
        ARAGORA_DEFAULT_AGENTS="demo,demo,demo",
        ARAGORA_OPENROUTER_FALLBACK="false",
        ARAGORA_LOG_FORMAT="json",
        ARAGORA_LOG_LEVEL="WARNING",
        ARAGORA_SHUTDOWN_GRACE="2",
    )
    env.update(overrides)
    return env


def start_replica(name: str, directory: Path, env: dict[str, str]) -> Replica:
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    lag_file = directory / "lag.json"
    env = {**env, "ARAGORA_DATA_DIR": str(directory), "BENCH_LAG_FILE": str(lag_file)}
    log = directory / "replica.log"
    command = [sys.executable, "-c", LAG_WRAPPER, "serve", "--host", "127.0.0.1"]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [*command, "--port", str(port)],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    return Replica(name, port, process, log, lag_file)


def stop_replica(replica: Replica) -> None:
    if replica.process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(replica.process.pid, signal.SIGKILL)
    replica.process.wait(timeout=10)


async def wait_ready(replica: Replica, client: httpx.AsyncClient) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if replica.process.poll() is not None:
            raise RuntimeError(f"{replica.name} exited:\n{replica.tail()}")
        with contextlib.suppress(httpx.HTTPError):
            if (await client.get(f"http://127.0.0.1:{replica.port}/api/health")).status_code == 200:
                replica.ready_at = time.time()
                return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{replica.name} not healthy in {START_TIMEOUT:.0f}s:\n{replica.tail()}")


@dataclass
class RunFigures:
    debates: int
    completed: int
    statuses: dict[str, int]
    peak_running: int
    wall_seconds: float
    all_running_seconds: float | None
    lag_ms: dict[str, list[float]] = field(default_factory=dict)
    orphans: int = 0
    orphans_ended: int = 0
    resumed_s: list[float] = field(default_factory=list)
    lease_ttl: float = 0.0


def counts(server: str, name: str) -> dict[str, int]:
    text = psql(server, name, "SELECT status, count(*) FROM debates GROUP BY status")
    return {line.split("|")[0]: int(line.split("|")[1]) for line in text.splitlines() if line}


async def run_debates(args: argparse.Namespace, tmp: Path) -> RunFigures:
    per_replica = max(1, args.debates // 2)
    with fresh_database(args.pg_server) as name:
        url = f"{args.pg_server}/{name}"
        await migrate(url)
        await seed_debates(url, args.debates)
        env = replica_environment(
            tmp,
            ARAGORA_DATABASE_URL=url,
            ARAGORA_REDIS_URL=args.redis,
            ARAGORA_DEMO_DELAY=str(args.demo_delay),
            ARAGORA_MAX_CONCURRENT_DEBATES=str(per_replica),
            ARAGORA_LEASE_TTL=str(args.lease_ttl),
            ARAGORA_DB_POOL_SIZE=str(args.pool_size),
        )
        print(f"{args.debates} debates queued; starting 2 replicas ...", flush=True)
        spawned = time.time()
        nodes = [start_replica(f"replica{n}", tmp / f"replica{n}", env) for n in range(2)]
        try:
            async with httpx.AsyncClient(timeout=30) as client:
                await asyncio.gather(*(wait_ready(n, client) for n in nodes))
            return await drive(args, name, nodes, spawned)
        finally:
            for node in nodes:
                stop_replica(node)


async def drive(
    args: argparse.Namespace, name: str, nodes: list[Replica], started: float
) -> RunFigures:
    server = args.pg_server
    all_running = None
    killed_at = None
    peak = 0
    cut: dict[str, int] = {}
    ended: set[str] = set()
    orphans: list[str] = []
    deadline = started + args.timeout
    current: dict[str, int] = {}
    while time.time() < deadline:
        current = await asyncio.to_thread(counts, server, name)
        peak = max(peak, current.get("running", 0))
        now = time.time()
        if all_running is None and current.get("queued", 0) == 0:
            all_running = now - started
        due = all_running is not None and now - started >= all_running + args.kill_after
        if killed_at is None and due:
            victim = nodes[0]
            os.killpg(victim.process.pid, signal.SIGKILL)
            victim.process.wait(timeout=10)
            killed_at = time.time()
            rows = await asyncio.to_thread(
                psql,
                server,
                name,
                "SELECT j.debate_id, j.owner, coalesce(max(e.seq), 0), "
                "bool_or(coalesce(e.type = 'debate_end', false)) FROM jobs j "
                "LEFT JOIN debate_events e ON e.debate_id = j.debate_id "
                "WHERE j.state = 'running' GROUP BY j.debate_id, j.owner",
            )
            for line in rows.splitlines():
                debate_id, owner, seq, has_end = line.split("|")
                if victim.owns(owner):
                    orphans.append(debate_id)
                    cut[debate_id] = int(seq)
                    if has_end == "t":
                        ended.add(debate_id)
            print(
                f"killed {victim.name} (SIGKILL) {killed_at - started:.1f} s in, holding "
                f"{len(orphans)} running debates",
                flush=True,
            )
        if sum(current.get(s, 0) for s in ("completed", "failed", "cancelled")) >= args.debates:
            break
        await asyncio.sleep(0.5)
    finished_at = time.time()
    resumed = []
    unfinished = [i for i in orphans if i not in ended]
    if unfinished and killed_at is not None:
        values = ", ".join(f"('{i}', {cut[i] + 1})" for i in unfinished)
        rows = await asyncio.to_thread(
            psql,
            server,
            name,
            f"SELECT e.timestamp FROM debate_events e JOIN (VALUES {values}) AS c(id, seq) "
            "ON e.debate_id = c.id AND e.seq = c.seq",
        )
        for stamp in rows.splitlines():
            resumed.append(datetime.fromisoformat(stamp).timestamp() - killed_at)
    lag_until = killed_at if killed_at is not None else finished_at
    lag = {n.name: n.lag(max(started, n.ready_at), lag_until) for n in nodes}
    lag[nodes[1].name + " (whole run)"] = nodes[1].lag(max(started, nodes[1].ready_at), finished_at)
    return RunFigures(
        debates=args.debates,
        completed=current.get("completed", 0),
        statuses=current,
        peak_running=peak,
        wall_seconds=finished_at - started,
        all_running_seconds=all_running,
        lag_ms=lag,
        orphans=len(orphans),
        orphans_ended=len(ended),
        resumed_s=sorted(resumed),
        lease_ttl=args.lease_ttl,
    )


# --- report ---------------------------------------------------------------------------------
def percentile(values: Sequence[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))]


def table(rows: Sequence[tuple[str, str, str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join(
        f"{a:<{widths[0]}}  {b:>{widths[1]}}  {c:<{widths[2]}}".rstrip() for a, b, c in rows
    )


def report(claims: dict[int, tuple[float, int]], run: RunFigures, queued: int) -> str:
    rows: list[tuple[str, str, str]] = [("figure", "value", "target / note")]
    for claimers, (rate, n) in claims.items():
        label = f"claims/s, {claimers} claimer(s), {queued} queued"
        rows.append((label, f"{rate:,.0f}", f"{n} claimed once each"))
    rows.append((f"debates completed (of {run.debates})", str(run.completed), "all"))
    rows.append(("  statuses", json.dumps(run.statuses, sort_keys=True), ""))
    rows.append(("  peak running at once (all replicas)", str(run.peak_running), ""))
    running = "never" if run.all_running_seconds is None else f"{run.all_running_seconds:.1f} s"
    rows.append(("  replicas spawned to none queued", running, ""))
    rows.append(("  wall time, replicas spawned to last end", f"{run.wall_seconds:.1f} s", ""))
    for name, samples in run.lag_ms.items():
        p99 = percentile(samples, 99)
        verdict = "" if "whole" in name else ("met" if p99 <= TARGET_LAG_P99_MS else "MISSED")
        target = f"<= {TARGET_LAG_P99_MS:.0f} ms {verdict}".rstrip()
        worst = max(samples, default=float("nan"))
        rows.append((f"event-loop lag p50, {name}", f"{percentile(samples, 50):.1f} ms", ""))
        rows.append(("  p99", f"{p99:.1f} ms", target))
        rows.append(("  max", f"{worst:.1f} ms", f"{len(samples)} samples"))
    held = f"{run.orphans_ended} already had debate_end"
    rows.append(("debates held by the killed replica", str(run.orphans), held))
    if run.resumed_s:
        r = run.resumed_s
        rows.append(
            ("  kill to resumption, min", f"{r[0]:.1f} s", f"lease TTL {run.lease_ttl:g} s")
        )
        rows.append(("  kill to resumption, median", f"{statistics.median(r):.1f} s", ""))
        rows.append(("  kill to resumption, max", f"{r[-1]:.1f} s", f"{len(r)} resumed"))
    return table(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="500 claims, 100 debates")
    parser.add_argument("--queued", type=int, help="debates queued for the claim test (2000)")
    parser.add_argument("--debates", type=int, help="concurrent debates (500; quick 100)")
    parser.add_argument("--demo-delay", type=float, default=1.0, help="seconds per answer (1)")
    parser.add_argument("--lease-ttl", type=float, default=10.0, help="ARAGORA_LEASE_TTL (10)")
    parser.add_argument("--pool-size", type=int, default=10, help="ARAGORA_DB_POOL_SIZE (10)")
    parser.add_argument(
        "--kill-after",
        type=float,
        default=2.0,
        help="kill a replica this many seconds after no debate is left queued (2)",
    )
    parser.add_argument("--timeout", type=float, default=300.0, help="limit for the run (s)")
    default_pg = os.environ.get("ARAGORA_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--pg-server", default=default_pg, help="PostgreSQL server URL")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/14", help="replicas' Redis")
    args = parser.parse_args(argv)
    args.queued = args.queued or (500 if args.quick else 2000)
    args.debates = args.debates or (100 if args.quick else 500)
    print(
        f"scale bench: {os.cpu_count()} CPUs shared by PostgreSQL, Redis, 2 replicas and this "
        f"driver; demo agents at {args.demo_delay:g} s per answer; lease TTL {args.lease_ttl:g} s",
        flush=True,
    )
    try:
        print(f"claims: {args.queued} queued debates, 1 then 4 claimers ...", flush=True)
        claims = asyncio.run(measure_claims(args.pg_server, args.queued))
        with tempfile.TemporaryDirectory(prefix="aragora-bench-scale-") as tmp:
            run = asyncio.run(run_debates(args, Path(tmp)))
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    print(report(claims, run, args.queued))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
