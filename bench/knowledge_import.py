"""Knowledge import at size, through a live server: the memory a restore costs.

    python bench/knowledge_import.py                 # a ~232 MB backup (about 250k items)
    python bench/knowledge_import.py --mb 50         # a quick run

Target: **the server's peak RSS grows by less than 2x the body** while it imports (the
body is spooled to a file as it arrives and parsed item by item, twice: validate, then
store in one transaction), and it gives most of it back afterwards.

It writes a backup document of about ``--mb`` megabytes (items of ~1 KB: a title, ~120
words of content, two tags, a link on every tenth item), starts ``aragora serve`` on a free
port of 127.0.0.1 with an embedded SQLite store in a temporary directory, reads the
server's ``VmRSS`` (before), sends the file as ``curl -d @file`` would (streamed,
``application/x-www-form-urlencoded``), then reads ``VmHWM`` (peak) and ``VmRSS`` (after).
It prints the body size, the three RSS figures, the peak's growth over the body, the time
and items per second, then imports the same file again (idempotent: nothing written).
It reports and never gates: exit status 0 whatever the figures (1 only if the benchmark
cannot run). Everything it made is removed at the end.
"""

from __future__ import annotations

import os
import sys

# Run as `python bench/knowledge_import.py`, this directory comes first on sys.path, and
# bench/http.py would shadow the standard library's `http` package.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

import argparse
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson

TOKEN = "arg_bench-import-token-0123456789abcdef0123456789"
WHEN = "2026-01-20T12:00:00.000001+00:00"


def write_backup(path: Path, megabytes: float) -> int:
    """A backup of about ``megabytes`` MB at ``path``; how many items it holds."""
    rnd = random.Random(7)
    words = [f"w{n}" for n in range(20_000)]
    limit = int(megabytes * 1024 * 1024)
    count = 0
    with path.open("wb") as sink:
        sink.write(b'{"format":"aragora.knowledge","version":1,"exported_at":"' + WHEN.encode())
        sink.write(b'","items":[')
        written = 0
        while written < limit:
            item = {
                "id": f"item-{count:08d}",
                "kind": "claim",
                "title": " ".join(rnd.choices(words, k=6)),
                "content": " ".join(rnd.choices(words, k=120)),
                "source": {"debate_id": f"debate-{count // 5}", "agent": "demo:skeptic"},
                "confidence": 0.5,
                "tags": ["bench", f"t{count % 39}"],
                "created_at": WHEN,
                "updated_at": WHEN,
                "provenance": {"round": 1},
                "links": (
                    [{"kind": "supports", "target": f"item-{count - 1:08d}", "created_at": WHEN}]
                    if count % 10 == 1
                    else []
                ),
            }
            chunk = (b"," if count else b"") + orjson.dumps(item)
            sink.write(chunk)
            written += len(chunk)
            count += 1
        sink.write(b'],"count":' + str(count).encode() + b"}")
    return count


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def memory_mb(pid: int) -> dict[str, float]:
    """``VmRSS`` and ``VmHWM`` (the peak) of ``pid`` in MB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return {
        key: int(re.search(rf"^{key}:\s+(\d+) kB", status, re.MULTILINE).group(1)) / 1024  # type: ignore[union-attr]
        for key in ("VmRSS", "VmHWM")
    }


def wait_healthy(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"aragora serve exited with {process.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError("the server did not become healthy within 60 s")


def stream(path: Path) -> Iterator[bytes]:
    with path.open("rb") as source:
        while chunk := source.read(1024 * 1024):
            yield chunk


def post(port: int, path: Path) -> tuple[int, str, float]:
    started = time.perf_counter()
    response = httpx.post(
        f"http://127.0.0.1:{port}/api/knowledge/import",
        content=stream(path),
        headers={
            "Authorization": f"Bearer {TOKEN}",
            "Content-Type": "application/x-www-form-urlencoded",
            "Content-Length": str(path.stat().st_size),
        },
        timeout=600,
    )
    return response.status_code, response.text[:300], time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=232.0, help="size of the backup (232)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="aragora-import-bench-"))
    process: subprocess.Popen[bytes] | None = None
    try:
        backup = work / "knowledge_backup.json"
        items = write_backup(backup, args.mb)
        body_mb = backup.stat().st_size / 1024 / 1024
        print(f"body: {body_mb:.1f} MB, {items} items")
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("ARAGORA_")}
        env.update(
            ARAGORA_DATA_DIR=str(work / "data"),
            ARAGORA_ADMIN_TOKEN=TOKEN,
            ARAGORA_LOG_LEVEL="WARNING",
            ARAGORA_DEMO_DELAY="0",
        )
        command = [sys.executable, "-m", "aragora.cli.main", "serve", "--port", str(port)]
        with (work / "server.log").open("wb") as log:
            process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        wait_healthy(port, process)
        before = memory_mb(process.pid)["VmRSS"]
        status, text, seconds = post(port, backup)
        after = memory_mb(process.pid)
        print(f"import: HTTP {status} in {seconds:.1f} s ({items / seconds:,.0f} items/s): {text}")
        print(
            f"server RSS: {before:.0f} MB before, peak {after['VmHWM']:.0f} MB, "
            f"{after['VmRSS']:.0f} MB after"
        )
        growth = after["VmHWM"] - before
        print(
            f"peak growth: {growth:.0f} MB = {growth / body_mb:.2f}x the body "
            f"(target < 2x): {'ok' if growth < 2 * body_mb else 'OVER'}"
        )
        status, text, seconds = post(port, backup)
        print(f"again (idempotent): HTTP {status} in {seconds:.1f} s: {text}")
    except Exception as exc:  # the benchmark itself could not run
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    finally:
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
