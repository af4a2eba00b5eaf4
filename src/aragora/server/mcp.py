"""``/mcp``: the MCP streamable HTTP transport, behind the API's access rules.

Every request to ``/mcp`` needs read access, exactly as a ``GET /api/v1/...`` does (a viewer
token when ``ARAGORA_REQUIRE_AUTH`` is on; a wrong token is always 401); the ``deliberate``
tool, which starts a debate, then needs write access on the same request, as ``POST
/api/v1/debates`` does, and counts against the caller's debate start limit. Refusals are
the API's error bodies (401 with ``WWW-Authenticate``).
"""

from __future__ import annotations

from starlette.requests import HTTPConnection, Request
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from aragora.errors import AragoraError, UnavailableError
from aragora.integrations.mcp.backend import McpBackend
from aragora.integrations.mcp.http import McpEndpoint
from aragora.server.auth import Access, authorize
from aragora.server.errors import response_for
from aragora.server.responses import request_id_of
from aragora.server.state import AppState
from aragora.server.throttling import count_debate_start

__all__ = ["MCP_PATH", "McpRoute", "mcp_route"]

MCP_PATH = "/mcp"


class McpRoute:
    """The ASGI app at ``/mcp``: the access check, then the MCP endpoint."""

    def __init__(self, state: AppState) -> None:
        self._state = state
        self.endpoint = McpEndpoint(self._backend)

    def _backend(self) -> McpBackend:
        node = self._state.ready_node()
        return McpBackend(
            service=node.service,
            knowledge=node.services.knowledge,
            receipts=node.services.receipts,
            may_start=self._may_start,
        )

    async def _may_start(self, request: HTTPConnection | None) -> None:
        if request is None:  # not reached over HTTP: every call carries its request
            raise UnavailableError("no HTTP request to check the caller's access on")
        await self._check(request, Access.WRITE)
        await count_debate_start(request)  # as POST /api/v1/debates counts one

    async def _check(self, connection: HTTPConnection, access: Access) -> None:
        await authorize(
            connection,
            self._state.ready_authenticator(),
            access,
            require_auth=self._state.require_auth,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self._check(Request(scope, receive), Access.READ)
            self._state.ready_node()
        except AragoraError as exc:
            await response_for(exc, request_id_of(scope))(scope, receive, send)
            return
        await self.endpoint(scope, receive, send)


def mcp_route(handler: McpRoute) -> Route:
    """The route serving ``handler`` at :data:`MCP_PATH` (POST, GET and DELETE, as the
    transport defines; kept out of the OpenAPI document, which describes the REST API)."""
    return Route(MCP_PATH, handler, methods=["GET", "POST", "DELETE"], include_in_schema=False)
