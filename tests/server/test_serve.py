"""``aragora serve``: startup line, admin token file, drain on SIGTERM, exit statuses."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import stat
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from aragora import wiring
from aragora.cli.main import main
from aragora.server.app import create_app
from aragora.server.main import DrainingServer, server_config
from aragora.settings import load_settings
from aragora.storage.memory.storage import memory_storage

from .support import make_settings

STARTED = re.compile(
    r"aragora: serving on (http://127\.0\.0\.1:\d+)"
    r" \(storage: (?P<storage>.+?); bus: (?P<bus>.+?); auth: (?P<auth>required|off)\)"
    r"(?: \(admin token in (?P<token>.+)\))?"
)


def server_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("ARAGORA_") and not k.endswith(("_API_KEY", "_BASE_URL"))
    }
    env.update(
        ARAGORA_DATA_DIR=str(tmp_path / "data"),
        ARAGORA_DEMO_DELAY="0",
        ARAGORA_SHUTDOWN_GRACE="3",
        ARAGORA_LOG_FORMAT="json",
        OLLAMA_HOST="http://127.0.0.1:9",
    )
    env.update(extra)
    return env


@asynccontextmanager
async def aragora_serve(
    env: dict[str, str], *args: str
) -> AsyncIterator[asyncio.subprocess.Process]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "aragora.cli.main",
        "serve",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_serve_starts_drains_and_exits_zero(tmp_path: Path) -> None:
    env = server_env(tmp_path, ARAGORA_DEMO_DELAY="0.4")
    async with aragora_serve(env, "--port", "0") as process:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        match = STARTED.match(line.strip())
        assert match, line
        base, token_file = match.group(1), match.group("token")
        assert token_file == str(tmp_path / "data" / "admin_token")
        assert match.group("storage") == f"SQLite {tmp_path / 'data' / 'aragora.db'}"
        assert match.group("bus") == "in-process"
        assert match.group("auth") == "off"
        token_path = Path(token_file)
        assert stat.S_IMODE(token_path.stat().st_mode) == 0o600  # noqa: ASYNC240
        secret = token_path.read_text().strip()  # noqa: ASYNC240
        async with httpx.AsyncClient(base_url=base) as client:
            assert (await client.get("/api/health")).json()["status"] == "healthy"
            assert (await client.get("/readyz")).status_code == 200
            created = await client.post("/api/v1/debates", json={"task": "Slow one?"})
            assert created.status_code == 202
            await asyncio.sleep(0.3)
            process.send_signal(signal.SIGTERM)
            for _ in range(100):
                ready = await client.get("/readyz")
                if ready.status_code == 503:
                    break
                await asyncio.sleep(0.02)
            assert ready.status_code == 503
            refused = await client.post("/api/v1/debates", json={"task": "t"})
            assert refused.status_code == 503
            assert refused.headers["retry-after"]
        assert await asyncio.wait_for(process.wait(), 30) == 0
        assert process.stderr is not None
        stderr = (await process.stderr.read()).decode()
        assert '"event": "shutdown"' in stderr
        assert secret not in stderr


async def test_port_in_use_is_one_line_and_status_1(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        async with aragora_serve(server_env(tmp_path), "--port", port) as process:
            assert await asyncio.wait_for(process.wait(), 30) == 1
            assert process.stderr is not None
            lines = (await process.stderr.read()).decode().strip().splitlines()
    assert lines == [f"aragora: cannot listen on 127.0.0.1:{port}: Address already in use"]


async def test_old_schema_is_one_line_and_status_1(tmp_path: Path) -> None:
    env = server_env(tmp_path, ARAGORA_AUTO_MIGRATE="false")
    async with aragora_serve(env, "--port", "0") as process:
        assert await asyncio.wait_for(process.wait(), 30) == 1
        assert process.stderr is not None
        lines = (await process.stderr.read()).decode().strip().splitlines()
    assert lines[-1].startswith("aragora: ")
    assert "migrate" in lines[-1]


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["serve", "--port", "http"], ["serve", "--port", "70000"], ["serve", "-x"]):
        with pytest.raises(SystemExit) as caught:
            main(argv)
        assert caught.value.code == 2
    assert "invalid port" in capsys.readouterr().err


async def test_first_signal_drains_second_forces(tmp_path: Path) -> None:
    drained = asyncio.Event()
    release = asyncio.Event()

    async def drain() -> None:
        drained.set()
        await release.wait()

    settings = make_settings(tmp_path)
    node = await wiring.open_node(settings, storage=memory_storage(now=lambda: datetime.now(UTC)))
    try:
        app = create_app(settings, node=node)
        config = server_config(app)
        server = DrainingServer(config, drain=drain)
        task = asyncio.create_task(server.serve())
        for _ in range(500):
            if server.started:
                break
            await asyncio.sleep(0.01)
        server.handle_exit(signal.SIGTERM, None)
        await asyncio.wait_for(drained.wait(), 5)
        assert not server.should_exit  # still serving while it drains
        server.handle_exit(signal.SIGTERM, None)
        assert server.should_exit
        assert server.force_exit
        await asyncio.wait_for(task, 10)
    finally:
        await node.close()


async def test_drain_then_exit(tmp_path: Path) -> None:
    calls: list[str] = []

    async def drain() -> None:
        calls.append("drain")

    app = create_app(make_settings(tmp_path))
    config = server_config(app)
    server = DrainingServer(config, drain=drain)
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.01)
    server.handle_exit(signal.SIGINT, None)
    await asyncio.wait_for(task, 10)
    assert calls == ["drain"]
    assert not server.force_exit


def test_server_config_pings_websockets_every_20_seconds() -> None:
    config = server_config(create_app(load_settings({})))
    assert config.ws_ping_interval == 20
    assert config.ws_ping_timeout == 20
    assert config.ws == "websockets-sansio"
    assert config.http == "httptools"
    assert config.proxy_headers is False
    assert config.access_log is False
