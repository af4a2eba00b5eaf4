"""Each adapter against a fake server speaking its provider's wire format, one case each:
answers, 429 with Retry-After, 529, 500, slow, truncated, invalid JSON, stalled."""

from __future__ import annotations

import logging

import pytest

from aragora.agents.catalog import ModelQuirks, QuirkBook
from aragora.agents.fakes.servers import (
    Answer,
    Behaviour,
    Fail,
    FakeProvider,
    InvalidJSON,
    Stall,
    StreamError,
    Truncate,
)
from aragora.agents.pricing import PriceTable
from aragora.agents.resilience.wrappers import AttemptTimeout
from aragora.agents.wire.anthropic import ANTHROPIC_VERSION, AnthropicLLM, anthropic_client
from aragora.agents.wire.gemini import GeminiLLM, gemini_client
from aragora.agents.wire.openai import OpenAIChatLLM, openai_client
from aragora.agents.wire.transport import Kind
from aragora.debate.ports import LLM
from aragora.errors import ProviderError

from .support import KEYS, logged, request

WIRES = ["anthropic", "openai", "gemini"]
MODELS = {"anthropic": "claude-sonnet-4-5", "openai": "gpt-4o", "gemini": "gemini-2.5-flash"}
PRICES = PriceTable.load()


def adapter(
    fake: FakeProvider,
    *,
    stall: float = 5.0,
    quirks: ModelQuirks | None = None,
    model: str | None = None,
) -> AnthropicLLM | GeminiLLM | OpenAIChatLLM:
    """The adapter of ``fake``'s wire format pointed at it, with the real model name."""
    key = KEYS[fake.wire]
    name = model or MODELS[fake.wire]
    if fake.wire == "anthropic":
        pool = anthropic_client(fake.base_url, key, stall_timeout=stall)
        return AnthropicLLM(provider="anthropic", model=name, client=pool, prices=PRICES,
                            quirks=quirks, secrets=[key])  # fmt: skip
    if fake.wire == "gemini":
        pool = gemini_client(fake.base_url, key, stall_timeout=stall)
        return GeminiLLM(provider="gemini", model=name, client=pool, prices=PRICES,
                         quirks=quirks, secrets=[key])  # fmt: skip
    pool = openai_client(fake.base_url, key, stall_timeout=stall)
    return OpenAIChatLLM(provider="openai", model=name, client=pool, prices=PRICES,
                         quirks=quirks, secrets=[key])  # fmt: skip


async def close(llm: LLM) -> None:
    assert isinstance(llm, AnthropicLLM | GeminiLLM | OpenAIChatLLM)
    await llm._client.aclose()


async def call(wire: str, *script: Behaviour, stall: float = 5.0) -> tuple[FakeProvider, object]:
    """One call against a fresh fake; returns the fake and the completion or the error."""
    async with FakeProvider(wire, list(script), model=MODELS[wire], api_key=KEYS[wire]) as fake:
        llm = adapter(fake, stall=stall)
        try:
            return fake, await llm.complete(request())
        except ProviderError as exc:
            return fake, exc
        finally:
            await close(llm)


@pytest.mark.parametrize("wire", WIRES)
async def test_a_streamed_answer_with_usage_and_cost(wire: str) -> None:
    text = "ANSWER: 4\nCONFIDENCE: 0.9\nREASONING: two and two make four"
    async with FakeProvider(wire, [Answer(text, input_tokens=1000, output_tokens=200)],
                            model=MODELS[wire], api_key=KEYS[wire]) as fake:  # fmt: skip
        llm = adapter(fake)
        deltas: list[str] = []
        completion = await llm.complete(request(), deltas.append)
        await close(llm)
    assert completion.text == text
    assert "".join(deltas) == text
    assert len(deltas) > 1
    assert (completion.usage.input_tokens, completion.usage.output_tokens) == (1000, 200)
    price = PRICES.price(wire, MODELS[wire])
    assert price is not None
    assert completion.usage.cost_usd == pytest.approx(price.cost(1000, 200))
    assert completion.usage.cost_usd > 0
    assert (completion.provider, completion.model) == (wire, MODELS[wire])


async def test_anthropic_request_shape() -> None:
    fake, _ = await call("anthropic", Answer("hi"))
    sent = fake.requests[0]
    assert sent.headers["x-api-key"] == KEYS["anthropic"]
    assert sent.headers["anthropic-version"] == ANTHROPIC_VERSION
    assert sent.body == {
        "model": "claude-sonnet-4-5",
        "max_tokens": 256,
        "messages": [{"role": "user", "content": "What is 2 + 2?"}],
        "stream": True,
        "system": "You are Agent A.",
    }


async def test_openai_request_shape() -> None:
    fake, _ = await call("openai", Answer("hi"))
    sent = fake.requests[0]
    assert sent.headers["authorization"] == f"Bearer {KEYS['openai']}"
    assert sent.body["stream"] is True
    assert sent.body["stream_options"] == {"include_usage": True}
    assert sent.body["messages"] == [
        {"role": "system", "content": "You are Agent A."},
        {"role": "user", "content": "What is 2 + 2?"},
    ]
    assert sent.body["max_tokens"] == 256


async def test_gemini_request_shape() -> None:
    fake, _ = await call("gemini", Answer("hi"))
    sent = fake.requests[0]
    assert sent.path == "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    assert sent.query == {"alt": ["sse"]}
    assert sent.headers["x-goog-api-key"] == KEYS["gemini"]
    assert "key" not in sent.query  # the key never goes into a URL
    assert sent.body["contents"] == [{"role": "user", "parts": [{"text": "What is 2 + 2?"}]}]
    assert sent.body["systemInstruction"] == {"parts": [{"text": "You are Agent A."}]}
    assert sent.body["generationConfig"]["maxOutputTokens"] == 256


async def test_reasoning_models_get_no_temperature_and_max_completion_tokens() -> None:
    quirks = QuirkBook.load()
    async with FakeProvider("openai", model="o3") as fake:
        for model, temperature in (("o3", False), ("gpt-5-mini", False), ("gpt-4o", True)):
            llm = adapter(fake, quirks=quirks.for_model("openai", model), model=model)
            await llm.complete(request(temperature=0.3))
            await close(llm)
            body = fake.requests[-1].body
            assert ("temperature" in body) is temperature, model
            assert body["max_completion_tokens"] == 256
            assert "max_tokens" not in body
    assert fake.requests[0].body["messages"][0]["role"] == "developer"


@pytest.mark.parametrize("wire", WIRES)
async def test_429_with_retry_after_is_a_rate_limit_and_logged(
    wire: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="aragora.agents")
    _, error = await call(wire, Fail(429, retry_after="2"))
    assert isinstance(error, ProviderError)
    assert (error.kind, error.retry_after, error.provider) == (Kind.RATE_LIMITED, 2.0, wire)
    [entry] = logged(caplog.records, "rate_limit")
    assert entry == {
        "provider": wire,
        "model": MODELS[wire],
        "status": 429,
        "retry_after": 2.0,
        "kind": Kind.RATE_LIMITED,
    }
    [timing] = logged(caplog.records, "agent_response_time")
    assert timing["outcome"] == Kind.RATE_LIMITED
    assert timing["agent"] == "alice"


async def test_529_is_overload() -> None:
    _, error = await call("anthropic", Fail(529))
    assert isinstance(error, ProviderError)
    assert error.kind == Kind.OVERLOADED


@pytest.mark.parametrize("wire", WIRES)
async def test_500_is_a_server_error(wire: str) -> None:
    _, error = await call(wire, Fail(500))
    assert isinstance(error, ProviderError)
    assert error.kind == Kind.SERVER_ERROR


@pytest.mark.parametrize("wire", WIRES)
async def test_a_slow_answer_still_completes(wire: str) -> None:
    _, completion = await call(wire, Answer("slow but sure", delay=0.02))
    assert getattr(completion, "text", None) == "slow but sure"


async def test_a_slow_answer_past_the_attempt_timeout_is_a_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="aragora.agents")
    async with FakeProvider("openai", [Answer("slow", delay=0.2)]) as fake:
        llm = adapter(fake)
        with pytest.raises(ProviderError) as caught:
            await AttemptTimeout(llm, 0.05).complete(request())
        await close(llm)
    assert caught.value.kind == Kind.TIMEOUT
    assert logged(caplog.records, "timeout")[0]["provider"] == "openai"


@pytest.mark.parametrize("wire", WIRES)
async def test_a_truncated_stream_is_a_network_error_not_a_short_answer(wire: str) -> None:
    _, error = await call(wire, Truncate("this answer is cut off before the end"))
    assert isinstance(error, ProviderError)
    assert error.kind == Kind.NETWORK


@pytest.mark.parametrize("wire", WIRES)
async def test_invalid_json_is_an_invalid_response(wire: str) -> None:
    _, error = await call(wire, InvalidJSON())
    assert isinstance(error, ProviderError)
    assert error.kind == Kind.INVALID_RESPONSE


@pytest.mark.parametrize("wire", WIRES)
async def test_a_stalled_connection_times_out(wire: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="aragora.agents")
    _, error = await call(wire, Stall(), stall=0.1)
    assert isinstance(error, ProviderError)
    assert error.kind == Kind.TIMEOUT
    assert "stalled" in str(error)
    assert logged(caplog.records, "timeout")


@pytest.mark.parametrize("wire", WIRES)
async def test_an_error_reported_inside_the_stream(wire: str) -> None:
    _, error = await call(wire, StreamError())
    assert isinstance(error, ProviderError)
    assert error.kind == Kind.OVERLOADED


@pytest.mark.parametrize("wire", WIRES)
async def test_a_wrong_key_is_auth_and_the_key_never_shows(
    wire: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with FakeProvider(wire, api_key="the-right-key") as fake:
        llm = adapter(fake)  # sends KEYS[wire]; the fake echoes it in its error message
        with pytest.raises(ProviderError) as caught:
            await llm.complete(request())
        await close(llm)
    assert caught.value.kind == Kind.AUTH
    assert KEYS[wire] not in str(caught.value)
    for record in caplog.records:
        assert KEYS[wire] not in record.getMessage()
        assert KEYS[wire] not in repr(vars(record))


async def test_context_too_long_and_quota() -> None:
    too_long = Fail(400, message="prompt is too long: 250000 tokens > 200000 maximum")
    _, error = await call("anthropic", too_long)
    assert getattr(error, "kind", None) == Kind.CONTEXT_TOO_LONG
    _, error = await call("openai", Fail(429, error_type="insufficient_quota"))
    assert getattr(error, "kind", None) == Kind.QUOTA_EXHAUSTED


async def test_estimate_is_prompt_plus_max_tokens_at_list_price() -> None:
    async with FakeProvider("anthropic") as fake:
        llm = adapter(fake)
        estimate = llm.estimate_usage(request())
        await close(llm)
    assert estimate.output_tokens == 256
    assert estimate.input_tokens > 0
    assert estimate.cost_usd == pytest.approx(3.0 * estimate.input_tokens / 1e6 + 15.0 * 256 / 1e6)


@pytest.mark.parametrize("wire", WIRES)
async def test_the_connection_is_reused_after_a_complete_stream(wire: str) -> None:
    async with FakeProvider(wire, model=MODELS[wire]) as fake:
        llm = adapter(fake)
        for _ in range(3):
            await llm.complete(request())
        await close(llm)
    assert (len(fake.requests), fake.connections) == (3, 1)


async def test_a_rate_limit_reported_inside_the_stream_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="aragora.agents")
    _, error = await call("openai", StreamError("rate_limit_exceeded", "slow down", 429))
    assert getattr(error, "kind", None) == Kind.RATE_LIMITED
    assert logged(caplog.records, "rate_limit")[0]["status"] == 429
