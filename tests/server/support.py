"""Helpers for server tests: settings on a temporary SQLite database, the app in-process
(httpx over ASGI, lifespan run) and on a real uvicorn server on a free loopback port."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import orjson
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection

from aragora.runtime.node import Node
from aragora.server.app import create_app
from aragora.server.main import server_config
from aragora.server.state import AppState
from aragora.settings import Settings, load_settings
from tests.uvicorn_server import serving

ADMIN = "test-admin-token-0123456789"


def make_settings(tmp_path: Path, **env: str) -> Settings:
    """Settings on ``tmp_path``: SQLite there, instant demo agents, a known admin token."""
    values = {
        "ARAGORA_DATABASE_URL": f"sqlite:///{(tmp_path / 'a.db').as_posix()}",
        "ARAGORA_DATA_DIR": str(tmp_path),
        "ARAGORA_DEMO_DELAY": "0",
        "ARAGORA_ADMIN_TOKEN": ADMIN,
    }
    values.update(env)
    return load_settings({k: v for k, v in values.items() if v is not None})


def state_of(app: FastAPI) -> AppState:
    state: AppState = app.state.aragora
    return state


def node_of(app: FastAPI) -> Node:
    node = state_of(app).node
    assert node is not None
    return node


@contextlib.asynccontextmanager
async def client_for(
    app: FastAPI, *, peer: str = "127.0.0.1", headers: Mapping[str, str] | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client calling ``app`` in-process as if from ``peer``."""
    transport = httpx.ASGITransport(app=app, client=(peer, 40000))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://aragora.test", headers=headers
    ) as client:
        yield client


@contextlib.asynccontextmanager
async def running_app(
    settings: Settings, *, node: Any = None
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The app with its lifespan run, and a loopback client."""
    app = create_app(settings, node=node)
    # asgi-lifespan's 5 s default is too short on a loaded 2-core CI box: a shutdown that
    # drains workers and closes Redis and the database pool then fails the test and leaks
    # its sockets into the next one.
    async with (
        LifespanManager(app, startup_timeout=60, shutdown_timeout=60),
        client_for(app) as client,
    ):
        yield app, client


@contextlib.asynccontextmanager
async def live_server(app: FastAPI) -> AsyncIterator[str]:
    """``app`` on a real uvicorn server on 127.0.0.1 (a free port); yields its base URL."""
    # the production configuration, on a free port
    async with serving(server_config(app)) as port:
        yield f"http://127.0.0.1:{port}"


async def wait_for_status(
    client: httpx.AsyncClient, debate_id: str, statuses: tuple[str, ...], *, within: float = 20
) -> dict[str, Any]:
    """Poll the debate until its status is one of ``statuses``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        response = await client.get(f"/api/v1/debates/{debate_id}")
        document: dict[str, Any] = response.json()
        if document.get("status") in statuses or loop.time() > deadline:
            return document
        await asyncio.sleep(0.02)


async def next_json(ws: ClientConnection, within: float = 10) -> dict[str, Any]:
    """The next frame of ``ws``, decoded."""
    raw = await asyncio.wait_for(ws.recv(), within)
    frame: dict[str, Any] = orjson.loads(raw)
    return frame


async def wait_recorded(client: httpx.AsyncClient, debate_id: str, *, within: float = 20) -> str:
    """Poll until the debate's stored status (the list's) is terminal and its follow-ups
    (receipt, knowledge, ratings) are recorded; returns the status."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        page = (await client.get("/api/v1/debates", params={"limit": 1000})).json()
        status = next((d["status"] for d in page["debates"] if d["id"] == debate_id), None)
        if status in ("completed", "failed", "cancelled"):
            document = (await client.get(f"/api/v1/debates/{debate_id}")).json()
            if not document.get("followups_pending"):
                return str(status)
        if loop.time() > deadline:
            return str(status)
        await asyncio.sleep(0.02)
