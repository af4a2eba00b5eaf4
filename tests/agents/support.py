"""Shared helpers for the provider tests: fast hubs pointed at fake servers."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from aragora.agents.fakes.servers import Answer, Behaviour, FakeProvider, FakeRequest
from aragora.agents.providers import BreakerPolicy, LimitPolicy, ProviderConfig, ProviderHub
from aragora.agents.resilience.wrappers import RetryPolicy
from aragora.debate.answers import format_answer, format_critique, format_vote
from aragora.debate.ports import CompletionRequest

KEYS = {
    "anthropic": "sk-ant-test-0123456789",
    "openai": "sk-openai-test-0123456789",
    "openrouter": "sk-or-test-0123456789",
    "gemini": "gemini-test-key-0123456789",
}

FAST_RETRY = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.004, max_retry_after=5.0)


class Sleeps:
    """A ``sleep`` that records what was asked and returns at once."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def config_for(*fakes: FakeProvider, **changes: Any) -> ProviderConfig:
    """A config whose providers point at ``fakes`` (by wire; the second ``openai`` fake is
    OpenRouter), with every key set, tiny retries and no rate limit."""
    urls: dict[str, Any] = {}
    openai_fakes = [fake for fake in fakes if fake.wire == "openai"]
    for fake in fakes:
        if fake.wire == "anthropic":
            urls["anthropic_base_url"] = fake.base_url
        elif fake.wire == "gemini":
            urls["gemini_base_url"] = fake.base_url
    if openai_fakes:
        urls["openai_base_url"] = openai_fakes[0].base_url
    if len(openai_fakes) > 1:
        urls["openrouter_base_url"] = openai_fakes[1].base_url
    config = ProviderConfig(
        api_keys=dict(KEYS),
        call_timeout=5.0,
        stall_timeout=5.0,
        retry=FAST_RETRY,
        limits=LimitPolicy(max_concurrency=8, rate=None),
        breaker=BreakerPolicy(failure_threshold=50, reset_timeout=30.0),
        **urls,
    )
    return replace(config, **changes)


def hub_for(*fakes: FakeProvider, sleeps: Sleeps | None = None, **changes: Any) -> ProviderHub:
    """A hub over ``fakes`` (see :func:`config_for`) whose retry waits are instant."""
    return ProviderHub(config_for(*fakes, **changes), sleep=sleeps or Sleeps())


def request(prompt: str = "What is 2 + 2?", **changes: Any) -> CompletionRequest:
    """A request as the engine sends it, from agent ``alice``."""
    base = CompletionRequest(
        system="You are Agent A.",
        prompt=prompt,
        phase="propose",
        max_tokens=256,
        metadata={"agent": "alice", "phase": "propose"},
    )
    return replace(base, **changes)


def debater(answer: str = "4", confidence: float = 0.9) -> Any:
    """A fake's script that plays a well-behaved panel member in every phase, reading the
    phase from the prompt as a model would."""

    def respond(req: FakeRequest) -> Behaviour:
        prompt = req.prompt
        if "candidate answers" in prompt:
            return Answer(format_vote(1, confidence, "option 1 is right"))
        if "CRITIQUE:" in prompt:
            return Answer(format_critique("sound reasoning", 0.8))
        return Answer(format_answer(answer, confidence, "2 + 2 = 4"), input_tokens=100)

    return respond


def logged(records: Iterable[logging.LogRecord], event: str) -> list[dict[str, Any]]:
    """The fields of every ``log_event`` record named ``event``."""
    return [
        dict(getattr(record, "aragora_fields", {}))
        for record in records
        if record.getMessage() == event
    ]
