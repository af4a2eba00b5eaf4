"""The database goes away under a running server: health says ``unhealthy`` with 503,
readiness 503, the API answers 503 fast; when it is back everything is healthy again
without a restart."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.storage.support import migrate_async, pg_database
from tests.tcp_proxy import TcpProxy

from .support import make_settings, running_app


@pytest.fixture
async def proxied_database() -> AsyncIterator[tuple[TcpProxy, str]]:
    """A fresh migrated PostgreSQL database and its URL through a cuttable proxy."""
    with pg_database("aragora_srvfault") as url:
        await migrate_async(url)
        parts = urlsplit(url)
        proxy = TcpProxy(parts.port or 5432)
        await proxy.start()
        try:
            yield (
                proxy,
                f"postgresql://{parts.username or 'postgres'}@127.0.0.1:{proxy.port}{parts.path}",
            )
        finally:
            await proxy.close()


async def _timed(
    client: httpx.AsyncClient, method: str, path: str, **kw: object
) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = await client.request(method, path, **kw)  # type: ignore[arg-type]
    return response, time.monotonic() - started


async def _eventually(
    client: httpx.AsyncClient, path: str, status: int, within: float = 10
) -> httpx.Response:
    deadline = time.monotonic() + within
    while True:
        response = await client.get(path)
        if response.status_code == status or time.monotonic() > deadline:
            return response
        await asyncio.sleep(0.1)


async def test_database_down_then_back(
    proxied_database: tuple[TcpProxy, str], tmp_path: Path
) -> None:
    proxy, url = proxied_database
    settings = make_settings(tmp_path, ARAGORA_DATABASE_URL=url)
    async with running_app(settings) as (_app, client):
        assert (await client.get("/api/health")).json()["status"] == "healthy"
        created = await client.post("/api/v1/debates", json={"task": "Tea or coffee?"})
        assert created.status_code == 202

        await proxy.cut()
        health = await _eventually(client, "/api/health", 503)
        assert health.status_code == 503
        body = health.json()
        assert body["status"] == "unhealthy"
        assert body["components"]["database"] == "unhealthy"
        assert (await client.get("/readyz")).status_code == 503
        assert (await client.get("/healthz")).status_code == 200  # alive, just not ready
        for method, path, kw in [
            ("GET", "/api/v1/debates", {}),
            ("GET", f"/api/v1/debates/{created.json()['debate_id']}", {}),
            ("POST", "/api/v1/debates", {"json": {"task": "Tea or coffee?"}}),
        ]:
            response, seconds = await _timed(client, method, path, **kw)
            assert response.status_code == 503, (path, response.text)
            assert seconds < 2.0, (path, seconds)
            assert "Retry-After" in response.headers
            error = response.json()
            assert error["code"] == "database_unavailable"
            assert set(error) >= {"error", "code", "trace_id"}

        await proxy.start()  # the database is back on the same address
        health = await _eventually(client, "/api/health", 200)
        assert health.json()["status"] == "healthy"
        assert (await _eventually(client, "/readyz", 200)).status_code == 200
        listed = await client.get("/api/v1/debates")
        assert listed.status_code == 200
        # the debate accepted before the outage still runs to its end
        debate_id = created.json()["debate_id"]
        deadline = time.monotonic() + 60
        while (await client.get(f"/api/v1/debates/{debate_id}")).json()["status"] != "completed":
            assert time.monotonic() < deadline, "debate did not complete after recovery"
            await asyncio.sleep(0.2)
