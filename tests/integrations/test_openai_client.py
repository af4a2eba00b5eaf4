"""The OpenAI-compatible routes through the official ``openai`` client, against the app on a
real uvicorn server. The agents are fake OpenAI-wire servers on loopback: the default panel's
all answer 4; the ``silent`` panel's never give an answer, so it cannot decide."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import openai
import pytest
from asgi_lifespan import LifespanManager

from aragora.agents.fakes.servers import Answer, FakeProvider
from aragora.server.app import create_app

from ..server.support import ADMIN, live_server, make_settings, node_of


@pytest.fixture
async def base_url(tmp_path: Path) -> AsyncIterator[str]:
    async with (
        FakeProvider("openai") as answering,
        # Prose without an ANSWER line: each agent abstains, so there is no quorum.
        FakeProvider("openai", default=Answer("I would rather not say.")) as quiet,
        _server(tmp_path, answering, quiet) as url,
    ):
        yield url


@contextlib.asynccontextmanager
async def _server(
    tmp_path: Path, answering: FakeProvider, quiet: FakeProvider
) -> AsyncIterator[str]:
    agents = [f"openai-compatible:fake@{answering.base_url}#{n}" for n in "abc"]
    silent = [f"openai-compatible:fake@{quiet.base_url}#{n}" for n in "abc"]
    settings = make_settings(
        tmp_path,
        ARAGORA_DEFAULT_AGENTS=",".join(agents),
        ARAGORA_PANELS=json.dumps(
            {"silent": {"agents": silent, "mode": "vote", "description": "Never answers."}}
        ),
        ARAGORA_REQUIRE_AUTH="true",
    )
    app = create_app(settings)
    async with LifespanManager(app), live_server(app) as url:
        await node_of(app).tokens.create(name="viewer", role="viewer", secret="viewer-secret-1")
        yield url


def _client(base_url: str, key: str = ADMIN, prefix: str = "/v1") -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=base_url + prefix, api_key=key, max_retries=0, timeout=60)


async def test_a_completion_is_the_panels_verdict(base_url: str) -> None:
    async with _client(base_url) as client:
        answer = await client.chat.completions.create(
            model="aragora/vote",
            messages=[
                {"role": "system", "content": "Answer with a number."},
                {"role": "user", "content": "What is 2+2?"},
            ],
        )
    assert answer.choices[0].message.content == "4"
    assert answer.choices[0].finish_reason == "stop"
    extension = answer.model_extra["aragora"] if answer.model_extra else {}
    assert extension["decided"] is True
    assert extension["verdict"] == "4"
    assert extension["receipt"]["id"].startswith("rcpt_")
    assert answer.id == f"chatcmpl-{extension['debate_id']}"
    async with httpx.AsyncClient(base_url=base_url) as http:
        headers = {"Authorization": f"Bearer {ADMIN}"}
        document = (await http.get(extension["url"], headers=headers)).json()
    # The debate is stored like any other; usage is every token of it.
    assert document["status"] == "completed"
    assert document["mode"] == "vote"
    assert document["context"] == "System: Answer with a number."
    assert answer.usage is not None
    assert answer.usage.total_tokens == document["cost"]["tokens"] > 0
    assert answer.usage.prompt_tokens == document["cost"]["input_tokens"]
    assert answer.usage.completion_tokens == document["cost"]["output_tokens"]


async def test_a_streamed_completion(base_url: str) -> None:
    async with _client(base_url, prefix="/api/v1/openai") as client:
        stream = await client.chat.completions.create(
            model="aragora/auto",
            messages=[{"role": "user", "content": "What is 2+2?"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "4"
    finish = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(finish) == 1
    assert finish[0].choices[0].finish_reason == "stop"
    extension = finish[0].model_extra["aragora"] if finish[0].model_extra else {}
    assert extension["verdict"] == "4"
    assert len({c.id for c in chunks}) == 1
    usage = chunks[-1]
    assert usage.choices == []
    assert usage.usage is not None
    assert usage.usage.total_tokens == extension["cost"]["tokens"] > 0


async def test_the_raw_stream_keeps_alive_and_ends_with_done(base_url: str) -> None:
    body = {
        "model": "aragora/vote",
        "stream": True,
        "messages": [{"role": "user", "content": "What is 2+2?"}],
    }
    headers = {"Authorization": f"Bearer {ADMIN}"}
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=60) as http,
        http.stream("POST", "/v1/chat/completions", json=body, headers=headers) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = (await response.aread()).decode().split("\n\n")
    assert events[-1] == ""
    assert events[-2] == "data: [DONE]"
    comments = [e for e in events if e.startswith(":")]
    data = [json.loads(e.removeprefix("data: ")) for e in events[:-2] if e.startswith("data: ")]
    assert any(c.startswith(": propose") for c in comments)  # the panel at work, as comments
    first_verdict = next(i for i, e in enumerate(events) if '"content":"4"' in e)
    assert max(i for i, e in enumerate(events) if e.startswith(":")) < first_verdict
    assert all(d["object"] == "chat.completion.chunk" for d in data)
    assert data[-1]["choices"][0]["finish_reason"] == "stop"
    assert "usage" not in data[-1]


async def test_a_panel_without_a_decision_says_so(base_url: str) -> None:
    async with _client(base_url) as client:
        models = [m.id for m in (await client.models.list()).data]
        assert "aragora/silent" in models
        answer = await client.chat.completions.create(
            model="aragora/silent", messages=[{"role": "user", "content": "What is 2+2?"}]
        )
        stream = await client.chat.completions.create(
            model="aragora/silent",
            messages=[{"role": "user", "content": "What is 2+2?"}],
            stream=True,
        )
        chunks = [chunk async for chunk in stream]
    choice = answer.choices[0]
    assert choice.finish_reason == "no_decision"
    assert choice.message.content is not None
    assert choice.message.content.startswith("No decision was reached")
    extension = answer.model_extra["aragora"] if answer.model_extra else {}
    assert extension["decided"] is False
    assert extension["verdict"] is None
    assert extension["status"] == "failed"
    assert extension["outcome"] == "no_quorum"
    assert extension["receipt"] is None
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed.startswith("No decision was reached")
    assert chunks[-1].choices[0].finish_reason == "no_decision"


async def test_models(base_url: str) -> None:
    async with _client(base_url, key="viewer-secret-1") as client:
        models = {m.id: m for m in (await client.models.list()).data}
        one = await client.models.retrieve("aragora/debate")
        with pytest.raises(openai.NotFoundError):
            await client.models.retrieve("aragora/nope")
    assert list(models)[:3] == ["aragora/auto", "aragora/debate", "aragora/vote"]
    assert one.id == "aragora/debate"
    assert one.owned_by == "aragora"
    extra = models["aragora/silent"].model_extra or {}
    assert extra["aragora"]["mode"] == "vote"
    assert len(extra["aragora"]["agents"]) == 3


async def test_bad_input_in_openais_error_shape(base_url: str) -> None:
    user = [{"role": "user", "content": "What is 2+2?"}]
    async with _client(base_url) as client:
        with pytest.raises(openai.NotFoundError) as unknown:
            await client.chat.completions.create(model="gpt-4o", messages=user)  # type: ignore[arg-type]
        with pytest.raises(openai.BadRequestError) as empty:
            await client.chat.completions.create(model="aragora/auto", messages=[])
        with pytest.raises(openai.BadRequestError) as no_user:
            await client.chat.completions.create(
                model="aragora/auto", messages=[{"role": "system", "content": "Be brief."}]
            )
    assert unknown.value.code == "model_not_found"
    assert unknown.value.type == "not_found_error"
    assert "aragora/auto" in unknown.value.message
    assert empty.value.type == "invalid_request_error"
    assert "messages" in empty.value.message
    assert no_user.value.code == "invalid_input"
    assert "user message" in no_user.value.message
    async with httpx.AsyncClient(base_url=base_url) as http:
        headers = {"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"}
        broken = await http.post("/v1/chat/completions", content=b"{", headers=headers)
        missing = await http.get("/v1/nothing-here", headers=headers)
    assert broken.status_code == 400
    assert broken.json()["error"]["type"] == "invalid_request_error"
    assert missing.status_code == 404
    assert set(missing.json()["error"]) == {
        "message",
        "type",
        "param",
        "code",
    }


async def test_token_auth_as_the_rest_of_the_api(base_url: str) -> None:
    user = [{"role": "user", "content": "What is 2+2?"}]
    async with _client(base_url, key="not-a-token") as client:
        with pytest.raises(openai.AuthenticationError) as wrong:
            await client.models.list()
    assert wrong.value.type == "authentication_error"
    async with _client(base_url, key="viewer-secret-1") as client:
        with pytest.raises(openai.PermissionDeniedError) as viewer:
            await client.chat.completions.create(model="aragora/vote", messages=user)  # type: ignore[arg-type]
    assert viewer.value.type == "permission_error"
    async with httpx.AsyncClient(base_url=base_url) as http:
        anonymous = await http.get("/v1/models")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert anonymous.json()["error"]["type"] == "authentication_error"
