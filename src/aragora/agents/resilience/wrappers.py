"""Resilience as small composable wrappers around any :class:`~aragora.debate.ports.LLM`.

The stack the composition root builds for one agent, outermost first::

    FallbackChain([                 on rate limit/quota/overload/timeout/open breaker/full
                                    queue, try the next hop (OpenRouter, mapped model)
        Breaker(                    one breaker per endpoint + model (breaker)
          Dispatch(                 queue for a slot of the endpoint (limits), then
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
  the calls that arrive wait for the probe's outcome instead of failing (breaker).
- **Fallback is outermost**: each hop is a whole stack of its own endpoint, given what is
  left of the call's timeout after the hops before it ran once sent.

The retry policy itself (which failures, how long to wait) is
:mod:`aragora.agents.resilience.retry`.

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

from aragora.agents.resilience.forwarding import Wrapper
from aragora.agents.resilience.limits import CALL_QUEUED, ProviderLimit, StartBucket
from aragora.agents.resilience.rate_signal import RateSignal
from aragora.agents.resilience.retry import RETRYABLE_KINDS, RetryPolicy, not_answered
from aragora.agents.wire.transport import Kind
from aragora.debate.ports import (
    LLM,
    Completion,
    CompletionRequest,
    Fallback,
    TokenCallback,
    Usage,
    estimates_cost,
    seconds_unavailable,
    times_own_calls,
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


@dataclass(slots=True)
class _Sent:
    seconds: float = 0.0
    """How long the call ran after it was sent (0 when it never was)."""
    queued: float = 0.0
    """How long it waited in the endpoint's limits."""


_DEFAULT_POLICY = RetryPolicy()

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
        bucket: StartBucket | None = None,
        policy: RetryPolicy = _DEFAULT_POLICY,
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
        self._bucket = bucket
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
        call = _Call(self.timeout_for(request))
        limit = self._limit
        holding = False
        queued = 0.0
        token = CALL_QUEUED.set(0.0)
        try:
            while True:
                if limit is not None and not holding:
                    waiting = self._clock()
                    try:
                        await limit.acquire(self._queue_timeout, self._bucket)
                    finally:
                        queued += self._clock() - waiting
                        CALL_QUEUED.set(queued)
                    holding = True
                started = self._clock()
                call.begin(started)
                try:
                    completion = await self._attempt(request, on_token, call, started)
                    return dataclasses.replace(
                        completion, queued_seconds=completion.queued_seconds + queued
                    )
                except _Failed as failed:
                    error, streamed = failed.error, failed.streamed
                if error.kind == Kind.RATE_LIMITED and limit is not None:
                    # Also a 429 whose wait is in its body (Gemini's RetryInfo) or inside a
                    # stream, which no header told the limiter of (the same wave cuts once).
                    signal = RateSignal(limited=True, retry_after=error.retry_after)
                    await limit.learn(signal, self._bucket)
                # decided outside the except block, so a failure that ends the call goes up
                # as the provider's error, not chained to this loop's marker
                wait, refused = self._next_wait(call, error, streamed, started)
                if refused and holding and limit is not None:
                    # nothing was sent, or the server dropped the call for another one:
                    # others may try the endpoint meanwhile
                    limit.release()
                    holding = False
                log_event(
                    log,
                    "agent_retry",
                    provider=self.provider,
                    model=self.model,
                    agent=request.metadata.get("agent", ""),
                    attempt=call.tries,
                    kind=error.kind,
                    delay=round(wait, 3),
                    reached_server=not refused,
                )
                await self._sleep(wait)
        finally:
            CALL_QUEUED.reset(token)
            if holding and limit is not None:
                limit.release()
            record = _SENT.get()
            if record is not None:
                record.queued = queued
                if call.sent_at is not None:
                    record.seconds = self._clock() - call.sent_at

    async def _attempt(
        self, request: CompletionRequest, on_token: TokenCallback | None, call: _Call, now: float
    ) -> Completion:
        """One attempt within what is left of the call's time; a provider failure comes out
        as :class:`_Failed`, saying whether any text had arrived."""
        streamed = False

        def tap(text: str) -> None:
            nonlocal streamed
            streamed = True
            if on_token is not None:
                on_token(text)

        try:
            async with asyncio.timeout(call.left(now)) as deadline:
                return await self._inner.complete(request, tap)
        except TimeoutError:
            if not deadline.expired() or call.timeout is None:
                raise
            _log_timeout(self, request, call.timeout)
            raise AgentTimeoutError(
                f"{self.provider}:{self.model}: no answer within {call.timeout:g} s of being sent",
                provider=self.provider,
            ) from None
        except ProviderError as exc:
            raise _Failed(exc, streamed) from exc

    def _next_wait(
        self, call: _Call, error: ProviderError, streamed: bool, started: float
    ) -> tuple[float, bool]:
        """(seconds to wait before the next attempt, whether the server was not there);
        raises ``error`` when the call should end instead."""
        policy = self._policy
        now = self._clock()
        if self._interrupted(error, call):
            return self._rand() * policy.base_delay, True
        if not not_answered(error, streamed):
            call.answered()
            wait = policy.delay(call.attempts, error, self._rand())
            if wait is None or call.out_of_time(now + wait):
                raise error
            return wait, False
        since = call.refused(started)
        patience = policy.connect_retry
        if call.timeout is not None:
            patience = min(patience, call.timeout)
        left = since + patience - now
        if left <= 0 or call.last_chance:
            raise _patience_spent(error, now - since) from error
        wait = policy.connect_delay(call.refusals, self._rand())
        if wait >= left:  # one last attempt, on the bound
            wait, call.last_chance = left, True
        return wait, True

    def _interrupted(self, error: ProviderError, call: _Call) -> bool:
        """Whether the server cut this call off because another of ours arrived (a
        ``cut_off`` while other calls were in flight on the endpoint). The endpoint then
        serves one call at a time from now on (logged once), and this call goes back in
        the queue with its clock reset: being interrupted was not its time to answer."""
        limit = self._limit
        if error.kind != Kind.CUT_OFF or limit is None or limit.in_flight < 2:
            return False
        if limit.serialise():
            log_event(
                log,
                "endpoint_serialised",
                logging.WARNING,
                provider=self.provider,
                endpoint=limit.endpoint,
                reason="it cut off a stream when another call arrived",
                hint=f"set ARAGORA_AGENT_LIMITS={limit.endpoint or self.provider}=1",
            )
        call.sent_at = None
        return True


class _Failed(Exception):
    """An attempt's provider failure, and whether text had arrived before it."""

    def __init__(self, error: ProviderError, streamed: bool) -> None:
        super().__init__(str(error))
        self.error = error
        self.streamed = streamed


@dataclass(slots=True)
class _Call:
    """What :class:`Dispatch` tracks across one call's attempts."""

    timeout: float | None
    sent_at: float | None = None
    """When the call reached the server (None while it never has)."""
    tries: int = 0
    attempts: int = 0
    """Failed attempts the server answered (counted against the policy's attempts)."""
    refusals: int = 0
    """Failures in a row to reach the server."""
    refused_since: float = 0.0
    last_chance: bool = False
    """The next refusal ends the call's patience."""
    _tentative: bool = False

    def begin(self, now: float) -> None:
        """An attempt starts at ``now``: the call counts as sent from now if it was not."""
        self.tries += 1
        self._tentative = self.sent_at is None
        if self._tentative:
            self.sent_at = now

    def left(self, now: float) -> float | None:
        """Seconds the call has left (None: no bound)."""
        if self.timeout is None or self.sent_at is None:
            return self.timeout
        return self.sent_at + self.timeout - now

    def out_of_time(self, when: float) -> bool:
        return (
            self.timeout is not None
            and self.sent_at is not None
            and (when >= self.sent_at + self.timeout)
        )

    def answered(self) -> None:
        """The attempt reached the server and failed."""
        self.attempts += 1
        self.refusals, self.last_chance = 0, False

    def refused(self, started: float) -> float:
        """The attempt found no server: nothing was sent, so the call's clock restarts with
        the next attempt. Returns when the refusals in a row began."""
        if self._tentative:
            self.sent_at = None
        if self.refusals == 0:
            self.refused_since = started
        self.refusals += 1
        return self.refused_since


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
        return all(times_own_calls(hop) for hop in self._hops)

    def unavailable_for(self) -> float | None:
        """None when any hop may be called now; else the soonest any hop may be."""
        waits = []
        for hop in self._hops:
            wait = seconds_unavailable(hop)
            if wait is None:
                return None
            waits.append(wait)
        return min(waits)

    def estimate_usage(self, request: CompletionRequest) -> Usage:
        """The costliest hop's estimate (any hop may end up answering)."""
        estimates = [h.estimate_usage(request) for h in self._hops if estimates_cost(h)]
        return max(estimates, key=lambda u: (u.cost_usd, u.total_tokens), default=Usage())

    async def complete(
        self, request: CompletionRequest, on_token: TokenCallback | None = None
    ) -> Completion:
        """The first hop's answer, or the next one's after a triggering failure."""
        taken: list[Fallback] = []
        errors: list[str] = []
        budget = request.timeout
        queued = 0.0  # what the hops that failed waited in their limits
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
                return dataclasses.replace(
                    completion,
                    fallbacks=(*taken, *completion.fallbacks),
                    queued_seconds=completion.queued_seconds + queued,
                )
            finally:
                _SENT.reset(token)
            queued += record.queued
            if budget is not None:
                ran = record.seconds if times_own_calls(hop) else time.perf_counter() - started
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
        if not times_own_calls(hop):
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
