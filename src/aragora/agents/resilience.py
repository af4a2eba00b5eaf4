"""Resilience as small composable wrappers around any :class:`~aragora.debate.ports.LLM`.

The stack the composition root builds for one agent, outermost first::

    FallbackChain([                 on rate limit/quota/overload/timeout/open breaker,
        Retry(                      try the next hop (OpenRouter with a mapped model)
          Breaker(                  one breaker per provider:model (agents.breaker)
            Limited(                queue for the provider's slots (agents.limits)
              AttemptTimeout(       each HTTP attempt bounded
                AnthropicLLM(...))))),
        Retry(Breaker(Limited(AttemptTimeout(OpenAIChatLLM(openrouter, ...))))),
    ])

Every wrapper forwards ``provider``, ``model`` and ``estimate_usage``, so the engine sees an
ordinary LLM. Delays use an injected ``sleep`` and ``random`` so tests run them instantly.
A retried or fallen-back call streams its tokens again from the start: token events are
ephemeral, and the stored answer is only the final completion's.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from aragora.agents.http import Kind
from aragora.agents.wrapper import Wrapper
from aragora.debate.ports import (
    LLM,
    Completion,
    CompletionRequest,
    CostEstimator,
    Fallback,
    TokenCallback,
    Usage,
)
from aragora.errors import AgentTimeoutError, ProviderError
from aragora.logs import log_event

__all__ = [
    "FALLBACK_KINDS",
    "RETRYABLE_KINDS",
    "AttemptTimeout",
    "FallbackChain",
    "Retry",
    "RetryPolicy",
]

log = logging.getLogger("aragora.agents")

Sleep = Callable[[float], Awaitable[None]]

RETRYABLE_KINDS = frozenset(
    {
        Kind.RATE_LIMITED,
        Kind.OVERLOADED,
        Kind.SERVER_ERROR,
        Kind.NETWORK,
        Kind.TIMEOUT,
        Kind.INVALID_RESPONSE,
    }
)
"""Failures worth trying again. Never: auth, bad_request, context_too_long (the same
request fails the same way), quota_exhausted (it will not come back within a call),
circuit_open (the breaker exists to stop calls)."""

FALLBACK_KINDS = frozenset(
    {Kind.RATE_LIMITED, Kind.QUOTA_EXHAUSTED, Kind.OVERLOADED, Kind.TIMEOUT, Kind.CIRCUIT_OPEN}
)
"""Failures after which the same request goes to the next hop of a fallback chain."""


class AttemptTimeout(Wrapper):
    """Bounds each call to ``seconds``; expiry is a ``timeout`` :class:`ProviderError`."""

    def __init__(self, inner: LLM, seconds: float) -> None:
        super().__init__(inner)
        if seconds <= 0:
            raise ValueError("an attempt timeout must be positive")
        self._seconds = seconds

    async def complete(
        self, request: CompletionRequest, on_token: TokenCallback | None = None
    ) -> Completion:
        """The wrapped call, or :class:`AgentTimeoutError` after ``seconds``."""
        try:
            async with asyncio.timeout(self._seconds):
                return await self._inner.complete(request, on_token)
        except TimeoutError:
            log_event(
                log,
                "timeout",
                logging.WARNING,
                provider=self.provider,
                model=self.model,
                agent=request.metadata.get("agent", ""),
                seconds=self._seconds,
            )
            raise AgentTimeoutError(
                f"{self.provider}:{self.model}: no answer within {self._seconds:g} s",
                provider=self.provider,
            ) from None


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently to retry.

    Attempt ``n`` (from 1) that fails is followed by a wait drawn uniformly from
    ``[0, min(max_delay, base_delay * 2**(n-1))]`` ("full jitter"), but never shorter than
    the provider's ``Retry-After``. A ``Retry-After`` longer than ``max_retry_after`` is not
    waited for: the error goes up at once (so a fallback can take the call).
    """

    attempts: int = 3
    base_delay: float = 0.5
    max_delay: float = 20.0
    max_retry_after: float = 30.0

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("attempts must be >= 1 and delays >= 0")


class Retry(Wrapper):
    """Retries retryable failures (:data:`RETRYABLE_KINDS`) with exponential backoff."""

    def __init__(
        self,
        inner: LLM,
        policy: RetryPolicy = RetryPolicy(),
        *,
        sleep: Sleep = asyncio.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        super().__init__(inner)
        self._policy = policy
        self._sleep = sleep
        self._rand = rand

    def delay(self, attempt: int, error: ProviderError) -> float | None:
        """Seconds to wait after failed attempt ``attempt``; None means do not retry."""
        policy = self._policy
        if error.kind not in RETRYABLE_KINDS or attempt >= policy.attempts:
            return None
        ceiling = min(policy.max_delay, policy.base_delay * 2.0 ** (attempt - 1))
        wait = self._rand() * ceiling
        if error.retry_after is not None:
            if error.retry_after > policy.max_retry_after:
                return None
            wait = max(wait, error.retry_after)
        return wait

    async def complete(
        self, request: CompletionRequest, on_token: TokenCallback | None = None
    ) -> Completion:
        """Call until success, a failure not worth retrying, or the attempts run out."""
        attempt = 1
        while True:
            try:
                return await self._inner.complete(request, on_token)
            except ProviderError as exc:
                wait = self.delay(attempt, exc)
                if wait is None:
                    raise
                log_event(
                    log,
                    "agent_retry",
                    provider=self.provider,
                    model=self.model,
                    agent=request.metadata.get("agent", ""),
                    attempt=attempt,
                    kind=exc.kind,
                    delay=round(wait, 3),
                )
                await self._sleep(wait)
                attempt += 1


class FallbackChain:
    """Tries ``hops`` in order: a failure of a kind in ``triggers`` (or a hop running
    past ``hop_timeout``) sends the same request to the next hop. The completion lists
    every hop taken in ``fallbacks``; the chain presents itself as its first hop."""

    def __init__(
        self,
        hops: Sequence[LLM],
        *,
        triggers: frozenset[str] = FALLBACK_KINDS,
        hop_timeout: float | None = None,
    ) -> None:
        if not hops:
            raise ValueError("a fallback chain needs at least one hop")
        self._hops = tuple(hops)
        self._triggers = triggers
        self._hop_timeout = hop_timeout

    @property
    def hops(self) -> tuple[LLM, ...]:
        return self._hops

    @property
    def provider(self) -> str:
        return self._hops[0].provider

    @property
    def model(self) -> str:
        return self._hops[0].model

    def __repr__(self) -> str:
        return f"FallbackChain({', '.join(map(repr, self._hops))})"

    def estimate_usage(self, request: CompletionRequest) -> Usage:
        """The costliest hop's estimate (any hop may end up answering)."""
        estimates = [h.estimate_usage(request) for h in self._hops if isinstance(h, CostEstimator)]
        return max(estimates, key=lambda u: (u.cost_usd, u.total_tokens), default=Usage())

    async def complete(
        self, request: CompletionRequest, on_token: TokenCallback | None = None
    ) -> Completion:
        """The first hop's answer, or the next one's after a triggering failure."""
        taken: list[Fallback] = []
        errors: list[str] = []
        for index, hop in enumerate(self._hops):
            last = index == len(self._hops) - 1
            started = time.perf_counter()
            try:
                if last or self._hop_timeout is None:
                    completion = await hop.complete(request, on_token)
                else:
                    async with asyncio.timeout(self._hop_timeout):
                        completion = await hop.complete(request, on_token)
            except TimeoutError:
                seconds = time.perf_counter() - started
                reason, message = Kind.TIMEOUT, f"no answer within {seconds:.3g} s"
            except ProviderError as exc:
                if last or exc.kind not in self._triggers:
                    if not errors:
                        raise
                    raise _with_history(exc, errors) from exc
                reason, message = exc.kind, str(exc)
            else:
                return dataclasses.replace(completion, fallbacks=(*taken, *completion.fallbacks))
            after = self._hops[index + 1]
            taken.append(Fallback(hop.provider, hop.model, after.provider, after.model, reason))
            errors.append(f"{hop.provider}:{hop.model} {reason}")
            log_event(
                log,
                "agent_fallback",
                logging.WARNING,
                agent=request.metadata.get("agent", ""),
                from_provider=hop.provider,
                from_model=hop.model,
                to_provider=after.provider,
                to_model=after.model,
                reason=reason,
                error=message,
            )
        raise AssertionError("unreachable: the last hop returns or raises")


def _with_history(exc: ProviderError, errors: Sequence[str]) -> ProviderError:
    history = "; ".join(errors)
    return ProviderError(
        f"{exc} (after falling back from: {history})",
        kind=exc.kind,
        provider=exc.provider,
        retry_after=exc.retry_after,
    )
