"""What the MCP tools call: the debate, knowledge and receipt services of one node, and the
check that lets a caller start a debate.

Over stdio the caller is the local user who started ``aragora mcp``: every tool is open to
them. Over HTTP the server checks a read token on every request to ``/mcp`` and hands the
tools a :data:`StartCheck` that applies the API's rules for starting a debate (write access:
an operator token, or none when ``ARAGORA_REQUIRE_AUTH`` is off; the debate start limit) to
the same request before ``deliberate`` starts one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import HTTPConnection

from aragora.knowledge import KnowledgeService
from aragora.receipts.service import ReceiptService
from aragora.runtime.service import DebateService

__all__ = ["McpBackend", "StartCheck", "allow_local_user"]

StartCheck = Callable[[HTTPConnection | None], Awaitable[None]]
"""Raises :class:`~aragora.errors.AuthenticationError`,
:class:`~aragora.errors.PermissionDeniedError` or :class:`~aragora.errors.RateLimitedError`
unless the caller of this request (``None``: no HTTP request, the local stdio user) may
start a debate now."""


async def allow_local_user(request: HTTPConnection | None) -> None:
    """The stdio :data:`StartCheck`: the local user may do anything."""


@dataclass(frozen=True, slots=True)
class McpBackend:
    """The services one MCP server works on."""

    service: DebateService
    knowledge: KnowledgeService
    receipts: ReceiptService
    may_start: StartCheck = allow_local_user
    on_created: Callable[[str], None] | None = None
    """Called with each debate ``deliberate`` creates, before it is followed (``aragora
    mcp`` lets its own workers claim it)."""
