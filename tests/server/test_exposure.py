"""``aragora serve`` on a non-loopback address requires tokens (HTTP and WebSocket alike),
refuses to run open there unless confirmed, and says at start what it runs on and how to
get an admin token when none exists."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx
from websockets.asyncio.client import connect

from aragora.server.startup import describe_bus, describe_storage
from aragora.settings import load_settings

from ..storage.support import migrate_async, pg_database
from .test_serve import aragora_serve, server_env
from .test_ws import closed_code

PORT = re.compile(r"aragora: serving on http://[^:]+:(\d+)")
BANNER = re.compile(r"\(storage: (.+?); bus: (.+?); auth: (required|off)\)")


async def _started(process: asyncio.subprocess.Process) -> tuple[str, str]:
    """The server's base URL on loopback and its start-up line."""
    assert process.stdout is not None
    line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode().strip()
    match = PORT.match(line)
    assert match, line
    return f"http://127.0.0.1:{match.group(1)}", line


def _banner(line: str) -> tuple[str, str, str]:
    """Storage, bus and auth as the start-up line names them."""
    match = BANNER.search(line)
    assert match, line
    return match.group(1), match.group(2), match.group(3)


def test_require_auth_follows_the_bound_address_not_aragora_host() -> None:
    settings = load_settings({"ARAGORA_HOST": "127.0.0.1"})
    assert settings.effective_require_auth is False
    assert settings.bound_to("0.0.0.0").effective_require_auth is True
    assert settings.bound_to("::").effective_require_auth is True
    assert settings.bound_to("localhost").effective_require_auth is False
    exposed = load_settings({"ARAGORA_HOST": "0.0.0.0"})
    assert exposed.bound_to("127.0.0.1", 9000).effective_require_auth is False
    assert exposed.bound_to(None, 9000).effective_require_auth is True
    assert load_settings({"ARAGORA_REQUIRE_AUTH": "false"}).bound_to("0.0.0.0").host == "0.0.0.0"


async def test_serve_on_all_interfaces_requires_a_token(tmp_path: Path) -> None:
    env = server_env(tmp_path, ARAGORA_ADMIN_TOKEN="exposure-admin-token-0123456789")
    async with aragora_serve(env, "--host", "0.0.0.0", "--port", "0") as process:
        base, line = await _started(process)
        async with httpx.AsyncClient(base_url=base) as client:
            assert (await client.get("/api/v1/debates")).status_code == 401
            assert (await client.post("/api/v1/debates", json={"task": "t"})).status_code == 401
            assert (await client.get("/api/health")).status_code == 200
            admin = {"Authorization": "Bearer exposure-admin-token-0123456789"}
            assert (await client.get("/api/v1/debates", headers=admin)).status_code == 200
        ws_url = base.replace("http://", "ws://") + "/ws"
        async with connect(ws_url) as ws:
            assert await closed_code(ws) == 4401
        assert _banner(line)[2] == "required"


async def test_serve_refuses_open_access_on_the_network_unless_confirmed(tmp_path: Path) -> None:
    env = server_env(tmp_path, ARAGORA_REQUIRE_AUTH="false")
    async with aragora_serve(env, "--host", "0.0.0.0", "--port", "0") as process:
        assert await asyncio.wait_for(process.wait(), 30) == 1
        assert process.stderr is not None
        lines = (await process.stderr.read()).decode().strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("aragora: ARAGORA_REQUIRE_AUTH=false on 0.0.0.0")
    assert "ARAGORA_ALLOW_UNAUTHENTICATED_NETWORK=true" in lines[0]

    confirmed = server_env(
        tmp_path, ARAGORA_REQUIRE_AUTH="false", ARAGORA_ALLOW_UNAUTHENTICATED_NETWORK="true"
    )
    async with aragora_serve(confirmed, "--host", "0.0.0.0", "--port", "0") as process:
        base, line = await _started(process)
        assert _banner(line)[2] == "off"
        warning = await asyncio.wait_for(_line_with(process, "WARNING: ARAGORA_REQUIRE_AUTH"), 10)
        assert "anyone who can reach this port" in warning
        async with httpx.AsyncClient(base_url=base) as client:
            assert (await client.get("/api/v1/debates")).status_code == 200


async def _line_with(process: asyncio.subprocess.Process, text: str) -> str:
    """The first line of the server's stderr holding ``text``."""
    return (await _text_until(process, text)).splitlines()[-1]


async def _text_until(process: asyncio.subprocess.Process, text: str) -> str:
    """The server's stderr up to and including the first line holding ``text``."""
    assert process.stderr is not None
    read = ""
    while True:
        line = (await process.stderr.readline()).decode()
        if not line:
            raise AssertionError(f"stderr ended without {text!r}:\n{read}")
        read += line
        if text in line:
            return read


async def test_postgresql_start_names_the_database_and_how_to_make_an_admin_token(
    tmp_path: Path,
) -> None:
    with pg_database("aragora_server_banner") as url:
        await migrate_async(url)
        env = server_env(tmp_path, ARAGORA_DATABASE_URL=url)
        async with aragora_serve(env, "--port", "0") as process:
            _, line = await _started(process)
            storage, bus, _ = _banner(line)
            database = url.rsplit("/", 1)[1]
            assert storage == f"PostgreSQL postgres@127.0.0.1:5432/{database}"
            assert bus == "in-process (replicas follow each other through the database)"
            notice = await asyncio.wait_for(_text_until(process, "ARAGORA_ADMIN_TOKEN"), 10)
            assert "aragora: no admin token exists" in notice
            assert f"    ARAGORA_DATABASE_URL='{url}' aragora tokens create --role admin" in notice


def test_descriptions_never_show_a_password(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "ARAGORA_DATABASE_URL": "postgresql://aragora:s3cret@db.internal:6432/prod",
            "ARAGORA_DATABASE_READ_URL": "postgresql://aragora:s3cret@replica/prod",
            "ARAGORA_REDIS_URL": "redis://:hunter2@cache:6380/2",
            "ARAGORA_DATA_DIR": str(tmp_path),
        }
    )
    storage = describe_storage(settings)
    assert storage == (
        "PostgreSQL aragora@db.internal:6432/prod (reads from PostgreSQL aragora@replica:5432/prod)"
    )
    assert describe_bus(settings) == "Redis cache:6380/2"
    assert "s3cret" not in storage
    embedded = load_settings({"ARAGORA_DATA_DIR": str(tmp_path)})
    assert describe_storage(embedded) == f"SQLite {tmp_path / 'aragora.db'}"
    assert describe_bus(embedded) == "in-process"
