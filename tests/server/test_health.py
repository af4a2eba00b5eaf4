"""Health, probes, maintenance."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

import httpx
from fastapi import FastAPI

from aragora import __version__
from aragora.server.schemas import HealthBody

from .fakes import FakeNode
from .support import ADMIN, make_settings, node_of, running_app


async def test_health_shape(client: httpx.AsyncClient) -> None:
    for path in ("/api/health", "/api/v1/health"):
        response = await client.get(path)
        assert response.status_code == 200
        body = response.json()
        HealthBody.model_validate(body)
        assert set(body) == {
            "status",
            "version",
            "components",
            "maintenance",
            "uptime_seconds",
            "timestamp",
        }
        assert body["status"] == "healthy"
        assert body["version"] == __version__
        assert body["components"] == {
            "database": "healthy",
            "redis": "disabled",
            "agents": "healthy",
        }
        assert body["maintenance"] is False
        assert body["uptime_seconds"] >= 0
        datetime.fromisoformat(body["timestamp"].replace("Z", "+00:00"))


async def test_probes(app_client: tuple[FastAPI, httpx.AsyncClient]) -> None:
    app, client = app_client
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).status_code == 200
    await node_of(app).drain(0)
    response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["code"] == "not_ready"
    assert response.headers["retry-after"]
    assert (await client.get("/healthz")).status_code == 200
    # A draining replica takes no new debates.
    refused = await client.post("/api/v1/debates", json={"task": "t"})
    assert refused.status_code == 503
    assert refused.headers["retry-after"]


async def test_database_down_is_503_unhealthy(tmp_path: Path) -> None:
    async with running_app(make_settings(tmp_path), node=FakeNode()) as (_, client):
        response = await client.get("/api/health")
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "unhealthy"
        assert body["components"]["database"] == "unhealthy"
        assert response.headers["retry-after"]
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        # Metrics still answer while stats cannot be read.
        assert (await client.get("/metrics")).status_code == 200


async def test_maintenance_mode(client: httpx.AsyncClient) -> None:
    admin = {"Authorization": f"Bearer {ADMIN}"}
    on = await client.post(
        "/api/admin/maintenance", json={"enabled": True, "message": "upgrading"}, headers=admin
    )
    assert on.status_code == 200
    assert on.json()["enabled"] is True
    assert on.json()["message"] == "upgrading"
    state = await client.get("/api/v1/admin/maintenance", headers=admin)
    assert state.json()["enabled"] is True
    refused = await client.post("/api/v1/debates", json={"task": "t"})
    assert refused.status_code == 503
    assert refused.json()["code"] == "maintenance"
    assert "upgrading" in refused.json()["error"]
    assert int(refused.headers["retry-after"]) > 0
    # Health reflects it (its cache lasts about a second).
    for _ in range(60):
        health = (await client.get("/api/health")).json()
        if health["maintenance"]:
            break
        await asyncio.sleep(0.05)
    assert health["maintenance"] is True
    assert (await client.get("/api/admin/stats")).json()["maintenance"] is True
    off = await client.post("/api/admin/maintenance", json={"enabled": False}, headers=admin)
    assert off.json()["enabled"] is False
    assert (await client.post("/api/v1/debates", json={"task": "t"})).status_code == 202
    bad = await client.post("/api/admin/maintenance", json={"enabled": "maybe"}, headers=admin)
    assert bad.status_code == 422
