"""The debate engine end to end, with scripted agents: modes, rules, faults, stops."""

from __future__ import annotations

import asyncio

import pytest

from aragora.agents.fakes.scripted import ScriptedLLM
from aragora.debate.events import EventType
from aragora.debate.ports import CompletionRequest, FakeClock
from aragora.debate.protocol import ConsensusRule, DebateProtocol, Mode
from aragora.errors import ProviderError
from aragora.runtime.eventlog import MemoryEventLog

from .helpers import engine_for, panel, run, setup_for, stance, types


def protocol(**changes: object) -> DebateProtocol:
    return DebateProtocol(**changes)  # type: ignore[arg-type]


async def test_debate_mode_runs_rounds_and_votes() -> None:
    agents = panel(
        stance(["PostgreSQL", "PostgreSQL"]),
        stance(["SQLite", "SQLite", "SQLite"]),
        stance(["PostgreSQL"]),
    )
    result, events = await run(agents, protocol(mode=Mode.DEBATE, rounds=2, early_stop=False))
    assert result["status"] == "completed"
    assert result["final_answer"] == "PostgreSQL"
    assert result["consensus_reached"] is True
    assert result["rounds_used"] == 2
    assert len(result["votes"]) == 3
    assert [d["agent"] for d in result["dissent"]] == ["a2"]
    assert result["dissent"][0]["final_position"] == "SQLite"
    kinds = types(events)
    assert kinds[0] == EventType.DEBATE_START
    assert kinds[-1] == EventType.DEBATE_END
    assert kinds.count(EventType.PROPOSE) == 3
    assert kinds.count(EventType.CRITIQUE) == 6
    assert kinds.count(EventType.REVISION) == 6
    assert kinds.count(EventType.ROUND_START) == 2
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert 0 < result["confidence"] <= 1


async def test_debate_records_change_of_mind() -> None:
    agents = panel(
        stance(["PostgreSQL"]),
        stance(["SQLite", "PostgreSQL"]),
        stance(["PostgreSQL"]),
    )
    result, _ = await run(agents, protocol(mode=Mode.DEBATE, rounds=3))
    a2 = next(p for p in result["positions"] if p["agent"] == "a2")
    assert a2["changed_mind"] is True
    assert a2["changed_in_rounds"] == [1]
    assert a2["initial_position"] == "SQLite"
    assert result["dissent"] == []
    # everyone agrees after round 1, so convergence stops the debate early
    assert result["rounds_used"] == 1


async def test_auto_stops_when_independent_answers_agree() -> None:
    agents = panel(stance("Yes"), stance("yes."), stance("YES"))
    result, events = await run(agents, protocol(mode=Mode.AUTO))
    assert result["final_answer"] == "Yes"
    assert result["consensus_reached"] is True
    assert EventType.CRITIQUE not in types(events)
    assert all(a.calls and all(c.phase == "propose" for c in a.calls) for a in agents.values())


async def test_auto_escalates_to_debate_on_disagreement() -> None:
    agents = panel(stance("PostgreSQL"), stance(["SQLite", "PostgreSQL"]), stance("PostgreSQL"))
    result, events = await run(agents, protocol(mode=Mode.AUTO, rounds=3))
    assert EventType.CRITIQUE in types(events)
    assert result["final_answer"] == "PostgreSQL"
    assert result["rounds_used"] == 1


async def test_vote_mode_counts_independent_answers_without_debating() -> None:
    agents = panel(stance("42"), stance("42.0"), stance("41"))
    result, events = await run(agents, protocol(mode=Mode.VOTE))
    assert result["final_answer"] == "42"
    assert result["tally"] == {"42": 2.0, "41": 1.0}
    assert EventType.CRITIQUE not in types(events)
    assert len(result["votes"]) == 3


async def test_single_mode_asks_one_agent() -> None:
    agents = panel(stance("PostgreSQL"), stance("SQLite"), stance("SQLite"))
    result, _ = await run(agents, protocol(mode=Mode.SINGLE))
    assert result["final_answer"] == "PostgreSQL"
    assert len(agents["a1"].calls) == 1
    assert not agents["a2"].calls
    assert not agents["a3"].calls


async def test_single_mode_replaces_a_failed_agent() -> None:
    agents = panel(lambda r: ProviderError("down", kind="server_error"), stance("SQLite"))
    result, events = await run(agents, protocol(mode=Mode.SINGLE))
    assert result["final_answer"] == "SQLite"
    warnings = [e.data["code"] for e in events if e.type == EventType.WARNING]
    assert "agent_replaced" in warnings


@pytest.mark.parametrize(
    ("rule", "threshold", "reached"),
    [
        (ConsensusRule.MAJORITY, 2 / 3, True),
        (ConsensusRule.SUPERMAJORITY, 2 / 3, True),
        (ConsensusRule.SUPERMAJORITY, 0.75, False),
        (ConsensusRule.UNANIMOUS, 2 / 3, False),
    ],
)
async def test_counting_rules(rule: ConsensusRule, threshold: float, reached: bool) -> None:
    agents = panel(stance("Red"), stance("Red"), stance("Blue"))
    result, _ = await run(
        agents, protocol(mode=Mode.VOTE, consensus=rule, supermajority_threshold=threshold)
    )
    assert result["final_answer"] == "Red"
    assert result["consensus_reached"] is reached


async def test_unanimous_when_all_agree() -> None:
    agents = panel(stance("Red"), stance("red"), stance("RED."))
    result, _ = await run(agents, protocol(mode=Mode.VOTE, consensus=ConsensusRule.UNANIMOUS))
    assert result["consensus_reached"] is True


async def test_weighted_rule_follows_confidence() -> None:
    agents = panel(
        stance("Red", confidence=0.3),
        stance("Red", confidence=0.3),
        stance("Blue", confidence=0.95),
    )
    result, _ = await run(agents, protocol(mode=Mode.VOTE, consensus=ConsensusRule.WEIGHTED))
    assert result["final_answer"] == "Blue"
    assert result["consensus_reached"] is True  # 0.95 of 1.55 total weight

    majority, _ = await run(agents, protocol(mode=Mode.VOTE, consensus=ConsensusRule.MAJORITY))
    assert majority["final_answer"] == "Red"


async def test_tie_is_reported_and_not_consensus() -> None:
    agents = panel(stance("Red", confidence=0.6), stance("Blue", confidence=0.9))
    result, _ = await run(agents, protocol(mode=Mode.VOTE))
    assert result["tie"] is True
    assert result["consensus_reached"] is False
    # A tie is no decision, whatever the agents' stated confidence.
    assert result["final_answer"] is None
    assert result["status"] == "completed"
    assert result["outcome"] == "tie"
    assert result["dissent"] == []
    assert result["status"] == "completed"


async def test_judge_never_sees_its_own_answer_and_decides() -> None:
    agents = panel(stance("Red"), stance("Blue"), stance("Green"))
    result, _events = await run(
        agents, protocol(mode=Mode.DEBATE, rounds=1, consensus=ConsensusRule.JUDGE, judge="a1")
    )
    judge_calls = [c for c in agents["a1"].calls if c.phase == "judge"]
    assert len(judge_calls) == 1
    assert "Red" not in judge_calls[0].choices
    assert result["judge"] == "a1"
    assert result["final_answer"] in {"Blue", "Green"}
    assert result["consensus_reached"] is True


async def test_failing_judge_is_replaced() -> None:
    def judge_fails(request):  # type: ignore[no-untyped-def]
        if request.phase == "judge":
            return ProviderError("judge down", kind="overloaded")
        return stance("Red")(request)

    agents = panel(judge_fails, stance("Blue"), stance("Green"))
    result, events = await run(
        agents, protocol(mode=Mode.VOTE, consensus=ConsensusRule.JUDGE, judge="a1")
    )
    codes = [e.data.get("code") for e in events if e.type == EventType.WARNING]
    assert "judge_replaced" in codes
    assert result["judge"] == "a2"
    assert result["final_answer"] in {"Red", "Green"}


async def test_every_agent_failing_fails_the_debate() -> None:
    def down(request):  # type: ignore[no-untyped-def]
        return ProviderError("503 from provider", kind="server_error")

    agents = panel(down, down, down)
    result, events = await run(agents, protocol(mode=Mode.DEBATE))
    assert result["status"] == "failed"
    assert result["final_answer"] is None
    assert types(events).count(EventType.AGENT_ERROR) == 3
    assert "quorum lost" in result["error"]
    assert "503 from provider" in result["error"]  # each agent's reason is in the message


async def test_quorum_loss_stops_a_debate_mid_way() -> None:
    def fails_in_critique(answer: str):  # type: ignore[no-untyped-def]
        def reply(request):  # type: ignore[no-untyped-def]
            if request.phase == "critique":
                return RuntimeError("adapter bug")
            return stance(answer)(request)

        return reply

    agents = panel(stance("Red"), fails_in_critique("Blue"), fails_in_critique("Green"))
    result, events = await run(agents, protocol(mode=Mode.DEBATE))
    assert result["status"] == "failed"
    assert "quorum lost: 1 of 3" in result["error"]
    errors = [e for e in events if e.type == EventType.AGENT_ERROR]
    assert {e.agent for e in errors} == {"a2", "a3"}


async def test_debate_continues_without_a_failed_agent_while_quorum_holds() -> None:
    agents = panel(
        stance("Red"), stance("Red"), lambda r: ProviderError("429", kind="rate_limited")
    )
    result, _ = await run(agents, protocol(mode=Mode.DEBATE, rounds=1))
    assert result["status"] == "completed"
    assert result["final_answer"] == "Red"
    assert result["failed_agents"] == {"a3": "429"}


async def test_agent_timeout_is_recorded_and_debate_goes_on() -> None:
    slow = ScriptedLLM(stance("Blue"), latency=5.0)
    agents = panel(stance("Red"), stance("Red"), slow)
    result, events = await run(agents, protocol(mode=Mode.VOTE, agent_timeout=0.05))
    errors = [e for e in events if e.type == EventType.AGENT_ERROR]
    assert [(e.agent, e.data["kind"]) for e in errors] == [("a3", "timeout")]
    assert result["final_answer"] == "Red"


async def test_debate_timeout_returns_the_partial_result() -> None:
    def slow_after_propose(answer: str) -> ScriptedLLM:
        async def reply(request):  # type: ignore[no-untyped-def]
            if request.phase != "propose":
                await asyncio.sleep(5)
            return stance(answer)(request)

        return ScriptedLLM(reply)

    agents = panel(slow_after_propose("Red"), slow_after_propose("Red"), slow_after_propose("Blue"))
    result, events = await run(agents, protocol(mode=Mode.DEBATE, debate_timeout=0.2))
    assert result["partial"] is True
    assert result["stop_reason"] == "debate_timeout"
    assert result["status"] == "completed"
    assert result["final_answer"] == "Red"
    assert events[-1].type == EventType.DEBATE_END


async def test_the_debate_deadline_is_read_from_the_injected_clock() -> None:
    clock = FakeClock()

    async def late_critic(request: CompletionRequest) -> str:
        if request.phase != "propose":
            if request.metadata["agent"] != "a1":
                await asyncio.sleep(30)  # only the clock can end the debate before this
            clock.advance(200)
        return stance("Blue" if request.metadata["agent"] == "a3" else "Red")(request)

    agents = panel(*(ScriptedLLM(late_critic) for _ in range(3)))
    log = MemoryEventLog()
    setup = setup_for(agents, protocol(mode=Mode.DEBATE, debate_timeout=100))
    async with asyncio.timeout(10):
        state = await engine_for(log, clock=clock).start(setup, agents)
    assert state.result is not None
    assert state.result.stop_reason == "debate_timeout"
    assert state.result.partial is True
    assert state.result.final_answer == "Red"


async def test_cancellation_stops_running_calls() -> None:
    started = asyncio.Event()

    async def hang(request):  # type: ignore[no-untyped-def]
        if request.phase == "critique":
            started.set()
            await asyncio.sleep(30)
        return stance("Red" if request.metadata["agent"] != "a3" else "Blue")(request)

    agents = panel(hang, hang, hang)
    log = MemoryEventLog()
    cancel = asyncio.Event()
    setup = setup_for(agents, protocol(mode=Mode.DEBATE))
    run_task = asyncio.create_task(engine_for(log).start(setup, agents, cancel=cancel))
    await asyncio.wait_for(started.wait(), 5)
    cancel.set()
    state = await asyncio.wait_for(run_task, 5)
    assert state.result is not None
    assert state.result.status == "cancelled"
    assert state.result.stop_reason == "cancelled"
    # No verdict from a cancelled debate; the proposals stay as positions.
    assert state.result.final_answer is None
    assert state.result.consensus_reached is False
    assert {p.final_position for p in state.result.positions} == {"Red", "Blue"}


async def test_token_budget_stops_cleanly() -> None:
    agents = panel(stance("Red"), stance("Blue"), stance("Green"))
    result, events = await run(agents, protocol(mode=Mode.DEBATE, rounds=3, max_tokens=50))
    assert result["stop_reason"] == "budget_exhausted"
    assert result["partial"] is True
    assert EventType.REVISION not in types(events)


@pytest.mark.parametrize("garbage", ["", "   ", "\x00\x01 lorem ipsum", '{"answer": ', "ANSWER:"])
async def test_malformed_and_empty_output_never_crash(garbage: str) -> None:
    agents = panel(stance("Red"), stance("Red"), lambda r: garbage)
    result, events = await run(agents, protocol(mode=Mode.DEBATE, rounds=1))
    assert result["status"] == "completed"
    assert result["final_answer"] == "Red"
    codes = {e.data.get("code") for e in events if e.type == EventType.WARNING}
    assert "invalid_answer" in codes  # the garbage agent abstained, with its reason


async def test_prompts_are_anonymised() -> None:
    agents = panel(stance("Red"), stance("Blue"), stance("Green"))
    await run(agents, protocol(mode=Mode.DEBATE, rounds=1))
    for agent in agents.values():
        for call in agent.calls:
            assert "a1" not in call.prompt
            assert "a2" not in call.prompt
            assert "a3" not in call.prompt
            if call.phase == "critique":
                assert "Agent " in call.prompt


async def test_token_events_are_ephemeral() -> None:
    from aragora.debate.events import Event

    tokens: list[Event] = []
    agents = {name: ScriptedLLM(stance("Red"), stream=True) for name in ("a1", "a2")}
    log = MemoryEventLog()
    await engine_for(log, tokens).start(setup_for(agents, protocol(mode=Mode.VOTE)), agents)
    assert tokens
    assert all(t.type == "token" and t.seq is None for t in tokens)
    assert all(e.type != "token" for e in log.events("d-1"))


class _RoutedLLM:
    """Answers like ``stance`` but reports that the call went through a fallback hop."""

    provider = "anthropic"
    model = "claude-x"

    def __init__(self, answer: str) -> None:
        self._reply = stance(answer)

    async def complete(self, request, on_token=None):  # type: ignore[no-untyped-def]
        from aragora.debate.ports import Completion, Fallback, Usage

        hop = Fallback("anthropic", "claude-x", "openrouter", "anthropic/claude-x", "rate_limited")
        return Completion(
            self._reply(request), Usage(10, 5, 0.001), "anthropic/claude-x", "openrouter", (hop,)
        )


async def test_fallback_hops_are_logged_before_the_answer() -> None:
    agents = {"a1": _RoutedLLM("Red"), "a2": ScriptedLLM(stance("Red"))}
    log = MemoryEventLog()
    setup = setup_for(agents, protocol(mode=Mode.VOTE))  # type: ignore[arg-type]
    await engine_for(log).start(setup, agents)  # type: ignore[arg-type]
    events = log.events("d-1")
    hops = [e for e in events if e.type == EventType.AGENT_FALLBACK]
    assert len(hops) == 1
    assert hops[0].agent == "a1"
    assert hops[0].data["to_provider"] == "openrouter"
    proposal = next(e for e in events if e.type == EventType.PROPOSE and e.agent == "a1")
    assert proposal.seq > hops[0].seq  # type: ignore[operator]
    assert proposal.data["provider"] == "openrouter"


class _Estimating(ScriptedLLM):
    def estimate_usage(self, request):  # type: ignore[no-untyped-def]
        from aragora.debate.ports import Usage

        return Usage(100, 100, 0.5)


async def test_calls_that_would_cross_the_cost_budget_are_not_made() -> None:
    agents = {f"a{i}": _Estimating(stance("Red")) for i in (1, 2, 3)}
    result, _events = await run(agents, protocol(mode=Mode.DEBATE, max_cost_usd=1.0))
    assert result["stop_reason"] == "budget_exhausted"
    assert all(not agent.calls for agent in agents.values())  # 3 x $0.50 > $1.00
    assert result["status"] == "failed"  # nothing was answered before the budget stopped it


async def test_when_no_judge_can_decide_the_votes_are_counted() -> None:
    def never_judges(answer: str):  # type: ignore[no-untyped-def]
        def reply(request):  # type: ignore[no-untyped-def]
            if request.phase == "judge":
                return ProviderError("judge down", kind="overloaded")
            return stance(answer)(request)

        return reply

    agents = panel(never_judges("Red"), never_judges("Red"), never_judges("Blue"))
    result, events = await run(agents, protocol(mode=Mode.VOTE, consensus=ConsensusRule.JUDGE))
    codes = [e.data.get("code") for e in events if e.type == EventType.WARNING]
    assert codes.count("judge_replaced") == 2
    assert "judge_unavailable" in codes
    assert result["judge"] is None
    assert result["final_answer"] == "Red"
    assert result["status"] == "completed"
