"""What the debate core needs from the outside world, as small Protocols.

The engine calls agents only through :class:`LLM` and reads time only through
:class:`Clock`; adapters (real providers, demo agents, test fakes) implement them.
:class:`FakeClock` is the clock for tests: time moves only when they say so.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol, TypeGuard, runtime_checkable

from aragora.debate.events import Event

__all__ = [
    "LLM",
    "Availability",
    "BatchEventSink",
    "Clock",
    "Completion",
    "CompletionRequest",
    "EventSink",
    "FakeClock",
    "SelfTimed",
    "SystemClock",
    "TokenCallback",
    "Usage",
    "estimates_cost",
    "is_batch_sink",
    "is_self_timed",
    "seconds_unavailable",
    "tells_availability",
    "times_own_calls",
]


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens a call consumed, as the provider reported them, and what they cost.

    ``estimated`` is true when the provider reported no usage and the counts are an
    estimate of the adapter's (see :mod:`aragora.agents.tokens`); a sum is estimated when
    any part of it is."""

    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    estimated: bool = False

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cost_usd + other.cost_usd,
            self.estimated or other.estimated,
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
    timeout: float | None = None
    """Seconds the call may take once it is sent, after any queueing of the LLM's own
    (a :class:`SelfTimed` LLM enforces it); ``None`` leaves the LLM's own default."""


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
    truncated: bool = False
    """The provider stopped at the output token limit (OpenAI ``finish_reason: length``,
    Anthropic ``max_tokens``, Gemini ``MAX_TOKENS``): ``text`` is cut short."""
    queued_seconds: float = 0.0
    """How long the call waited in our own limits for its endpoint (slots, start rate,
    pauses a provider asked for) before it was sent, over every attempt and hop."""


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
class SelfTimed(Protocol):
    """Optionally implemented by an LLM that bounds its own calls: each call may take
    ``request.timeout`` seconds counted from when it is *sent*, after waiting in the LLM's
    own queue (per-endpoint limits), which has a bound and an error of its own
    (``queue_timeout``). The engine then does not count that queueing against the call."""

    def times_calls(self) -> bool:
        """Whether this LLM enforces ``request.timeout`` itself (True for the network stack)."""
        ...


@runtime_checkable
class Availability(Protocol):
    """Optionally implemented by an LLM that can tell, without calling, that a call would
    fail now (e.g. its circuit breaker is open), so a debate waits instead of failing."""

    def unavailable_for(self) -> float | None:
        """``None`` when a call may be made now; else the seconds until it may succeed
        again (at least the time until its breaker lets a probe through)."""
        ...


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


class FakeClock:
    """A :class:`Clock` whose time moves only when told: :meth:`advance` moves the wall
    and the monotonic time together, and ``tick`` seconds more pass at every reading of
    :meth:`now`, so successive timestamps differ (as a store ordering by time needs).
    Code that takes a bare callable gets ``clock.now`` or ``clock.monotonic``."""

    def __init__(
        self,
        start: datetime = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        *,
        monotonic: float = 0.0,
        tick: float = 0.0,
    ) -> None:
        self._wall = start
        self._monotonic = monotonic
        self._tick = tick

    def now(self) -> datetime:
        """The wall time, ``tick`` seconds after the last reading's."""
        self.advance(self._tick)
        return self._wall

    def monotonic(self) -> float:
        """The monotonic time in seconds (it moves with the wall time)."""
        return self._monotonic

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass."""
        self._wall += timedelta(seconds=seconds)
        self._monotonic += seconds


class EventSink(Protocol):
    """Where the engine appends events, durably and in order.

    ``append`` raises :class:`aragora.errors.StaleLeaseError` when the writer has been
    fenced off; the engine then stops without writing anything more.
    """

    async def append(self, event: Event) -> None: ...


@runtime_checkable
class BatchEventSink(Protocol):
    """Optionally implemented by an :class:`EventSink`: append several consecutive events
    of one debate durably in one go (all or none), so that the steps between two waves of
    agent calls cost one write rather than one each."""

    async def append_many(self, events: Sequence[Event]) -> None: ...


# --- the optional ports, checked once per class ----------------------------------------------
# ``isinstance`` against a runtime-checkable Protocol walks the Protocol's members on every
# call (2.6-5.1 us in Python 3.11; 0.09 us here). The engine and the resilience wrappers ask
# on every agent call whether an agent implements an optional port: 3.7 % of a busy server's
# CPU (py-spy, 1,000 debates at once). These ports are methods, which a class provides, so
# the answer is looked up per class.
_CONFORMS: dict[tuple[type, type], bool] = {}
_CONFORMS_MAX = 4096
"""Bound on remembered (class, port) answers: classes made on the fly (mocks) cannot grow it
without limit."""


def _conforms(value: object, port: type) -> bool:
    key = (type(value), port)
    known = _CONFORMS.get(key)
    if known is None:
        known = isinstance(value, port)
        if len(_CONFORMS) >= _CONFORMS_MAX:
            _CONFORMS.clear()
        _CONFORMS[key] = known
    return known


def is_self_timed(llm: object) -> TypeGuard[SelfTimed]:
    """Whether ``llm`` implements :class:`SelfTimed` (decided once per class)."""
    return _conforms(llm, SelfTimed)


def tells_availability(llm: object) -> TypeGuard[Availability]:
    """Whether ``llm`` implements :class:`Availability` (decided once per class)."""
    return _conforms(llm, Availability)


def estimates_cost(llm: object) -> TypeGuard[CostEstimator]:
    """Whether ``llm`` implements :class:`CostEstimator` (decided once per class)."""
    return _conforms(llm, CostEstimator)


def is_batch_sink(sink: object) -> TypeGuard[BatchEventSink]:
    """Whether ``sink`` implements :class:`BatchEventSink` (decided once per class)."""
    return _conforms(sink, BatchEventSink)


def times_own_calls(llm: object) -> bool:
    """Whether ``llm`` bounds its own calls from sending (see :class:`SelfTimed`); an agent
    without the port does not."""
    return is_self_timed(llm) and llm.times_calls()


def seconds_unavailable(llm: object) -> float | None:
    """``llm``'s :meth:`Availability.unavailable_for`; ``None`` (a call may be made) for an
    agent without the port."""
    return llm.unavailable_for() if tells_availability(llm) else None
