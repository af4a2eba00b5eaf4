"""How each adapter reads the end of a stream and its usage, as real servers send them:
cut-off streams (llama-cpp-python's interrupt among them), token-limit stops, content
filters and tool stops, streams without usage or with only part of it."""

from __future__ import annotations

import asyncio
import logging

import pytest

from aragora.agents.fakes.servers import Answer, CutOff, FakeProvider
from aragora.agents.pricing import PriceTable
from aragora.agents.tokens import estimate_prompt_tokens, estimate_text_tokens
from aragora.agents.wire.openai import OpenAIChatLLM, openai_client
from aragora.agents.wire.transport import Kind
from aragora.debate.ports import Completion
from aragora.errors import ProviderError

from .support import KEYS, logged, request
from .test_adapters import MODELS, PRICES, WIRES, adapter, call, close

TEXT = "ANSWER: 4\nCONFIDENCE: 0.9\nREASONING: two and two make four, as counting shows"
LIMIT = {"anthropic": "max_tokens", "openai": "length", "gemini": "MAX_TOKENS"}


def llama(fake: FakeProvider, model: str = "gemma") -> OpenAIChatLLM:
    """An ``openai-compatible`` agent on a local server, as a spec ``…@URL`` builds it."""
    pool = openai_client(fake.base_url, None, stall_timeout=5.0)
    return OpenAIChatLLM(provider="openai-compatible", model=model, client=pool, prices=PRICES)


# -- cut off ------------------------------------------------------------------------------


@pytest.mark.parametrize("wire", WIRES)
@pytest.mark.parametrize("done", [True, False])
async def test_a_stream_that_ends_before_a_finish_reason_is_cut_off(wire: str, done: bool) -> None:
    _, error = await call(wire, CutOff("the beginning of an ans", done=done))
    assert isinstance(error, ProviderError), error
    assert (error.kind, error.provider) == (Kind.CUT_OFF, wire)
    assert "cut off" in str(error)


async def test_llama_cpp_interrupts_a_running_stream_when_another_request_waits() -> None:
    answer = Answer("Photosynthesis turns light, water and air into sugar. " * 8, delay=0.01)
    async with FakeProvider.llama_cpp(default=answer) as fake:
        llm = llama(fake)
        streaming = asyncio.Event()
        first = asyncio.create_task(llm.complete(request("first"), lambda _: streaming.set()))
        await streaming.wait()  # the first answer is being generated
        second = await llm.complete(request("second"))
        outcome = await asyncio.gather(first, return_exceptions=True)
        await close(llm)
    [error] = outcome
    assert isinstance(error, ProviderError), error
    assert error.kind == Kind.CUT_OFF
    assert fake.interrupted == 1
    assert isinstance(second, Completion)
    assert second.text == answer.text
    assert not second.truncated


# -- finish reasons -----------------------------------------------------------------------


@pytest.mark.parametrize("wire", WIRES)
async def test_a_stop_at_the_token_limit_is_a_truncated_completion(
    wire: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="aragora.agents")
    _, completion = await call(wire, Answer(TEXT, stop=LIMIT[wire], output_tokens=256))
    assert isinstance(completion, Completion), completion
    assert completion.truncated
    assert completion.text == TEXT
    assert completion.usage.output_tokens == 256
    assert logged(caplog.records, "agent_response_time")[0]["outcome"] == "truncated"


@pytest.mark.parametrize("wire", WIRES)
async def test_a_normal_stop_is_complete_and_not_truncated(wire: str) -> None:
    _, completion = await call(wire, Answer(TEXT))
    assert isinstance(completion, Completion), completion
    assert not completion.truncated


@pytest.mark.parametrize(
    ("wire", "stop"),
    [
        ("openai", "content_filter"),
        ("openai", "tool_calls"),
        ("openai", "function_call"),
        ("anthropic", "refusal"),
        ("anthropic", "tool_use"),
        ("gemini", "SAFETY"),
        ("gemini", "RECITATION"),
        ("gemini", "PROHIBITED_CONTENT"),
        ("gemini", "MALFORMED_FUNCTION_CALL"),
        ("gemini", "OTHER"),
    ],
)
async def test_a_withheld_or_diverted_answer_is_an_invalid_response(wire: str, stop: str) -> None:
    _, error = await call(wire, Answer("I can", stop=stop))
    assert isinstance(error, ProviderError), error
    assert error.kind == Kind.INVALID_RESPONSE
    assert stop in str(error)


@pytest.mark.parametrize(
    ("wire", "stop", "kind"),
    [
        ("openai", "abort", Kind.CUT_OFF),
        ("openai", "error", Kind.SERVER_ERROR),
        ("anthropic", "pause_turn", Kind.CUT_OFF),
    ],
)
async def test_other_abnormal_stops(wire: str, stop: str, kind: str) -> None:
    _, error = await call(wire, Answer("I can", stop=stop))
    assert getattr(error, "kind", None) == kind


@pytest.mark.parametrize(
    ("wire", "stop"),
    [("openai", "eos_token"), ("anthropic", "stop_sequence"), ("gemini", "A_NEW_REASON")],
)
async def test_an_unknown_or_other_normal_stop_is_a_finished_answer(wire: str, stop: str) -> None:
    _, completion = await call(wire, Answer(TEXT, stop=stop))
    assert isinstance(completion, Completion), completion
    assert (completion.text, completion.truncated) == (TEXT, False)


# -- usage --------------------------------------------------------------------------------


def expected_estimate(text: str) -> tuple[int, int]:
    sent = request()
    return estimate_prompt_tokens([sent.system, sent.prompt]), estimate_text_tokens(text)


@pytest.mark.parametrize("wire", WIRES)
async def test_a_stream_without_usage_is_estimated_and_priced(wire: str) -> None:
    _, completion = await call(wire, Answer(TEXT, usage="none"))
    assert isinstance(completion, Completion), completion
    usage = completion.usage
    assert usage.estimated
    assert (usage.input_tokens, usage.output_tokens) == expected_estimate(TEXT)
    assert usage.input_tokens > 0
    assert usage.output_tokens > 0
    price = PRICES.price(wire, MODELS[wire])
    assert price is not None
    assert usage.cost_usd == pytest.approx(price.cost(usage.input_tokens, usage.output_tokens))
    assert usage.cost_usd > 0


@pytest.mark.parametrize("wire", WIRES)
async def test_a_stream_with_only_the_prompt_count_estimates_the_output(wire: str) -> None:
    _, completion = await call(wire, Answer(TEXT, input_tokens=1000, usage="prompt"))
    assert isinstance(completion, Completion), completion
    usage = completion.usage
    assert usage.estimated
    assert (usage.input_tokens, usage.output_tokens) == (1000, expected_estimate(TEXT)[1])


@pytest.mark.parametrize("wire", WIRES)
async def test_reported_usage_is_kept_and_not_estimated(wire: str) -> None:
    _, completion = await call(wire, Answer(TEXT, input_tokens=1000, output_tokens=200))
    assert isinstance(completion, Completion), completion
    assert completion.usage.estimated is False
    assert (completion.usage.input_tokens, completion.usage.output_tokens) == (1000, 200)


@pytest.mark.parametrize("wire", WIRES)
async def test_a_reported_zero_beside_a_real_text_is_taken_as_missing(wire: str) -> None:
    _, completion = await call(wire, Answer(TEXT, input_tokens=0, output_tokens=0))
    assert isinstance(completion, Completion), completion
    assert completion.usage.estimated
    assert (completion.usage.input_tokens, completion.usage.output_tokens) == expected_estimate(
        TEXT
    )


async def test_llama_cpp_reports_no_usage_so_every_answer_is_estimated() -> None:
    async with FakeProvider.llama_cpp(default=Answer(TEXT)) as fake:
        llm = llama(fake)
        completion = await llm.complete(request())
        await close(llm)
    body = fake.requests[0].body
    assert body["stream_options"] == {"include_usage": True}  # asked for, and ignored
    assert completion.text == TEXT
    assert completion.usage.estimated
    assert (completion.usage.input_tokens, completion.usage.output_tokens) == expected_estimate(
        TEXT
    )
    assert completion.usage.cost_usd == 0.0  # openai-compatible:* is free
    assert (completion.provider, completion.model) == ("openai-compatible", "gemma")


async def test_an_estimate_is_priced_from_the_table_like_reported_usage() -> None:
    table = PriceTable.load()
    async with FakeProvider("openai", [Answer(TEXT, usage="none")], model="gpt-4o") as fake:
        llm = adapter(fake)
        completion = await llm.complete(request())
        await close(llm)
    usage = completion.usage
    assert usage == table.usage(
        "openai", "gpt-4o", usage.input_tokens, usage.output_tokens, estimated=True
    )
    assert KEYS["openai"] not in repr(usage)
