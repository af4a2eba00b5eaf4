"""Agent specs to panels: providers as plugins, naming rules, errors."""

from __future__ import annotations

import asyncio

import pytest

from aragora.agents import registry as registry_module
from aragora.agents.demo.personas import PERSONAS, DemoLLM, persona_for
from aragora.agents.fakes.scripted import ScriptedLLM, reply_with
from aragora.agents.registry import (
    MAX_AGENTS,
    AgentRegistry,
    build_panel,
    default_registry,
)
from aragora.debate.model import AgentSpec, Participant
from aragora.debate.ports import LLM, CompletionRequest
from aragora.errors import ConfigurationError, InvalidAgentSpecError, InvalidInputError

TASK = "Should a five-person startup run PostgreSQL or SQLite?"


def names(specs: list[str]) -> list[str]:
    return [participant.name for participant, _ in build_panel(specs)]


def propose(llm: LLM) -> str:
    assert isinstance(llm, DemoLLM)
    return llm.reply(CompletionRequest("", "", "propose", metadata={"task": TASK}))


def test_public_api() -> None:
    assert registry_module.__all__ == [
        "MAX_AGENTS",
        "AgentRegistry",
        "ProviderFactory",
        "build_panel",
        "default_registry",
        "demo_factory",
    ]


def test_plain_demo_specs_get_personas_in_order() -> None:
    panel = build_panel(["demo", "demo", "demo"])
    assert [p for p, _ in panel] == [
        Participant(name=f"demo:{persona}", spec="demo", provider="demo", model=persona)
        for persona in PERSONAS[:3]
    ]
    assert [llm.model for _, llm in panel] == list(PERSONAS[:3])
    assert all(llm.provider == "demo" for _, llm in panel)


def test_the_default_panel_disagrees_on_the_sample_question() -> None:
    answers = {propose(llm).split("\n", 1)[0] for _, llm in build_panel(["demo"] * 3)}
    assert len(answers) > 1


def test_named_demo_agents() -> None:
    panel = build_panel(["demo:skeptic", "demo:alice", "demo:Optimist"])
    assert [p.name for p, _ in panel] == ["demo:skeptic", "demo:alice", "demo:Optimist"]
    assert [p.model for p, _ in panel] == ["skeptic", persona_for("alice"), "optimist"]
    assert [p.spec for p, _ in panel] == ["demo:skeptic", "demo:alice", "demo:Optimist"]


def test_plain_demos_skip_personas_named_explicitly() -> None:
    assert names(["demo:pragmatist", "demo", "demo"]) == [
        "demo:pragmatist",
        "demo:skeptic",
        "demo:optimist",
    ]


def test_labels_win_and_repeats_get_suffixes() -> None:
    assert names(["demo#judge", "demo:skeptic", "demo:skeptic", "demo:skeptic"]) == [
        "judge",
        "demo:skeptic",
        "demo:skeptic#2",
        "demo:skeptic#3",
    ]
    assert names(["demo#x", "demo#x", "demo#X"]) == ["x", "x#2", "X#3"]
    # an explicit label keeps its name even when an earlier agent would have taken it
    assert names(["demo:skeptic", "demo:skeptic", "demo#demo:skeptic#2"]) == [
        "demo:skeptic",
        "demo:skeptic#3",
        "demo:skeptic#2",
    ]


def test_more_demos_than_personas_cycle_and_still_differ() -> None:
    panel = build_panel(["demo"] * (len(PERSONAS) + 1))
    first, last = panel[0], panel[-1]
    assert last[0].name == f"demo:{PERSONAS[0]}#2"
    assert last[1].model == first[1].model == PERSONAS[0]
    replies = {propose(llm) for _, llm in build_panel(["demo:pragmatist"] * 12)}
    assert len(replies) > 1


def test_same_specs_and_seed_give_the_same_panel() -> None:
    specs = ["demo", "demo:alice", "demo#j"]
    once = [(p, propose(llm)) for p, llm in build_panel(specs, seed=5)]
    assert [(p, propose(llm)) for p, llm in build_panel(specs, seed=5)] == once


async def test_demo_delay_reaches_the_agents(monkeypatch: pytest.MonkeyPatch) -> None:
    pauses: list[float] = []

    async def record(seconds: float) -> None:
        pauses.append(seconds)

    monkeypatch.setattr(asyncio, "sleep", record)
    [(_, llm)] = build_panel(["demo"], demo_delay=0.25)
    await llm.complete(CompletionRequest("", "", "propose", metadata={"task": TASK}))
    assert sum(pauses) == pytest.approx(0.25)


@pytest.mark.parametrize("spec", ["", "   ", "nocolon", "openai:", "demo#", "bad provider:x"])
def test_malformed_specs_name_the_spec(spec: str) -> None:
    with pytest.raises(InvalidAgentSpecError) as caught:
        build_panel(["demo", spec])
    assert caught.value.spec.strip() == spec.strip()


def test_unknown_provider_lists_the_available_ones() -> None:
    with pytest.raises(InvalidAgentSpecError, match="'acme' is unknown; available providers: demo"):
        build_panel(["demo", "acme:large"])


def test_a_provider_not_registered_yet_is_not_available() -> None:
    with pytest.raises(InvalidAgentSpecError) as caught:
        build_panel(["openai:gpt-4o#critic"])
    assert caught.value.spec == "openai:gpt-4o#critic"
    assert "'openai' is not available; available providers: demo" in str(caught.value)


def test_panel_size_limits() -> None:
    with pytest.raises(InvalidInputError, match="at least one agent"):
        build_panel([])
    with pytest.raises(InvalidInputError, match=f"at most {MAX_AGENTS} agents"):
        build_panel(["demo"] * (MAX_AGENTS + 1))
    assert len(build_panel(["demo"] * MAX_AGENTS)) == MAX_AGENTS
    with pytest.raises(InvalidInputError, match="list"):
        build_panel("demo,demo")


def test_providers_are_plugins() -> None:
    made: list[tuple[AgentSpec, int]] = []

    def acme(spec: AgentSpec, *, seed: int) -> LLM:
        made.append((spec, seed))
        return ScriptedLLM(reply_with("42"), provider="acme", model=spec.model)

    registry = default_registry()
    registry.register("acme", acme)
    assert registry.providers == ("acme", "demo", "sim")
    panel = registry.build_panel(["acme:large", "acme:large#b", "demo"], seed=10)
    assert [p for p, _ in panel] == [
        Participant("acme:large", "acme:large", "acme", "large"),
        Participant("b", "acme:large#b", "acme", "large"),
        Participant("demo:pragmatist", "demo", "demo", "pragmatist"),
    ]
    assert [seed for _, seed in made] == [10, 11]  # a repeated provider:model gets its own
    assert made[1][0] == AgentSpec("acme", "large", label="b")


def test_registration_rules() -> None:
    registry = AgentRegistry()
    assert registry.providers == ()
    with pytest.raises(InvalidAgentSpecError, match="available providers: none"):
        registry.build_panel(["demo"])

    def factory(spec: AgentSpec, *, seed: int) -> LLM:
        return ScriptedLLM([])

    registry.register("acme", factory)
    with pytest.raises(ConfigurationError, match="already registered"):
        registry.register("acme", factory)
    registry.register("acme", factory, replace=True)
    with pytest.raises(ConfigurationError, match="invalid provider name"):
        registry.register("Not Valid", factory)


def test_a_factory_must_build_an_llm() -> None:
    registry = AgentRegistry()
    registry.register("acme", lambda spec, *, seed: object())  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="not an LLM"):
        registry.build_panel(["acme:x"])


def test_create_builds_one_agent() -> None:
    registry = default_registry()
    assert registry.create("demo").model == PERSONAS[0]
    assert registry.create("demo:contrarian#j").model == "contrarian"
    with pytest.raises(InvalidAgentSpecError):
        registry.create("acme:x")
