"""``/mcp``: the SDK's client over streamable HTTP, against a real ``aragora serve`` and
against the app on uvicorn for the access rules."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager

from aragora.agents.fakes.servers import FakeProvider
from aragora.server.app import create_app

from ..server import live
from ..server.live import ADMIN_TOKEN, running_server
from ..server.support import ADMIN, live_server, make_settings, node_of
from .mcp_checks import check_errors, check_tools
from .support import fake_agents, http_client


async def test_every_tool_on_a_running_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A start on a busy machine (the whole suite in parallel) may take longer than usual.
    monkeypatch.setattr(live, "START_TIMEOUT", 120.0)
    async with FakeProvider("openai") as fake:
        with contextlib.ExitStack() as stack:
            # Started in a thread: the fake agents answer on this loop meanwhile.
            server = await asyncio.to_thread(
                stack.enter_context,
                running_server(
                    tmp_path / "data",
                    ARAGORA_DEFAULT_AGENTS=fake_agents(fake.base_url),
                    ARAGORA_REQUIRE_AUTH="true",
                ),
            )
            async with http_client(server.base_url, ADMIN_TOKEN) as client:
                debate_id = await check_tools(client)
                await check_errors(client)
            async with httpx.AsyncClient(base_url=server.base_url) as http:
                headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
                document = (await http.get(f"/api/v1/debates/{debate_id}", headers=headers)).json()
            assert document["status"] == "completed"
            await asyncio.to_thread(stack.close)


@pytest.fixture
async def secured(tmp_path: Path) -> AsyncIterator[str]:
    """The app with auth required and one debate start a minute per client, on uvicorn; a
    viewer token ``viewer-secret-1``."""
    app = create_app(
        make_settings(tmp_path, ARAGORA_REQUIRE_AUTH="true", ARAGORA_RATE_LIMIT_DEBATES="1")
    )
    async with LifespanManager(app), live_server(app) as url:
        await node_of(app).tokens.create(name="viewer", role="viewer", secret="viewer-secret-1")
        yield url


async def test_mcp_follows_the_apis_access_rules(secured: str) -> None:
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "test", "version": "0"},
        },
    }
    accept = {"Accept": "application/json, text/event-stream"}
    async with httpx.AsyncClient(base_url=secured) as http:
        anonymous = await http.post("/mcp", json=initialize, headers=accept)
        wrong = await http.post(
            "/mcp", json=initialize, headers={**accept, "Authorization": "Bearer wrong"}
        )
    for refused in (anonymous, wrong):
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == "Bearer"
        assert refused.json()["code"] == "unauthorized"
    # A viewer reads but cannot start a debate, exactly as on the REST API.
    async with http_client(secured, "viewer-secret-1") as client:
        listed = await client.call_tool("list_debates", {})
        assert not listed.is_error
        refused_call = await client.call_tool("deliberate", {"task": "What is 2+2?"})
    assert refused_call.is_error
    assert "operator role" in str(refused_call.content)
    assert listed.structured_content is not None
    assert listed.structured_content["total"] == 0  # nothing was created
    # An operator (here the admin) starts debates, counted against its start limit.
    async with http_client(secured, ADMIN) as client:
        first = await client.call_tool("deliberate", {"task": "What is 2+2?", "mode": "vote"})
        second = await client.call_tool("deliberate", {"task": "What is 3+3?", "mode": "vote"})
    assert not first.is_error, first.content
    assert second.is_error
    assert "too many debates started" in str(second.content)
