"""What the runtime is given by the composition root (``aragora.wiring``): callables that
build panels and engines, so the runtime never imports a concrete adapter."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from aragora.debate.engine import DebateEngine, TokenPublisher
from aragora.debate.model import Participant
from aragora.debate.ports import LLM, EventSink

__all__ = ["AgentCatalog", "EngineFactory", "PanelBuilder"]


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


AgentCatalog = Callable[[], list[dict[str, Any]]]
"""The configured agents with their providers and status (``GET /api/v1/agents``)."""
