"""Hostile URLs on both backends: integers past what the database holds, NUL bytes in
paths and query parameters, odd digits on the WebSocket. Each gets a 4xx (or a 4400
close), never a 500 or a dead socket."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import orjson
import pytest
from fastapi import FastAPI
from websockets.asyncio.client import connect

from aragora.server.app import create_app
from aragora.settings import Settings

from ..storage.support import migrate_async, pg_database
from .support import live_server, make_settings, next_json, running_app, wait_recorded
from .test_ws import closed_code, ws_url

BIG = [2**31, 2**63, 2**64, 10**30]


@pytest.fixture(params=["sqlite", "postgresql"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Settings]:
    """Settings on a fresh database of each kind."""
    if request.param == "sqlite":
        yield make_settings(tmp_path)
        return
    with pg_database("aragora_server_inputs") as url:
        await migrate_async(url)
        yield make_settings(tmp_path, ARAGORA_DATABASE_URL=url)


@pytest.fixture
async def app_client(backend: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    async with running_app(backend) as pair:
        yield pair


async def completed_debate(client: httpx.AsyncClient) -> str:
    created = (await client.post("/api/v1/debates", json={"task": "Tea or coffee?"})).json()
    assert await wait_recorded(client, created["id"]) == "completed"
    return str(created["id"])


def assert_refused(response: httpx.Response, *statuses: int) -> None:
    assert response.status_code in statuses, (response.request.url, response.text)
    body = response.json()
    assert set(body) >= {"error", "code", "trace_id"}


async def test_integers_beyond_the_database_are_refused(
    app_client: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    _, client = app_client
    debate_id = await completed_debate(client)
    for big in BIG:
        for url in (
            f"/api/v1/debates/{debate_id}/events?since={big}",
            f"/api/v1/debates?offset={big}",
            f"/api/v2/receipts/chain?after={big}",
        ):
            assert_refused(await client.get(url), 422)
    # The largest accepted values still work, with nothing to show.
    top = 2**31 - 1
    events = await client.get(f"/api/v1/debates/{debate_id}/events?since={top}")
    assert events.status_code == 200
    assert events.json()["events"] == []
    page = await client.get(f"/api/v1/debates?offset={top}")
    assert page.status_code == 200
    assert page.json()["debates"] == []
    chain = await client.get(f"/api/v2/receipts/chain?after={top}")
    assert chain.status_code == 200
    assert chain.json()["links"] == []


async def test_nul_bytes_in_urls_are_refused(
    app_client: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    _, client = app_client
    for url in (
        "/api/v1/debates/a%00b",
        "/api/debates/a%00b",
        "/api/v1/debates/a%00b/messages",
        "/api/v1/debates/a%00b/events",
        "/api/v1/debates/a%00b/receipt",
        "/api/v2/receipts/a%00b",
        "/api/v2/receipts/a%00b/export?format=odr",
        "/api/v2/receipts/signing-key?key_id=a%00b",
        "/.well-known/aragora-odr-signing-key?key_id=a%00b",
        "/api/v1/debates?status=queued%00",
        "/api/v1/debates/x?foo=%00",
    ):
        response = await client.get(url)
        assert_refused(response, 400)
        assert response.json()["code"] == "invalid_input"
        assert "NUL" in response.json()["error"]
    assert_refused(await client.post("/api/v1/debates/a%00b/cancel"), 400)
    # Nothing was harmed: the API still answers.
    assert (await client.get("/api/v1/debates")).status_code == 200


async def test_websocket_parameters_are_checked(backend: Settings) -> None:
    app = create_app(backend)
    async with live_server(app) as base:
        async with httpx.AsyncClient(base_url=base) as client:
            debate_id = await completed_debate(client)
        for query in (
            f"debate_id={debate_id}&since={2**63}",
            f"debate_id={debate_id}&since={2**31}",
            f"debate_id={debate_id}&since=%C2%B2",  # "²": str.isdigit() says yes
            f"debate_id={debate_id}&since=%D9%A3",  # an Arabic-Indic three
            "debate_id=a%00b",
            "debate_id=" + "x" * 201,
        ):
            async with connect(ws_url(base, query)) as ws:
                assert await closed_code(ws) == 4400, query
        # Subscribe frames get the same checks, as error frames on an open connection.
        async with connect(ws_url(base)) as ws:
            assert (await next_json(ws))["type"] == "connected"
            for frame in (
                {"type": "subscribe", "debate_id": debate_id, "since": 2**63},
                {"type": "subscribe", "debate_id": debate_id, "since": "²"},
                {"type": "subscribe", "debate_id": "a\x00b"},
            ):
                await ws.send(orjson.dumps(frame).decode())
                reply = await next_json(ws)
                assert reply["type"] == "error", reply
                assert reply["data"]["code"] == "invalid_frame"
            await ws.send(orjson.dumps({"type": "subscribe", "debate_id": debate_id}).decode())
            assert (await next_json(ws))["type"] == "debate_start"
