"""The latency of a debate through the real server: ``aragora serve`` driven over HTTP, its
agents on a fake OpenAI-compatible LLM server that answers every call after a fixed delay.

    python bench/server_path.py                     # SQLite, then PostgreSQL + Redis (~2 min)
    python bench/server_path.py --backends sqlite   # one backend
    python bench/server_path.py --burst 1000 --backends postgresql   # the target run

It reports and never gates: the exit status is 0 whatever the figures are (1 only if the
benchmark itself cannot run). For each backend it starts ``aragora serve`` on a free port of
127.0.0.1 (SQLite in a temporary directory; or a fresh ``aragora_bench_path_*`` database on
``--pg-server``, dropped at the end, with ``--redis`` as the bus) and a fake LLM in a
separate process on three loopback ports. The fake logs, for every call, the time it was
received and the time its answer was sent; the debate a call belongs to is read from a tag
in the request's ``context``, its wave from the prompt (propose, critique, revise, vote).
Agents are ``openai-compatible:MODEL@URL`` specs; the model name carries the delay.

Lone debates (``--lone`` of each layout, one at a time, 3 agents, ``mode=debate``, 2 rounds,
no early stop, ``--delay`` seconds per call), with the agents on three separate endpoints
and then all on one endpoint, first with the default provider limits, then with limits
raised (``ARAGORA_AGENT_LIMITS=default=100000:0``). Medians of:

- **start** (target <= 15 ms): ``POST /api/v1/debates`` sent -> first call received;
- **gap between waves** (<= 5 ms): a wave's last answer sent -> the next wave's first call
  received;
- **stagger within a wave** (<= 5 ms with limits raised): first -> last call received of
  one wave (with the default limits it shows the start-rate limit once its burst is spent);
- **finish** (<= 15 ms): last answer sent -> ``completed`` visible on ``GET`` (polled every
  2 ms on a kept-alive connection) and -> ``debate_end`` received on ``/ws``; the time until
  the document is final (receipt added) is shown beside it;
- **server CPU per debate** (``/proc`` user+system of the server over as many more lone
  debates, polled every 50 ms only, so the 2 ms polls are not counted);
- **input tokens per debate** (the document's ``cost.input_tokens``; the fake reports a
  prompt's tokens as its characters / 4), for debates that started without and with
  knowledge context (past decisions on the same task, ``references`` in the document);
  and (target: equal, no reference) of a debate on a question unrelated to anything
  stored, once on the empty store and once after the lone debates stored their decisions.

Burst (``--burst N``, 100 by default so it runs in about a minute; the target run
is 1,000 on PostgreSQL): N debates ``POST``-ed at once at ``--burst-delay`` seconds per
call (1 s), limits raised and ``ARAGORA_MAX_CONCURRENT_DEBATES`` = N, once with the
agents on separate endpoints and once on one endpoint. Targets: all completed and none
failed; p95 debate wall (``POST`` sent -> the document's ``completed_at``) <= 2 x a lone
debate's at the same delay (each debate's run, ``started_at`` -> ``completed_at``, is
shown beside it); ``GET /api/health`` p99 <= 50 ms (probed every 50 ms during the burst
from a process of its own, so the client's busy event loop delays no probe; the slow
probes are listed by when they came); peak server RSS <= 300 MB. Peak calls in flight at
the fake is shown too, and, to tell where a debate's wall went, when each ``POST`` was
answered (sent -> its ``202`` read) and how long each debate waited in the queue
(``created_at`` -> ``started_at``). The ``POST``s go out on 200 kept-alive connections
through the project's own HTTP/1.1 client (``aragora.agents.wire.http1``): the client
shares the machine's cores with the server, and httpx's pool spent ~18 ms of CPU per
request with 1,000 requests waiting for its connections (~0.1 ms with this one), a core
for the burst's first ~17 s. Last, the CPU of the burst (first ``POST`` -> every debate
ended) per debate: the whole machine's (``/proc/stat``, all but idle and I/O wait), the
server's, PostgreSQL's (its processes on this machine, ended backends included), the fake
LLM's and the rest (the bench itself, the health prober); and the burst's **CPU floor**,
debates x the machine's CPU per debate / its cores: the shortest wall those cores allow
with every one busy all along, to hold against the p95 target.
"""

from __future__ import annotations

import os
import sys

# Run as `python bench/server_path.py`, this file's directory comes first on sys.path, and
# bench/http.py would shadow the standard library's `http` package (httpx imports it).
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

import argparse
import asyncio
import contextlib
import http.client
import itertools
import json
import multiprocessing
import re
import signal
import socket
import statistics
import subprocess
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import websockets

from aragora.agents.wire.http1 import ClientPool, TransportError

TARGET_START_MS = 15.0
TARGET_GAP_MS = 5.0
TARGET_STAGGER_MS = 5.0
TARGET_FINISH_MS = 15.0
TARGET_HEALTH_P99_MS = 50.0
TARGET_RSS_MB = 300.0
ADMIN_TOKEN = "arg_bench-path-admin-token-0123456789abcdef"
START_TIMEOUT = 60.0
RAISED_LIMITS = "default=100000:0"
ENDPOINTS = 3
_ENDED = ("completed", "failed", "cancelled")
_TAG = re.compile(r"bench-tag:([0-9a-f]{12})")
_MODEL = re.compile(r"^([a-z])-(\d+)$")


# --- the fake LLM (runs in its own process) ---------------------------------------------------
def _phase(prompt: str) -> str:
    if "Critique their answers" in prompt:
        return "critique"
    if "Revise your answer" in prompt:
        return "revise"
    if "Vote for the option" in prompt:
        return "vote"
    if "judge of this panel" in prompt:
        return "judge"
    return "propose"


def _reply(phase: str, agent: str) -> str:
    if phase == "critique":
        return "CRITIQUE: the others miss the cost of operating it.\nSCORE: 0.6"
    if phase in ("vote", "judge"):
        return "CHOICE: 1\nCONFIDENCE: 0.8\nREASONING: it holds up best."
    return (
        f"ANSWER: option {agent.upper()}\nCONFIDENCE: 0.7\n"
        f"REASONING: option {agent.upper()} fits the constraints best."
    )


def fake_llm_main(ports: list[int], log_path: str, ready: Any) -> None:
    """Serve the OpenAI chat-completions stream on ``ports``; log one JSON line per call."""
    from aragora.agents.fakes.servers import Answer
    from aragora.agents.fakes.wire import answer_events, http_chunk, send_json, send_stream_head

    log = open(log_path, "a", buffering=1)  # noqa: SIM115 - the process's lifetime

    async def one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int) -> bool:
        line = await reader.readline()
        if not line:
            return False
        received = time.time()
        method, _target, _ = line.decode("latin-1").split(" ", 2)
        headers: dict[str, str] = {}
        while (header := await reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = header.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        raw = await reader.readexactly(int(headers.get("content-length", "0")))
        if method == "GET":
            listed = {"id": "bench", "object": "model", "owned_by": "bench"}
            await send_json(writer, 200, {"object": "list", "data": [listed]})
            return True
        body = json.loads(raw)
        prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
        model = str(body.get("model", "a-0"))
        parsed = _MODEL.match(model)
        agent, delay_ms = (parsed.group(1), int(parsed.group(2))) if parsed else ("a", 0)
        phase = _phase(prompt)
        tag = _TAG.search(prompt)
        await asyncio.sleep(delay_ms / 1000)
        text = _reply(phase, agent)
        events = answer_events(
            "openai",
            model,
            Answer(text, input_tokens=max(1, len(prompt) // 4), output_tokens=len(text) // 4),
        )
        await send_stream_head(writer, body=b"".join(map(http_chunk, [*events, b""])))
        record = {
            "tag": tag.group(1) if tag else None,
            "phase": phase,
            "port": port,
            "agent": agent,
            "received": received,
            "answered": time.time(),
            "prompt_chars": len(prompt),
        }
        log.write(json.dumps(record) + "\n")
        return True

    async def serve(port: int) -> asyncio.Server:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while await one(reader, writer, port):
                    pass
            except (ConnectionError, asyncio.IncompleteReadError, ValueError):
                pass
            finally:
                writer.close()

        return await asyncio.start_server(handle, "127.0.0.1", port, backlog=4096)

    async def main() -> None:
        servers = [await serve(port) for port in ports]
        ready.set()
        await asyncio.gather(*(s.serve_forever() for s in servers))

    try:
        import uvloop

        uvloop.run(main())
    except ImportError:
        asyncio.run(main())


@dataclass
class Call:
    tag: str
    phase: str
    port: int
    agent: str
    received: float
    answered: float
    prompt_chars: int


class FakeLLM:
    """The fake LLM process and its call log."""

    def __init__(self, directory: Path) -> None:
        self.ports = [free_port() for _ in range(ENDPOINTS)]
        self.log = directory / "calls.jsonl"
        self.log.touch()
        context = multiprocessing.get_context("fork")
        ready = context.Event()
        self.process = context.Process(
            target=fake_llm_main, args=(self.ports, str(self.log), ready), daemon=True
        )
        self.process.start()
        if not ready.wait(30):
            raise RuntimeError("the fake LLM did not start")

    @property
    def pid(self) -> int:
        if self.process.pid is None:
            raise RuntimeError("the fake LLM is not running")
        return self.process.pid

    def url(self, index: int) -> str:
        return f"http://127.0.0.1:{self.ports[index]}/v1"

    def specs(self, delay: float, *, shared: bool) -> list[str]:
        delay_ms = round(delay * 1000)
        return [
            f"openai-compatible:{name}-{delay_ms}@{self.url(0 if shared else n)}"
            for n, name in enumerate("abc")
        ]

    def calls(self) -> dict[str, list[Call]]:
        by_tag: dict[str, list[Call]] = defaultdict(list)
        for line in self.log.read_text().splitlines():
            with contextlib.suppress(ValueError, TypeError):
                record = json.loads(line)
                if record["tag"]:
                    by_tag[record["tag"]].append(Call(**record))
        return by_tag

    def close(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)


def waves(calls: Sequence[Call], panel: int = 3) -> list[list[Call]]:
    """A debate's calls in waves: same phase, in arrival order, ``panel`` calls a wave."""
    ordered = sorted(calls, key=lambda c: c.received)
    result: list[list[Call]] = []
    for call in ordered:
        last = result[-1] if result else None
        if last is not None and last[0].phase == call.phase and len(last) < panel:
            last.append(call)
        else:
            result.append([call])
    return result


# --- the server -------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def aragora_command() -> list[str]:
    script = Path(sys.executable).with_name("aragora")
    return [str(script)] if script.exists() else [sys.executable, "-m", "aragora.cli.main"]


@dataclass
class Server:
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def start_server(directory: Path, env_extra: dict[str, str], fake: FakeLLM) -> Server:
    directory.mkdir(parents=True, exist_ok=True)
    skip = ("ANTHROPIC_", "OPENAI_", "OPENROUTER_", "GEMINI_", "OLLAMA_", "ARAGORA_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(skip)}
    env["NO_PROXY"] = env["no_proxy"] = "localhost,127.0.0.1,::1"
    env.update(
        ARAGORA_DATA_DIR=str(directory),
        ARAGORA_ADMIN_TOKEN=ADMIN_TOKEN,
        ARAGORA_DEFAULT_AGENTS="demo,demo,demo",
        ARAGORA_AGENT_ENDPOINTS=",".join(fake.url(n) for n in range(ENDPOINTS)),
        ARAGORA_OPENROUTER_FALLBACK="false",
        ARAGORA_LOG_LEVEL="WARNING",
        ARAGORA_SHUTDOWN_GRACE="2",
        ARAGORA_RATE_LIMIT="0",
        ARAGORA_RATE_LIMIT_DEBATES="0",
        ARAGORA_AGENT_TIMEOUT="120",
    )
    env.update(env_extra)
    port = free_port()
    log = directory / "server.log"
    with log.open("ab") as sink:
        process = subprocess.Popen(
            [*aragora_command(), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    server = Server(port, process, log)
    deadline = time.monotonic() + START_TIMEOUT
    with httpx.Client(base_url=server.base, timeout=1) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"aragora serve exited:\n{server.tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if client.get("/api/health").status_code == 200:
                    return server
            time.sleep(0.05)
    stop_server(server)
    raise RuntimeError(f"aragora serve not healthy in {START_TIMEOUT:.0f} s:\n{server.tail()}")


def stop_server(server: Server) -> None:
    if server.process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.process.pid, signal.SIGTERM)
        try:
            server.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait(timeout=10)


def cpu_seconds(pid: int, *, ended_children: bool = False) -> float:
    """User + system CPU of process ``pid``; with ``ended_children``, plus that of the
    children it has reaped."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    used = fields[11:15] if ended_children else fields[11:13]
    return sum(int(v) for v in used) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds() -> float | None:
    """CPU of the PostgreSQL processes on this machine, the ended backends included (their
    time is added to the postmaster's ``cutime``/``cstime`` when it reaps them); ``None``
    when there are none to read (a server elsewhere, or in a container)."""
    total, found = 0.0, False
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if (entry / "comm").read_text().strip() != "postgres":
                continue
            total += cpu_seconds(int(entry.name), ended_children=True)
            found = True
    return total if found else None


def machine_cpu_seconds() -> float:
    """CPU the whole machine spent (all but idle and I/O wait) since boot, over all cores."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(values) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")


@dataclass
class CpuMeter:
    """Where the machine's CPU went between :meth:`start` and :meth:`stop`."""

    server_pid: int
    fake_pid: int
    server_s: float = 0.0
    postgres_s: float | None = None
    fake_s: float = 0.0
    machine_s: float = 0.0
    _began: tuple[float, float | None, float, float] = (0.0, None, 0.0, 0.0)

    def _read(self) -> tuple[float, float | None, float, float]:
        return (
            cpu_seconds(self.server_pid),
            postgres_cpu_seconds(),
            cpu_seconds(self.fake_pid),
            machine_cpu_seconds(),
        )

    def start(self) -> None:
        self._began = self._read()

    def stop(self) -> None:
        server, postgres, fake, machine = self._read()
        began_server, began_postgres, began_fake, began_machine = self._began
        self.server_s = server - began_server
        if postgres is not None and began_postgres is not None:
            self.postgres_s = postgres - began_postgres
        self.fake_s = fake - began_fake
        self.machine_s = machine - began_machine


def rss_mb(pid: int) -> float:
    with contextlib.suppress(OSError):
        status = Path(f"/proc/{pid}/status").read_text()
        match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
        return int(match.group(1)) / 1024 if match else 0.0
    return 0.0


def psql(server: str, database: str, sql: str) -> str:
    done = subprocess.run(
        ["psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-d", f"{server}/{database}",
         "-c", sql],
        check=True, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return done.stdout.strip()


@contextlib.contextmanager
def fresh_database(server: str) -> Iterator[str]:
    name = f"aragora_bench_path_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    psql(server, "postgres", f'CREATE DATABASE "{name}"')
    try:
        yield f"{server}/{name}"
    finally:
        psql(server, "postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- driving debates --------------------------------------------------------------------------
def body(
    task: str, tag: str, specs: list[str], metadata: dict[str, Any] | None = None
) -> dict[str, Any]:
    request: dict[str, Any] = {
        "task": task,
        "context": f"bench-tag:{tag}",
        "agents": specs,
        "mode": "debate",
        "rounds": 2,
        "protocol": {"early_stop": False},
    }
    if metadata is not None:
        request["metadata"] = metadata
    return request


@dataclass
class Lone:
    tag: str
    posted: float
    completed_seen: float = 0.0
    final_seen: float = 0.0
    ws_end: float = 0.0
    document: dict[str, Any] = field(default_factory=dict)


async def lone_debate(
    client: httpx.AsyncClient,
    server: Server,
    task: str,
    specs: list[str],
    *,
    fast: float = 0.002,
    metadata: dict[str, Any] | None = None,
) -> Lone:
    """One debate alone: POST, follow it on /ws, poll GET until completed and final (every
    50 ms until ``debate_end`` arrived on /ws, then every 2 ms: completed is stored after
    ``debate_end`` is published)."""
    tag = uuid.uuid4().hex[:12]
    posted = time.time()
    response = await client.post("/api/v1/debates", json=body(task, tag, specs, metadata))
    if response.status_code != 202:
        raise RuntimeError(f"POST /api/v1/debates answered {response.status_code}: {response.text}")
    debate_id = response.json()["debate_id"]
    run = Lone(tag, posted)
    ws_url = f"ws://127.0.0.1:{server.port}/ws?debate_id={debate_id}&since=0&token={ADMIN_TOKEN}"

    async def follow() -> None:
        async with websockets.connect(ws_url, max_size=None) as ws:
            async for message in ws:
                frame = json.loads(message)
                if frame.get("type") == "debate_end":
                    run.ws_end = time.time()
                    return

    follower = asyncio.create_task(follow())
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        document = (await client.get(f"/api/v1/debates/{debate_id}")).json()
        now = time.time()
        if document.get("status") in ("completed", "failed", "cancelled"):
            run.completed_seen = run.completed_seen or now
            final = not document.get("followups_pending")
            # An evaluation debate (metadata) gets no receipt: its document is final as is.
            receipted = "receipt" in document or metadata is not None
            if final and (receipted or document["status"] != "completed"):
                run.final_seen = now
                run.document = document
                break
        # Slow polls until /ws has seen the end (not to load the server while it runs),
        # then every 2 ms; the end on /ws cuts a slow poll's wait short, so the 50 ms
        # between slow polls is not counted as finish latency.
        if follower.done():
            await asyncio.sleep(fast)
        else:
            await asyncio.wait({follower}, timeout=0.05)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(follower, 10)
    if not run.document:
        raise RuntimeError(f"debate {debate_id} did not finish")
    return run


@dataclass
class LoneFigures:
    label: str
    start_ms: list[float] = field(default_factory=list)
    gap_ms: list[float] = field(default_factory=list)
    stagger_ms: list[float] = field(default_factory=list)
    finish_get_ms: list[float] = field(default_factory=list)
    finish_ws_ms: list[float] = field(default_factory=list)
    final_ms: list[float] = field(default_factory=list)
    wall_s: list[float] = field(default_factory=list)
    cpu_ms: float = 0.0
    tokens_without: list[int] = field(default_factory=list)
    tokens_with: list[int] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)


async def lone_debates(
    server: Server, fake: FakeLLM, label: str, count: int, delay: float, *, shared: bool
) -> LoneFigures:
    figures = LoneFigures(label)
    specs = fake.specs(delay, shared=shared)
    runs: list[Lone] = []
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with httpx.AsyncClient(base_url=server.base, headers=headers, timeout=30) as client:
        for n in range(count):
            # The first half on new questions (no past decision to draw on), the rest on a
            # question already decided here (its decision comes as knowledge context).
            task = (
                f"Which queue should service {uuid.uuid4().hex[:6]} of {label} use?"
                if n < (count + 1) // 2
                else f"Which database should the {label} ledger use?"
            )
            runs.append(await lone_debate(client, server, task, specs))
        # CPU on debates polled gently (the 2 ms polls above are the bench's, not a
        # debate's): 50 ms until /ws has the end, then 50 ms until the document is final.
        cpu = cpu_seconds(server.process.pid)
        for _ in range(count):
            task = f"Which queue should job {uuid.uuid4().hex[:6]} of {label} use?"
            await lone_debate(client, server, task, specs, fast=0.05)
        figures.cpu_ms = (cpu_seconds(server.process.pid) - cpu) * 1000 / max(1, count)
    calls = fake.calls()
    for run in runs:
        mine = calls.get(run.tag, [])
        figures.statuses.append(str(run.document.get("status")))
        if not mine:
            continue
        grouped = waves(mine)
        figures.start_ms.append((min(c.received for c in mine) - run.posted) * 1000)
        for before, after in itertools.pairwise(grouped):
            gap = min(c.received for c in after) - max(c.answered for c in before)
            figures.gap_ms.append(gap * 1000)
        for wave in grouped:
            figures.stagger_ms.append((max(c.received for c in wave) - wave[0].received) * 1000)
        last = max(c.answered for c in mine)
        figures.finish_get_ms.append((run.completed_seen - last) * 1000)
        if run.ws_end:
            figures.finish_ws_ms.append((run.ws_end - last) * 1000)
        figures.final_ms.append((run.final_seen - last) * 1000)
        figures.wall_s.append(run.completed_seen - run.posted)
        tokens = int((run.document.get("cost") or {}).get("input_tokens") or 0)
        (figures.tokens_with if run.document.get("references") else figures.tokens_without).append(
            tokens
        )
    return figures


UNRELATED = "Is the lighthouse garden better with tulips or with roses this spring?"
"""A question sharing no content word with the lone debates' (queues, databases)."""


async def unrelated_tokens(
    server: Server, fake: FakeLLM, delay: float, *, leave_nothing: bool = False
) -> tuple[int, int]:
    """Input tokens and references of one debate on :data:`UNRELATED` (3 agents on separate
    endpoints). Run first on the empty store (``leave_nothing``: tagged as an evaluation
    debate, so it stores no decision), and again once the lone debates have stored theirs:
    the target is the same tokens and no reference."""
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    metadata = {"evaluation": {"bench": "server_path"}} if leave_nothing else None
    specs = fake.specs(delay, shared=False)
    async with httpx.AsyncClient(base_url=server.base, headers=headers, timeout=30) as client:
        run = await lone_debate(client, server, UNRELATED, specs, metadata=metadata)
    document = run.document
    return int((document.get("cost") or {}).get("input_tokens") or 0), len(
        document.get("references") or []
    )


def probe_health_main(
    host: str, port: int, pid: int, origin: float, stop: Any, results: Any
) -> None:
    """The health prober's process: ``GET /api/health`` every 50 ms on a kept-alive
    connection until ``stop`` is set, and the server's RSS at each probe. A process of its
    own, so the client's event loop, busy with the burst's requests, delays no probe."""
    probes: list[tuple[float, float, str]] = []  # (since origin, ms, "" or why not 200)
    peak = 0.0
    connection = http.client.HTTPConnection(host, port, timeout=10)
    while not stop.is_set():
        began = time.perf_counter()
        try:
            connection.request("GET", "/api/health")
            answer = connection.getresponse()
            answer.read()
            reason = "" if answer.status == 200 else str(answer.status)
        except (OSError, http.client.HTTPException) as exc:
            reason = type(exc).__name__
            connection.close()
            connection = http.client.HTTPConnection(host, port, timeout=10)
        probes.append((time.time() - origin, (time.perf_counter() - began) * 1000, reason))
        peak = max(peak, rss_mb(pid))
        time.sleep(0.05)
    connection.close()
    results.send((probes, peak))


class HealthProber:
    """Runs :func:`probe_health_main` in a child process from now until :meth:`collect`."""

    def __init__(self, server: Server, origin: float) -> None:
        context = multiprocessing.get_context("fork")
        self._stop = context.Event()
        self._results, sender = context.Pipe(duplex=False)
        self._process = context.Process(
            target=probe_health_main,
            args=("127.0.0.1", server.port, server.process.pid, origin, self._stop, sender),
            daemon=True,
        )
        self._process.start()

    def collect(self, figures: BurstFigures) -> None:
        """Stop probing and add the probes to ``figures``."""
        self._stop.set()
        probes, peak = self._results.recv()
        self._process.join(10)
        for at, took, reason in probes:
            if reason:
                figures.health_bad[reason] = figures.health_bad.get(reason, 0) + 1
            else:
                figures.health_at.append((at, took))
        figures.peak_rss_mb = max(figures.peak_rss_mb, peak)


@dataclass
class BurstFigures:
    label: str
    debates: int
    statuses: dict[str, int] = field(default_factory=dict)
    walls_s: list[float] = field(default_factory=list)
    run_s: list[float] = field(default_factory=list)
    """Per debate: its run, ``started_at`` -> ``completed_at`` (the queue wait left out)."""
    queued_s: list[float] = field(default_factory=list)
    """Per debate: its wait in the queue, ``created_at`` -> ``started_at``."""
    answered_s: list[float] = field(default_factory=list)
    """Per debate: its ``POST`` sent -> its ``202`` read by the client."""
    lone_wall_s: float = float("nan")
    health_at: list[tuple[float, float]] = field(default_factory=list)
    """Per probe answered: seconds since the first ``POST`` was sent, and how long it took."""
    posting_s: float = float("nan")
    """Seconds from the first ``POST`` sent to the last answered."""
    health_bad: dict[str, int] = field(default_factory=dict)
    """Health probes that did not answer 200, by status (or exception)."""
    peak_rss_mb: float = 0.0
    peak_in_flight: int = 0
    all_done_s: float = float("nan")
    post_errors: dict[str, int] = field(default_factory=dict)
    """Refused or failed POSTs by reason (HTTP status and error code, or the exception)."""
    cpu: CpuMeter | None = None
    """CPU from the first ``POST`` until every debate had ended."""


async def burst(
    server: Server, fake: FakeLLM, label: str, count: int, delay: float, *, shared: bool
) -> BurstFigures:
    figures = BurstFigures(label, count)
    specs = fake.specs(delay, shared=shared)
    lone = await lone_debates(server, fake, f"{label} lone", 1, delay, shared=shared)
    figures.lone_wall_s = lone.wall_s[0] if lone.wall_s else float("nan")
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    posted: dict[str, float] = {}
    tags: set[str] = set()

    # The POSTs go through the project's own HTTP/1.1 client, not httpx: httpx's pool spends
    # ~18 ms of CPU per request with 1,000 waiting for 200 connections (~0.1 ms here), and the
    # client shares the machine's cores with the server it measures.
    pool = ClientPool(server.base, headers=headers, max_connections=200, stall_timeout=120)
    async with httpx.AsyncClient(
        base_url=server.base, headers=headers, timeout=120, limits=limits
    ) as client:

        async def post(n: int) -> None:
            tag = uuid.uuid4().hex[:12]
            tags.add(tag)
            task = f"Which cache should burst service {n} of {label} use?"
            sent = time.time()
            try:
                async with pool.stream(
                    "POST", "/api/v1/debates", json=body(task, tag, specs)
                ) as response:
                    raw = await response.aread()
            except TransportError as exc:
                reason = type(exc).__name__
                figures.post_errors[reason] = figures.post_errors.get(reason, 0) + 1
                return
            answer: Any = None
            with contextlib.suppress(ValueError):
                answer = json.loads(raw)
            if response.status_code != 202 or not isinstance(answer, dict):
                code = str(answer.get("code") or "") if isinstance(answer, dict) else ""
                reason = f"{response.status_code} {code}".strip()
                figures.post_errors[reason] = figures.post_errors.get(reason, 0) + 1
                return
            posted[answer["debate_id"]] = sent
            figures.answered_s.append(time.time() - sent)

        before = (await client.get("/api/admin/stats")).json()
        ended_before = sum(before.get(f"{s}_debates", 0) for s in _ENDED)
        meter = CpuMeter(server.process.pid, fake.pid)
        meter.start()
        posting = time.time()
        prober = HealthProber(server, posting)
        began = time.time()
        try:
            await asyncio.gather(*(post(n) for n in range(count)))
            figures.posting_s = time.time() - posting
        finally:
            await pool.aclose()
        deadline = time.monotonic() + max(300.0, count * delay)
        while time.monotonic() < deadline:
            stats = (await client.get("/api/admin/stats")).json()
            ended = sum(stats.get(f"{s}_debates", 0) for s in _ENDED)
            if ended - ended_before >= len(posted):
                break
            await asyncio.sleep(0.25)
        figures.all_done_s = time.time() - began
        meter.stop()
        figures.cpu = meter
        prober.collect(figures)
        semaphore = asyncio.Semaphore(20)

        async def fetch(debate_id: str) -> None:
            async with semaphore:
                document = (await client.get(f"/api/v1/debates/{debate_id}")).json()
            status = str(document.get("status"))
            figures.statuses[status] = figures.statuses.get(status, 0) + 1
            if status == "completed" and document.get("completed_at"):
                ended_at = datetime.fromisoformat(document["completed_at"]).timestamp()
                figures.walls_s.append(ended_at - posted[debate_id])
                if document.get("started_at"):
                    started = datetime.fromisoformat(document["started_at"]).timestamp()
                    figures.run_s.append(ended_at - started)
                    if document.get("created_at"):
                        created = datetime.fromisoformat(document["created_at"]).timestamp()
                        figures.queued_s.append(started - created)

        await asyncio.gather(*(fetch(d) for d in posted))
    calls = [c for tag, group in fake.calls().items() if tag in tags for c in group]
    moments = sorted([(c.received, 1) for c in calls] + [(c.answered, -1) for c in calls])
    in_flight = 0
    for _, change in moments:
        in_flight += change
        figures.peak_in_flight = max(figures.peak_in_flight, in_flight)
    return figures


# --- report -----------------------------------------------------------------------------------
def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: Sequence[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))]


def verdict(value: float, target: float) -> str:
    if value != value:  # NaN
        return "n/a"
    return "met" if value <= target else "MISSED"


def lone_report(backend: str, figures: LoneFigures, *, stagger_target: bool) -> list[str]:
    rows = [
        ("start: POST -> first call", median(figures.start_ms), TARGET_START_MS),
        ("gap between waves", median(figures.gap_ms), TARGET_GAP_MS),
        (
            "stagger within a wave",
            median(figures.stagger_ms),
            TARGET_STAGGER_MS if stagger_target else float("inf"),
        ),
        (
            "finish: last answer -> completed on GET",
            median(figures.finish_get_ms),
            TARGET_FINISH_MS,
        ),
        (
            "finish: last answer -> debate_end on /ws",
            median(figures.finish_ws_ms),
            TARGET_FINISH_MS,
        ),
        ("last answer -> final document (receipt)", median(figures.final_ms), float("inf")),
    ]
    lines = [f"[{backend}] {figures.label}: {len(figures.statuses)} debates {figures.statuses}"]
    for name, value, target in rows:
        shown = "" if target == float("inf") else f"<= {target:g} ms  {verdict(value, target)}"
        spread = ""
        source = {
            "start: POST -> first call": figures.start_ms,
            "gap between waves": figures.gap_ms,
            "stagger within a wave": figures.stagger_ms,
        }.get(name)
        if source:
            spread = f"(max {max(source):.1f})"
        lines.append(f"  {name:<42} {value:8.1f} ms {spread:<14} {shown}")
    lines.append(f"  {'server CPU per debate':<42} {figures.cpu_ms:8.1f} ms")
    lines.append(
        f"  {'input tokens per debate':<42} without knowledge {median(figures.tokens_without):.0f}"
        f" ({len(figures.tokens_without)}), with {median(figures.tokens_with):.0f}"
        f" ({len(figures.tokens_with)})"
    )
    return lines


def burst_report(backend: str, f: BurstFigures) -> list[str]:
    completed = f.statuses.get("completed", 0)
    failed = f.debates - completed
    p95 = percentile(f.walls_s, 95)
    health_ms = [ms for _, ms in f.health_at]
    health = percentile(health_ms, 99)
    slow = [(t, ms) for t, ms in f.health_at if ms > TARGET_HEALTH_P99_MS]
    during = sum(1 for t, ms in slow if t - ms / 1000 <= f.posting_s)
    late = [f"{t:.1f} s" for t, ms in slow if t - ms / 1000 > f.posting_s]
    return [
        f"[{backend}] burst {f.label}: {f.debates} debates at once; statuses {f.statuses}; "
        f"POST errors {sum(f.post_errors.values())} {f.post_errors or ''}; "
        f"all ended after {f.all_done_s:.1f} s",
        f"  {'completed / not completed':<42} {completed} / {failed}   "
        f"{'met' if failed == 0 else 'MISSED'} (target: all, 0 failed)",
        f"  {'debate wall p50 / p95 (POST -> completed)':<42} {median(f.walls_s):.2f} / "
        f"{p95:.2f} s; lone {f.lone_wall_s:.2f} s; p95 <= 2 x lone  "
        f"{verdict(p95, 2 * f.lone_wall_s)}",
        f"  {'debate run p50 / p95 (started -> completed)':<42} {median(f.run_s):.2f} / "
        f"{percentile(f.run_s, 95):.2f} s (the queue wait left out; shown, not a target)",
        f"  {'POST answered p50 / p95 (sent -> 202 read)':<42} {median(f.answered_s):.2f} / "
        f"{percentile(f.answered_s, 95):.2f} s (200 connections; shown, not a target)",
        f"  {'queue wait p50 / p95 (created -> started)':<42} {median(f.queued_s):.2f} / "
        f"{percentile(f.queued_s, 95):.2f} s (shown, not a target)",
        f"  {'GET /api/health p99 during the burst':<42} {health:8.1f} ms <= "
        f"{TARGET_HEALTH_P99_MS:g} ms  {verdict(health, TARGET_HEALTH_P99_MS)} "
        f"({len(health_ms)} probes; p50 {median(health_ms):.1f}, max "
        f"{max(health_ms, default=float('nan')):.1f} ms; not 200: {f.health_bad or 0})",
        f"  {'health probes over 50 ms':<42} {len(slow)}: {during} while the POSTs were answered "
        f"(the first {f.posting_s:.1f} s), {len(slow) - during} after"
        + (f" (at {', '.join(late[:40])})" if late else ""),
        f"  {'peak server RSS':<42} {f.peak_rss_mb:8.1f} MB <= {TARGET_RSS_MB:g} MB  "
        f"{verdict(f.peak_rss_mb, TARGET_RSS_MB)}",
        f"  {'peak calls in flight at the fake':<42} {f.peak_in_flight}",
        *cpu_report(f),
    ]


def cpu_report(f: BurstFigures) -> list[str]:
    """CPU per debate over the burst, and the shortest wall the machine's cores allow for
    it: every core busy all along, with no wait between calls and no queue."""
    meter = f.cpu
    if meter is None or f.debates == 0:
        return []
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    per = 1000 / f.debates
    postgres = (
        f"PostgreSQL {meter.postgres_s * per:.1f}"
        if meter.postgres_s is not None
        else "PostgreSQL not on this machine"
    )
    rest = meter.machine_s - meter.server_s - (meter.postgres_s or 0.0) - meter.fake_s
    floor = meter.machine_s / (cores or 1)
    return [
        f"  {'CPU per debate (ms)':<42} whole machine {meter.machine_s * per:.1f}: server "
        f"{meter.server_s * per:.1f}, {postgres}, fake LLM {meter.fake_s * per:.1f}, the bench "
        f"and the rest {rest * per:.1f}",
        f"  {'CPU floor of the burst':<42} {floor:.2f} s: {f.debates} debates x "
        f"{meter.machine_s * per:.1f} ms over {cores} cores, every core busy all along "
        f"(the p95 target is {2 * f.lone_wall_s:.2f} s)",
    ]


# --- main -------------------------------------------------------------------------------------
async def run_backend(
    backend: str, url_env: dict[str, str], tmp: Path, fake: FakeLLM, args: argparse.Namespace
) -> list[str]:
    lines: list[str] = []
    directory = tmp / backend
    print(
        f"[{backend}] default provider limits: {args.lone} lone debates per layout ...", flush=True
    )
    server = start_server(directory / "default", url_env, fake)
    try:
        empty_tokens, _ = await unrelated_tokens(server, fake, args.delay, leave_nothing=True)
        for shared in (False, True):
            label = "default limits, " + ("one endpoint" if shared else "separate endpoints")
            figures = await lone_debates(server, fake, label, args.lone, args.delay, shared=shared)
            lines += lone_report(backend, figures, stagger_target=False)
        full_tokens, references = await unrelated_tokens(server, fake, args.delay)
        same = full_tokens == empty_tokens and references == 0
        lines.append(
            f"[{backend}] unrelated question, input tokens: store empty {empty_tokens}, "
            f"store holding the lone debates' decisions {full_tokens} ({references} "
            f"references)  {'met' if same else 'MISSED'} (target: equal, none)"
        )
    finally:
        stop_server(server)
    print(f"[{backend}] limits raised; lone debates, then bursts of {args.burst} ...", flush=True)
    raised = {
        **url_env,
        "ARAGORA_AGENT_LIMITS": RAISED_LIMITS,
        "ARAGORA_MAX_CONCURRENT_DEBATES": str(max(args.burst, 16)),
        "ARAGORA_MAX_QUEUED_DEBATES": str(max(args.burst * 2, 100)),
    }
    server = start_server(directory / "raised", raised, fake)
    try:
        for shared in (False, True):
            label = "limits raised, " + ("one endpoint" if shared else "separate endpoints")
            figures = await lone_debates(server, fake, label, args.lone, args.delay, shared=shared)
            lines += lone_report(backend, figures, stagger_target=True)
        if args.burst > 0:
            for shared in (False, True):
                label = "one endpoint" if shared else "separate endpoints"
                result = await burst(
                    server, fake, label, args.burst, args.burst_delay, shared=shared
                )
                lines += burst_report(backend, result)
    finally:
        stop_server(server)
    for line in lines:
        print(line, flush=True)
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n", 1)[0])
    parser.add_argument("--backends", default="sqlite,postgresql", help="sqlite,postgresql")
    parser.add_argument("--lone", type=int, default=6, help="lone debates per layout (6)")
    parser.add_argument("--delay", type=float, default=0.2, help="seconds per call, lone (0.2)")
    parser.add_argument("--burst", type=int, default=100, help="debates at once (100; 0: none)")
    parser.add_argument("--burst-delay", type=float, default=1.0, help="seconds per call (1)")
    default_pg = os.environ.get("ARAGORA_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--pg-server", default=default_pg, help="PostgreSQL server URL")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/13", help="Redis for the bus")
    args = parser.parse_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    print(
        f"server path bench: {os.cpu_count()} CPUs; lone debates at {args.delay:g} s per call, "
        f"bursts of {args.burst} at {args.burst_delay:g} s; 3 agents, mode=debate, 2 rounds",
        flush=True,
    )
    report: list[str] = []
    try:
        with tempfile.TemporaryDirectory(prefix="aragora-bench-path-") as name:
            tmp = Path(name)
            fake = FakeLLM(tmp)
            try:
                for backend in backends:
                    if backend == "sqlite":
                        report += asyncio.run(run_backend(backend, {}, tmp, fake, args))
                    elif backend == "postgresql":
                        with fresh_database(args.pg_server) as url:
                            env = {
                                "ARAGORA_DATABASE_URL": url,
                                "ARAGORA_REDIS_URL": args.redis,
                                "ARAGORA_AUTO_MIGRATE": "true",
                            }
                            report += asyncio.run(run_backend(backend, env, tmp, fake, args))
                    else:
                        raise RuntimeError(f"unknown backend {backend!r}")
            finally:
                fake.close()
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    print("\n=== server path: figures against targets (reported, never gated) ===")
    print("\n".join(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
