"""The MCP server: Aragora's debates as Model Context Protocol tools and resources.

- :mod:`.backend` — what the tools call (the services), and who may deliberate;
- :mod:`.server` — the tools and resources on the official ``mcp`` SDK's ``MCPServer``;
- :mod:`.stdio` — ``aragora mcp``: that server over stdin/stdout;
- :mod:`.http` — the streamable HTTP transport ``aragora serve`` mounts at ``/mcp``.

Only :mod:`.server`, :mod:`.stdio` and the running :mod:`.http` endpoint import the SDK,
so neither ``aragora --version`` nor the server's start pays for it.
"""
