"""Recovery as a user lives it: after an outage opened the breakers, the next debate waits
visibly for its agents instead of failing in milliseconds, and when they are back it
completes — with the real provider stack over real HTTP."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from aragora.agents.fakes.servers import FakeProvider
from aragora.agents.providers import BreakerPolicy, ProviderHub
from aragora.agents.registry import AgentRegistry
from aragora.debate.engine import DebateEngine
from aragora.debate.events import EventType
from aragora.debate.invariants import check_log
from aragora.debate.model import Participant, Task
from aragora.debate.normalize import lexical_similarity
from aragora.debate.ports import LLM, SystemClock
from aragora.debate.prompting import PromptBook
from aragora.debate.protocol import DebateProtocol, Mode
from aragora.debate.state import DebateSetup
from aragora.errors import UnavailableError
from aragora.runtime.eventlog import MemoryEventLog
from aragora.runtime.service import _refuse_if_all_down

from .support import FAST_RETRY, config_for, debater

RESET = 0.6  # seconds an open breaker refuses before its half-open probe


def panel_of(registry: AgentRegistry, base_url: str) -> dict[str, LLM]:
    spec = f"openai-compatible:m@{base_url}"
    return {name: registry.create(f"{spec}#{name}", trusted=True) for name in ("a", "b", "c")}


def setup(agents: dict[str, LLM], debate_id: str) -> DebateSetup:
    return DebateSetup(
        debate_id=debate_id,
        task=Task("Is 17 a prime number?"),
        protocol=DebateProtocol(mode=Mode.VOTE, agent_timeout=5.0, debate_timeout=60.0),
        panel=tuple(
            Participant(n, f"openai-compatible#{n}", "openai-compatible", "m") for n in agents
        ),
        seed=1,
    )


async def run(log: MemoryEventLog, agents: dict[str, LLM], debate_id: str) -> dict[str, Any]:
    engine = DebateEngine(
        sink=log,
        clock=SystemClock(),
        similarity=lexical_similarity,
        prompts=PromptBook.default(),
        agent_wait=10.0,
    )
    state = await engine.start(setup(agents, debate_id), agents)
    assert check_log(log.events(debate_id)) == []
    assert state.result is not None
    return state.result.to_wire()


async def test_after_an_outage_the_next_debate_waits_for_its_agents_and_completes() -> None:
    async with (
        FakeProvider("openai", debater("Yes")) as fake,
        ProviderHub(
            config_for(
                fake,
                breaker=BreakerPolicy(failure_threshold=1, reset_timeout=RESET),
                retry=replace(FAST_RETRY, connect_retry=0.3, connect_base_delay=0.05),
            )
        ) as hub,
    ):
        registry = AgentRegistry()
        hub.register(registry)
        agents = panel_of(registry, fake.base_url)
        await fake.kill()
        log = MemoryEventLog()
        first = await run(log, agents, "during")
        assert first["status"] == "failed"  # the server was down the whole debate
        # The breakers are open now: a debate refused at creation when the operator wants it
        waits = [llm.unavailable_for() for llm in agents.values()]  # type: ignore[attr-defined]
        assert all(w is not None and 0 < w <= RESET for w in waits)
        with pytest.raises(UnavailableError, match="every agent of the panel is unavailable") as e:
            _refuse_if_all_down([(p, agents[p.name]) for p in setup(agents, "x").panel])
        assert e.value.code == "agents_unavailable"
        assert 1.0 <= e.value.retry_after <= RESET + 1
        # ... or, by default, waiting for them, visibly, while the server comes back.
        await fake.revive()
        second = await run(log, agents, "after")
    events = log.events("after")
    waits = [e for e in events if e.data.get("code") == "waiting_for_agents"]
    assert len(waits) == 1
    assert "waiting for agents: none of 3 can answer now" in waits[0].data["message"]
    assert second["status"] == "completed"
    assert second["final_answer"] == "Yes"
    assert not [e for e in events if e.type == EventType.AGENT_ERROR]
