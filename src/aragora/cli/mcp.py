"""``aragora mcp``: the MCP server over stdio, for Claude Desktop, editors and other MCP
clients that start it as a subprocess.

It opens the same runtime as ``aragora debate`` (:func:`aragora.wiring.open_node`, on
``ARAGORA_DATABASE_URL`` or SQLite in ``ARAGORA_DATA_DIR``): debates it runs are stored,
listed and receipted like the server's, and its workers claim only the debates its own
``deliberate`` calls create. Standard output is the protocol's: logs go to standard error.
The ``mcp`` SDK is imported when the command runs, never for ``aragora --version``.
"""

from __future__ import annotations

import argparse
import functools
import sys
from typing import Any

__all__ = ["add_mcp_command"]


def add_mcp_command(commands: Any) -> None:
    """Register ``mcp`` on the ``aragora`` sub-command parser."""
    parser = commands.add_parser(
        "mcp",
        help="serve the MCP tools (deliberate, get_debate, ...) over stdio",
        description="Serve Aragora's Model Context Protocol tools and resources on stdin/"
        "stdout, for an MCP client that starts this command (e.g. Claude Desktop). Debates "
        "are stored like the server's (SQLite in ARAGORA_DATA_DIR unless "
        "ARAGORA_DATABASE_URL is set). The HTTP transport is served by `aragora serve` at "
        "/mcp.",
    )
    parser.set_defaults(handler=_serve_mcp)


async def _serve_mcp(args: argparse.Namespace) -> int:
    from aragora import wiring
    from aragora.integrations.mcp.backend import McpBackend
    from aragora.integrations.mcp.stdio import serve_stdio
    from aragora.logs import configure_logging
    from aragora.migrations.runner import ensure_schema
    from aragora.settings import load_settings

    settings = load_settings()
    configure_logging(
        settings.log_level,
        settings.log_format,
        stream=sys.stderr,
        secrets=settings.secret_values(),
        libraries=settings.log_libraries,
        access_log=settings.access_log,
    )
    own: set[str] = set()
    node = await wiring.open_node(
        settings,
        check_schema=functools.partial(ensure_schema, auto_migrate=settings.effective_auto_migrate),
        own_debates=own,
    )

    def claim(debate_id: str) -> None:
        own.add(debate_id)
        node.workers.wake()

    try:
        node.start()
        await serve_stdio(
            McpBackend(
                service=node.service,
                knowledge=node.services.knowledge,
                receipts=node.services.receipts,
                on_created=claim,
            )
        )
    finally:
        await node.close()
    return 0
