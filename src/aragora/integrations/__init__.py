"""Integrations: faces that speak other protocols (MCP, the OpenAI chat API) over the same
debate service as the HTTP API and the CLI.

They sit under ``server`` and ``cli`` in the layers (the server mounts them, the CLI runs
them) and over the runtime: they call :class:`~aragora.runtime.service.DebateService` and
the knowledge and receipt services, never the engine. Importing this package imports no
third-party protocol SDK; each sub-module that needs one says so.
"""
