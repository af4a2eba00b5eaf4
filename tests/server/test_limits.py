"""Inbound limits: per-client rate limits (local and shared through Redis), the bound on
queued debates, and the routes that are never limited."""

from __future__ import annotations

import logging
import socket
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis
from websockets.asyncio.client import connect

from aragora import wiring
from aragora.server.app import create_app
from aragora.server.ratelimit import Limit, LocalLimiter
from aragora.server.redis_limiter import RedisLimiter
from aragora.storage.memory.storage import memory_storage

from .support import (
    ADMIN,
    client_for,
    live_server,
    make_settings,
    next_json,
    node_of,
    running_app,
)
from .test_ws import closed_code, ws_url

REDIS = "redis://127.0.0.1:6379/0"


def assert_429(response: httpx.Response, code: str = "rate_limited") -> int:
    """The response is a 429 in the CONTRACT error shape; its Retry-After in seconds."""
    assert response.status_code == 429, response.text
    body = response.json()
    assert set(body) == {"error", "code", "trace_id"}
    assert body["code"] == code
    assert body["trace_id"] == response.headers["x-request-id"]
    retry_after = int(response.headers["retry-after"])
    assert retry_after >= 1
    return retry_after


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_debate_starts_are_limited_per_token_and_per_address(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, ARAGORA_RATE_LIMIT_DEBATES="3")
    async with running_app(settings) as (app, client):
        for _ in range(3):
            assert (await client.post("/api/v1/debates", json={"task": "t"})).status_code == 202
        retry_after = assert_429(await client.post("/api/v1/debates", json={"task": "t"}))
        assert retry_after <= 20  # a token accrues every 20 s at 3 a minute
        # Reads are not debate starts.
        assert (await client.get("/api/v1/debates")).status_code == 200
        # Another client has a bucket of its own: a token, or another address.
        await node_of(app).tokens.create(name="ci", role="operator", secret="operator-secret-1")
        with_token = await client.post(
            "/api/v1/debates", json={"task": "t"}, headers=bearer("operator-secret-1")
        )
        assert with_token.status_code == 202
        async with client_for(app, peer="10.9.8.7") as other:
            assert (await other.post("/api/v1/debates", json={"task": "t"})).status_code == 202
        # A refused start stored nothing.
        listed = (await client.get("/api/v1/debates")).json()
        assert listed["total"] == 5


async def test_every_route_but_health_and_metrics_is_limited(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, ARAGORA_RATE_LIMIT="5")
    async with running_app(settings) as (_, client):
        for _ in range(5):
            assert (await client.get("/api/v1/debates")).status_code == 200
        assert_429(await client.get("/api/v1/debates"))
        assert_429(await client.get("/api/v1/agents"))
        assert_429(await client.get("/api/v2/receipts/signing-key"))
        for _ in range(20):  # never limited
            for path in ("/api/health", "/api/v1/health", "/healthz", "/readyz", "/metrics"):
                assert (await client.get(path)).status_code == 200, path
            assert (await client.get("/api/v1/metrics/prometheus")).status_code == 200
        metrics = (await client.get("/metrics")).text
        # A refusal is counted under the route it was for.
        assert (
            'aragora_http_requests_total{maintenance="false",method="GET",'
            'route="/api/v1/agents",status="429"} 1.0'
        ) in metrics


async def test_loopback_clients_can_be_exempted(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, ARAGORA_RATE_LIMIT="2", ARAGORA_RATE_LIMIT_LOOPBACK="false")
    async with running_app(settings) as (app, client):
        for _ in range(10):
            assert (await client.get("/api/v1/debates")).status_code == 200
        async with client_for(app, peer="192.0.2.1") as remote:
            for _ in range(2):
                assert (await remote.get("/api/v1/debates")).status_code == 200
            assert_429(await remote.get("/api/v1/debates"))


async def test_limits_can_be_turned_off(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, ARAGORA_RATE_LIMIT="0", ARAGORA_RATE_LIMIT_DEBATES="0")
    async with running_app(settings) as (_, client):
        for _ in range(40):
            assert (await client.post("/api/v1/debates", json={"task": "t"})).status_code == 202


async def test_a_full_queue_refuses_new_debates(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, ARAGORA_MAX_QUEUED_DEBATES="2")
    node = await wiring.open_node(settings, storage=memory_storage(now=lambda: datetime.now(UTC)))
    try:  # never started: debates stay queued
        async with running_app(settings, node=node) as (_, client):
            for _ in range(2):
                created = await client.post("/api/v1/debates", json={"task": "t"})
                assert created.status_code == 202
            retry_after = assert_429(
                await client.post("/api/v1/debates", json={"task": "t"}), code="queue_full"
            )
            assert retry_after == 30
            stats = (await client.get("/api/admin/stats")).json()
            assert stats["queued_debates"] == 2
            # A bad request is still told what is wrong with it.
            assert (await client.post("/api/v1/debates", json={"task": ""})).status_code == 422
    finally:
        await node.close()


async def test_replicas_share_one_limit_through_redis(tmp_path: Path) -> None:
    token = f"shared-limit-{uuid.uuid4().hex}"
    env = {
        "ARAGORA_REDIS_URL": REDIS,
        "ARAGORA_RATE_LIMIT_DEBATES": "2",
        "ARAGORA_ADMIN_TOKEN": token,
    }
    first = make_settings(tmp_path / "a", **env)
    second = make_settings(tmp_path / "b", **env)
    async with running_app(first) as (_, one), running_app(second) as (_, two):
        body = {"task": "t"}
        assert (
            await one.post("/api/v1/debates", json=body, headers=bearer(token))
        ).status_code == 202
        assert (
            await two.post("/api/v1/debates", json=body, headers=bearer(token))
        ).status_code == 202
        assert_429(await one.post("/api/v1/debates", json=body, headers=bearer(token)))
        assert_429(await two.post("/api/v1/debates", json=body, headers=bearer(token)))


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_an_unreachable_redis_falls_back_to_local_limits(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = Redis.from_url(f"redis://127.0.0.1:{_closed_port()}/0", socket_connect_timeout=0.2)
    limiter = RedisLimiter(client, retry_interval=0.05)
    limit = Limit("test", 3)
    try:
        waits = [await limiter.hit("a:198.51.100.1", limit) for _ in range(4)]
    finally:
        await limiter.aclose()
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert 19 < waits[3] <= 20  # the local bucket: 3 a minute
    assert not limiter.shared
    fallbacks = [
        r for r in caplog.records if r.getMessage().startswith("inbound_rate_limit_fallback")
    ]
    assert len(fallbacks) == 1
    assert fallbacks[0].levelno == logging.WARNING


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    prefix = f"aragora:test:{uuid.uuid4().hex}:"
    yield prefix
    client = Redis.from_url(REDIS)
    try:
        keys = [key async for key in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


async def test_redis_buckets_refill_and_expire(prefix: str) -> None:
    limiter = RedisLimiter(Redis.from_url(REDIS), prefix=prefix)
    limit = Limit("test", 60)  # one a second, 60 at once
    try:
        waits = [await limiter.hit("t:abc", limit) for _ in range(61)]
        assert waits[:60] == [0.0] * 60
        assert 0 < waits[60] <= 1.0
        assert limiter.shared
        client = Redis.from_url(REDIS)
        try:
            [key] = [k async for k in client.scan_iter(match=prefix + "*")]
            assert 0 < await client.pttl(key) <= 61_000  # gone once it would be full again
        finally:
            await client.aclose()
    finally:
        await limiter.aclose()


def test_local_buckets_forget_the_least_recent_client_first() -> None:
    now = [0.0]
    limiter = LocalLimiter(max_buckets=2, clock=lambda: now[0])
    limit = Limit("test", 1)
    assert limiter.take("a", limit) == 0.0
    assert limiter.take("a", limit) == pytest.approx(60.0)
    now[0] = 30.0
    assert limiter.take("a", limit) == pytest.approx(30.0)
    limiter.take("b", limit)
    limiter.take("c", limit)  # "a" is forgotten: a full bucket again
    assert limiter.take("a", limit) == 0.0


async def test_admin_token_is_limited_too(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, ARAGORA_RATE_LIMIT="3")
    async with running_app(settings) as (_, client):
        for _ in range(3):
            assert (await client.get("/api/admin/stats", headers=bearer(ADMIN))).status_code == 200
        assert_429(await client.get("/api/admin/stats", headers=bearer(ADMIN)))
        # The anonymous local operator is another client (its address).
        assert (await client.get("/api/admin/stats")).status_code == 200


async def test_websocket_connections_count_against_the_limit(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path, ARAGORA_RATE_LIMIT="2"))
    async with live_server(app) as base:
        for _ in range(2):
            async with connect(ws_url(base)) as ws:
                assert (await next_json(ws))["type"] == "connected"
        async with connect(ws_url(base)) as ws:
            refused = await next_json(ws)
            assert refused["type"] == "error"
            assert refused["data"]["code"] == "rate_limited"
            assert await closed_code(ws) == 4429
            assert "retry after" in (ws.close_reason or "")
