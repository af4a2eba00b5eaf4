"""The resilience wrappers over scripted agents: retry, breaker, limits, fallback."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from aragora.agents.fakes.scripted import ScriptedLLM
from aragora.agents.resilience.breaker import (
    Breaker,
    BreakerBoard,
    BreakerState,
    CircuitBreaker,
    Health,
)
from aragora.agents.resilience.limits import Limited, ProviderLimit, TokenBucket
from aragora.agents.resilience.wrappers import AttemptTimeout, Dispatch, FallbackChain, RetryPolicy
from aragora.agents.wire.transport import Kind
from aragora.debate.ports import (
    Completion,
    CompletionRequest,
    FakeClock,
    Fallback,
    TokenCallback,
    Usage,
)
from aragora.errors import ProviderError

from .support import Sleeps, logged, request


def failure(kind: str, retry_after: float | None = None) -> ProviderError:
    return ProviderError(f"fake {kind}", kind=kind, provider="fake", retry_after=retry_after)


def retry(llm: ScriptedLLM, sleeps: Sleeps, **policy: Any) -> Dispatch:
    return Dispatch(llm, policy=RetryPolicy(**policy), sleep=sleeps, rand=lambda: 1.0)


# -- retry --------------------------------------------------------------------------------


async def test_retry_backs_off_exponentially_then_succeeds() -> None:
    sleeps = Sleeps()
    llm = ScriptedLLM([failure(Kind.SERVER_ERROR), failure(Kind.OVERLOADED), "ok"])
    completion = await retry(llm, sleeps, attempts=3, base_delay=0.5, max_delay=20).complete(
        request()
    )
    assert completion.text == "ok"
    assert sleeps.calls == [0.5, 1.0]  # rand() = 1: the top of each full-jitter range


async def test_full_jitter_draws_below_the_ceiling() -> None:
    sleeps = Sleeps()
    llm = ScriptedLLM([failure(Kind.OVERLOADED), "ok"])
    wrapper = Dispatch(llm, policy=RetryPolicy(base_delay=2.0), sleep=sleeps, rand=lambda: 0.25)
    await wrapper.complete(request())
    assert sleeps.calls == [0.5]


async def test_retry_honours_retry_after_over_a_shorter_backoff() -> None:
    sleeps = Sleeps()
    llm = ScriptedLLM([failure(Kind.RATE_LIMITED, retry_after=3.0), "ok"])
    await retry(llm, sleeps, base_delay=0.1).complete(request())
    assert sleeps.calls == [3.0]


async def test_a_retry_after_beyond_the_cap_is_not_waited_for() -> None:
    sleeps = Sleeps()
    llm = ScriptedLLM([failure(Kind.RATE_LIMITED, retry_after=120.0), "ok"])
    with pytest.raises(ProviderError) as caught:
        await retry(llm, sleeps, max_retry_after=30).complete(request())
    assert caught.value.kind == Kind.RATE_LIMITED
    assert sleeps.calls == []


@pytest.mark.parametrize(
    "kind",
    [
        Kind.AUTH,
        Kind.BAD_REQUEST,
        Kind.CONTEXT_TOO_LONG,
        Kind.QUOTA_EXHAUSTED,
        Kind.CIRCUIT_OPEN,
        Kind.QUEUE_TIMEOUT,
    ],
)
async def test_some_failures_are_never_retried(kind: str) -> None:
    sleeps = Sleeps()
    llm = ScriptedLLM([failure(kind), "ok"])
    with pytest.raises(ProviderError):
        await retry(llm, sleeps).complete(request())
    assert len(llm.calls) == 1
    assert sleeps.calls == []


async def test_retry_gives_up_after_its_attempts(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="aragora.agents")
    sleeps = Sleeps()
    llm = ScriptedLLM([failure(Kind.SERVER_ERROR)] * 5)
    with pytest.raises(ProviderError):
        await retry(llm, sleeps, attempts=3).complete(request())
    assert len(llm.calls) == 3
    assert [entry["attempt"] for entry in logged(caplog.records, "agent_retry")] == [1, 2]


# -- attempt timeout ----------------------------------------------------------------------


async def test_attempt_timeout_is_a_timeout_error() -> None:
    with pytest.raises(ProviderError) as caught:
        await AttemptTimeout(ScriptedLLM(["late"], latency=1.0), 0.01).complete(request())
    assert caught.value.kind == Kind.TIMEOUT


# -- circuit breaker ----------------------------------------------------------------------


async def test_breaker_opens_after_n_failures_and_fails_fast() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("fake:m", failure_threshold=3, reset_timeout=10, clock=clock.monotonic)
    llm = ScriptedLLM([failure(Kind.SERVER_ERROR)] * 3 + ["never reached"])
    guarded = Breaker(llm, breaker)
    for _ in range(3):
        with pytest.raises(ProviderError):
            await guarded.complete(request())
    assert breaker.state is BreakerState.OPEN
    with pytest.raises(ProviderError) as caught:
        await guarded.complete(request())
    assert caught.value.kind == Kind.CIRCUIT_OPEN
    assert len(llm.calls) == 3  # the open breaker did not call through


async def test_half_open_lets_one_probe_through_and_closes_on_success() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("fake:m", failure_threshold=1, reset_timeout=10, clock=clock.monotonic)
    gate = asyncio.Event()

    async def slow_ok(_: CompletionRequest) -> str:
        await gate.wait()
        return "ok"

    llm = ScriptedLLM(slow_ok)
    guarded = Breaker(llm, breaker)
    breaker.admit()
    breaker.failure()
    assert breaker.state is BreakerState.OPEN
    assert guarded.unavailable_for() == 10.0
    clock.advance(10.0)
    assert breaker.state is BreakerState.HALF_OPEN
    assert guarded.unavailable_for() is None
    probe = asyncio.ensure_future(guarded.complete(request()))
    await asyncio.sleep(0)
    second = asyncio.ensure_future(guarded.complete(request()))  # waits for the probe
    await asyncio.sleep(0.01)
    assert len(llm.calls) == 1
    gate.set()
    assert (await probe).text == "ok"
    assert (await second).text == "ok"
    assert breaker.state is BreakerState.CLOSED


async def test_a_failed_probe_opens_the_breaker_again() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("fake:m", failure_threshold=2, reset_timeout=5, clock=clock.monotonic)
    guarded = Breaker(ScriptedLLM([failure(Kind.TIMEOUT)] * 3), breaker)
    for _ in range(2):
        with pytest.raises(ProviderError):
            await guarded.complete(request())
    clock.advance(5.0)
    with pytest.raises(ProviderError) as caught:
        await guarded.complete(request())
    assert caught.value.kind == Kind.TIMEOUT  # the probe went through and failed
    assert breaker.state is BreakerState.OPEN


async def test_callers_mistakes_do_not_trip_the_breaker() -> None:
    breaker = CircuitBreaker("fake:m", failure_threshold=1)
    guarded = Breaker(ScriptedLLM([failure(Kind.BAD_REQUEST), failure(Kind.AUTH)]), breaker)
    for _ in range(2):
        with pytest.raises(ProviderError):
            await guarded.complete(request())
    assert breaker.state is BreakerState.CLOSED


def test_health_follows_the_breakers() -> None:
    clock = FakeClock()
    board = BreakerBoard(failure_threshold=1, reset_timeout=10, clock=clock.monotonic)
    assert board.health() is Health.HEALTHY
    first = board.get("https://api.anthropic.com", "a")
    second = board.get("https://api.openai.com/v1", "b")
    assert board.health() is Health.HEALTHY
    first.admit()
    first.failure()
    assert board.health() is Health.DEGRADED
    second.admit()
    second.failure()
    assert board.health() is Health.UNHEALTHY
    clock.advance(10.0)  # both half open: probing, not dead
    assert board.health() is Health.DEGRADED
    assert board.states() == {
        "a@https://api.anthropic.com": "half_open",
        "b@https://api.openai.com/v1": "half_open",
    }


# -- limits -------------------------------------------------------------------------------


async def test_the_concurrency_limit_queues_calls_instead_of_failing_them() -> None:
    limit = ProviderLimit(2)
    running = 0
    peak = 0

    async def work(_: CompletionRequest) -> str:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.005)
        running -= 1
        return "ok"

    llm = Limited(ScriptedLLM(work), limit)
    results = await asyncio.gather(*(llm.complete(request()) for _ in range(10)))
    assert [r.text for r in results] == ["ok"] * 10
    assert peak == 2
    assert (limit.in_flight, limit.waiting) == (0, 0)


async def test_the_token_bucket_makes_callers_wait_their_turn() -> None:
    clock = FakeClock()
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock.advance(seconds)

    bucket = TokenBucket(rate=2.0, burst=2, clock=clock.monotonic, sleep=sleep)
    for _ in range(5):
        await bucket.take()
    assert waits == [pytest.approx(0.5)] * 3  # two from the burst, then one every 0.5 s
    with pytest.raises(ValueError, match="rate"):
        TokenBucket(rate=0, burst=1)


# -- fallback -----------------------------------------------------------------------------


class Named(ScriptedLLM):
    def __init__(self, provider: str, model: str, script: list[str | BaseException]) -> None:
        super().__init__(script, provider=provider, model=model)

    async def complete(
        self, request: CompletionRequest, on_token: TokenCallback | None = None
    ) -> Completion:
        completion = await super().complete(request, on_token)
        return Completion(completion.text, Usage(1, 1), self.model, self.provider)


async def test_fallback_chain_records_every_hop(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="aragora.agents")
    chain = FallbackChain(
        [
            Named("anthropic", "claude", [failure(Kind.RATE_LIMITED)]),
            Named("openrouter", "anthropic/claude", [failure(Kind.OVERLOADED)]),
            Named("openrouter", "openai/gpt-4o", ["answer"]),
        ]
    )
    assert (chain.provider, chain.model) == ("anthropic", "claude")
    completion = await chain.complete(request())
    assert completion.text == "answer"
    assert (completion.provider, completion.model) == ("openrouter", "openai/gpt-4o")
    assert completion.fallbacks == (
        Fallback("anthropic", "claude", "openrouter", "anthropic/claude", Kind.RATE_LIMITED),
        Fallback("openrouter", "anthropic/claude", "openrouter", "openai/gpt-4o", Kind.OVERLOADED),
    )
    assert [e["reason"] for e in logged(caplog.records, "agent_fallback")] == [
        Kind.RATE_LIMITED,
        Kind.OVERLOADED,
    ]


async def test_fallback_only_on_its_triggers() -> None:
    second = Named("openrouter", "x", ["answer"])
    chain = FallbackChain([Named("openai", "gpt", [failure(Kind.BAD_REQUEST)]), second])
    with pytest.raises(ProviderError) as caught:
        await chain.complete(request())
    assert caught.value.kind == Kind.BAD_REQUEST
    assert second.calls == []


async def test_the_last_hops_error_names_the_chain() -> None:
    chain = FallbackChain(
        [
            Named("anthropic", "claude", [failure(Kind.QUOTA_EXHAUSTED)]),
            Named("openrouter", "anthropic/claude", [failure(Kind.SERVER_ERROR)]),
        ]
    )
    with pytest.raises(ProviderError) as caught:
        await chain.complete(request())
    assert caught.value.kind == Kind.SERVER_ERROR
    assert "after falling back from: anthropic:claude quota_exhausted" in str(caught.value)


async def test_a_hop_running_past_its_time_falls_back() -> None:
    slow = ScriptedLLM(["late"], latency=1.0, provider="gemini", model="flash")
    chain = FallbackChain([slow, Named("openrouter", "google/flash", ["quick"])], hop_timeout=0.01)
    completion = await chain.complete(request())
    assert completion.text == "quick"
    assert completion.fallbacks[0].reason == Kind.TIMEOUT


def test_the_chain_estimates_its_costliest_hop() -> None:
    class Priced(ScriptedLLM):
        def __init__(self, cost: float) -> None:
            super().__init__(["x"])
            self.cost = cost

        def estimate_usage(self, request: CompletionRequest) -> Usage:
            return Usage(10, 10, self.cost)

    chain = FallbackChain([Priced(0.01), Priced(0.05)])
    assert chain.estimate_usage(request()).cost_usd == 0.05
