"""How fast the ``aragora`` command starts, as a user meets it.

    python bench/startup.py            # median of 5 runs of each (about 30 s)
    python bench/startup.py --runs 9

Figures and targets (each the median of ``--runs`` runs after one unmeasured warm-up run,
so modules are compiled as an install leaves them):

1. **``aragora --version`` <= 0.3 s**: from spawning the process to its exit.
2. **``aragora debate`` first line <= 1 s**: from spawning ``aragora debate TASK --agents
   demo,demo,demo --mode vote`` (demo agents without delay, SQLite in a temporary data dir)
   to its first line on stdout (the task, printed once the request is parsed and
   validated). The time to the debate's own first line (``Debate <id> ...``, once the
   database is open and the debate stored and started) and to the exit are shown beside
   it, as information.
3. **``aragora serve`` healthy <= 1.5 s**: from spawning ``aragora serve`` on a free port
   of 127.0.0.1 (SQLite in a temporary data dir) to the first 200 from
   ``GET /api/health``, polled every 10 ms.

It reports and never gates: the exit status is 0 whatever the figures are (1 only if a
command cannot run), and each figure is printed against its target. Every process it
starts is stopped before it exits, also when interrupted.
"""

from __future__ import annotations

import os
import sys

# Run as `python bench/startup.py`, this file's directory comes first on sys.path, and
# bench/http.py would shadow the standard library's `http` (which urllib imports).
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

import argparse
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

TASK = "Should a five-person startup run PostgreSQL or SQLite?"


def aragora() -> list[str]:
    """The installed ``aragora`` script beside this Python, else the module."""
    script = Path(sys.executable).with_name("aragora")
    return [str(script)] if script.exists() else [sys.executable, "-m", "aragora.cli.main"]


def environment(data_dir: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARAGORA_")}
    env.update(
        ARAGORA_DATA_DIR=data_dir,
        ARAGORA_DEMO_DELAY="0",
        ARAGORA_LOG_LEVEL="WARNING",
        ARAGORA_DEFAULT_AGENTS="demo,demo,demo",
    )
    return env


def time_version(env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([*aragora(), "--version"], env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def time_debate(env: dict[str, str]) -> tuple[float, float, float]:
    """Seconds to the first line, to the debate's own first line, and to the exit."""
    command = [*aragora(), "debate", TASK, "--agents", "demo,demo,demo", "--mode", "vote"]
    started = time.perf_counter()
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert process.stdout is not None
    try:
        first = process.stdout.readline()
        first_at = time.perf_counter() - started
        if not first:
            raise RuntimeError(f"`aragora debate` printed nothing (exit {process.wait()})")
        debate_at = float("nan")
        for line in process.stdout:
            if line.startswith("Debate "):
                debate_at = time.perf_counter() - started
        if process.wait() != 0:
            raise RuntimeError(f"`aragora debate` exited {process.returncode}")
        return first_at, debate_at, time.perf_counter() - started
    finally:
        stop(process)


def time_serve(env: dict[str, str]) -> float:
    port = free_port()
    started = time.perf_counter()
    process = subprocess.Popen(
        [*aragora(), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}/api/health"
        while time.perf_counter() - started < 30:
            if process.poll() is not None:
                raise RuntimeError(f"`aragora serve` exited {process.returncode}")
            try:
                with urllib.request.urlopen(url, timeout=1) as response:
                    if response.status == 200:
                        return time.perf_counter() - started
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.01)
        raise RuntimeError("`aragora serve` was not healthy within 30 s")
    finally:
        stop(process)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop(process: subprocess.Popen[str] | subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def measure(runs: int, once: Callable[[], float]) -> list[float]:
    once()  # warm-up: compiled modules, a migrated database
    return [once() for _ in range(runs)]


def children_cpu() -> float:
    """CPU seconds (user + system) of every child process waited for so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def report(name: str, samples: Sequence[float], target: float | None) -> bool:
    median = statistics.median(samples)
    spread = ", ".join(f"{s:.2f}" for s in samples)
    if target is None:
        print(f"  {name:<34} {median:6.2f} s   (info)        runs: {spread}")
        return True
    met = median <= target
    verdict = "ok" if met else "MISSED"
    print(f"  {name:<34} {median:6.2f} s   target <= {target:g} s {verdict:<6} runs: {spread}")
    return met


def cpu_line(name: str, before: float, runs: int) -> float:
    """Print the mean CPU seconds of one run since ``before``; the new total."""
    now = children_cpu()
    print(f"  {name:<34} {(now - before) / runs:6.2f} s   CPU per run (user + system, info)")
    return now


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="measured runs of each (default 5)")
    args = parser.parse_args(argv)
    data_dir = tempfile.mkdtemp(prefix="aragora-startup-")
    try:
        env = environment(data_dir)
        print(f"aragora start-up, median of {args.runs} runs (command: {' '.join(aragora())})")
        load = os.getloadavg()[0]
        print(f"  load average {load:.2f} on {os.cpu_count()} CPUs: wall times grow with load")
        cpu = children_cpu()
        results = [report("aragora --version", measure(args.runs, lambda: time_version(env)), 0.3)]
        cpu = cpu_line("aragora --version", cpu, args.runs + 1)
        time_debate(env)  # warm-up, as for the others
        debates = [time_debate(env) for _ in range(args.runs)]
        results.append(report("aragora debate: first line", [d[0] for d in debates], 1.0))
        report("aragora debate: `Debate <id>` line", [d[1] for d in debates], None)
        report("aragora debate: exit (vote, 3 demo)", [d[2] for d in debates], None)
        cpu = cpu_line("aragora debate (whole run)", cpu, args.runs + 1)
        serves = measure(args.runs, lambda: time_serve(env))
        results.append(report("aragora serve: healthy", serves, 1.5))
        cpu_line("aragora serve (start and stop)", cpu, args.runs + 1)
        print("every target met" if all(results) else "some targets missed")
        return 0
    except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
        print(f"bench/startup.py: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
