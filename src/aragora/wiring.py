"""The composition root: settings in, concrete objects out. Nothing else builds them."""

from __future__ import annotations

from collections.abc import Sequence

from aragora.agents.registry import build_panel as _build_panel
from aragora.debate.convergence import lexical_similarity
from aragora.debate.engine import DebateEngine, TokenPublisher
from aragora.debate.model import Participant
from aragora.debate.ports import LLM, EventSink, SystemClock
from aragora.debate.prompting import PromptBook
from aragora.settings import Settings

__all__ = ["build_engine", "build_panel"]


def build_panel(
    specs: Sequence[str], settings: Settings, *, seed: int = 0
) -> list[tuple[Participant, LLM]]:
    """The panel for ``specs``: unique participant names and one LLM each."""
    return _build_panel(specs, demo_delay=settings.demo_delay, seed=seed)


def build_engine(
    settings: Settings, *, sink: EventSink, publish_token: TokenPublisher | None = None
) -> DebateEngine:
    """A debate engine writing to ``sink`` with the shipped prompts and lexical similarity."""
    return DebateEngine(
        sink=sink,
        clock=SystemClock(),
        similarity=lexical_similarity,
        prompts=PromptBook.default(),
        publish_token=publish_token,
    )
