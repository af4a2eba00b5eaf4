"""The MCP streamable HTTP transport as one ASGI app, for ``aragora serve`` to mount at
``/mcp`` behind its own authentication.

Stateless: every POST carries one JSON-RPC message and is answered on its own (a tool call's
progress notifications and result stream back as SSE on that response), so any replica can
answer any request and nothing is lost when one restarts. The SDK is imported, and its
session manager started, on the first request: the server starts as fast as before and
pays for MCP only when it is used. :meth:`McpEndpoint.aclose` stops it at shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from starlette.types import Receive, Scope, Send

from aragora.integrations.mcp.backend import McpBackend

if TYPE_CHECKING:
    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

__all__ = ["McpEndpoint"]


class McpEndpoint:
    """ASGI app serving MCP over streamable HTTP on the services ``backend_of`` returns."""

    def __init__(self, backend_of: Callable[[], McpBackend]) -> None:
        self._backend_of = backend_of
        self._manager: StreamableHTTPSessionManager | None = None
        self._lock = asyncio.Lock()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        manager = self._manager or await self._start()
        await manager.handle_request(scope, receive, send)

    async def _start(self) -> StreamableHTTPSessionManager:
        async with self._lock:
            if self._manager is not None:
                return self._manager
            from mcp.server.transport_security import TransportSecuritySettings

            from aragora.integrations.mcp.server import build_mcp_server

            server = build_mcp_server(self._backend_of)
            # Host and origin checks are the API's business (it serves every path alike),
            # and a token guards the endpoint when the server is exposed.
            server.streamable_http_app(
                streamable_http_path="/mcp",
                stateless_http=True,
                transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
            )
            manager = server.session_manager
            running = asyncio.Event()
            self._task = asyncio.create_task(self._run(manager, running), name="mcp-sessions")
            waiter = asyncio.ensure_future(running.wait())
            try:
                done, _ = await asyncio.wait(
                    [self._task, waiter], return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                waiter.cancel()
            if self._task in done:
                self._task.result()  # it failed to start: raise why
            self._manager = manager
            return manager

    async def _run(self, manager: StreamableHTTPSessionManager, running: asyncio.Event) -> None:
        async with manager.run():
            running.set()
            await self._stop.wait()

    async def aclose(self) -> None:
        """Stop the session manager (cancelling calls still in flight), if it started."""
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
