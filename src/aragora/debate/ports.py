"""What the debate core needs from the outside world, as small Protocols.

The engine calls agents only through :class:`LLM` and reads time only through
:class:`Clock`; adapters (real providers, demo agents, test fakes) implement them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

from aragora.debate.events import Event

__all__ = [
    "LLM",
    "Clock",
    "Completion",
    "CompletionRequest",
    "EventSink",
    "SystemClock",
    "TokenCallback",
    "Usage",
]


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens a call consumed, as the provider reported them, and what they cost."""

    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cost_usd + other.cost_usd,
        )


@dataclass(frozen=True, slots=True)
class CompletionRequest:
    """One prompt for one agent.

    ``phase`` (propose, critique, revise, vote, judge) and ``choices`` (the labelled
    options a vote or judge prompt offers, in the order shown) are informational:
    network providers ignore them; offline agents use them to answer in structure.
    """

    system: str
    prompt: str
    phase: str = ""
    choices: tuple[str, ...] = ()
    max_tokens: int = 1024
    temperature: float | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Fallback:
    """One hop of a fallback chain: the call went from one provider/model to another."""

    from_provider: str
    from_model: str
    to_provider: str
    to_model: str
    reason: str


@dataclass(frozen=True, slots=True)
class Completion:
    """An agent's full answer text and the usage the provider reported for it.

    ``provider``/``model`` name who actually answered (after any ``fallbacks``)."""

    text: str
    usage: Usage = Usage()
    model: str = ""
    provider: str = ""
    fallbacks: tuple[Fallback, ...] = ()


TokenCallback = Callable[[str], None]
"""Receives streamed text deltas as they arrive (ephemeral; never stored)."""


@runtime_checkable
class LLM(Protocol):
    """A language model the engine can ask for one completion.

    Implementations raise :class:`aragora.errors.ProviderError` (or a subclass) when the
    provider fails; any other exception is treated by the engine as a provider failure too.
    """

    @property
    def provider(self) -> str: ...

    @property
    def model(self) -> str: ...

    async def complete(
        self, request: CompletionRequest, on_token: TokenCallback | None = None
    ) -> Completion: ...


@runtime_checkable
class CostEstimator(Protocol):
    """Optionally implemented by an LLM: the most a request could cost, so the engine can
    refuse a call that would cross a budget before making it."""

    def estimate_usage(self, request: CompletionRequest) -> Usage: ...


class Clock(Protocol):
    """Wall time for timestamps and a monotonic time for measuring durations."""

    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


class EventSink(Protocol):
    """Where the engine appends events, durably and in order.

    ``append`` raises :class:`aragora.errors.StaleLeaseError` when the writer has been
    fenced off; the engine then stops without writing anything more.
    """

    async def append(self, event: Event) -> None: ...
