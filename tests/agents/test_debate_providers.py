"""Whole debates over real HTTP against the fake providers: a mixed panel completes; a
rate-limited Anthropic falls back to OpenRouter; with every provider down the debate fails
with a clear error."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from aragora import wiring
from aragora.agents.fakes.servers import Fail, FakeProvider
from aragora.agents.providers import ProviderHub
from aragora.cli.main import main
from aragora.debate.events import EventType
from aragora.debate.model import Task
from aragora.debate.protocol import DebateProtocol, Mode
from aragora.debate.state import DebateSetup
from aragora.runtime.document import debate_document
from aragora.runtime.eventlog import MemoryEventLog
from aragora.settings import load_settings

from .support import KEYS, debater, hub_for

PANEL = ["anthropic:claude-sonnet-4-5", "openai:gpt-4o", "gemini:gemini-2.5-flash"]
TASK = "What is 2 + 2?"


async def run_debate(
    hub: ProviderHub, specs: list[str], **protocol: Any
) -> tuple[dict[str, Any], MemoryEventLog]:
    settings = load_settings({"ARAGORA_DEMO_DELAY": "0"})
    panel = wiring.build_panel(specs, settings, seed=7, trusted=True, hub=hub)
    setup = DebateSetup(
        debate_id=str(uuid.uuid4()),
        task=Task(TASK),
        protocol=DebateProtocol(mode=Mode.DEBATE, rounds=1, agent_timeout=10.0, **protocol),
        panel=tuple(participant for participant, _ in panel),
        seed=7,
    )
    log = MemoryEventLog()
    engine = wiring.build_engine(settings, sink=log)
    await engine.start(setup, {p.name: llm for p, llm in panel})
    return debate_document(setup.debate_id, log.events(setup.debate_id)), log


async def test_a_mixed_panel_completes_with_costs() -> None:
    async with (
        FakeProvider("anthropic", debater(), model="claude-sonnet-4-5") as claude,
        FakeProvider("openai", debater(), model="gpt-4o") as gpt,
        FakeProvider("gemini", debater(), model="gemini-2.5-flash") as gemini,
    ):
        hub = hub_for(claude, gpt, gemini)
        async with hub:
            document, _ = await run_debate(hub, PANEL)
    assert document["status"] == "completed", document["error"]
    assert document["final_answer"] == "4"
    assert {a["provider"] for a in document["agents"]} == {"anthropic", "openai", "gemini"}
    phases = {m["role"] for m in document["messages"]}
    assert phases >= {"proposal", "critique", "revision"}
    cost = document["cost"]
    assert cost["tokens"] > 0
    assert cost["usd"] > 0
    assert set(cost["per_agent"]) == set(PANEL)
    assert all(entry["usd"] > 0 for entry in cost["per_agent"].values())
    assert all(fake.requests for fake in (claude, gpt, gemini))


async def test_anthropic_rate_limited_forever_falls_back_to_openrouter() -> None:
    async with (
        FakeProvider("anthropic", default=Fail(429, retry_after="0")) as claude,
        FakeProvider("openai", debater(), model="gpt-4o") as gpt,
        FakeProvider("gemini", debater(), model="gemini-2.5-flash") as gemini,
        FakeProvider("openai", debater(), model="anthropic/claude-sonnet-4.5") as router,
    ):
        hub = hub_for(claude, gpt, gemini, router, openrouter_fallback=True)
        async with hub:
            document, log = await run_debate(hub, PANEL)
    assert document["status"] == "completed", document["error"]
    events = log.events(document["id"])
    hops = [e for e in events if e.type == EventType.AGENT_FALLBACK]
    assert hops
    assert {(e.agent, e.data["from_provider"], e.data["to_provider"]) for e in hops} == {
        ("anthropic:claude-sonnet-4-5", "anthropic", "openrouter")
    }
    assert {e.data["reason"] for e in hops} == {"rate_limited"}
    assert hops[0].data["to_model"] == "anthropic/claude-sonnet-4.5"
    answered = [e for e in events if e.agent == "anthropic:claude-sonnet-4-5" and "usage" in e.data]
    assert answered
    assert {e.data["provider"] for e in answered} == {"openrouter"}
    assert not [e for e in events if e.type == EventType.AGENT_ERROR]
    assert router.requests
    assert all(r.body["model"] == "anthropic/claude-sonnet-4.5" for r in router.requests)


async def test_every_provider_down_fails_cleanly_with_a_clear_error() -> None:
    async with (
        FakeProvider("anthropic", default=Fail(529)) as claude,
        FakeProvider("openai", default=Fail(500)) as gpt,
        FakeProvider("gemini", default=Fail(503)) as gemini,
        FakeProvider("openai", default=Fail(502)) as router,
    ):
        hub = hub_for(claude, gpt, gemini, router, openrouter_fallback=True)
        async with hub:
            document, log = await run_debate(hub, PANEL)
    assert document["status"] == "failed"
    assert document["final_answer"] is None
    assert document["error"].startswith("quorum lost: 0 of 3 agents working")
    assert all(agent["failed"] for agent in document["agents"])
    errors = {e.agent: e.data for e in log.events(document["id"]) if e.type == "agent_error"}
    assert set(errors) == set(PANEL)
    # each agent's own reason, naming the provider, the status and the fallback tried
    assert errors[PANEL[0]]["kind"] == "server_error"  # OpenRouter's 502, after Anthropic's 529
    assert "anthropic:claude-sonnet-4-5 overloaded" in errors[PANEL[0]]["error"]
    assert errors[PANEL[1]]["kind"] == "server_error"
    assert "openai: 500" in errors[PANEL[1]]["error"]
    assert errors[PANEL[2]]["kind"] == "server_error"
    assert "gemini:gemini-2.5-flash overloaded" in errors[PANEL[2]]["error"]
    for key in KEYS.values():
        assert key not in json.dumps(document)


async def test_a_budget_the_next_calls_would_cross_stops_them_before_they_are_made() -> None:
    async with (
        FakeProvider("anthropic", debater(), model="claude-sonnet-4-5") as claude,
        FakeProvider("openai", debater(), model="gpt-4o") as gpt,
        FakeProvider("gemini", debater(), model="gemini-2.5-flash") as gemini,
    ):
        hub = hub_for(claude, gpt, gemini)
        async with hub:
            # three proposals of up to 1,024 output tokens at list prices cost ~$0.03
            document, _ = await run_debate(hub, PANEL, max_cost_usd=0.001)
    assert [w["code"] for w in document["warnings"]] == ["budget_exhausted"]
    assert document["cost"]["usd"] == 0
    assert [len(fake.requests) for fake in (claude, gpt, gemini)] == [0, 0, 0]


# -- the command line ---------------------------------------------------------------------


class BackgroundFakes:
    """Fake providers served from their own event loop in a thread, so a command that
    runs its own loop (``aragora debate``) can reach them."""

    def __init__(self, *fakes: FakeProvider) -> None:
        self.fakes = fakes
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def __enter__(self) -> BackgroundFakes:
        self._thread.start()
        for fake in self.fakes:
            asyncio.run_coroutine_threadsafe(fake.start(), self._loop).result(5)
        return self

    def __exit__(self, *exc: object) -> None:
        for fake in self.fakes:
            asyncio.run_coroutine_threadsafe(fake.close(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()


@pytest.fixture
def provider_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    fakes = (
        FakeProvider("anthropic", debater(), model="claude-sonnet-4-5"),
        FakeProvider("openai", debater(), model="gpt-4o"),
        FakeProvider("gemini", debater(), model="gemini-2.5-flash"),
    )
    with BackgroundFakes(*fakes):
        claude, gpt, gemini = fakes
        monkeypatch.setenv("ANTHROPIC_API_KEY", KEYS["anthropic"])
        monkeypatch.setenv("OPENAI_API_KEY", KEYS["openai"])
        monkeypatch.setenv("GEMINI_API_KEY", KEYS["gemini"])
        monkeypatch.setenv("ANTHROPIC_BASE_URL", claude.base_url)
        monkeypatch.setenv("OPENAI_BASE_URL", gpt.base_url)
        monkeypatch.setenv("GEMINI_BASE_URL", gemini.base_url)
        monkeypatch.setenv("ARAGORA_DEFAULT_AGENTS", ",".join(PANEL))
        yield


@pytest.mark.usefixtures("provider_env")
def test_aragora_debate_runs_a_mixed_panel_and_shows_cost(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["debate", TASK, "--mode", "vote", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "Verdict: 4" in out
    assert "Cost:" in out
    assert "$0.0000" not in out.split("Cost:", 1)[1].splitlines()[0]


@pytest.mark.usefixtures("provider_env")
def test_aragora_agents_lists_provider_model_and_status(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["agents"]) == 0
    out = capsys.readouterr().out
    for spec in PANEL:
        provider, model = spec.split(":")
        assert any(line.startswith(spec) and provider in line and model in line and "ready" in line
                   for line in out.splitlines()), out  # fmt: skip
    assert "agents: healthy" in out
    assert main(["agents", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert listing["total"] == len(listing["agents"]) == 3
    assert listing["health"] == "healthy"
    assert all(a["status"] == "ready" for a in listing["agents"])


def test_aragora_agents_shows_a_missing_key(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARAGORA_DEFAULT_AGENTS", "anthropic:claude-sonnet-4-5,demo")
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    assert main(["agents"]) == 0
    out = capsys.readouterr().out
    assert "not_configured" in out
    assert "ANTHROPIC_API_KEY is not set" in out


def test_aragora_debate_with_a_keyless_provider_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert main(["debate", TASK, "--agents", "openai:gpt-4o,demo"]) == 2
    err = capsys.readouterr().err
    assert "agent spec 'openai:gpt-4o': OPENAI_API_KEY is not set" in err


def test_settings_become_the_provider_config() -> None:
    settings = load_settings(
        {
            "ANTHROPIC_API_KEY": "a-key",
            "OPENROUTER_API_KEY": "or-key",
            "ARAGORA_AGENT_TIMEOUT": "40",
            "OLLAMA_HOST": "gpu:11434",
        }
    )
    config = wiring.provider_config(settings)
    assert config.api_keys == {"anthropic": "a-key", "openrouter": "or-key"}
    assert config.openrouter_fallback is True  # derived from the OpenRouter key
    assert (config.call_timeout, config.fallback_hop_timeout) == (40.0, 20.0)
    assert config.ollama_host == "http://gpu:11434"
    untrusted = load_settings({"ARAGORA_AGENT_ENDPOINTS": "http://gpu:8000/v1"})
    with pytest.raises(Exception, match="ARAGORA_AGENT_ENDPOINTS"):
        wiring.build_panel(["openai-compatible:m@http://10.0.0.1/v1"], untrusted)
    [(participant, _)] = wiring.build_panel(["openai-compatible:m@http://gpu:8000/v1"], untrusted)
    assert participant.model == "m"
