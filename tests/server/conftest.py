"""Fixtures for the server tests (helpers live in ``support``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from aragora.settings import Settings

from .support import make_settings, running_app


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Embedded settings on a fresh SQLite file; auth not required (loopback)."""
    return make_settings(tmp_path)


@pytest.fixture
async def app_client(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The real app (real node on SQLite, demo agents) and an in-process loopback client."""
    async with running_app(settings) as pair:
        yield pair


@pytest.fixture
async def client(app_client: tuple[FastAPI, httpx.AsyncClient]) -> httpx.AsyncClient:
    """Just the client of :func:`app_client`."""
    return app_client[1]
