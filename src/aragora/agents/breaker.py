"""Circuit breakers per provider and model, and the agents' health derived from them.

A breaker is *closed* (calls pass) until ``failure_threshold`` calls in a row fail for a
reason that says the provider is unwell (rate limits, quota, overload, timeouts, server and
network errors, broken streams). It is then *open*: calls fail at once with kind
``circuit_open`` (which the fallback wrapper treats like a rate limit) until
``reset_timeout`` seconds have passed. Then it is *half open*: one probe call goes through
while others still fail fast; the probe's success closes the breaker, its failure opens it
again. A caller's mistake (bad request, auth, context too long) never trips it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from enum import StrEnum

from aragora.agents.http import Kind
from aragora.agents.wrapper import Wrapper
from aragora.debate.ports import LLM, Completion, CompletionRequest, TokenCallback
from aragora.errors import ProviderError

__all__ = [
    "TRIPPING_KINDS",
    "Breaker",
    "BreakerBoard",
    "BreakerState",
    "CircuitBreaker",
    "Health",
]

TRIPPING_KINDS = frozenset(
    {
        Kind.RATE_LIMITED,
        Kind.QUOTA_EXHAUSTED,
        Kind.OVERLOADED,
        Kind.TIMEOUT,
        Kind.SERVER_ERROR,
        Kind.NETWORK,
        Kind.INVALID_RESPONSE,
    }
)


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class Health(StrEnum):
    """A component's health, as the health endpoint reports it."""

    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"


class CircuitBreaker:
    """The state machine of one breaker (see the module docstring)."""

    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 5,
        reset_timeout: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1 or reset_timeout < 0:
            raise ValueError("failure_threshold must be >= 1 and reset_timeout >= 0")
        self.name = name
        self._threshold = failure_threshold
        self._reset_timeout = reset_timeout
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False

    @property
    def state(self) -> BreakerState:
        """The current state (an open breaker turns half open once its timeout passed)."""
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._clock() - self._opened_at >= self._reset_timeout:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    def admit(self) -> bool:
        """Whether a call may go ahead now; a half-open breaker admits one probe at a time.
        An admitted call must end in :meth:`success`, :meth:`failure` or :meth:`release`."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and not self._probing:
            self._probing = True
            return True
        return False

    def success(self) -> None:
        """An admitted call succeeded: close."""
        self._failures = 0
        self._opened_at = None
        self._probing = False

    def failure(self) -> None:
        """An admitted call failed for a tripping reason: count it, maybe open."""
        self._failures += 1
        if self._probing or self._failures >= self._threshold:
            self._opened_at = self._clock()
        self._probing = False

    def release(self) -> None:
        """An admitted call ended without telling anything about the provider."""
        self._probing = False


class Breaker(Wrapper):
    """Guards calls with a :class:`CircuitBreaker`."""

    def __init__(self, inner: LLM, breaker: CircuitBreaker) -> None:
        super().__init__(inner)
        self._breaker = breaker

    async def complete(
        self, request: CompletionRequest, on_token: TokenCallback | None = None
    ) -> Completion:
        """Fail fast (kind ``circuit_open``) while the breaker is open; else call through."""
        if not self._breaker.admit():
            raise ProviderError(
                f"{self.provider}:{self.model}: circuit breaker open after "
                f"{self._breaker.consecutive_failures} consecutive failures",
                kind=Kind.CIRCUIT_OPEN,
                provider=self.provider,
            )
        try:
            completion = await self._inner.complete(request, on_token)
        except ProviderError as exc:
            if exc.kind in TRIPPING_KINDS:
                self._breaker.failure()
            else:
                self._breaker.release()
            raise
        except asyncio.CancelledError:
            self._breaker.release()
            raise
        except Exception:
            self._breaker.failure()  # an unclassified failure is the provider's too
            raise
        self._breaker.success()
        return completion


class BreakerBoard:
    """Every breaker of a process, one per ``provider:model``, created on first use."""

    def __init__(
        self,
        *,
        failure_threshold: int = 5,
        reset_timeout: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._threshold = failure_threshold
        self._reset_timeout = reset_timeout
        self._clock = clock
        self._breakers: dict[str, CircuitBreaker] = {}

    def get(self, provider: str, model: str) -> CircuitBreaker:
        """The breaker of ``provider:model``."""
        name = f"{provider}:{model}"
        breaker = self._breakers.get(name)
        if breaker is None:
            breaker = CircuitBreaker(
                name,
                failure_threshold=self._threshold,
                reset_timeout=self._reset_timeout,
                clock=self._clock,
            )
            self._breakers[name] = breaker
        return breaker

    def states(self) -> dict[str, BreakerState]:
        """Each breaker's current state, by ``provider:model``."""
        return {name: b.state for name, b in sorted(self._breakers.items())}

    def health(self) -> Health:
        """``healthy`` when no breaker is open (or none exists yet), ``unhealthy`` when
        every one is open, ``degraded`` in between (half-open counts as not closed)."""
        states = list(self.states().values())
        closed = sum(1 for state in states if state is BreakerState.CLOSED)
        if closed == len(states):
            return Health.HEALTHY
        if closed == 0 and all(state is BreakerState.OPEN for state in states):
            return Health.UNHEALTHY
        return Health.DEGRADED
