"""Resuming from ANY prefix of a debate's log reaches the uninterrupted result, re-asking
only the agent calls whose results are not in the prefix."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aragora.agents.fakes.scripted import ScriptedLLM
from aragora.debate.ports import CompletionRequest
from aragora.debate.protocol import ConsensusRule, DebateProtocol, Mode
from aragora.debate.state import CallKey, fold
from aragora.errors import ProviderError
from aragora.runtime.eventlog import MemoryEventLog

from .helpers import engine_for, setup_for, stance

Reply = Callable[[CompletionRequest], str | BaseException]

STANCES: list[Reply] = [
    stance(["PostgreSQL", "PostgreSQL"]),
    stance(["SQLite", "SQLite", "PostgreSQL"]),
    stance(["SQLite"], confidence=0.9),
    stance(["Use both", "PostgreSQL"], confidence=0.4),
    stance(["  sqlite. "]),
]


def flaky_in(phase: str) -> Reply:
    """Fails deterministically in one phase (so the failure is part of the log)."""

    def reply(request: CompletionRequest) -> str | BaseException:
        if request.phase == phase:
            return ProviderError("overloaded", kind="overloaded")
        return stance("SQLite")(request)

    return reply


def garbage(request: CompletionRequest) -> str:
    return "" if request.phase == "revise" else "I refuse to follow formats."


scenarios = st.fixed_dictionaries(
    {
        "mode": st.sampled_from(list(Mode)),
        "rule": st.sampled_from(list(ConsensusRule)),
        "rounds": st.integers(1, 3),
        "early_stop": st.booleans(),
        "replies": st.lists(
            st.sampled_from([*STANCES, flaky_in("critique"), flaky_in("vote"), garbage]),
            min_size=2,
            max_size=5,
        ),
        "seed": st.integers(0, 2**31),
    }
)


def build(replies: list[Reply]) -> dict[str, ScriptedLLM]:
    return {f"a{i}": ScriptedLLM(reply) for i, reply in enumerate(replies, start=1)}


def keys(agents: dict[str, ScriptedLLM]) -> list[CallKey]:
    return sorted(
        (
            CallKey(c.phase, int(c.metadata["round"]), name)
            for name, agent in agents.items()
            for c in agent.calls
        ),
        key=lambda k: (k.phase, k.round, k.agent),
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios, data=st.data())
def test_resume_from_any_prefix_matches_uninterrupted_run(
    scenario: dict[str, object], data: st.DataObject
) -> None:
    replies: list[Reply] = scenario["replies"]  # type: ignore[assignment]
    protocol = DebateProtocol(
        mode=scenario["mode"],  # type: ignore[arg-type]
        consensus=scenario["rule"],  # type: ignore[arg-type]
        rounds=scenario["rounds"],  # type: ignore[arg-type]
        early_stop=scenario["early_stop"],  # type: ignore[arg-type]
        judge="a2" if scenario["rule"] is ConsensusRule.JUDGE else None,
    )

    async def scenario_run() -> None:
        full_agents = build(replies)
        full_log = MemoryEventLog()
        setup = setup_for(full_agents, protocol, seed=scenario["seed"])  # type: ignore[arg-type]
        full = await engine_for(full_log).start(setup, full_agents)
        events = full_log.events(setup.debate_id)

        cut = data.draw(st.integers(1, len(events)), label="cut")
        prefix = events[:cut]
        # derived votes (vote mode, one option) are logged as answered but were never calls
        already = fold(prefix).answered & set(full_calls := keys(full_agents))

        resumed_agents = build(replies)
        resumed_log = MemoryEventLog()
        for event in prefix:
            await resumed_log.append(event)
        resumed = await engine_for(resumed_log).resume(prefix, resumed_agents)

        assert resumed.result == full.result
        asked = keys(resumed_agents)
        assert not set(asked) & already, "a call already in the log was made again"
        assert sorted([*asked, *already], key=lambda k: (k.phase, k.round, k.agent)) == full_calls
        resumed_events = resumed_log.events(setup.debate_id)
        assert [e.seq for e in resumed_events] == list(range(1, len(resumed_events) + 1))
        assert [e.type for e in resumed_events] == [e.type for e in events]

    asyncio.run(scenario_run())


FIXED = [
    # a failure in mid-phase must not change what the phase's other calls see
    (Mode.DEBATE, ConsensusRule.MAJORITY, [flaky_in("critique"), STANCES[0]]),
    # failures in the vote phase while others' votes are in flight
    (Mode.DEBATE, ConsensusRule.MAJORITY, [*STANCES[:3], flaky_in("vote"), flaky_in("vote")]),
    (Mode.VOTE, ConsensusRule.JUDGE, [STANCES[1], flaky_in("vote"), STANCES[2], garbage]),
    (Mode.AUTO, ConsensusRule.WEIGHTED, [STANCES[0], STANCES[1], STANCES[3]]),
]


def test_resume_from_every_cut_of_fixed_scenarios() -> None:
    async def check(mode: Mode, rule: ConsensusRule, replies: list[Reply]) -> None:
        protocol = DebateProtocol(mode=mode, consensus=rule, rounds=2, early_stop=False)
        full_agents = build(replies)
        full_log = MemoryEventLog()
        setup = setup_for(full_agents, protocol, seed=3)
        full = await engine_for(full_log).start(setup, full_agents)
        events = full_log.events(setup.debate_id)
        for cut in range(1, len(events) + 1):
            agents = build(replies)
            log = MemoryEventLog()
            for event in events[:cut]:
                await log.append(event)
            resumed = await engine_for(log).resume(events[:cut], agents)
            assert resumed.result == full.result, f"cut {cut}"
            already = fold(events[:cut]).answered
            assert not set(keys(agents)) & already, f"cut {cut}"

    for mode, rule, replies in FIXED:
        asyncio.run(check(mode, rule, replies))
