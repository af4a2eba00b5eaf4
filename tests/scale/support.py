"""Scale-out tests on real processes: replicas (``aragora serve`` / ``aragora worker``) on
one fresh PostgreSQL database, a private ``redis-server`` the tests may stop and start,
and the checks every test makes of the shared event log.

Every replica runs offline (demo agents only, see ``tests.server.live``), logs JSON at
INFO to its own file, and is started in its own session and killed in ``finally``. When
a test fails inside :func:`replicas`, the tail of every replica's log is printed (pytest
shows it under the failure).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from aragora import wiring
from aragora.records.debates import NewDebate
from aragora.settings import load_settings
from aragora.storage.memory.storage import memory_storage
from tests.server.live import ADMIN_TOKEN, free_port, offline_environment
from tests.storage.support import pg_database, psql

__all__ = [
    "Creator",
    "Job",
    "PrivateRedis",
    "Replica",
    "check_logs",
    "comparable",
    "database_name",
    "fresh_database",
    "jobs",
    "median",
    "parse_ts",
    "percentile",
    "replicas",
    "statuses",
    "stored_log",
    "stored_request",
    "uninterrupted_document",
    "wait_for",
]

START_TIMEOUT = 30.0
TIME_FIELDS = frozenset(
    {"timestamp", "created_at", "started_at", "completed_at", "updated_at", "duration_seconds"}
)


# --- processes ---------------------------------------------------------------------------------
def _aragora() -> list[str]:
    script = Path(sys.executable).with_name("aragora")
    return [str(script)] if script.exists() else [sys.executable, "-m", "aragora.cli.main"]


@dataclass
class Replica:
    """One ``aragora serve`` (``port`` set) or ``aragora worker`` (``port`` 0) process."""

    name: str
    port: int
    log: Path
    process: subprocess.Popen[bytes]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def pid(self) -> int:
        return self.process.pid

    def owns(self, owner: str | None) -> bool:
        """Whether a ``jobs.owner`` value (``host:pid:nonce``) is this process."""
        return owner is not None and owner.split(":")[1:2] == [str(self.pid)]

    def records(self) -> list[dict[str, Any]]:
        """The JSON log lines written so far (anything else, e.g. a banner, is skipped)."""
        out = []
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        for line in text.splitlines():
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    out.append(json.loads(line))
        return out

    def events(self, name: str) -> list[dict[str, Any]]:
        """Log records whose ``event`` is ``name``."""
        return [r for r in self.records() if r.get("event") == name]

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def kill(self) -> None:
        """SIGKILL, no drain: what a crashed node or an OOM kill looks like."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


def _spawn(name: str, command: str, env: Mapping[str, str], directory: Path) -> Replica:
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port() if command == "serve" else 0
    args = [*_aragora(), command]
    if port:
        args += ["--host", "127.0.0.1", "--port", str(port)]
    log = directory / f"{name}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            args,
            env=dict(env),
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    return Replica(name, port, log, process)


def _stop(replica: Replica) -> None:
    process = replica.process
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


async def _ready(replica: Replica, client: httpx.AsyncClient) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if replica.process.poll() is not None:
            raise AssertionError(f"{replica.name} exited:\n{replica.tail()}")
        if replica.port:
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(f"{replica.base_url}/api/health")).status_code == 200:
                    return
        elif replica.events("worker_started"):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{replica.name} did not start in {START_TIMEOUT:.0f}s:\n{replica.tail()}")


@contextlib.asynccontextmanager
async def replicas(
    directory: Path,
    database_url: str,
    *,
    serve: int = 0,
    workers: int = 0,
    redis_url: str | None = None,
    demo_delay: float = 0.05,
    lease_ttl: float = 3.0,
    **env: str,
) -> AsyncIterator[list[Replica]]:
    """``serve`` × ``aragora serve`` then ``workers`` × ``aragora worker`` on one database,
    all ready (health 200 / ``worker_started``); all SIGKILLed on the way out, after
    printing their logs' tails if the block failed."""
    overrides = {
        "ARAGORA_DATABASE_URL": database_url,
        "ARAGORA_DEMO_DELAY": str(demo_delay),
        "ARAGORA_LEASE_TTL": str(lease_ttl),
        "ARAGORA_LOG_FORMAT": "json",
        "ARAGORA_LOG_LEVEL": "INFO",
        "ARAGORA_DEFAULT_AGENTS": "demo,demo,demo",
        "ARAGORA_REDIS_URL": redis_url or "",
        **env,
    }
    started: list[Replica] = []
    try:
        for n in range(serve + workers):
            kind = "serve" if n < serve else "worker"
            name = f"{kind}{n}"
            environment = offline_environment(directory / name, **overrides)
            started.append(_spawn(name, kind, environment, directory))
        async with httpx.AsyncClient(timeout=5) as client:
            await asyncio.gather(*(_ready(r, client) for r in started))
        yield started
    except BaseException:
        for replica in started:
            print(f"----- {replica.name} (pid {replica.pid}) log tail -----\n{replica.tail()}")
        raise
    finally:
        for replica in started:
            _stop(replica)


class PrivateRedis:
    """A ``redis-server`` of this test alone, on a fixed free port, that can be killed and
    started again on the same port (the machine's shared Redis is never touched)."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self._log = directory / "redis.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
        with self._log.open("ab") as sink:
            self._process = subprocess.Popen(
                args, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + 10
        while not self.ping():
            if time.monotonic() > deadline or self._process.poll() is not None:
                raise AssertionError(f"redis-server did not start:\n{self._log.read_text()}")
            time.sleep(0.02)

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def command(self, *words: str) -> str:
        """Run one command with ``redis-cli``; its output."""
        return subprocess.run(
            ["redis-cli", "-p", str(self.port), *words],
            check=True,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()

    def kill(self) -> None:
        if self._process is not None:
            if self._process.poll() is None:
                self._process.kill()
            self._process.wait(timeout=10)
            self._process = None

    def __enter__(self) -> PrivateRedis:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()


# --- the database ------------------------------------------------------------------------------
@contextlib.contextmanager
def fresh_database(prefix: str = "aragora_scale") -> Iterator[str]:
    """A fresh PostgreSQL database migrated by the runbook's command; dropped afterwards."""
    with pg_database(prefix) as url:
        env = offline_environment(Path("/nonexistent"), ARAGORA_DATABASE_URL=url)
        done = subprocess.run(
            [sys.executable, "-m", "aragora.migrations.runner", "migrate"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr + done.stdout
        yield url


def database_name(url: str) -> str:
    return url.rsplit("/", 1)[1]


@dataclass(frozen=True)
class Job:
    debate_id: str
    state: str
    epoch: int
    owner: str | None
    attempts: int


async def jobs(url: str) -> dict[str, Job]:
    """The ``jobs`` table (queue and leases) by debate id, read directly with psql."""
    sql = "SELECT debate_id, state, epoch, coalesce(owner, ''), attempts FROM jobs"
    text = await asyncio.to_thread(psql, sql, database_name(url))
    rows = [line.split("|") for line in text.splitlines() if line]
    return {r[0]: Job(r[0], r[1], int(r[2]), r[3] or None, int(r[4])) for r in rows}


async def stored_log(url: str) -> dict[str, list[tuple[int, str]]]:
    """Every debate's stored ``(seq, type)`` in seq order, read directly with psql."""
    sql = "SELECT debate_id, seq, type FROM debate_events ORDER BY debate_id, seq"
    text = await asyncio.to_thread(psql, sql, database_name(url))
    out: dict[str, list[tuple[int, str]]] = {}
    for line in text.splitlines():
        if line:
            debate_id, seq, kind = line.split("|")
            out.setdefault(debate_id, []).append((int(seq), kind))
    return out


async def statuses(url: str) -> dict[str, str]:
    text = await asyncio.to_thread(psql, "SELECT id, status FROM debates", database_name(url))
    return dict(line.split("|") for line in text.splitlines() if line)  # type: ignore[misc]


async def check_logs(url: str, debate_ids: Sequence[str]) -> dict[str, list[tuple[int, str]]]:
    """Assert each debate completed with a contiguous log 1..N ending in its only
    ``debate_end``; returns the logs. A stream ends with ``debate_end`` a little before
    the worker has run the finishers (knowledge, receipt, ratings) and stored the final
    status, so the status gets a few seconds to follow."""

    async def finished() -> dict[str, str] | None:
        current = await statuses(url)
        done = all(current.get(i) in ("completed", "failed", "cancelled") for i in debate_ids)
        return current if done else None

    try:
        status = await wait_for(finished, within=15, what="the final statuses", every=0.2)
    except AssertionError:
        status = await statuses(url)  # the assertions below say which one is stuck
    logs = await stored_log(url)
    for debate_id in debate_ids:
        log = logs.get(debate_id, [])
        seqs = [seq for seq, _ in log]
        assert seqs == list(range(1, len(log) + 1)), f"{debate_id}: gaps in {seqs}"
        kinds = [kind for _, kind in log]
        assert kinds.count("debate_end") == 1, f"{debate_id}: {kinds.count('debate_end')} ends"
        assert kinds[-1] == "debate_end", f"{debate_id}: ends with {kinds[-1]}"
        assert status[debate_id] == "completed", f"{debate_id}: {status[debate_id]}"
    return logs


# --- documents ---------------------------------------------------------------------------------
def comparable(document: Mapping[str, Any]) -> dict[str, Any]:
    """The document without what depends on the clock or on which concurrent call
    answered first: time fields are dropped everywhere, messages lose their ``seq`` and
    are sorted (a batch's answers are logged in arrival order), and the receipt goes (a
    fresh id per issue, and its digest covers the timestamps)."""

    def strip(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: strip(v) for k, v in value.items() if k not in TIME_FIELDS}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    out: dict[str, Any] = strip({k: v for k, v in document.items() if k != "receipt"})
    messages = [{k: v for k, v in m.items() if k != "seq"} for m in out.get("messages") or []]
    out["messages"] = sorted(messages, key=lambda m: json.dumps(m, sort_keys=True))
    out["warnings"] = [{k: v for k, v in w.items() if k != "seq"} for w in out["warnings"]]
    return out


async def uninterrupted_document(
    data_dir: Path,
    debate_id: str,
    task: str,
    request: Mapping[str, Any],
    *,
    demo_delay: float = 0.0,
) -> Any:
    """The document of the same stored request (same seed) run start to end in this
    process, on a fresh in-memory store (so no past decisions as context: compare only
    debates that had none either), through the same runner the replicas use."""
    settings = load_settings(
        {"ARAGORA_DEMO_DELAY": str(demo_delay), "ARAGORA_DATA_DIR": str(data_dir)}
    )
    storage = memory_storage(now=lambda: datetime.now(UTC))
    node = await wiring.open_node(settings, storage=storage)
    try:
        await storage.debates.create(NewDebate(debate_id, task, request))
        node.start()
        ended = ("completed", "failed")
        async with asyncio.timeout(30):
            while (await storage.debates.get(debate_id)).status not in ended:  # noqa: ASYNC110
                await asyncio.sleep(0.01)  # (the status lives in the store)
        return (await storage.debates.get(debate_id)).document
    finally:
        await node.close()


async def stored_request(url: str, debate_id: str) -> tuple[str, dict[str, Any]]:
    """The debate's task and accepted request (with its seed), as the replicas stored it."""
    sql = f"SELECT json_build_object('task', task, 'request', request) FROM debates WHERE id = '{debate_id}'"  # noqa: E501
    row = json.loads(await asyncio.to_thread(psql, sql, database_name(url)))
    return row["task"], row["request"]


# --- small helpers -----------------------------------------------------------------------------
async def wait_for(check: Any, *, within: float, what: str, every: float = 0.05) -> Any:
    """Await ``check()`` until it returns something truthy (returned); fail after ``within``."""
    deadline = time.monotonic() + within
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:.0f}s waiting for {what}")
        await asyncio.sleep(every)


def percentile(values: Sequence[float], pct: float) -> float:
    """The ``pct`` percentile (nearest rank); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def parse_ts(value: str) -> float:
    """An event ``timestamp`` (ISO 8601, UTC) as epoch seconds."""
    return datetime.fromisoformat(value).timestamp()


@dataclass
class Creator:
    """Creates debates through the replicas' HTTP API, round robin."""

    targets: Sequence[Replica]
    created: list[str] = field(default_factory=list)

    async def create(self, client: httpx.AsyncClient, body: Mapping[str, Any]) -> str:
        replica = self.targets[len(self.created) % len(self.targets)]
        response = await client.post(
            f"{replica.base_url}/api/v1/debates",
            json=dict(body),
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        )
        assert response.status_code == 202, response.text
        debate_id = str(response.json()["debate_id"])
        self.created.append(debate_id)
        return debate_id


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0
