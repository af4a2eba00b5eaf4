"""A real ``aragora serve`` in a subprocess, on a free loopback port, for end-to-end tests.

The network guard covers only the test process, so the server gets an environment that
keeps it offline too: no provider keys or endpoints, demo agents only, embedded SQLite in
its own data directory.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ADMIN_TOKEN", "LiveServer", "free_port", "offline_environment", "running_server"]

ADMIN_TOKEN = "arg_live-test-admin-token-0123456789abcdef"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
_PROVIDER_VARIABLES = (
    "ANTHROPIC_API_KEY",
    "OPENAI_API_KEY",
    "OPENROUTER_API_KEY",
    "GEMINI_API_KEY",
    "ANTHROPIC_BASE_URL",
    "OPENAI_BASE_URL",
    "OPENROUTER_BASE_URL",
    "GEMINI_BASE_URL",
    "OLLAMA_HOST",
)


@dataclass(frozen=True)
class LiveServer:
    """A started server: where it listens, where it keeps its state, its environment."""

    port: int
    data_dir: Path
    database_url: str
    env: Mapping[str, str]
    log: Path
    process: subprocess.Popen[bytes]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str, headers: Mapping[str, str] | None = None) -> tuple[int, bytes]:
        """One GET on a fresh connection: the status and the body."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", path, headers=dict(headers or {}))
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def offline_environment(data_dir: Path, **overrides: str) -> dict[str, str]:
    """This process's environment without any Aragora or provider setting, then a data dir
    of its own, instant demo agents, quiet logs, the known admin token and ``overrides``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("ARAGORA_") and key not in _PROVIDER_VARIABLES
    }
    # Loopback must never go through a proxy (curl and urllib honour these variables).
    env["NO_PROXY"] = env["no_proxy"] = "localhost,127.0.0.1,::1"
    env.update(
        ARAGORA_DATA_DIR=str(data_dir),
        ARAGORA_DATABASE_URL=f"sqlite:///{data_dir / 'aragora.db'}",
        ARAGORA_DEMO_DELAY="0",
        ARAGORA_LOG_LEVEL="WARNING",
        ARAGORA_ADMIN_TOKEN=ADMIN_TOKEN,
        ARAGORA_SHUTDOWN_GRACE="2",
        ARAGORA_OPENROUTER_FALLBACK="false",
    )
    env.update(overrides)
    return env


def _aragora_command() -> list[str]:
    script = Path(sys.executable).with_name("aragora")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "aragora.cli.main"]


@contextmanager
def running_server(data_dir: Path, **overrides: str) -> Iterator[LiveServer]:
    """Start ``aragora serve`` on a free port, wait until ``/api/health`` answers 200, and
    stop it (SIGTERM, then SIGKILL) on the way out. Fails with the server's log if it
    exits or does not become healthy within :data:`START_TIMEOUT` seconds."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = offline_environment(data_dir, **overrides)
    log = data_dir / "server.log"
    command = [*_aragora_command(), "serve", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command, env=env, stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    server = LiveServer(port, data_dir, env["ARAGORA_DATABASE_URL"], env, log, process)
    try:
        _wait_healthy(server)
        yield server
    finally:
        _stop(process)


def _wait_healthy(server: LiveServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(
                f"aragora serve exited with {server.process.returncode}:\n{server.log_text()}"
            )
        try:
            status, _ = server.get("/api/health")
        except OSError:
            status = 0
        if status == 200:
            return
        time.sleep(0.05)
    raise AssertionError(
        f"aragora serve was not healthy within {START_TIMEOUT:.0f}s:\n{server.log_text()}"
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
