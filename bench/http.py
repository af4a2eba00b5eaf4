"""The HTTP and WebSocket front end under load: a live ``aragora serve`` on this machine.

    python bench/http.py              # full run (about a minute)
    python bench/http.py --quick      # a short run (about 25 s)
    python bench/http.py --generator python   # the Python load generator even with wrk

It reports and never gates: the exit status is 0 whatever the figures are (1 only if the
benchmark itself cannot run), and the last line says whether every target was met. It
starts its own server (``aragora serve`` on a free port of 127.0.0.1, embedded SQLite in a
temporary directory, demo agents only, ``ARAGORA_LOG_LEVEL=WARNING``) and kills it at the
end, also when interrupted.

Figures and targets:

1. **start to healthy <= 1.5 s**: from spawning the process to the first 200 from
   ``GET /api/health`` (polled every 5 ms), on a fresh data dir (so including the first
   migrations and key generation); a restart on the same data dir is shown too. Modules
   are precompiled first, as an install does (``--no-bytecode`` measures a start that
   compiles everything, which is what a shell with ``PYTHONDONTWRITEBYTECODE=1`` and a
   venv synced without ``--compile-bytecode`` gets).
2. **RSS after start <= 120 MB**: ``VmRSS`` of the server's process tree from
   ``/proc/<pid>/status`` right after it turned healthy (MB = 2^20 bytes).
3. **``GET /api/health`` at 50 connections: >= 2,000 req/s, p99 <= 20 ms.**
4. **``GET /api/v1/debates/{id}`` at 50 connections: p99 <= 30 ms**, for a completed demo
   debate created through ``POST /api/v1/debates`` first.
5. **1,000 WebSocket subscribers on one debate: delivery p99 <= 200 ms.** Delivery latency
   is the receive time minus the frame's ``timestamp`` (both this machine's clock). The
   server runs one debate at a time (``ARAGORA_MAX_CONCURRENT_DEBATES=1``), and a first
   debate whose agent is a local OpenAI-compatible endpoint that never answers holds the
   queue: the measured demo debate waits behind it while the subscribers connect to
   ``/ws?debate_id=ID&since=0``, and starts when the blocker is cancelled, so every one of
   its frames is delivered live to all of them. Each subscriber is checked for receiving
   every stored event exactly once. Frames stamped before the last subscriber connected
   (none, unless the blocker could not be created) are left out of the latency, as
   replayed history. The target applies to stored events; ephemeral
   ``token`` frames (one per streamed word) are reported beside them. A subscriber the
   server closes with 4008 (fell behind) reconnects from its last seq, as a client should;
   such reconnects are listed under the table.

The load generator shares the machine's cores with the server, so it is kept cheap: for 3
and 4 it is ``wrk`` when that is on PATH (``--latency`` gives the p99), else a Python
generator in a separate process speaking keep-alive HTTP/1.1 over raw asyncio streams (on
uvloop when installed). The subscribers of 5 run in two separate processes with the
``websockets`` library. Each generator's client-side delays count in its latencies, so
the figures are upper bounds for the server.
"""

from __future__ import annotations

import os
import sys

# Run as `python bench/http.py`, this file's directory comes first on sys.path and this
# module would shadow the standard library's `http` package for every import below.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

import argparse
import array
import asyncio
import contextlib
import http.client
import json
import math
import multiprocessing
import re
import resource
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

TARGET_START_SECONDS = 1.5
TARGET_RSS_MB = 120.0
TARGET_HEALTH_RPS = 2000.0
TARGET_HEALTH_P99_MS = 20.0
TARGET_DEBATE_P99_MS = 30.0
TARGET_WS_P99_MS = 200.0
CONNECTIONS = 50
WS_PROCESSES = 2
CLOSE_SLOW_CONSUMER = 4008
ADMIN_TOKEN = "arg_bench-admin-token-0123456789abcdef012345"
START_TIMEOUT = 30.0


# --- the server -------------------------------------------------------------------------------
@dataclass
class Server:
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    spawned_at: float

    def request(
        self, method: str, path: str, body: Any = None, timeout: float = 10.0
    ) -> tuple[int, Any]:
        """One request on a fresh connection: the status and the parsed JSON body."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
            payload = None
            if body is not None:
                payload = json.dumps(body).encode()
                headers["Content-Type"] = "application/json"
            conn.request(method, path, body=payload, headers=headers)
            response = conn.getresponse()
            data = response.read()
        finally:
            conn.close()
        try:
            return response.status, json.loads(data) if data else None
        except ValueError:
            return response.status, data.decode(errors="replace")

    def log_tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def aragora_command() -> list[str]:
    script = Path(sys.executable).with_name("aragora")
    return [str(script)] if script.exists() else [sys.executable, "-m", "aragora.cli.main"]


@contextlib.contextmanager
def stalled_endpoint() -> Iterator[str]:
    """An OpenAI-compatible base URL on loopback that accepts connections and never
    answers: an agent on it keeps its debate running until the debate is cancelled."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def accept() -> None:
        with contextlib.suppress(OSError):
            while True:
                held.append(listener.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    finally:
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        thread.join(timeout=5)
        for conn in held:
            conn.close()


def server_environment(*, bytecode: bool) -> dict[str, str]:
    """This environment without Aragora or provider settings; ``bytecode`` lets Python use
    and write ``__pycache__`` as an installed service would, whatever the shell says."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("ARAGORA_") and not key.endswith(("_API_KEY", "_BASE_URL"))
    }
    if bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def prime_bytecode() -> None:
    """Compile the server's modules once, unmeasured, as ``pip install`` or ``uv sync
    --compile-bytecode`` would at install time; without it every start recompiles them."""
    code = "import aragora.cli.main, aragora.server.app"
    subprocess.run(
        [sys.executable, "-c", code], env=server_environment(bytecode=True), check=True, timeout=120
    )


@contextlib.contextmanager
def running_server(
    data_dir: Path, demo_delay: float, *, bytecode: bool, stall_url: str
) -> Iterator[Server]:
    port = free_port()
    env = server_environment(bytecode=bytecode)
    env.update(
        ARAGORA_DATA_DIR=str(data_dir),
        ARAGORA_DEMO_DELAY=str(demo_delay),
        ARAGORA_LOG_LEVEL="WARNING",
        ARAGORA_ADMIN_TOKEN=ADMIN_TOKEN,
        ARAGORA_DEFAULT_AGENTS="demo,demo,demo",
        ARAGORA_SHUTDOWN_GRACE="2",
        # One debate at a time, and an endpoint that never answers: the fan-out debate
        # waits in the queue behind a stalled one until every subscriber is connected.
        ARAGORA_MAX_CONCURRENT_DEBATES="1",
        ARAGORA_AGENT_ENDPOINTS=stall_url,
        ARAGORA_AGENT_TIMEOUT="300",
        # Request rates are what is measured here, not the inbound limits that cap them.
        ARAGORA_RATE_LIMIT="0",
        ARAGORA_RATE_LIMIT_DEBATES="0",
    )
    log = data_dir / "server.log"
    command = [*aragora_command(), "serve", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as sink:
        spawned_at = time.perf_counter()
        process = subprocess.Popen(
            command, env=env, stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    try:
        yield Server(port, process, log, spawned_at)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_healthy(server: Server) -> float:
    """Seconds from spawn to the first 200 from /api/health."""
    deadline = server.spawned_at + START_TIMEOUT
    while time.perf_counter() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"aragora serve exited with {server.process.returncode}:\n{server.log_tail()}"
            )
        with contextlib.suppress(OSError):
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=1)
            try:
                conn.request("GET", "/api/health")
                if conn.getresponse().status == 200:
                    return time.perf_counter() - server.spawned_at
            finally:
                conn.close()
        time.sleep(0.005)
    raise RuntimeError(f"not healthy within {START_TIMEOUT:.0f}s:\n{server.log_tail()}")


def tree_rss_mb(pid: int) -> tuple[float, int]:
    """VmRSS of ``pid`` and all its descendants in MB, and how many processes that is."""
    total_kb, count, pending = 0, 0, [pid]
    while pending:
        current = pending.pop()
        with contextlib.suppress(OSError):
            status = Path(f"/proc/{current}/status").read_text()
            match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
            total_kb += int(match.group(1)) if match else 0
            count += 1
            for task in Path(f"/proc/{current}/task").iterdir():
                with contextlib.suppress(OSError):
                    pending.extend(int(c) for c in (task / "children").read_text().split())
    return total_kb / 1024, count


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def cpu_meter(pid: int) -> Iterator[list[float]]:
    """Yields a list that holds, on exit, the cores the process used on average."""
    cores: list[float] = []
    cpu, wall = cpu_seconds(pid), time.perf_counter()
    try:
        yield cores
    finally:
        cores.append((cpu_seconds(pid) - cpu) / max(1e-9, time.perf_counter() - wall))


def create_debate(server: Server, task: str, *, rounds: int = 3) -> str:
    status, body = server.request(
        "POST",
        "/api/v1/debates",
        {"task": task, "agents": ["demo", "demo", "demo"], "mode": "debate", "rounds": rounds},
    )
    if status != 202:
        raise RuntimeError(f"POST /api/v1/debates answered {status}: {body}")
    debate_id: str = body["debate_id"]
    return debate_id


def wait_finished(server: Server, debate_id: str, timeout: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, body = server.request("GET", f"/api/v1/debates/{debate_id}")
        if status == 200 and body["status"] in {"completed", "failed", "cancelled"}:
            document: dict[str, Any] = body
            return document
        time.sleep(0.1)
    raise RuntimeError(f"debate {debate_id} did not finish within {timeout:.0f}s")


def _event_loop_runner() -> Callable[[Coroutine[Any, Any, Any]], Any]:
    """``uvloop.run`` when uvloop is installed (as the server uses it), else ``asyncio.run``."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run
    runner: Callable[[Coroutine[Any, Any, Any]], Any] = uvloop.run
    return runner


# --- HTTP load --------------------------------------------------------------------------------
@dataclass
class Load:
    generator: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)  # nearest rank
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def http_load(port: int, path: str, seconds: float, generator: str) -> Load:
    if generator == "wrk":
        return wrk_load(port, path, seconds)
    return python_load(port, path, seconds)


def wrk_load(port: int, path: str, seconds: float) -> Load:
    url = f"http://127.0.0.1:{port}{path}"
    # Warm-up first, so connection set-up and first-request costs are not measured.
    auth = ["-H", f"Authorization: Bearer {ADMIN_TOKEN}"]
    warm = ["wrk", "-t1", f"-c{CONNECTIONS}", "-d1s", *auth, url]
    subprocess.run(warm, capture_output=True, check=False, timeout=30)
    duration = f"-d{max(1, round(seconds))}s"
    command = ["wrk", "-t1", f"-c{CONNECTIONS}", duration, "--latency", *auth, url]
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=120)
    out = done.stdout

    def latency(label: str) -> float:
        match = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\b", out, re.MULTILINE)
        if not match:
            raise RuntimeError(f"cannot read the {label}% latency from wrk:\n{out}")
        scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[match.group(2)]
        return float(match.group(1)) * scale

    total = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", out)
    if not total:
        raise RuntimeError(f"cannot read the request count from wrk:\n{out}")
    unit = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[total.group(3)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    failed = int(errors.group(1)) if errors else 0
    if socket_errors:
        failed += sum(int(n) for n in re.findall(r"\d+", socket_errors.group(1)))
    return Load(
        "wrk",
        int(total.group(1)),
        float(total.group(2)) * unit,
        latency("50"),
        latency("99"),
        failed,
    )


def python_load(port: int, path: str, seconds: float) -> Load:
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    worker = context.Process(
        target=_load_process, args=(port, path, seconds, 1.0, sender), daemon=True
    )
    worker.start()
    sender.close()
    try:
        if not receiver.poll(seconds + 60):
            raise RuntimeError("the load generator did not report")
        result: dict[str, Any] = receiver.recv()
    finally:
        worker.join(timeout=5)
        if worker.is_alive():
            worker.kill()
    if "error" in result:
        raise RuntimeError(f"load generator: {result['error']}")
    latencies = array.array("d")
    latencies.frombytes(result["latencies"])
    values = latencies.tolist()
    return Load(
        "python (asyncio streams, separate process)",
        len(values),
        result["seconds"],
        percentile(values, 50) * 1000,
        percentile(values, 99) * 1000,
        result["errors"],
    )


def _load_process(port: int, path: str, seconds: float, warmup: float, out: Connection) -> None:
    try:
        out.send(_event_loop_runner()(_generate(port, path, seconds, warmup)))
    except Exception as exc:  # report, the parent prints it
        out.send({"error": f"{type(exc).__name__}: {exc}"})
    finally:
        out.close()


async def _generate(port: int, path: str, seconds: float, warmup: float) -> dict[str, Any]:
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {ADMIN_TOKEN}\r\nAccept: application/json\r\n\r\n"
    ).encode()
    latencies = array.array("d")
    errors = Counter[str]()
    started = time.perf_counter()
    measure_from = started + warmup
    stop_at = measure_from + seconds

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while True:
                sent = time.perf_counter()
                if sent >= stop_at:
                    return
                writer.write(request)
                status, keep_alive = await _read_response(reader)
                if sent >= measure_from:
                    if 200 <= status < 300:
                        latencies.append(time.perf_counter() - sent)
                    else:
                        errors[str(status)] += 1
                if not keep_alive:
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(CONNECTIONS)))
    return {
        "latencies": latencies.tobytes(),
        "seconds": min(time.perf_counter(), stop_at) - measure_from,
        "errors": sum(errors.values()),
    }


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip().lower()
    if headers.get("transfer-encoding") == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    else:
        await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers.get("connection") != "close"


# --- WebSocket fan-out ------------------------------------------------------------------------
@dataclass
class Fanout:
    subscribers: int
    connected: int
    connect_seconds: float
    complete: int
    stored_events: int
    live_stored: list[float] = field(default_factory=list)
    live_tokens: list[float] = field(default_factory=list)
    replayed_frames: int = 0
    problems: Counter[str] = field(default_factory=Counter)
    client_cores: float = 0.0
    """The busiest subscriber process's CPU use while it ran (1.0 = one core saturated)."""


def websocket_fanout(server: Server, subscribers: int, timeout: float, stall_url: str) -> Fanout:
    status, body = server.request(
        "POST",
        "/api/v1/debates",
        {"task": "Hold the queue", "agents": [f"openai-compatible:stall@{stall_url}"]},
    )
    blocker = body["debate_id"] if status == 202 else None
    if blocker is None:
        print(f"  (no blocking debate: {status} {body}; early frames will not count)")
    debate_id = create_debate(server, "Should the team move its monolith to services?")
    url = f"ws://127.0.0.1:{server.port}/ws?debate_id={debate_id}&token={ADMIN_TOKEN}"
    context = multiprocessing.get_context("fork")
    shares = [
        subscribers // WS_PROCESSES + (i < subscribers % WS_PROCESSES) for i in range(WS_PROCESSES)
    ]
    pipes, workers = [], []
    started = time.time()
    for share in shares:
        receiver, sender = context.Pipe(duplex=False)
        worker = context.Process(
            target=_subscriber_process, args=(url, share, timeout, sender), daemon=True
        )
        worker.start()
        sender.close()
        pipes.append(receiver)
        workers.append(worker)
    try:
        connected = 0
        for pipe in pipes:  # first message: how many connected
            if not pipe.poll(timeout):
                raise RuntimeError("a subscriber process did not report its connections")
            connected += pipe.recv()
        ready_at = time.time()
        if blocker is not None:  # let the fan-out debate start
            server.request("POST", f"/api/v1/debates/{blocker}/cancel")
        results = []
        for pipe in pipes:
            if not pipe.poll(timeout + 30):
                raise RuntimeError("a subscriber process did not report its results")
            results.append(pipe.recv())
    finally:
        for worker in workers:
            worker.join(timeout=5)
            if worker.is_alive():
                worker.kill()
    document = wait_finished(server, debate_id)
    _, events = server.request("GET", f"/api/v1/debates/{debate_id}/events?since=0&limit=1000")
    stored = len(events["events"]) if isinstance(events, dict) else 0
    fanout = Fanout(subscribers, connected, ready_at - started, 0, stored)
    if document["status"] != "completed":
        fanout.problems[f"debate {document['status']}"] += 1
    for result in results:
        if "error" in result:
            raise RuntimeError(f"subscriber process: {result['error']}")
        fanout.problems.update(result["problems"])
        fanout.client_cores = max(fanout.client_cores, result["cpu"] / result["wall"])
        for seqs in result["seqs"]:
            if seqs == list(range(1, stored + 1)):
                fanout.complete += 1
        for kind, target in (("stored", fanout.live_stored), ("tokens", fanout.live_tokens)):
            pairs = array.array("d")
            pairs.frombytes(result[kind])
            for stamp, latency in zip(pairs[0::2], pairs[1::2], strict=True):
                if stamp >= ready_at:
                    target.append(latency * 1000)
                else:
                    fanout.replayed_frames += 1
    return fanout


def _subscriber_process(url: str, count: int, timeout: float, out: Connection) -> None:
    try:
        _event_loop_runner()(_subscribe_all(url, count, timeout, out))
    except Exception as exc:  # report, the parent prints it
        out.send({"error": f"{type(exc).__name__}: {exc}"})
    finally:
        out.close()


async def _subscribe_all(url: str, count: int, limit: float, out: Connection) -> None:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    options: dict[str, Any] = {
        "compression": None,
        "ping_interval": None,
        "open_timeout": limit,
        "max_size": None,
    }

    stored = array.array("d")  # (timestamp, latency) pairs
    tokens = array.array("d")
    seqs: list[list[int]] = []
    problems = Counter[str]()
    stamps: dict[str, float] = {}
    connected = 0
    all_connected = asyncio.Event()
    handshakes = asyncio.Semaphore(64)
    deadline = time.monotonic() + limit

    def stamp_of(text: str) -> float:
        value = stamps.get(text)
        if value is None:
            value = stamps[text] = datetime.fromisoformat(text).timestamp()
        return value

    async def subscriber() -> None:
        nonlocal connected
        received: list[int] = []
        seqs.append(received)
        try:
            async with handshakes:
                ws = await connect(f"{url}&since=0", **options)
        except Exception as exc:
            problems[f"connect: {type(exc).__name__}"] += 1
            ws = None
        connected += 1  # failures count too, so the others need not wait for them
        if connected == count:
            all_connected.set()
        try:
            async with asyncio.timeout(max(0.1, deadline - time.monotonic())):
                while ws is not None:
                    try:
                        if await consume(ws, received):
                            return
                    except ConnectionClosed as closed:
                        if closed.rcvd is None or closed.rcvd.code != CLOSE_SLOW_CONSUMER:
                            raise
                    # Fell behind: reconnect from the last seq, as the close reason says.
                    problems["fell behind (4008) and reconnected"] += 1
                    since = received[-1] if received else 0
                    ws = await connect(f"{url}&since={since}", **options)
        except TimeoutError:
            problems["no debate_end before the timeout"] += 1
        except Exception as exc:
            problems[f"stream: {type(exc).__name__}"] += 1
        finally:
            if ws is not None:
                await ws.close()

    async def consume(ws: Any, received: list[int]) -> bool:
        """Record frames until ``debate_end`` (true) or the connection closes."""
        async for message in ws:
            now = time.time()
            frame = json.loads(message)
            if frame.get("type") == "connected" or not frame.get("timestamp"):
                continue
            stamp = stamp_of(frame["timestamp"])
            seq = frame.get("seq")
            (tokens if seq is None else stored).extend((stamp, now - stamp))
            if seq is not None:
                received.append(seq)
            if frame.get("type") == "debate_end":
                return True
        return False

    cpu, wall = time.process_time(), time.perf_counter()
    tasks = [asyncio.create_task(subscriber()) for _ in range(count)]
    await all_connected.wait()
    out.send(count - sum(problems[k] for k in problems if k.startswith("connect")))
    await asyncio.gather(*tasks)
    out.send(
        {
            "stored": stored.tobytes(),
            "tokens": tokens.tobytes(),
            "seqs": seqs,
            "problems": problems,
            "cpu": time.process_time() - cpu,
            "wall": time.perf_counter() - wall,
        }
    )


# --- report -----------------------------------------------------------------------------------
@dataclass
class Figures:
    start_seconds: float
    restart_seconds: float
    rss_mb: float
    processes: int
    health: Load
    debate: Load
    fanout: Fanout
    rss_after_mb: float
    server_cores: tuple[float, float, float]
    """Server CPU in cores during the health load, the debate load and the fan-out."""


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def table(rows: Sequence[tuple[str, str, str, str]]) -> str:
    header = ("measure", "value", "target", "result")
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(4)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in (header, *rows)
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in lines)


def report(f: Figures) -> tuple[str, str]:
    ws = f.fanout
    ws_p99 = percentile(ws.live_stored, 99)
    checks = {
        "start to healthy": f.start_seconds <= TARGET_START_SECONDS,
        "RSS after start": f.rss_mb <= TARGET_RSS_MB,
        "health req/s": f.health.rps >= TARGET_HEALTH_RPS and not f.health.errors,
        "health p99": f.health.p99_ms <= TARGET_HEALTH_P99_MS,
        "debate GET p99": f.debate.p99_ms <= TARGET_DEBATE_P99_MS and not f.debate.errors,
        "WebSocket delivery p99": bool(ws.live_stored)
        and ws_p99 <= TARGET_WS_P99_MS
        and ws.complete == ws.subscribers,
    }
    c = CONNECTIONS
    rows = [
        (
            "start to healthy",
            f"{f.start_seconds:.2f} s",
            f"<= {TARGET_START_SECONDS} s",
            verdict(checks["start to healthy"]),
        ),
        ("  restart, same data dir", f"{f.restart_seconds:.2f} s", "(info)", ""),
        (
            f"RSS after start ({f.processes} process{'es' if f.processes > 1 else ''})",
            f"{f.rss_mb:.1f} MB",
            f"<= {TARGET_RSS_MB:.0f} MB",
            verdict(checks["RSS after start"]),
        ),
        (
            f"GET /api/health, {c} conns",
            f"{f.health.rps:,.0f} req/s",
            f">= {TARGET_HEALTH_RPS:,.0f} req/s",
            verdict(checks["health req/s"]),
        ),
        ("  p50", f"{f.health.p50_ms:.2f} ms", "", ""),
        (
            "  p99",
            f"{f.health.p99_ms:.2f} ms",
            f"<= {TARGET_HEALTH_P99_MS:.0f} ms",
            verdict(checks["health p99"]),
        ),
        ("  errors", str(f.health.errors), "0", ""),
        ("  server CPU", f"{f.server_cores[0]:.2f} cores", "(info)", ""),
        (f"GET /api/v1/debates/{{id}}, {c} conns", f"{f.debate.rps:,.0f} req/s", "", ""),
        ("  p50", f"{f.debate.p50_ms:.2f} ms", "", ""),
        (
            "  p99",
            f"{f.debate.p99_ms:.2f} ms",
            f"<= {TARGET_DEBATE_P99_MS:.0f} ms",
            verdict(checks["debate GET p99"]),
        ),
        ("  errors", str(f.debate.errors), "0", ""),
        ("  server CPU", f"{f.server_cores[1]:.2f} cores", "(info)", ""),
        (
            "WebSocket subscribers connected",
            f"{ws.connected}/{ws.subscribers} in {ws.connect_seconds:.1f} s",
            "",
            "",
        ),
        (
            "  got every stored event once",
            f"{ws.complete}/{ws.subscribers} ({ws.stored_events} events)",
            "all",
            "",
        ),
        ("  live stored frames measured", f"{len(ws.live_stored):,}", "", ""),
        ("  delivery p50", f"{percentile(ws.live_stored, 50):.1f} ms", "", ""),
        (
            "  delivery p99",
            f"{ws_p99:.1f} ms",
            f"<= {TARGET_WS_P99_MS:.0f} ms",
            verdict(checks["WebSocket delivery p99"]),
        ),
        ("  token frames measured", f"{len(ws.live_tokens):,}", "", ""),
        ("  token delivery p99", f"{percentile(ws.live_tokens, 99):.1f} ms", "(info)", ""),
        ("  frames before all connected (not counted)", f"{ws.replayed_frames:,}", "", ""),
        ("  server CPU", f"{f.server_cores[2]:.2f} cores", "(info)", ""),
        ("  busiest subscriber process CPU", f"{ws.client_cores:.2f} cores", "(info)", ""),
        ("RSS after the run", f"{f.rss_after_mb:.1f} MB", "(info)", ""),
    ]
    text = table(rows)
    if ws.problems:
        text += "\nWebSocket problems: " + ", ".join(f"{k} x{n}" for k, n in ws.problems.items())
    failed = [name for name, ok in checks.items() if not ok]
    if failed:
        summary = (
            f"SUMMARY: {len(checks) - len(failed)} of {len(checks)} targets met; "
            f"missed: {', '.join(failed)}"
        )
    else:
        summary = f"SUMMARY: all {len(checks)} targets met"
    return text, summary


# --- main -------------------------------------------------------------------------------------
def raise_file_limit(needed: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        wanted = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        soft = wanted
    return int(soft)


def measure(args: argparse.Namespace, generator: str) -> Figures:
    bytecode = not args.no_bytecode
    if bytecode:
        prime_bytecode()
    with (
        tempfile.TemporaryDirectory(prefix="aragora-bench-http-") as tmp,
        stalled_endpoint() as stall_url,
    ):
        with running_server(
            Path(tmp), args.demo_delay, bytecode=bytecode, stall_url=stall_url
        ) as server:
            pid = server.process.pid
            start = wait_healthy(server)
            rss, processes = tree_rss_mb(pid)
            print(f"server on 127.0.0.1:{server.port}, healthy after {start:.2f} s", flush=True)
            print(f"GET /api/health for {args.duration:.0f} s ...", flush=True)
            with cpu_meter(pid) as health_cores:
                health = http_load(server.port, "/api/health", args.duration, generator)
            debate_id = create_debate(server, "Is a monorepo right for a ten-person team?")
            wait_finished(server, debate_id)
            print(f"GET /api/v1/debates/{debate_id} for {args.duration:.0f} s ...", flush=True)
            path = f"/api/v1/debates/{debate_id}"
            with cpu_meter(pid) as debate_cores:
                debate = http_load(server.port, path, args.duration, generator)
            print(f"{args.subscribers} WebSocket subscribers on one debate ...", flush=True)
            with cpu_meter(pid) as fanout_cores:
                fanout = websocket_fanout(server, args.subscribers, args.ws_timeout, stall_url)
            rss_after, _ = tree_rss_mb(pid)
        # A restart on the same data dir: no first-run migrations or key generation.
        with running_server(
            Path(tmp), args.demo_delay, bytecode=bytecode, stall_url=stall_url
        ) as again:
            restart = wait_healthy(again)
    return Figures(
        start_seconds=start,
        restart_seconds=restart,
        rss_mb=rss,
        processes=processes,
        health=health,
        debate=debate,
        fanout=fanout,
        rss_after_mb=rss_after,
        server_cores=(health_cores[0], debate_cores[0], fanout_cores[0]),
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="short run, fewer subscribers")
    parser.add_argument("--duration", type=float, help="seconds of each HTTP load (10; quick 3)")
    parser.add_argument("--subscribers", type=int, help="WebSocket subscribers (1000; quick 300)")
    parser.add_argument(
        "--demo-delay",
        type=float,
        default=0.5,
        help="ARAGORA_DEMO_DELAY for the server: seconds per demo answer, streamed word by "
        "word (0.5, the product's default pace)",
    )
    parser.add_argument(
        "--no-bytecode",
        action="store_true",
        help="keep the shell's PYTHONDONTWRITEBYTECODE and do not precompile: a start that "
        "compiles every module first",
    )
    parser.add_argument("--ws-timeout", type=float, default=90.0, help="WebSocket phase limit")
    parser.add_argument(
        "--generator",
        choices=["auto", "wrk", "python"],
        default="auto",
        help="HTTP load generator (auto: wrk when on PATH)",
    )
    args = parser.parse_args(argv)
    args.duration = args.duration or (3.0 if args.quick else 10.0)
    args.subscribers = args.subscribers or (300 if args.quick else 1000)
    generator = args.generator
    if generator == "auto":
        generator = "wrk" if shutil.which("wrk") else "python"
    elif generator == "wrk" and not shutil.which("wrk"):
        print("wrk is not on PATH", file=sys.stderr)
        return 1
    limit = raise_file_limit(2 * args.subscribers + 1024)
    print(
        f"HTTP bench: {os.cpu_count()} CPUs shared by server and load generator; "
        f"HTTP generator: {generator}; open files limit {limit}; "
        f"ARAGORA_DEMO_DELAY={args.demo_delay}; bytecode "
        + ("as the shell has it" if args.no_bytecode else "precompiled, as installed")
    )
    try:
        figures = measure(args, generator)
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    print(f"HTTP load generator: {figures.health.generator}")
    text, summary = report(figures)
    print(text)
    print(summary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
