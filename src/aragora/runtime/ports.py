"""What the runtime is given by the composition root (``aragora.wiring``): callables that
build panels and engines, so the runtime never imports a concrete adapter."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from aragora.debate.engine import DebateEngine, TokenPublisher
from aragora.debate.events import Event
from aragora.debate.model import Participant
from aragora.debate.ports import LLM, EventSink

__all__ = [
    "AgentCatalog",
    "ContextSource",
    "EndCheck",
    "EngineFactory",
    "Finisher",
    "PanelBuilder",
]


class PanelBuilder(Protocol):
    """Specs in, a panel of (participant, LLM) out; ``trusted`` specs may name any endpoint.
    Raises ``InvalidInputError`` / ``InvalidAgentSpecError`` naming the first bad spec."""

    def __call__(
        self, specs: Sequence[str], *, seed: int, trusted: bool
    ) -> list[tuple[Participant, LLM]]: ...


class EngineFactory(Protocol):
    """A debate engine appending to ``sink`` and publishing token deltas."""

    def __call__(
        self, *, sink: EventSink, publish_token: TokenPublisher | None
    ) -> DebateEngine: ...


class ContextSource(Protocol):
    """Adds background to a debate before it starts (e.g. relevant past decisions).

    Returns the text to append to the task's context and the references it came from
    (JSON-ready, with ids), which the debate records in its ``debate_start`` event."""

    async def __call__(self, task: str, context: str) -> tuple[str, list[dict[str, Any]]]: ...


class EndCheck(Protocol):
    """Looks at a debate about to end (``events`` so far, the ``debate_end`` about to be
    appended) and returns the data of ``warning`` events to append just before it.

    Must be idempotent: after a crash the same debate can end again with warnings of an
    earlier attempt already in ``events``."""

    async def __call__(
        self, debate_id: str, events: Sequence[Event], end: Event
    ) -> list[dict[str, Any]]: ...


class Finisher(Protocol):
    """Runs once a debate has ended and its outcome is stored (the document says
    ``followups_pending``), before its final document is; returns fields to add to the
    document (e.g. a link to its receipt), or ``None``.

    Must be idempotent (a debate can finish again after a crash) and should raise only
    :class:`~aragora.errors.DatabaseUnavailableError` for a retryable failure: the
    follow-ups then stay owed and run again later. Any other error is logged and the
    debate finishes without that finisher's fields."""

    async def __call__(
        self, debate_id: str, events: Sequence[Event], document: Mapping[str, Any]
    ) -> Mapping[str, Any] | None: ...


AgentCatalog = Callable[[], list[dict[str, Any]]]
"""The configured agents with their providers and status (``GET /api/v1/agents``)."""
