"""Breakers that help a recovery instead of costing it: a half-open breaker's other calls
wait for its probe, an open one says how long it will refuse, one breaker per endpoint and
model, and failures that say nothing about the endpoint never trip it."""

from __future__ import annotations

import asyncio

import pytest

from aragora.agents.fakes.scripted import ScriptedLLM
from aragora.agents.fakes.servers import Answer, Fail, FakeProvider
from aragora.agents.providers import BreakerPolicy
from aragora.agents.resilience.breaker import Breaker, BreakerState, CircuitBreaker
from aragora.agents.resilience.wrappers import Dispatch, FallbackChain, RetryPolicy
from aragora.agents.wire.transport import Kind
from aragora.debate.model import AgentSpec
from aragora.debate.ports import Availability, CompletionRequest, FakeClock
from aragora.errors import ProviderError

from .support import Sleeps, hub_for, request


def failure(kind: str) -> ProviderError:
    return ProviderError(f"fake {kind}", kind=kind, provider="fake")


def opened(clock: FakeClock, reset: float = 10.0) -> CircuitBreaker:
    """A breaker that one failure opened at time 0, half open from ``reset``."""
    breaker = CircuitBreaker(
        "m@http://a/v1", failure_threshold=1, reset_timeout=reset, clock=clock.monotonic
    )
    assert breaker.admit()
    breaker.failure()
    return breaker


class Gated:
    """A script whose first call waits for ``gate`` and then answers ``first``."""

    def __init__(self, first: str | BaseException) -> None:
        self.gate = asyncio.Event()
        self.first = first
        self.count = 0

    async def __call__(self, _: CompletionRequest) -> str | BaseException:
        self.count += 1
        if self.count == 1:
            await self.gate.wait()
            return self.first
        return "ok"


async def test_while_half_open_the_other_calls_wait_for_the_probe_and_all_succeed() -> None:
    clock = FakeClock()
    breaker = opened(clock)
    script = Gated("probe ok")
    llm = ScriptedLLM(script)
    guarded = Breaker(llm, breaker)
    clock.advance(10.0)
    calls = [asyncio.ensure_future(guarded.complete(request())) for _ in range(3)]
    await asyncio.sleep(0.02)
    assert len(llm.calls) == 1  # only the probe reached the endpoint
    assert not any(call.done() for call in calls)  # nobody failed on the breaker
    script.gate.set()
    answers = [completion.text for completion in await asyncio.gather(*calls)]
    assert answers == ["probe ok", "ok", "ok"]
    assert breaker.state is BreakerState.CLOSED


async def test_a_failed_probe_fails_the_waiting_calls_fast_with_circuit_open() -> None:
    clock = FakeClock()
    breaker = opened(clock)
    script = Gated(failure(Kind.SERVER_ERROR))
    llm = ScriptedLLM(script)
    guarded = Breaker(llm, breaker)
    clock.advance(10.0)
    calls = [asyncio.ensure_future(guarded.complete(request())) for _ in range(3)]
    await asyncio.sleep(0.02)
    script.gate.set()
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    kinds = [getattr(outcome, "kind", None) for outcome in outcomes]
    assert kinds == [Kind.SERVER_ERROR, Kind.CIRCUIT_OPEN, Kind.CIRCUIT_OPEN]
    assert len(llm.calls) == 1
    assert breaker.state is BreakerState.OPEN
    assert "next probe in 10 s" in str(outcomes[1])


async def test_a_call_waits_for_the_probe_at_most_its_own_timeout() -> None:
    clock = FakeClock()
    breaker = opened(clock)
    script = Gated("late")
    guarded = Breaker(ScriptedLLM(script), breaker)
    clock.advance(10.0)
    probe = asyncio.ensure_future(guarded.complete(request()))
    await asyncio.sleep(0)
    with pytest.raises(ProviderError) as caught:
        await guarded.complete(request(timeout=0.05))
    assert caught.value.kind == Kind.CIRCUIT_OPEN
    assert "probe" in str(caught.value)
    script.gate.set()
    assert (await probe).text == "late"


async def test_a_probe_that_tells_nothing_hands_probing_to_a_waiting_call() -> None:
    clock = FakeClock()
    breaker = opened(clock)
    script = Gated(failure(Kind.BAD_REQUEST))  # the caller's mistake, not the endpoint's
    llm = ScriptedLLM(script)
    guarded = Breaker(llm, breaker)
    clock.advance(10.0)
    first = asyncio.ensure_future(guarded.complete(request()))
    await asyncio.sleep(0)
    second = asyncio.ensure_future(guarded.complete(request()))
    await asyncio.sleep(0.01)
    script.gate.set()
    with pytest.raises(ProviderError):
        await first
    assert (await second).text == "ok"  # it became the probe, and it succeeded
    assert breaker.state is BreakerState.CLOSED


def test_an_open_breaker_says_how_long_and_a_chain_is_available_if_any_hop_is() -> None:
    clock = FakeClock()
    shut = Breaker(ScriptedLLM(["x"]), opened(clock, reset=30.0))
    clock.advance(12.0)
    assert isinstance(shut, Availability)
    assert shut.unavailable_for() == pytest.approx(18.0)
    also_shut = Breaker(ScriptedLLM(["x"]), opened(clock, reset=30.0))  # opened at 12
    assert FallbackChain([shut, also_shut]).unavailable_for() == pytest.approx(18.0)
    working = Breaker(ScriptedLLM(["x"]), CircuitBreaker("ok", clock=clock.monotonic))
    assert working.unavailable_for() is None
    assert FallbackChain([shut, working]).unavailable_for() is None
    clock.advance(18.0)  # 30 s after it opened
    assert shut.unavailable_for() is None  # half open: a call may go (as the probe)


@pytest.mark.parametrize("kind", [Kind.CUT_OFF, Kind.QUEUE_TIMEOUT])
async def test_cut_off_and_queue_timeouts_never_trip_the_breaker(kind: str) -> None:
    breaker = CircuitBreaker("m@http://a/v1", failure_threshold=1)
    sleeps = Sleeps()
    llm = ScriptedLLM([failure(kind)] * 3)
    guarded = Breaker(Dispatch(llm, policy=RetryPolicy(attempts=2), sleep=sleeps), breaker)
    with pytest.raises(ProviderError) as caught:
        await guarded.complete(request())
    assert caught.value.kind == kind
    assert breaker.state is BreakerState.CLOSED
    # a cut-off stream is retried (the server dropped us for another request); a full
    # queue is not (the call already waited its bound)
    assert len(llm.calls) == (2 if kind == Kind.CUT_OFF else 1)


async def test_a_breaker_counts_a_call_once_after_its_retries() -> None:
    breaker = CircuitBreaker("m@http://a/v1", failure_threshold=2)
    llm = ScriptedLLM([failure(Kind.SERVER_ERROR)] * 3 + ["ok"])
    guarded = Breaker(Dispatch(llm, policy=RetryPolicy(attempts=3), sleep=Sleeps()), breaker)
    with pytest.raises(ProviderError) as caught:
        await guarded.complete(request())
    assert caught.value.kind == Kind.SERVER_ERROR  # three failed attempts, one failed call
    assert breaker.state is BreakerState.CLOSED
    assert (await guarded.complete(request())).text == "ok"


async def test_two_endpoints_serving_the_same_model_name_have_their_own_breakers() -> None:
    async with (
        FakeProvider("openai", default=Fail(500)) as broken,
        FakeProvider("openai", [Answer("from b")]) as healthy,
    ):
        hub = hub_for(broken, healthy, breaker=BreakerPolicy(failure_threshold=1))
        async with hub:
            on_a = hub.build(AgentSpec.parse(f"openai-compatible:m1@{broken.base_url}"))
            on_b = hub.build(AgentSpec.parse(f"openai-compatible:m1@{healthy.base_url}"))
            with pytest.raises(ProviderError) as caught:
                await on_a.complete(request())
            assert caught.value.kind == Kind.SERVER_ERROR
            with pytest.raises(ProviderError) as caught:
                await on_a.complete(request())
            assert caught.value.kind == Kind.CIRCUIT_OPEN
            assert (await on_b.complete(request())).text == "from b"
            assert hub.breakers.states() == {
                f"m1@{broken.base_url}": BreakerState.OPEN,
                f"m1@{healthy.base_url}": BreakerState.CLOSED,
            }
