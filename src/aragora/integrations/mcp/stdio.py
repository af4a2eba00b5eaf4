"""The MCP server over stdin/stdout (``aragora mcp``; imports ``mcp``). Standard output
carries the protocol alone: logs go to standard error."""

from __future__ import annotations

from aragora.integrations.mcp.backend import McpBackend
from aragora.integrations.mcp.server import build_mcp_server

__all__ = ["serve_stdio"]


async def serve_stdio(backend: McpBackend) -> None:
    """Serve ``backend``'s tools on this process's stdin/stdout until the client closes
    them."""
    await build_mcp_server(lambda: backend).run_stdio_async()
