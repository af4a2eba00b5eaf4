"""Helpers for the UI's end-to-end tests: a real ``aragora serve`` in a subprocess,
Debian's Chromium driven by Playwright, and a fake OpenAI-compatible provider in a
thread (an agent that answers with whatever a test scripts, over real HTTP)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aragora.agents.fakes.servers import Answer, Fail, FakeProvider, FakeRequest

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
ADMIN_TOKEN = "e2e-admin-token-0123456789abcdef"
# Chromium as this machine can run it: as root, headless, and never phoning home (the
# network here is closed; background requests would fail noisily).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
    "--disable-default-apps",
    "--disable-features=Translate,OptimizationHints,MediaRouter",
]
VIEWPORTS = {"desktop": (1280, 800), "phone": (390, 844)}
SCREENSHOTS = ROOT / "artifacts" / "screenshots"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class HttpStatusError(Exception):
    """An error answer of the server: its status and its JSON body."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body


@dataclass
class Server:
    """``aragora serve`` on a free loopback port, with its own data directory."""

    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ARAGORA_")}
        env.update(
            {
                "ARAGORA_DATA_DIR": str(self.data_dir),
                "ARAGORA_ADMIN_TOKEN": ADMIN_TOKEN,
                "ARAGORA_DEFAULT_AGENTS": "demo,demo,demo",
                "ARAGORA_DEMO_DELAY": "0.3",
                "ARAGORA_SHUTDOWN_GRACE": "0",
                "ARAGORA_LOG_FORMAT": "json",
            }
        )
        env.update(self.env)
        self.log_path = self.data_dir / "server.log"
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [str(Path(sys.executable).parent / "aragora"), "serve", "--port", str(self.port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"aragora serve exited: {self.log()}")
            with contextlib.suppress(OSError):
                if self.get("/api/health")["status"] in ("healthy", "degraded"):
                    return
            time.sleep(0.1)
        raise RuntimeError(f"aragora serve did not answer in {timeout} s: {self.log()}")

    def stop(self) -> None:
        """SIGTERM, as an operator's restart does (running debates go back on the queue)."""
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path else ""

    def request(self, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            with error:
                raise HttpStatusError(error.code, json.loads(error.read() or b"null")) from None

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def post(self, path: str, body: Any, token: str | None = None) -> Any:
        return self.request("POST", path, body, token)

    def events(self, debate_id: str) -> list[dict[str, Any]]:
        """Every stored event of a debate, in order."""
        events: list[dict[str, Any]] = []
        since = 0
        while True:
            page = self.get(f"/api/v1/debates/{debate_id}/events?since={since}&limit=500")
            events.extend(page["events"])
            if not page["events"]:
                return events
            since = page["next_since"]

    def wait_finished(self, debate_id: str, timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            doc: dict[str, Any] = self.get(f"/api/v1/debates/{debate_id}")
            if doc["status"] in ("completed", "failed", "cancelled"):
                return doc
            time.sleep(0.2)
        raise TimeoutError(f"debate {debate_id} did not finish in {timeout} s")


def run_eval(server: Server, name: str, *args: str) -> Path:
    """``aragora eval ARGS --out DATA_DIR/evals/NAME`` with the server's data directory, as an
    operator runs it on the server's machine; the run's directory."""
    out = server.data_dir / "evals" / name
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARAGORA_")}
    env["ARAGORA_DATA_DIR"] = str(server.data_dir)
    command = [str(Path(sys.executable).parent / "aragora"), "eval", *args, "--out", str(out)]
    subprocess.run(command, env=env, cwd=ROOT, check=True, capture_output=True, timeout=300)
    return out


def message_seqs(events: list[dict[str, Any]]) -> list[int]:
    """The seqs the debate page shows as items: messages, votes, notices, convergence."""
    shown = {
        "propose",
        "critique",
        "revision",
        "synthesis",
        "agent_message",
        "vote",
        "warning",
        "error",
        "agent_error",
        "agent_fallback",
        "convergence",
    }
    return [e["seq"] for e in events if e["type"] in shown]


class ThreadedProvider:
    """A :class:`FakeProvider` (OpenAI wire) on its own event loop in a thread. Every
    model answers ``text``, except the model ``broken``, which gets the provider's 400
    (never retried, so the agent fails at once)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

        def behave(request: FakeRequest) -> Answer | Fail:
            body = request.body if isinstance(request.body, dict) else {}
            if body.get("model") == "broken":
                return Fail(400, "invalid_request_error", "this model is broken on purpose")
            return Answer(text, delay=0.02)

        self.fake = FakeProvider("openai", script=behave)

    def __enter__(self) -> ThreadedProvider:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.fake.start(), self.loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.fake.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    @property
    def base_url(self) -> str:
        return self.fake.base_url


def chromium_path() -> Path:
    """Debian's Chromium; scripts/test installs it when missing (never a downloaded build)."""
    found = CHROMIUM if CHROMIUM.exists() else None
    if found is None and (which := shutil.which("chromium")):
        found = Path(which)
    if found is None:
        raise RuntimeError(
            "Chromium is not installed: run `apt-get install -y chromium` "
            "(scripts/test does this itself when it is missing)"
        )
    return found


def ensure_build() -> None:
    """The UI build in web/dist is current (scripts/test builds it before this runs)."""
    check = subprocess.run(["node", str(WEB / "scripts" / "build.mjs"), "--check"], check=False)
    if check.returncode != 0:
        subprocess.run(["node", str(WEB / "scripts" / "build.mjs")], check=True)


@contextlib.contextmanager
def timed(label: str) -> Iterator[None]:
    started = time.monotonic()
    yield
    print(f"{label}: {time.monotonic() - started:.2f}s")


def fetch_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as error:
        with error:
            return error.code
