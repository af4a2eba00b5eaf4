"""Timeouts that mean what they say: a call's timeout runs from when it is sent, waiting in
our own per-endpoint queue has a bound and an error of its own, and the limits come from
the operator's ARAGORA_AGENT_LIMITS."""

from __future__ import annotations

import asyncio
import time

import pytest

from aragora import wiring
from aragora.agents.fakes.scripted import ScriptedLLM
from aragora.agents.fakes.servers import Answer, FakeProvider
from aragora.agents.providers import LimitPolicy
from aragora.agents.resilience.breaker import Breaker, BreakerState, CircuitBreaker
from aragora.agents.resilience.limits import ProviderLimit
from aragora.agents.resilience.wrappers import Dispatch, FallbackChain, RetryPolicy
from aragora.agents.wire.transport import Kind
from aragora.debate.model import AgentSpec
from aragora.debate.ports import LLM, Completion, CompletionRequest, SelfTimed
from aragora.errors import AgentTimeoutError, ConfigurationError, ProviderError
from aragora.settings import load_settings

from .support import hub_for, request


async def as_the_engine_calls(llm: LLM, req: CompletionRequest) -> Completion:
    """What the engine does with ``req.timeout``: it times a call itself from the moment
    it asks, unless the LLM says it bounds its calls from sending."""
    if isinstance(llm, SelfTimed) and llm.times_calls():
        return await llm.complete(req)
    async with asyncio.timeout(req.timeout):
        return await llm.complete(req)


def answering_after(seconds: float) -> object:
    async def respond(_: CompletionRequest) -> str:
        await asyncio.sleep(seconds)
        return "ok"

    return respond


async def test_queueing_for_a_one_slot_endpoint_does_not_count_against_the_timeout() -> None:
    async with FakeProvider("openai", lambda _: Answer("ok", delay=0.05)) as fake:
        # a local server that serves one request at a time; each answer takes ~0.3 s
        hub = hub_for(fake, limits=LimitPolicy(max_concurrency=1, rate=None))
        async with hub:
            llm = hub.build(AgentSpec.parse(f"openai-compatible:m@{fake.base_url}"))
            started = time.perf_counter()
            answers = await asyncio.gather(
                *(as_the_engine_calls(llm, request(timeout=0.5)) for _ in range(3))
            )
            wall = time.perf_counter() - started
    assert [a.text for a in answers] == ["ok"] * 3
    assert wall > 0.75  # served one after another: the last waited past its own timeout


async def test_the_timeout_runs_from_sending_and_covers_the_call() -> None:
    limit = ProviderLimit(1)
    llm = Dispatch(ScriptedLLM(answering_after(0.3)), limit=limit, timeout=10.0)
    answers = await asyncio.gather(*(llm.complete(request(timeout=0.5)) for _ in range(3)))
    assert [a.text for a in answers] == ["ok"] * 3
    slow = Dispatch(ScriptedLLM(answering_after(5.0)), limit=limit, timeout=10.0)
    started = time.perf_counter()
    with pytest.raises(AgentTimeoutError) as caught:
        await slow.complete(request(timeout=0.2))  # a request may lower the timeout
    assert time.perf_counter() - started < 1.0
    assert "no answer within 0.2 s of being sent" in str(caught.value)
    assert (limit.in_flight, limit.waiting) == (0, 0)


async def test_the_operators_timeout_is_never_raised_by_a_request() -> None:
    llm = Dispatch(ScriptedLLM(answering_after(5.0)), timeout=0.1)
    with pytest.raises(AgentTimeoutError):
        await llm.complete(request(timeout=60.0))


async def test_retries_spend_the_calls_time_not_their_own() -> None:
    failing = ProviderError("busy", kind=Kind.SERVER_ERROR, provider="fake")
    llm = ScriptedLLM([failing] * 10, latency=0.15)
    dispatch = Dispatch(llm, policy=RetryPolicy(attempts=10, base_delay=0.0), timeout=0.4)
    started = time.perf_counter()
    with pytest.raises(ProviderError) as caught:
        await dispatch.complete(request())
    assert time.perf_counter() - started < 0.6
    assert caught.value.kind == Kind.TIMEOUT
    assert 2 <= len(llm.calls) <= 3


async def test_a_full_queue_fails_as_queue_timeout_naming_the_endpoint() -> None:
    limit = ProviderLimit(1, provider="openai-compatible", endpoint="http://127.0.0.1:8081/v1")
    breaker = CircuitBreaker("m@http://127.0.0.1:8081/v1", failure_threshold=1)

    def stack() -> Breaker:
        return Breaker(
            Dispatch(
                ScriptedLLM(answering_after(0.5)), limit=limit, timeout=10.0, queue_timeout=0.1
            ),
            breaker,
        )

    first = asyncio.ensure_future(stack().complete(request()))
    await asyncio.sleep(0.01)
    behind = stack()
    with pytest.raises(ProviderError) as caught:
        await behind.complete(request())
    assert caught.value.kind == Kind.QUEUE_TIMEOUT
    assert str(caught.value).startswith(
        "waited 0.1 s for one of 1 slots on openai-compatible http://127.0.0.1:8081/v1"
    )
    assert breaker.state is BreakerState.CLOSED  # our queue says nothing about the server
    assert (await first).text == "ok"
    assert (limit.in_flight, limit.waiting) == (0, 0)


async def test_a_full_queue_falls_back_to_the_next_hop() -> None:
    limit = ProviderLimit(1)
    busy = Dispatch(ScriptedLLM(answering_after(0.5)), limit=limit, queue_timeout=0.05)
    other = Dispatch(ScriptedLLM(["from the fallback"], provider="openrouter"), timeout=5.0)
    hog = asyncio.ensure_future(busy.complete(request()))
    await asyncio.sleep(0.01)
    completion = await FallbackChain([busy, other]).complete(request())
    assert completion.text == "from the fallback"
    assert completion.fallbacks[0].reason == Kind.QUEUE_TIMEOUT
    await hog


async def test_a_fallback_hop_gets_what_the_first_hop_left_of_the_timeout() -> None:
    seen: list[float | None] = []
    limited = ProviderError("slow down", kind=Kind.RATE_LIMITED, provider="a", retry_after=600)

    async def first(_: CompletionRequest) -> ProviderError:
        await asyncio.sleep(0.3)
        return limited

    def second(req: CompletionRequest) -> str:
        seen.append(req.timeout)
        return "answer"

    limit = ProviderLimit(1)
    hog = asyncio.ensure_future(
        Dispatch(ScriptedLLM(answering_after(0.2)), limit=limit).complete(request())
    )
    await asyncio.sleep(0.01)
    chain = FallbackChain(
        [
            Dispatch(ScriptedLLM(first), limit=limit, timeout=60.0),  # queues 0.2 s first
            Dispatch(ScriptedLLM(second, provider="openrouter"), timeout=60.0),
        ]
    )
    completion = await chain.complete(request(timeout=1.0))
    assert completion.text == "answer"
    [left] = seen
    assert left is not None
    assert 0.6 <= left <= 0.72  # 1 s less the 0.3 s the first hop ran once sent
    await hog


# -- the limits setting -------------------------------------------------------------------


async def test_limits_come_from_the_setting_per_provider_and_per_url() -> None:
    settings = load_settings(
        {
            "OPENAI_API_KEY": "sk-test",
            "ARAGORA_AGENT_LIMITS": (
                "http://127.0.0.1:8081/v1/=1, openai=32:16:32, ollama=2:0, default=4:2"
            ),
        }
    )
    async with wiring.build_provider_hub(settings) as hub:
        for spec in (
            "openai-compatible:a@HTTP://127.0.0.1:8081/v1",
            "openai-compatible:b@http://127.0.0.1:8081/v1",  # the same endpoint
            "openai-compatible:c@http://127.0.0.1:8082/v1",
            "openai:gpt-4o",
            "ollama:llama3.2",
        ):
            hub.build(AgentSpec.parse(spec))
        rates = {url: getattr(bucket, "rate", None) for (url, _), bucket in hub.rates().items()}
        limits = {
            url: (limit.max_concurrency, rates.get(url)) for url, limit in hub.limits().items()
        }
    assert limits == {
        "http://127.0.0.1:8081/v1": (1, 2.0),  # the URL's concurrency, the default's rate
        "http://127.0.0.1:8082/v1": (4, 2.0),  # the default
        "https://api.openai.com/v1": (32, 16.0),
        "http://127.0.0.1:11434/v1": (2, None),  # rate 0: no start-rate limit
    }
    assert settings.agent_queue_timeout == 600.0
    assert settings.agent_connect_retry == 30.0


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("openai=0", "at least 1"),
        ("openai", "expected KEY=CONCURRENCY[:RATE[:BURST]]"),
        ("nosuch=2", "unknown key 'nosuch'"),
        ("http://h/v1?x=1=2", "not an http(s) base URL"),
        ("openai=2:fast", "with numbers"),
        ("openai=1,OpenAI=2", "given twice"),
        ("openai=1:-1", "the rate must be 0"),
    ],
)
def test_a_bad_limits_setting_is_one_line_naming_the_variable(value: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings({"ARAGORA_AGENT_LIMITS": value})
    text = str(caught.value)
    assert "ARAGORA_AGENT_LIMITS" in text
    assert message in text
    assert "\n" not in text
