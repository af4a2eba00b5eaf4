"""The fake servers misbehave like the real ones: llama-cpp-python's exact wire, one slot,
pings while waiting, a server that dies and comes back, a weak model's replies."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from aragora.agents.fakes.replies import echo_template, repeats_task, runs_on, template_junk
from aragora.agents.fakes.servers import Answer, Crash, FakeProvider, FakeRequest, Script
from aragora.agents.wire.transport import Kind
from aragora.debate.ports import Completion, TokenCallback
from aragora.debate.prompting import PromptBook
from aragora.errors import ProviderError

from .support import request
from .test_adapters import close
from .test_wire_endings import llama

BODY = {
    "model": "gemma",
    "messages": [{"role": "user", "content": "What is 2 + 2?"}],
    "stream": True,
    "stream_options": {"include_usage": True},
    "max_tokens": 16,
}


async def raw_lines(fake: FakeProvider) -> list[str]:
    async with (
        httpx.AsyncClient() as client,
        client.stream("POST", f"{fake.base_url}/chat/completions", json=BODY) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        return [line async for line in response.aiter_lines()]


async def test_the_llama_cpp_fake_sends_the_real_servers_chunks() -> None:
    async with FakeProvider.llama_cpp(default=Answer("It is 4.", stop="length")) as fake:
        lines = await raw_lines(fake)
    assert lines[-2:] == ["data: [DONE]", ""]
    chunks = [json.loads(line.removeprefix("data: ")) for line in lines[:-2] if line]
    assert all(line == "" or line.startswith("data: {") for line in lines[:-2])
    for chunk in chunks:
        # key order and separators as json.dumps writes llama-cpp-python's dicts; no usage
        assert list(chunk) == ["id", "model", "created", "object", "choices"]
        assert chunk["model"] == "gemma"  # the request's model, echoed
        assert chunk["object"] == "chat.completion.chunk"
        assert chunk["choices"][0]["logprobs"] is None
    assert lines[0].startswith('data: {"id": "chatcmpl-')
    deltas = [chunk["choices"][0]["delta"] for chunk in chunks]
    reasons = [chunk["choices"][0]["finish_reason"] for chunk in chunks]
    assert deltas[0] == {"role": "assistant"}
    assert "".join(d["content"] for d in deltas[1:-1]) == "It is 4."
    assert [len(d["content"].split()) for d in deltas[1:-1]] == [1, 1, 1]  # token pieces
    assert (deltas[-1], reasons[-1]) == ({}, "length")
    assert set(reasons[:-1]) == {None}


async def test_a_waiting_request_gets_its_head_at_once_and_pings() -> None:
    answer = Answer("a b c d e f g h", delay=0.03)
    fake = FakeProvider.llama_cpp(default=answer, interrupt=False, ping_interval=0.02)
    async with fake, httpx.AsyncClient() as client:
        url = f"{fake.base_url}/chat/completions"
        async with client.stream("POST", url, json=BODY) as first:
            lines = first.aiter_lines()
            assert (await anext(lines)).startswith("data: ")  # the first is generating
            async with client.stream("POST", url, json=BODY) as second:
                assert second.status_code == 200  # before any slot was free
                waiting = [line async for line in second.aiter_lines()]
    data = [line for line in waiting if line.startswith("data: ")]
    assert waiting.index(data[0]) > 0
    assert all(line.startswith(": ping - ") for line in waiting[: waiting.index(data[0])] if line)
    assert waiting[-2:] == ["data: [DONE]", ""]


async def test_a_one_slot_server_without_interrupt_serves_requests_in_turn() -> None:
    answer = Answer("one two three four five six", delay=0.01)
    async with FakeProvider.llama_cpp(default=answer, interrupt=False, ping_interval=0.005) as fake:
        llm = llama(fake)
        order: list[str] = []

        def note(name: str) -> TokenCallback:
            return lambda _: order.append(name)

        results = await asyncio.gather(*(llm.complete(request(n), note(n)) for n in "ab"))
        await close(llm)
    assert [c.text for c in results] == [answer.text, answer.text]
    assert fake.interrupted == 0
    # one answer streams whole before the other starts (the pings meanwhile are ignored)
    assert order in (["a"] * 6 + ["b"] * 6, ["b"] * 6 + ["a"] * 6)


async def test_three_waiting_requests_cascade_like_llama_cpp() -> None:
    # llama-cpp-python: whoever streams while another waits is cut after one chunk, so of
    # requests that overlap only the last one completes.
    answer = Answer("w " * 80, delay=0.01)
    async with FakeProvider.llama_cpp(default=answer) as fake:
        llm = llama(fake)
        started = asyncio.Event()
        first = asyncio.create_task(llm.complete(request("a"), lambda _: started.set()))
        await started.wait()
        rest = [asyncio.create_task(llm.complete(request(n))) for n in "bc"]
        outcomes = await asyncio.gather(first, *rest, return_exceptions=True)
        await close(llm)
    kinds = [o.kind if isinstance(o, ProviderError) else "ok" for o in outcomes]
    assert kinds[0] == Kind.CUT_OFF
    assert sorted(kinds[1:]) == sorted([Kind.CUT_OFF, "ok"])  # in the order they arrived
    assert fake.interrupted == 2


async def test_a_crashed_server_refuses_connections_then_comes_back_on_its_port() -> None:
    script = [Crash("half an ans", down_for=0.3), Answer("back again")]
    async with FakeProvider.llama_cpp(script) as fake:
        port = fake.port
        llm = llama(fake)
        with pytest.raises(ProviderError) as crashed:
            await llm.complete(request())
        assert crashed.value.kind == Kind.NETWORK
        assert not fake.up
        with pytest.raises(ProviderError) as refused:
            await llm.complete(request())
        assert refused.value.kind == Kind.NETWORK
        assert "connect" in str(refused.value).lower()
        for _ in range(100):
            if fake.up:
                break
            await asyncio.sleep(0.01)
        completion = await llm.complete(request())
        await close(llm)
    assert (fake.port, completion.text) == (port, "back again")


async def test_kill_and_revive_by_hand() -> None:
    async with FakeProvider("anthropic") as fake:
        port = fake.port
        await fake.kill()
        with pytest.raises(httpx.ConnectError):
            async with httpx.AsyncClient() as client:
                await client.get(f"http://127.0.0.1:{port}/")
        await fake.revive()
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"http://127.0.0.1:{port}/")).status_code == 404


async def test_the_openai_fake_lists_its_model() -> None:
    fake = FakeProvider.llama_cpp(model="gemma-3-270m-q4_k_m.gguf")
    async with fake, httpx.AsyncClient() as client:
        listed = (await client.get(f"{fake.base_url}/models")).json()
    assert listed["data"][0]["id"] == "gemma-3-270m-q4_k_m.gguf"


def test_interrupt_needs_a_slot_and_the_dialect_needs_the_openai_wire() -> None:
    with pytest.raises(ValueError, match="slots"):
        FakeProvider("openai", interrupt=True)
    with pytest.raises(ValueError, match="dialect"):
        FakeProvider("gemini", dialect="llama-cpp-python")


# -- a weak model's replies ---------------------------------------------------------------

BOOK = PromptBook.default()
TASK = "Is 17 a prime number?"


def propose() -> tuple[str, str]:
    return BOOK.system("Agent A"), BOOK.propose(TASK, "")


async def reply(script: Script) -> str:
    system, prompt = propose()
    async with FakeProvider.llama_cpp(script) as fake:
        llm = llama(fake)
        completion = await llm.complete(request(prompt, system=system))
        await close(llm)
    assert isinstance(completion, Completion)
    return completion.text


async def test_echo_template_gives_back_the_placeholders() -> None:
    text = await reply(echo_template)
    assert text.splitlines()[0] == (
        "ANSWER: <your answer on one line: a short label, a number, yes/no, or one sentence>"
    )
    assert "CONFIDENCE: <a number from 0 to 1>" in text


async def test_template_junk_runs_on_and_repeats_task() -> None:
    junk = await reply(template_junk)
    assert junk.startswith("<start_of_turn>model\nANSWER: number?<end_of_turn>")
    assert "<<SYS>>" in junk
    assert "Question 1: " + TASK in await reply(runs_on)
    assert (await reply(repeats_task)).startswith(f"ANSWER: {TASK}\n")


def test_weak_replies_read_the_task_from_any_wire() -> None:
    system, prompt = propose()
    gemini = FakeRequest(
        "POST",
        "/v1beta/models/m:streamGenerateContent",
        {"alt": ["sse"]},
        {},
        {
            "contents": [{"parts": [{"text": prompt}]}],
            "systemInstruction": {"parts": [{"text": system}]},
        },
    )
    assert gemini.system == system
    assert repeats_task(gemini).text.startswith(f"ANSWER: {TASK}")
