"""The typed verdict, convergence and result read back from their events exactly as logged
(key order included), and events written before some of their keys existed still fold."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pytest

from aragora.agents.fakes.scripted import ScriptedLLM
from aragora.debate.consensus import Consensus
from aragora.debate.convergence import RoundConvergence
from aragora.debate.events import Event, EventType
from aragora.debate.model import DebateResult
from aragora.debate.protocol import DebateProtocol
from aragora.debate.results import build_result
from aragora.debate.state import fold

from .helpers import SAMPLE_DEBATES, run


def _same(data: Mapping[str, Any], again: Mapping[str, Any]) -> bool:
    return json.dumps(data) == json.dumps(again)


def _json(event: Event) -> dict[str, Any]:
    """The event's data as read back from a store (JSON text)."""
    data: dict[str, Any] = json.loads(json.dumps(event.data))
    return data


@pytest.mark.parametrize("name", sorted(SAMPLE_DEBATES))
async def test_logged_verdicts_and_results_read_back_unchanged(name: str) -> None:
    make, protocol = SAMPLE_DEBATES[name]
    _, events = await run(make(), protocol)
    state = fold(events)
    assert state.result is not None
    assert state.consensus is not None
    for event in events:
        data = _json(event)
        if event.type == EventType.CONSENSUS:
            assert _same(Consensus.from_wire(data).to_wire(), data)
        elif event.type == EventType.CONVERGENCE:
            assert _same(RoundConvergence.from_wire(data).to_wire(), data)
        elif event.type == EventType.DEBATE_END:
            assert _same(DebateResult.from_wire(data["result"]).to_wire(), data["result"])
    assert DebateResult.from_wire(state.result.to_wire()) == state.result
    assert Consensus.from_wire(state.consensus.to_wire()) == state.consensus
    for convergence in state.convergence.values():
        assert RoundConvergence.from_wire(convergence.to_wire()) == convergence


async def test_events_logged_before_outcome_and_quorum_existed_still_fold() -> None:
    _, events = await run(*_debate())
    older = [_without_newer_keys(event) for event in events]
    state = fold(older)
    assert state.consensus is not None
    assert state.consensus.outcome is None
    assert state.result is not None
    assert state.result.outcome is None
    assert state.result.quorum is None
    assert state.result.final_answer == "PostgreSQL"
    # The result is rebuilt from such a verdict as the version that wrote it did.
    rebuilt = build_result(fold(older[:-2]), lambda a, b: a == b)
    assert rebuilt.outcome == "consensus"
    assert rebuilt.quorum is None


def _debate() -> tuple[dict[str, ScriptedLLM], DebateProtocol]:
    make, protocol = SAMPLE_DEBATES["debate"]
    return make(), protocol


def _without_newer_keys(event: Event) -> Event:
    """The event as the first version logged it: no outcome, reason or quorum counts in
    the verdict, no outcome, abstentions or quorum in the result."""
    data = dict(event.data)
    if event.type == EventType.CONSENSUS:
        for key in ("outcome", "valid_answers", "panel", "quorum", "reason"):
            del data[key]
    elif event.type == EventType.DEBATE_END:
        result = dict(data["result"])
        for key in ("abstained_agents", "outcome", "outcome_reason", "quorum"):
            del result[key]
        data["result"] = result
    return replace(event, data=data)
