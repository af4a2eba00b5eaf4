"""The scripted test fake: replies in order or by function, errors, latency, streaming."""

from __future__ import annotations

import asyncio

import pytest

from aragora.agents.fakes import scripted
from aragora.agents.fakes.scripted import ScriptedLLM, ScriptError, by_phase, reply_with
from aragora.debate.answers import format_answer, format_critique, format_vote
from aragora.debate.ports import LLM, CompletionRequest, Usage
from aragora.errors import AgentTimeoutError, ProviderError


def req(phase: str = "propose", choices: tuple[str, ...] = ()) -> CompletionRequest:
    return CompletionRequest(system="sys", prompt="What is 2 + 2?", phase=phase, choices=choices)


def test_public_api() -> None:
    assert scripted.__all__ == [
        "Reply",
        "Responder",
        "ScriptError",
        "ScriptedLLM",
        "by_phase",
        "reply_with",
    ]


def test_implements_the_llm_protocol() -> None:
    llm = ScriptedLLM([], provider="acme", model="large")
    assert isinstance(llm, LLM)
    assert (llm.provider, llm.model) == ("acme", "large")
    assert (ScriptedLLM([]).provider, ScriptedLLM([]).model) == ("scripted", "scripted")


async def test_a_list_is_consumed_in_order_and_exceptions_are_raised() -> None:
    llm = ScriptedLLM(["one", ProviderError("down", kind="rate_limited"), "three"])
    assert (await llm.complete(req())).text == "one"
    with pytest.raises(ProviderError, match="down"):
        await llm.complete(req("critique"))
    assert (await llm.complete(req("revise"))).text == "three"
    assert llm.phases == ["propose", "critique", "revise"]
    assert llm.remaining == 0


async def test_an_exhausted_script_says_so() -> None:
    llm = ScriptedLLM(["only"], model="m")
    await llm.complete(req())
    with pytest.raises(ScriptError, match=r"'m' ran out of replies: call 2 \(phase 'vote'\)"):
        await llm.complete(req("vote"))
    assert len(llm.calls) == 2


async def test_a_function_answers_each_request() -> None:
    llm = ScriptedLLM(lambda r: f"{r.phase}:{len(r.choices)}")
    assert (await llm.complete(req("vote", ("a", "b")))).text == "vote:2"
    assert llm.remaining is None
    assert llm.calls == [req("vote", ("a", "b"))]


async def test_an_async_function_may_return_an_exception_to_raise() -> None:
    async def respond(request: CompletionRequest) -> str | BaseException:
        await asyncio.sleep(0)
        return AgentTimeoutError("slow") if request.phase == "vote" else "fine"

    llm = ScriptedLLM(respond)
    assert (await llm.complete(req())).text == "fine"
    with pytest.raises(AgentTimeoutError):
        await llm.complete(req("vote"))


async def test_a_bad_reply_type_is_a_clear_error() -> None:
    with pytest.raises(TypeError, match="a str, a Completion or an exception"):
        ScriptedLLM([42])  # type: ignore[list-item]
    llm = ScriptedLLM(lambda r: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(TypeError, match="a str, a Completion or an exception"):
        await llm.complete(req())


async def test_latency_makes_timeouts_testable() -> None:
    llm = ScriptedLLM(["late"], latency=10.0)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(llm.complete(req()), timeout=0.01)
    assert len(llm.calls) == 1


async def test_streaming_sends_word_chunks() -> None:
    chunks: list[str] = []
    text = format_answer("4", 0.9, "two plus two")
    completion = await ScriptedLLM([text], stream=True).complete(req(), chunks.append)
    assert len(chunks) > 3
    assert "".join(chunks) == completion.text == text
    silent: list[str] = []
    await ScriptedLLM([text]).complete(req(), silent.append)
    assert silent == []


async def test_usage_is_estimated_unless_given() -> None:
    estimated = (await ScriptedLLM(["x" * 40]).complete(req())).usage
    assert estimated == Usage(input_tokens=len("sys" + "What is 2 + 2?") // 4, output_tokens=10)
    fixed = Usage(input_tokens=100, output_tokens=20, cost_usd=0.01)
    assert (await ScriptedLLM(["x"], usage=fixed).complete(req())).usage == fixed
    assert (await ScriptedLLM([""]).complete(req())).usage.output_tokens == 1


async def test_reply_with_answers_every_phase() -> None:
    llm = ScriptedLLM(reply_with("SQLite", 0.7, "small", revised="PostgreSQL", score=0.3))
    assert (await llm.complete(req())).text == format_answer("SQLite", 0.7, "small")
    assert (await llm.complete(req("critique", ("x",)))).text == format_critique(
        "scripted critique", 0.3
    )
    assert (await llm.complete(req("revise"))).text == format_answer("PostgreSQL", 0.7, "small")
    vote = await llm.complete(req("vote", ("SQLite", " postgresql ")))
    assert vote.text == format_vote(2, 0.7, "small")
    judge = await llm.complete(req("judge", ("SQLite", "MySQL")))
    assert judge.text == format_vote(1, 0.7, "small")


async def test_by_phase_dispatches_and_fails_loudly_on_a_missing_phase() -> None:
    llm = ScriptedLLM(by_phase(propose="p", vote=reply_with("a"), critique=ProviderError("x")))
    assert (await llm.complete(req())).text == "p"
    assert (await llm.complete(req("vote", ("b", "a")))).text.startswith("CHOICE: 2\n")
    with pytest.raises(ProviderError):
        await llm.complete(req("critique"))
    with pytest.raises(ScriptError, match="no scripted reply for phase 'revise'"):
        await llm.complete(req("revise"))
    fallback = ScriptedLLM(by_phase("default", vote="v"))
    assert (await fallback.complete(req("judge"))).text == "default"
