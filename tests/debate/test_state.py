"""Folding a debate's events into its state."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from aragora.debate.events import Event, EventType
from aragora.debate.model import Participant, Task
from aragora.debate.protocol import ConsensusRule, DebateProtocol, Mode
from aragora.debate.state import CallKey, DebateSetup, fold

STAMP = "2025-01-01T00:00:00+00:00"

SETUP = DebateSetup(
    debate_id="d-42",
    task=Task("Should we adopt Rust?", "The team knows Go."),
    protocol=DebateProtocol(
        mode=Mode.DEBATE,
        rounds=2,
        consensus=ConsensusRule.JUDGE,
        supermajority_threshold=0.75,
        early_stop=False,
        quorum=2,
        agent_timeout=None,
        max_tokens=10_000,
        max_cost_usd=0.5,
    ),
    panel=(
        Participant("claude", "anthropic:claude-sonnet-4-5", "anthropic", "claude-sonnet-4-5"),
        Participant("gpt", "openai:gpt-4o#fast", "openai", "gpt-4o"),
    ),
    seed=123456789,
    judge=Participant("arbiter", "demo:arbiter", "demo", "arbiter"),
)


def event(kind: str, seq: int | None, data: Mapping[str, Any], **extra: Any) -> Event:
    return Event(
        type=str(kind), debate_id=SETUP.debate_id, seq=seq, timestamp=STAMP, data=data, **extra
    )


def propose(seq: int, agent: str, answer: str) -> Event:
    return event(
        EventType.PROPOSE,
        seq,
        {
            "agent": agent,
            "phase": "propose",
            "round_number": 1,
            "answer": answer,
            "confidence": 0.8,
            "reasoning": "because",
            "usage": {"input_tokens": 10, "output_tokens": 5, "cost_usd": 0.01},
        },
        agent=agent,
        round=1,
    )


def opening(setup: DebateSetup = SETUP) -> list[Event]:
    return [
        event(EventType.DEBATE_START, 1, setup.to_data()),
        event(EventType.ROUND_START, 2, {"round": 1}, round=1),
        event(EventType.PHASE_CHANGE, 3, {"phase": "propose", "round": 1}, round=1),
    ]


def token(text: str) -> Event:
    return event(EventType.TOKEN, None, {"delta": text, "phase": "propose"}, agent="claude")


def test_setup_round_trips_through_its_debate_start_event() -> None:
    state = fold(opening()[:1])
    assert state.setup == SETUP
    assert state.started
    assert not state.ended
    assert state.started_at == STAMP


def test_setup_round_trips_through_the_wire_as_json() -> None:
    start = opening()[0]
    frame = json.loads(json.dumps(start.to_wire()))
    assert DebateSetup.from_event(Event.from_wire(frame)) == SETUP


def test_setup_without_judge_or_context_round_trips() -> None:
    plain = DebateSetup(
        debate_id="d-42",
        task=Task("Yes or no?"),
        protocol=DebateProtocol(),
        panel=(Participant("d1", "demo", "demo", ""),),
        seed=0,
    )
    assert DebateSetup.from_event(opening(plain)[0]) == plain


def test_debate_start_data_records_the_setup_for_readers() -> None:
    data = SETUP.to_data()
    assert data["task"] == "Should we adopt Rust?"
    assert data["context"] == "The team knows Go."
    assert data["mode"] == "debate"
    assert data["protocol"]["consensus"] == "judge"
    assert [a["name"] for a in data["agents"]] == ["claude", "gpt"]
    assert data["judge"]["name"] == "arbiter"
    assert data["seed"] == 123456789


def test_fold_of_a_log_prefix_tracks_round_phase_positions_and_usage() -> None:
    events = [*opening(), propose(4, "claude", "Yes"), propose(5, "gpt", "No")]
    state = fold(events)
    assert state.next_seq == 6
    assert state.round == 1
    assert state.phase == "propose"
    assert state.answered == {CallKey("propose", 1, "claude"), CallKey("propose", 1, "gpt")}
    latest = state.latest("gpt")
    assert latest is not None
    assert latest.answer == "No"
    assert state.total_usage().total_tokens == 30
    assert state.total_usage().cost_usd == pytest.approx(0.02)
    assert [p.name for p in state.alive()] == ["claude", "gpt"]


def test_an_empty_log_folds_to_an_unstarted_state() -> None:
    state = fold([])
    assert not state.started
    assert state.next_seq == 1
    with pytest.raises(ValueError, match="no debate_start"):
        state.require_setup()


@pytest.mark.parametrize(
    ("seqs", "bad", "expected"),
    [
        ([2], 2, 1),  # does not start at 1
        ([1, 2, 4], 4, 3),  # a gap
        ([1, 2, 2], 2, 3),  # a repeat
        ([1, 3, 2], 3, 2),  # out of order
        ([0], 0, 1),
    ],
)
def test_fold_rejects_seq_gaps(seqs: Sequence[int], bad: int, expected: int) -> None:
    base = [*opening(), propose(4, "claude", "Yes")]
    events = [
        Event(e.type, e.debate_id, seq, e.timestamp, e.round, e.agent, e.data)
        for e, seq in zip(base, seqs, strict=False)
    ]
    with pytest.raises(ValueError, match=rf"event seq {bad} out of order; expected {expected}"):
        fold(events)


def test_fold_ignores_token_events() -> None:
    plain = [*opening(), propose(4, "claude", "Yes")]
    with_tokens = [token("Y"), *plain[:3], token("Ye"), token("s"), plain[3], token("!")]
    folded = fold(with_tokens)
    assert folded.next_seq == 5
    assert folded == fold(plain)


def test_a_token_with_a_seq_is_not_special() -> None:
    # only seq=None marks an event ephemeral; a numbered event must still be in order
    events = [*opening(), event(EventType.TOKEN, 9, {"delta": "x"})]
    with pytest.raises(ValueError, match="event seq 9 out of order; expected 4"):
        fold(events)
