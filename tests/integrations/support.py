"""Helpers for the integration tests: MCP clients over both transports."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client


def aragora_command() -> str:
    """The installed ``aragora`` script beside this Python."""
    script = Path(sys.executable).with_name("aragora")
    assert script.exists(), "the aragora script is not installed in this environment"
    return str(script)


@contextlib.asynccontextmanager
async def http_client(base_url: str, token: str | None) -> AsyncIterator[Client]:
    """The SDK's client on ``base_url``/mcp, sending ``token`` as the bearer token."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=120)) as http,
        Client(streamable_http_client(f"{base_url}/mcp", http_client=http)) as client,
    ):
        yield client


@contextlib.asynccontextmanager
async def stdio_client(env: Mapping[str, str]) -> AsyncIterator[Client]:
    """The SDK's client on ``aragora mcp`` started as a subprocess with ``env``."""
    params = StdioServerParameters(command=aragora_command(), args=["mcp"], env=dict(env))
    async with Client(params, read_timeout_seconds=120) as client:
        yield client


def fake_agents(base_url: str) -> str:
    """``ARAGORA_DEFAULT_AGENTS`` naming three agents on a fake OpenAI-wire server."""
    return ",".join(f"openai-compatible:fake@{base_url}#{n}" for n in "abc")
