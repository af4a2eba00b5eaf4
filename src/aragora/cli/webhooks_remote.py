"""``aragora webhooks ... --server URL``: the same commands through a running server's
``/api/v1/webhooks`` (an admin token in ``--token``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

import httpx

from aragora.cli.remote import base_url
from aragora.errors import (
    AuthenticationError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    SystemFailure,
)

__all__ = ["RemoteWebhooks"]

_TIMEOUT = httpx.Timeout(30.0)


class RemoteWebhooks:
    """The webhook commands' calls, made on a server's API."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    @classmethod
    @asynccontextmanager
    async def open(cls, server: str, token: str | None) -> AsyncIterator[RemoteWebhooks]:
        """A client of the server at ``server`` (http(s) base URL) sending ``token``."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with httpx.AsyncClient(
            base_url=base_url(server), headers=headers, timeout=_TIMEOUT, trust_env=False
        ) as client:
            yield cls(client)

    async def add(
        self, url: str, events: list[str], *, description: str | None, format: str
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"url": url, "events": events, "format": format}
        if description is not None:
            body["description"] = description
        created: dict[str, Any] = await self._call("POST", "/api/v1/webhooks", json=body)
        return created

    async def list(self) -> dict[str, Any]:
        listed: dict[str, Any] = await self._call("GET", "/api/v1/webhooks")
        return listed

    async def remove(self, webhook_id: str) -> None:
        await self._call("DELETE", f"/api/v1/webhooks/{quote(webhook_id, safe='')}")

    async def deliveries(self, webhook_id: str, *, limit: int) -> dict[str, Any]:
        path = f"/api/v1/webhooks/{quote(webhook_id, safe='')}/deliveries"
        found: dict[str, Any] = await self._call("GET", path, params={"limit": limit})
        return found

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = await self._client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise SystemFailure(
                f"cannot reach the server at {self._client.base_url}: {exc}"
            ) from exc
        if response.is_success:
            return response.json()
        try:
            message = response.json().get("error") or response.text
        except ValueError:
            message = response.text
        text = f"server answered {response.status_code}: {message}"
        error = {
            401: AuthenticationError,
            403: PermissionDeniedError,
            404: NotFoundError,
        }.get(response.status_code, InvalidInputError if response.status_code < 500 else None)
        raise (error or SystemFailure)(text)
