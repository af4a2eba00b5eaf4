"""Circuit breakers per endpoint and model, and the agents' health derived from them.

A breaker is *closed* (calls pass) until ``failure_threshold`` calls in a row fail for a
reason that says the endpoint is unwell (rate limits, quota, overload, timeouts, server and
network errors, broken streams). It is then *open*: calls fail at once with kind
``circuit_open`` (which the fallback wrapper treats like a rate limit) until
``reset_timeout`` seconds have passed, and the agent reports how long that is
(:meth:`Breaker.unavailable_for`) so a debate can wait instead of calling. Then it is
*half open*: one probe call goes through, and every other call that arrives meanwhile
waits for the probe's outcome (at most its own timeout): the probe's success closes the
breaker and lets them all through, its failure opens the breaker again and fails them with
``circuit_open``. A caller's mistake (bad request, auth, context too long), a stream the
server cut off to serve someone else, and a wait in our own queue never trip it.

The :class:`Breaker` wrapper sits outside retries and queueing, so one *call* that failed
after its retries counts once: a server restarting for ten seconds costs patience, not an
open breaker. Breakers are keyed by endpoint and model (:class:`BreakerBoard`): the same
model name served by two servers has two breakers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from enum import StrEnum

from aragora.agents.resilience.forwarding import Wrapper
from aragora.agents.wire.transport import Kind
from aragora.debate.ports import LLM, Completion, CompletionRequest, TokenCallback
from aragora.errors import ProviderError
from aragora.logs import log_event

__all__ = [
    "TRIPPING_KINDS",
    "Breaker",
    "BreakerBoard",
    "BreakerState",
    "CircuitBreaker",
    "Health",
]

_log = logging.getLogger("aragora.agents")

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
"""Failures that count against an endpoint. Not ``cut_off`` (the server chose to serve
another request; it is alive), not ``queue_timeout`` (our own queue), not the caller's
mistakes."""


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
        self._probe_done: asyncio.Event | None = None

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

    def opens_in(self) -> float | None:
        """Seconds until an open breaker lets a probe through; None when not open."""
        if self._opened_at is None:
            return None
        left = self._opened_at + self._reset_timeout - self._clock()
        return left if left > 0 else None

    def admit(self) -> bool:
        """Whether a call may go ahead now, without waiting; a half-open breaker admits one
        probe at a time. An admitted call must end in :meth:`success`, :meth:`failure` or
        :meth:`release`."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and not self._probing:
            self._probing = True
            self._probe_done = asyncio.Event()
            return True
        return False

    async def enter(self, max_wait: float) -> bool:
        """Whether a call may go ahead: at once when closed, never while open, and while a
        half-open probe runs, after waiting (at most ``max_wait`` seconds) for its outcome:
        True when it succeeded, False when it failed or the wait ran out. A probe that ended
        without a verdict (cancelled, the caller's mistake) hands probing to a waiter."""
        deadline = asyncio.get_running_loop().time() + max_wait
        while True:
            if self.admit():
                return True
            done = self._probe_done
            if self.state is not BreakerState.HALF_OPEN or done is None:
                return False  # open: fail fast (the agent says for how long)
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return False
            try:
                async with asyncio.timeout(left):
                    await done.wait()
            except TimeoutError:
                return False

    def success(self) -> None:
        """An admitted call succeeded: close."""
        if self._opened_at is not None:
            log_event(_log, "circuit_closed", breaker=self.name)
        self._failures = 0
        self._opened_at = None
        self._end_probe()

    def failure(self) -> None:
        """An admitted call failed for a tripping reason: count it, maybe open."""
        self._failures += 1
        if self._probing or self._failures >= self._threshold:
            if self._probing or self._opened_at is None:  # it opens (again), not stays open
                log_event(
                    _log,
                    "circuit_open",
                    logging.WARNING,
                    breaker=self.name,
                    failures=self._failures,
                    probe=self._probing,
                    reset_seconds=self._reset_timeout,
                )
            self._opened_at = self._clock()
        self._end_probe()

    def release(self) -> None:
        """An admitted call ended without telling anything about the endpoint."""
        self._end_probe()

    def _end_probe(self) -> None:
        if self._probing:
            self._probing = False
            done, self._probe_done = self._probe_done, None
            if done is not None:
                done.set()


class Breaker(Wrapper):
    """Guards calls with a :class:`CircuitBreaker`. A call arriving while the half-open
    probe runs waits for its outcome at most the call's ``request.timeout`` (else
    ``wait``) seconds."""

    def __init__(self, inner: LLM, breaker: CircuitBreaker, *, wait: float = 120.0) -> None:
        super().__init__(inner)
        self._breaker = breaker
        self._wait = wait

    @property
    def breaker(self) -> CircuitBreaker:
        return self._breaker

    def unavailable_for(self) -> float | None:
        """Seconds until the open breaker lets a probe through (None: a call may be made),
        or longer if the wrapped agent says so."""
        waits = [w for w in (self._breaker.opens_in(), super().unavailable_for()) if w is not None]
        return max(waits, default=None)

    async def complete(
        self, request: CompletionRequest, on_token: TokenCallback | None = None
    ) -> Completion:
        """Fail fast (kind ``circuit_open``) while the breaker is open, or when the
        half-open probe fails; else call through."""
        wait = self._wait if request.timeout is None else min(self._wait, request.timeout)
        if not await self._breaker.enter(wait):
            raise self._refusal()
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
            self._breaker.failure()  # an unclassified failure is the endpoint's too
            raise
        self._breaker.success()
        return completion

    def _refusal(self) -> ProviderError:
        breaker = self._breaker
        left = breaker.opens_in()
        if left is not None:
            when = f"; next probe in {left:.3g} s"
        elif breaker.state is BreakerState.HALF_OPEN:
            when = "; its probe call has not succeeded"
        else:
            when = ""
        return ProviderError(
            f"{self.provider}:{self.model}: circuit breaker {breaker.name} open after "
            f"{breaker.consecutive_failures} consecutive failures{when}",
            kind=Kind.CIRCUIT_OPEN,
            provider=self.provider,
        )


class BreakerBoard:
    """Every breaker of a process, one per endpoint and model (named ``MODEL@ENDPOINT``),
    created on first use."""

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

    @staticmethod
    def key(endpoint: str, model: str) -> str:
        """The name of the breaker of ``model`` at ``endpoint`` (a canonical URL)."""
        return f"{model}@{endpoint}"

    def get(self, endpoint: str, model: str) -> CircuitBreaker:
        """The breaker of ``model`` at ``endpoint`` (a canonical URL, see
        :func:`aragora.agents.endpoints.canonical_endpoint`)."""
        name = self.key(endpoint, model)
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

    def state(self, endpoint: str, model: str) -> BreakerState:
        """The state of ``model`` at ``endpoint`` (closed when no call made one yet)."""
        breaker = self._breakers.get(self.key(endpoint, model))
        return BreakerState.CLOSED if breaker is None else breaker.state

    def states(self) -> dict[str, BreakerState]:
        """Each breaker's current state, by ``MODEL@ENDPOINT``."""
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
