"""Resilience as small composable wrappers around any :class:`~aragora.debate.ports.LLM`.

The stack the composition root builds for one agent, outermost first::

    FallbackChain([                 on rate limit/quota/overload/timeout/open breaker/full
                                    queue, try the next hop (OpenRouter, mapped model)
        Breaker(                    one breaker per endpoint + model (agents.breaker)
          Dispatch(                 queue for a slot of the endpoint (agents.limits), then
                                    send; the call's timeout runs from here, retries included
            AnthropicLLM(...))),
        Breaker(Dispatch(OpenAIChatLLM(openrouter, ...))),
    ])

Why this order:

- **The timeout starts when the call is sent.** Waiting for a slot of our own per-endpoint
  limit is queueing, bounded separately (``queue_timeout``, error kind ``queue_timeout``
  naming the endpoint and its slots). Once :class:`Dispatch` holds a slot, the call may take
  ``request.timeout`` seconds, every retry and backoff included; the stack says so through
  :meth:`Dispatch.times_calls` so the engine does not also time it from the moment it asked.
- **A retry keeps its slot while it backs off** (rate limits, overload, server errors, cut
  off or broken streams). The call has had its turn; sending it back to the end of the queue
  would charge the service time of every call that arrived after it to its own timeout —
  the failure this design removes — while the backoffs are short (at most ``max_delay``, or
  the ``Retry-After`` that every other call to that endpoint would get too).
- **Except when the server was not there.** A connection refused or reset before any answer
  (and llama.cpp's ``503 Loading model``) means nothing was sent: the call gives its slot
  back while it waits, so the other calls of a one-slot endpoint try in between instead of
  waiting out one call's patience after another, and its timeout starts again at the next
  attempt. These waits grow exponentially with jitter up to ``connect_max_delay`` and stop
  after ``connect_retry`` seconds in all (capped by the call's timeout), long enough for a
  local server to restart; they do not use up the call's ``attempts``.
- **The breaker is outside retries and queueing**, so a call counts once, after its retries:
  refusals during a restart make calls patient, not the breaker open. While it is half open,
  the calls that arrive wait for the probe's outcome instead of failing (agents.breaker).
- **Fallback is outermost**: each hop is a whole stack of its own endpoint.

Every wrapper forwards ``provider``, ``model``, ``estimate_usage``, ``times_calls`` and
``unavailable_for``, so the engine sees an ordinary LLM. Delays use an injected ``sleep``
and ``random`` so tests run them instantly. A retried or fallen-back call streams its
tokens again from the start: token events are ephemeral, and the stored answer is only the
final completion's.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass

from aragora.agents.http import Kind
from aragora.agents.limits import ProviderLimit
from aragora.agents.wrapper import Wrapper
from aragora.debate.ports import (
    LLM,
    Availability,
    Completion,
    CompletionRequest,
    CostEstimator,
    Fallback,
    SelfTimed,
    TokenCallback,
    Usage,
)
from aragora.errors import AgentTimeoutError, ProviderError
from aragora.logs import log_event

__all__ = [
    "FALLBACK_KINDS",
    "RETRYABLE_KINDS",
    "AttemptTimeout",
    "Dispatch",
    "FallbackChain",
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
        Kind.CUT_OFF,
    }
)
"""Failures worth trying again. Never: auth, bad_request, context_too_long (the same
request fails the same way), quota_exhausted (it will not come back within a call),
circuit_open (the breaker exists to stop calls), queue_timeout (the call already waited
its bound for our own queue)."""

FALLBACK_KINDS = frozenset(
    {
        Kind.RATE_LIMITED,
        Kind.QUOTA_EXHAUSTED,
        Kind.OVERLOADED,
        Kind.TIMEOUT,
        Kind.CIRCUIT_OPEN,
        Kind.QUEUE_TIMEOUT,
    }
)
"""Failures after which the same request goes to the next hop of a fallback chain."""


class AttemptTimeout(Wrapper):
    """Bounds each call to ``seconds``, however it started; expiry is a ``timeout``
    :class:`ProviderError`. (The provider stack bounds calls with :class:`Dispatch`,
    from the moment they are sent.)"""

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
            _log_timeout(self, request, self._seconds)
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

    A failure that says the server was not there (see :class:`Dispatch`) is retried until
    ``connect_retry`` seconds have passed since the first such failure (the last attempt
    made at that moment), the ``k``-th wait drawn from ``[c/2, c]`` with
    ``c = min(connect_max_delay, connect_base_delay * 2**(k-1))``; these do not count
    against ``attempts``.
    """

    attempts: int = 3
    base_delay: float = 0.5
    max_delay: float = 20.0
    max_retry_after: float = 30.0
    connect_retry: float = 30.0
    connect_base_delay: float = 0.25
    connect_max_delay: float = 2.0

    def __post_init__(self) -> None:
        delays = (self.base_delay, self.max_delay, self.connect_retry, self.connect_base_delay)
        if self.attempts < 1 or min(delays) < 0 or self.connect_max_delay <= 0:
            raise ValueError("attempts must be >= 1 and delays >= 0")

    def delay(self, attempt: int, error: ProviderError, draw: float) -> float | None:
        """Seconds to wait after failed attempt ``attempt`` (``draw`` uniform in [0, 1));
        None means do not retry."""
        if error.kind not in RETRYABLE_KINDS or attempt >= self.attempts:
            return None
        wait = draw * min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        if error.retry_after is not None:
            if error.retry_after > self.max_retry_after:
                return None
            wait = max(wait, error.retry_after)
        return wait

    def connect_delay(self, failures: int, draw: float) -> float:
        """Seconds to wait after the ``failures``-th failure in a row to reach the server."""
        growth = 2.0 ** min(failures - 1, 32)
        ceiling = min(self.connect_max_delay, self.connect_base_delay * growth)
        return ceiling * (0.5 + 0.5 * draw)


def not_answered(error: ProviderError, streamed: bool) -> bool:
    """Whether a failed attempt says the server was not there to take the call: a network
    failure (refused, reset, closed) before any text came back, or a ``503 Loading model``
    (llama.cpp's answer while a restarted server loads its model)."""
    if error.kind == Kind.NETWORK:
        return not streamed
    return error.kind == Kind.OVERLOADED and "loading model" in str(error).lower()


@dataclass(slots=True)
class _Sent:
    seconds: float = 0.0
    """How long the call ran after it was sent (0 when it never was)."""


# How long the innermost call ran once sent, for a FallbackChain to count against the
# request's timeout (a hop's queueing is not the call's time). Set by the chain around each
# hop; each hop's Dispatch writes into it.
_SENT: ContextVar[_Sent | None] = ContextVar("aragora_call_sent", default=None)


class Dispatch(Wrapper):
    """One call's life on one endpoint (see the module docstring): wait for a slot of
    ``limit`` (at most ``queue_timeout`` seconds), send, and retry by ``policy``; from
    the moment it is sent, the call may take ``request.timeout`` seconds — lowered from,
    never raised above, ``timeout`` (None: no bound of its own) — retries included."""

    def __init__(
        self,
        inner: LLM,
        *,
        limit: ProviderLimit | None = None,
        policy: RetryPolicy = RetryPolicy(),
        timeout: float | None = None,
        queue_timeout: float | None = None,
        sleep: Sleep = asyncio.sleep,
        rand: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(inner)
        if (timeout is not None and timeout <= 0) or (
            queue_timeout is not None and queue_timeout <= 0
        ):
            raise ValueError("timeouts must be positive")
        self._limit = limit
        self._policy = policy
        self._timeout = timeout
        self._queue_timeout = queue_timeout
        self._sleep = sleep
        self._rand = rand
        self._clock = clock

    def times_calls(self) -> bool:
        """True: this stack enforces ``request.timeout`` from the moment a call is sent."""
        return True

    def timeout_for(self, request: CompletionRequest) -> float | None:
        """Seconds ``request`` may take once sent (None: no bound)."""
        if request.timeout is None:
            return self._timeout
        return request.timeout if self._timeout is None else min(request.timeout, self._timeout)

    async def complete(
        self, request: CompletionRequest, on_token: TokenCallback | None = None
    ) -> Completion:
        """Queue, send, retry; the answer, or the failure that ended the call (a
        ``queue_timeout``, the last attempt's error, or a ``timeout`` once the call ran
        past its time)."""
        timeout = self.timeout_for(request)
        policy = self._policy
        limit = self._limit
        tries = 0
        attempt = 0  # failed attempts the server answered (against policy.attempts)
        refused = 0  # failures in a row to reach the server
        refused_since = 0.0
        last_chance = False  # the next refusal ends the patience
        sent_at: float | None = None  # when the call reached the server (its clock)
        holding = False
        try:
            while True:
                if limit is not None and not holding:
                    await limit.acquire(self._queue_timeout)
                    holding = True
                started = self._clock()
                tries += 1
                previously_sent = sent_at
                if sent_at is None:
                    sent_at = started  # until the server turns out not to be there
                left = None if timeout is None else sent_at + timeout - started
                streamed = False

                def tap(text: str) -> None:
                    nonlocal streamed
                    streamed = True
                    if on_token is not None:
                        on_token(text)

                try:
                    async with asyncio.timeout(left) as deadline:
                        return await self._inner.complete(request, tap)
                except TimeoutError:
                    if not deadline.expired():
                        raise
                    assert timeout is not None
                    _log_timeout(self, request, timeout)
                    raise AgentTimeoutError(
                        f"{self.provider}:{self.model}: no answer within {timeout:g} s "
                        "of being sent",
                        provider=self.provider,
                    ) from None
                except ProviderError as exc:
                    now = self._clock()
                    if not_answered(exc, streamed):
                        sent_at = previously_sent  # nothing was sent: the clock restarts
                        if refused == 0:
                            refused_since = started
                        refused += 1
                        patience = policy.connect_retry
                        if timeout is not None:
                            patience = min(patience, timeout)
                        left_to_wait = refused_since + patience - now
                        if left_to_wait <= 0 or last_chance:
                            raise _patience_spent(exc, now - refused_since) from exc
                        wait = policy.connect_delay(refused, self._rand())
                        if wait >= left_to_wait:  # one last attempt, on the bound
                            wait, last_chance = left_to_wait, True
                        if holding and limit is not None:
                            limit.release()  # others may try the endpoint meanwhile
                            holding = False
                    else:
                        refused, last_chance = 0, False
                        attempt += 1
                        found = policy.delay(attempt, exc, self._rand())
                        if found is None:
                            raise
                        wait = found
                        if timeout is not None and now + wait >= sent_at + timeout:
                            raise  # no time left for another attempt
                    log_event(
                        log,
                        "agent_retry",
                        provider=self.provider,
                        model=self.model,
                        agent=request.metadata.get("agent", ""),
                        attempt=tries,
                        kind=exc.kind,
                        delay=round(wait, 3),
                        reached_server=refused == 0,
                    )
                    await self._sleep(wait)
        finally:
            if holding and limit is not None:
                limit.release()
            record = _SENT.get()
            if record is not None and sent_at is not None:
                record.seconds = self._clock() - sent_at


def _patience_spent(error: ProviderError, seconds: float) -> ProviderError:
    return ProviderError(
        f"{error} (server not reachable; retried for {seconds:.3g} s)",
        kind=error.kind,
        provider=error.provider,
        retry_after=error.retry_after,
    )


def _log_timeout(llm: LLM, request: CompletionRequest, seconds: float) -> None:
    log_event(
        log,
        "timeout",
        logging.WARNING,
        provider=llm.provider,
        model=llm.model,
        agent=request.metadata.get("agent", ""),
        seconds=seconds,
    )


def _times_calls(llm: LLM) -> bool:
    return isinstance(llm, SelfTimed) and llm.times_calls()


class FallbackChain:
    """Tries ``hops`` in order: a failure of a kind in ``triggers`` (or a hop running
    past ``hop_timeout``) sends the same request to the next hop. The completion lists
    every hop taken in ``fallbacks``; the chain presents itself as its first hop.

    A hop that times its own calls (:class:`Dispatch`) gets ``hop_timeout`` (at most the
    request's timeout) as its ``request.timeout``, so its queueing is not counted; the next
    hop gets what the request's timeout leaves after the time earlier hops ran once sent.
    Other hops are cut after ``hop_timeout`` from when they were called."""

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

    def times_calls(self) -> bool:
        """Whether every hop bounds its own calls from sending."""
        return all(_times_calls(hop) for hop in self._hops)

    def unavailable_for(self) -> float | None:
        """None when any hop may be called now; else the soonest any hop may be."""
        waits = []
        for hop in self._hops:
            wait = hop.unavailable_for() if isinstance(hop, Availability) else None
            if wait is None:
                return None
            waits.append(wait)
        return min(waits)

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
        budget = request.timeout
        for index, hop in enumerate(self._hops):
            last = index == len(self._hops) - 1
            hop_request, cut = self._hop_limits(hop, request, budget, last)
            record = _Sent()
            token = _SENT.set(record)
            started = time.perf_counter()
            try:
                async with asyncio.timeout(cut) as deadline:
                    completion = await hop.complete(hop_request, on_token)
            except TimeoutError:
                if not deadline.expired():
                    raise
                seconds = time.perf_counter() - started
                error: ProviderError = AgentTimeoutError(
                    f"{hop.provider}:{hop.model}: no answer within {seconds:.3g} s",
                    provider=hop.provider,
                )
            except ProviderError as exc:
                if last or exc.kind not in self._triggers:
                    if not errors:
                        raise
                    raise _with_history(exc, errors) from exc
                error = exc
            else:
                return dataclasses.replace(completion, fallbacks=(*taken, *completion.fallbacks))
            finally:
                _SENT.reset(token)
            if budget is not None:
                ran = record.seconds if _times_calls(hop) else time.perf_counter() - started
                budget -= ran
                if budget <= 0:  # the request's time is spent: no hop may start
                    if not errors:
                        raise error
                    raise _with_history(error, errors) from error
            after = self._hops[index + 1]
            taken.append(Fallback(hop.provider, hop.model, after.provider, after.model, error.kind))
            errors.append(f"{hop.provider}:{hop.model} {error.kind}")
            log_event(
                log,
                "agent_fallback",
                logging.WARNING,
                agent=request.metadata.get("agent", ""),
                from_provider=hop.provider,
                from_model=hop.model,
                to_provider=after.provider,
                to_model=after.model,
                reason=error.kind,
                error=str(error),
            )
        raise AssertionError("unreachable: the last hop returns or raises")

    def _hop_limits(
        self, hop: LLM, request: CompletionRequest, budget: float | None, last: bool
    ) -> tuple[CompletionRequest, float | None]:
        """The request a hop gets, and how long to let it run before cutting it (None:
        the hop bounds itself, or nothing does)."""
        hop_timeout = None if last else self._hop_timeout
        if not _times_calls(hop):
            return request, hop_timeout
        allowed = budget
        if hop_timeout is not None:
            allowed = hop_timeout if allowed is None else min(allowed, hop_timeout)
        if allowed is None or allowed == request.timeout:
            return request, None
        return dataclasses.replace(request, timeout=allowed), None


def _with_history(exc: ProviderError, errors: Sequence[str]) -> ProviderError:
    history = "; ".join(errors)
    return ProviderError(
        f"{exc} (after falling back from: {history})",
        kind=exc.kind,
        provider=exc.provider,
        retry_after=exc.retry_after,
    )
