"""The log checker: it catches each broken rule, and no debate the engine writes breaks
one — under randomised fault schedules (provider errors, cut-offs, timeouts, garbage
replies) and crashes at any step followed by a resume."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aragora.agents.fakes.scripted import ScriptedLLM
from aragora.debate.answers import format_answer, format_critique, format_vote
from aragora.debate.events import Event, EventType
from aragora.debate.invariants import check_log
from aragora.debate.ports import CompletionRequest
from aragora.debate.protocol import ConsensusRule, DebateProtocol, Mode
from aragora.debate.state import fold
from aragora.errors import AgentTimeoutError, ProviderError
from aragora.runtime.document import debate_document
from aragora.runtime.eventlog import MemoryEventLog

from .helpers import engine_for, panel, run, setup_for, stance

TASK = "Is 17 a prime number?"


def protocol(**changes: object) -> DebateProtocol:
    return DebateProtocol(agent_timeout=5.0, debate_timeout=30.0).with_changes(**changes)


async def good_log() -> list[Event]:
    agents = panel(stance("Yes", confidence=0.9), stance("Yes"), stance(["No", "Yes"]))
    _, events = await run(agents, protocol(mode=Mode.DEBATE, rounds=2), task=TASK)
    return events


def renumbered(events: Sequence[Event]) -> list[Event]:
    return [dataclasses.replace(e, seq=i) for i, e in enumerate(events, start=1)]


def with_data(event: Event, **changes: Any) -> Event:
    return dataclasses.replace(event, data={**event.data, **changes})


def index_of(events: Sequence[Event], kind: str) -> int:
    return next(i for i, e in enumerate(events) if e.type == kind)


# -- each rule is caught ------------------------------------------------------------------------


async def test_a_sound_log_and_its_document_pass() -> None:
    events = await good_log()
    assert check_log(events, debate_document("d-1", events)) == []
    for cut in range(1, len(events)):  # every prefix of a sound log is sound
        assert check_log(events[:cut]) == []


async def test_the_issues_contradictory_log_is_caught() -> None:
    # warning quorum_lost, then consensus {"reached": true, "final_answer": "Yes"}, then
    # consensus_reached, then debate_end {"status": "failed", "final_answer": null}.
    events = await good_log()
    at = index_of(events, EventType.CONSENSUS)
    start = events[:at]
    lost = Event(
        EventType.WARNING,
        "d-1",
        None,
        events[at].timestamp,
        data={"code": "quorum_lost", "message": "quorum lost"},
    )
    consensus = with_data(events[at], reached=True, final_answer="Yes")
    announced = next(e for e in events if e.type == EventType.CONSENSUS_REACHED)
    end = events[-1]
    failed_end = with_data(
        end,
        status="failed",
        result={
            **end.data["result"],
            "status": "failed",
            "final_answer": None,
            "consensus_reached": False,
        },
    )
    problems = check_log(renumbered([*start, lost, consensus, announced, failed_end]))
    assert any("consensus reached after quorum_lost" in p for p in problems)
    assert any("final answer None but consensus said 'Yes'" in p for p in problems)
    assert any("consensus_reached differs" in p for p in problems)


async def test_each_broken_rule_is_named() -> None:
    events = await good_log()
    consensus_at = index_of(events, EventType.CONSENSUS)
    end_at = len(events) - 1

    gap = [*events[:3], *events[4:]]
    assert any("where 4 was due" in p for p in check_log(gap))

    first = index_of(events, EventType.PROPOSE)
    twice = renumbered([*events[: first + 1], events[first], *events[first + 1 :]])
    assert any("recorded twice" in p for p in check_log(twice))

    overconfident = list(events)
    overconfident[consensus_at] = with_data(events[consensus_at], confidence=1.0, valid_answers=1)
    problems = check_log(overconfident)
    assert any("above the valid share 1/3" in p for p in problems)
    assert any("an answer from 1 valid answers, 2 needed" in p for p in problems)

    unannounced = renumbered([e for e in events if e.type != EventType.CONSENSUS_REACHED])
    assert any("never announced" in p for p in check_log(unannounced))

    other_answer = list(events)
    result = {**events[end_at].data["result"], "final_answer": "No"}
    other_answer[end_at] = with_data(events[end_at], result=result)
    assert any("but consensus said" in p for p in check_log(other_answer))

    after_end = renumbered([*events, events[1]])
    assert any("follows debate_end" in p for p in check_log(after_end))

    stored_token = list(events)
    stored_token[2] = dataclasses.replace(events[2], seq=None)
    assert any("ephemeral" in p for p in check_log(stored_token))

    document = debate_document("d-1", events)
    assert any(
        "document final_answer" in p for p in check_log(events, {**document, "final_answer": "No"})
    )
    assert any("tokens" in p for p in check_log(events, {**document, "cost": {"tokens": 1}}))


async def test_an_abstention_needs_a_reason_and_an_answer_cannot_be_one() -> None:
    events = await good_log()
    at = index_of(events, EventType.PROPOSE)
    silent = list(events)
    silent[at] = with_data(events[at], answer="")
    assert any("without the reason" in p for p in check_log(silent))
    both = list(events)
    both[at] = with_data(events[at], abstained="placeholder")
    assert any("also an abstention" in p for p in check_log(both))


def test_a_malformed_event_is_a_violation_not_a_crash() -> None:
    events = [
        Event(EventType.DEBATE_START, "d", 1, "2026-01-01T00:00:00+00:00", data={}),
        Event(EventType.PROPOSE, "d", 2, "2026-01-01T00:00:00+00:00", data={"agent": "a"}),
        Event(EventType.DEBATE_END, "d", 3, "2026-01-01T00:00:00+00:00", data={}),
    ]
    problems = check_log(events)
    assert any("malformed propose" in p for p in problems)
    assert any("malformed debate_end" in p for p in problems)


# -- no schedule of faults breaks them --------------------------------------------------------

ANSWERS = ("Yes", "No", "42", "It depends on the traffic we expect next year")
GARBAGE = (
    "",
    "ANSWER: <your answer on one line: a short label, a number, yes/no, or one sentence>",
    "<<SYS>>\nQuestion 1: what is 2+2?",
    "ANSWER: Is 17 a prime number?",
    "lorem ipsum dolor",
)
FAULTS = (
    lambda: ProviderError("connection refused", kind="network", provider="p"),
    lambda: ProviderError("429", kind="rate_limited", provider="p", retry_after=1.0),
    lambda: ProviderError("stream cut off", kind="cut_off", provider="p"),
    lambda: ProviderError("bad key", kind="auth", provider="p"),
    lambda: AgentTimeoutError("no answer within 5 s", provider="p"),
)

behaviour = st.one_of(
    st.tuples(st.just("answer"), st.sampled_from(ANSWERS), st.floats(0.0, 1.0)),
    st.tuples(st.just("garbage"), st.sampled_from(GARBAGE), st.just(0.0)),
    st.tuples(st.just("fault"), st.integers(0, len(FAULTS) - 1).map(str), st.just(0.0)),
)
# Each agent's behaviour per call, by (phase, round): a pure function of the call, so a
# resumed debate asks the same questions and hears the same replies.
schedule = st.dictionaries(
    st.tuples(
        st.sampled_from(("propose", "critique", "revise", "vote", "judge")), st.integers(1, 3)
    ),
    behaviour,
    max_size=8,
)


def scripted(plan: dict[tuple[str, int], tuple[str, str, float]], home: str) -> ScriptedLLM:
    def reply(request: CompletionRequest) -> str | BaseException:
        key = (request.phase, int(request.metadata.get("round", "1")))
        kind, value, confidence = plan.get(key, ("answer", home, 0.8))
        if kind == "fault":
            return FAULTS[int(value)]()
        if kind == "garbage":
            return value
        if request.phase == "critique":
            return format_critique(f"Agent A should consider {value}.", confidence)
        if request.phase in ("vote", "judge"):
            lowered = [c.casefold() for c in request.choices]
            number = lowered.index(value.casefold()) + 1 if value.casefold() in lowered else 1
            return format_vote(number, confidence, f"{value} is best")
        return format_answer(value, confidence, f"because {value}")

    return ScriptedLLM(reply)


debates = st.fixed_dictionaries(
    {
        "mode": st.sampled_from(list(Mode)),
        "rule": st.sampled_from(list(ConsensusRule)),
        "rounds": st.integers(1, 3),
        "quorum": st.one_of(st.none(), st.integers(1, 4)),
        "homes": st.lists(st.sampled_from(ANSWERS), min_size=1, max_size=4),
        "plans": st.lists(schedule, min_size=4, max_size=4),
        "crashes": st.lists(st.floats(0.0, 1.0), min_size=1, max_size=3),
    }
)


def build(case: dict[str, Any]) -> tuple[dict[str, ScriptedLLM], DebateProtocol]:
    agents = {f"a{i + 1}": scripted(case["plans"][i], home) for i, home in enumerate(case["homes"])}
    chosen = protocol(
        mode=case["mode"], consensus=case["rule"], rounds=case["rounds"], quorum=case["quorum"]
    )
    return agents, chosen


async def play(case: dict[str, Any]) -> None:
    agents, chosen = build(case)
    log = MemoryEventLog()
    setup = setup_for(agents, chosen, task=TASK)  # type: ignore[arg-type]
    state = await engine_for(log).start(setup, agents)
    events = log.events(setup.debate_id)
    document = debate_document(setup.debate_id, events)
    assert check_log(events, document) == [], events
    assert state.result is not None
    # A crash at any step: a new worker folds the prefix and carries on.
    for where in case["crashes"]:
        cut = max(1, int(where * (len(events) - 1)))
        fresh, _ = build(case)
        resumed_log = MemoryEventLog()
        for event in events[:cut]:
            await resumed_log.append(event)
        resumed = await engine_for(resumed_log).resume(events[:cut], fresh)
        replayed = resumed_log.events(setup.debate_id)
        assert check_log(replayed, debate_document(setup.debate_id, replayed)) == []
        assert resumed.result is not None
        assert resumed.result.status == state.result.status
        assert resumed.result.final_answer == state.result.final_answer
        assert fold(replayed).result == fold(events).result


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(debates)
def test_no_fault_schedule_or_crash_breaks_an_invariant(case: dict[str, Any]) -> None:
    asyncio.run(play(case))
