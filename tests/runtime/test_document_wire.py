"""The typed debate document's JSON is the document as it was built from dicts, byte for
byte (key order included), for debates that end every way and for every prefix of their
logs, and for logs written before the verdict had its outcome and quorum."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import pytest

from aragora.debate.events import Event, EventType
from aragora.debate.state import fold
from aragora.runtime.document import debate_document
from tests.debate.helpers import SAMPLE_DEBATES, run


def _same(events: Sequence[Event], **options: Any) -> bool:
    new = debate_document("d-1", events, **options)
    old = _previous_document("d-1", events, **options)
    return json.dumps(new) == json.dumps(old)


@pytest.mark.parametrize("name", sorted(SAMPLE_DEBATES))
async def test_the_document_is_the_one_built_from_dicts(name: str) -> None:
    make, protocol = SAMPLE_DEBATES[name]
    _, events = await run(make(), protocol)
    for end in range(len(events) + 1):
        assert _same(events[:end]), f"after {end} events"
    assert _same(events, status="completed", created_at="2026-01-01T00:00:00+00:00")
    assert _same([], status="queued")


async def test_logs_from_before_outcomes_and_quorums_give_the_same_document() -> None:
    make, protocol = SAMPLE_DEBATES["debate"]
    _, events = await run(make(), protocol)
    older = [_without_newer_keys(event) for event in events]
    assert fold(older).ended
    assert _same(older)


def _without_newer_keys(event: Event) -> Event:
    if event.type == EventType.CONSENSUS:
        data = {k: v for k, v in event.data.items() if k not in _NEWER_VERDICT}
        return replace(event, data=data)
    if event.type == EventType.DEBATE_END:
        result = {k: v for k, v in event.data["result"].items() if k not in _NEWER_RESULT}
        return replace(event, data={**event.data, "result": result})
    return event


_NEWER_VERDICT = {"outcome", "valid_answers", "panel", "quorum", "reason"}
_NEWER_RESULT = {"abstained_agents", "outcome", "outcome_reason", "quorum"}

_CALL_TYPES = frozenset({EventType.PROPOSE, EventType.CRITIQUE, EventType.REVISION, EventType.VOTE})
_MESSAGE_TYPES = {
    EventType.PROPOSE: "proposal",
    EventType.CRITIQUE: "critique",
    EventType.REVISION: "revision",
    EventType.VOTE: "vote",
}


def _previous_document(
    debate_id: str,
    events: Sequence[Event],
    *,
    status: str | None = None,
    created_at: str | None = None,
) -> dict[str, Any]:
    """The document as it was built before it was typed (kept here as the reference)."""
    state = fold(events)
    setup = state.setup
    # what the fold kept of the result before it was typed: the logged dict itself
    ends = [e for e in events if e.type == EventType.DEBATE_END]
    result: dict[str, Any] = dict(ends[-1].data["result"]) if ends else {}
    derived_status = result.get("status") or ("running" if setup else "queued")
    started_at = state.started_at
    completed_at = events[-1].timestamp if state.ended and events else None
    duration = None
    if started_at and completed_at:
        duration = round(
            (
                datetime.fromisoformat(completed_at) - datetime.fromisoformat(started_at)
            ).total_seconds(),
            3,
        )
    messages = []
    warnings = []
    queued: dict[str, float] = {}  # ms each agent's calls waited in our limits
    for event in events:
        data = event.data
        if event.type in _MESSAGE_TYPES and not data.get("derived"):
            message = {
                "agent": event.agent,
                "role": _MESSAGE_TYPES[EventType(event.type)],
                "round": event.round,
                "content": data.get("content") or data.get("raw") or data.get("reasoning") or "",
                "timestamp": event.timestamp,
                "seq": event.seq,
            }
            for field in (
                "answer",
                "confidence",
                "reasoning",
                "score",
                "targets",
                "choice",
                "changed",
                "abstained",
                "truncated",
                "queued_ms",
            ):
                if field in data:
                    message[field] = data[field]
            messages.append(message)
        if event.type == EventType.WARNING:
            warnings.append({"seq": event.seq, **dict(data)})
        if event.type in _CALL_TYPES and isinstance(data.get("queued_ms"), int | float):
            agent = str(data.get("agent") or event.agent or "")
            queued[agent] = queued.get(agent, 0.0) + float(data["queued_ms"])
    # Usage is summed once, by the fold.
    per_agent = {
        agent: {
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "tokens": usage.total_tokens,
            "usd": round(usage.cost_usd, 8),
            "calls": state.calls.get(agent, 0),
            "estimated": usage.estimated,
            "queued_ms": round(queued.get(agent, 0.0), 1),
        }
        for agent, usage in state.usage.items()
    }
    total = state.total_usage()
    protocol = setup.protocol if setup else None
    references = [dict(r) for r in setup.references] if setup else []
    return {
        "id": debate_id,
        "debate_id": debate_id,
        "version": 1,
        "task": setup.task.question if setup else None,
        "context": setup.task.context if setup else None,
        "status": status or derived_status,
        "mode": protocol.mode.value if protocol else None,
        "consensus_rule": protocol.consensus.value if protocol else None,
        "protocol": protocol.to_dict() if protocol else None,
        "agents": [
            {
                **p.to_dict(),
                "demo": p.is_demo,
                "failed": p.name in state.failed,
                "abstained": p.name in state.abstained and not state.positions.get(p.name),
            }
            for p in (setup.panel if setup else ())
        ],
        "rounds": protocol.rounds if protocol else None,
        "references": references,
        "rounds_used": result.get("rounds_used", state.round),
        "consensus_reached": bool(result.get("consensus_reached", False)),
        "final_answer": result.get("final_answer"),
        "confidence": result.get("confidence"),
        "votes": result.get("votes", []),
        "dissent": result.get("dissent", []),
        "positions": result.get("positions", []),
        "tally": result.get("tally", {}),
        "tie": result.get("tie", False),
        "judge": result.get("judge"),
        "partial": result.get("partial", False),
        "stop_reason": result.get("stop_reason"),
        "outcome": result.get("outcome"),
        "outcome_reason": result.get("outcome_reason"),
        "quorum": result.get("quorum"),
        "abstained": dict(result.get("abstained_agents") or state.abstained),
        "messages": messages,
        "warnings": warnings,
        "cost": {
            "tokens": total.total_tokens,
            "input_tokens": total.input_tokens,
            "output_tokens": total.output_tokens,
            "usd": round(total.cost_usd, 8),
            "estimated": total.estimated,
            "per_agent": per_agent,
        },
        # Time the agent calls spent waiting in Aragora's own provider limits (slots, start
        # rate, pauses a provider asked for) before they were sent, summed over the calls.
        "queued_ms": round(sum(queued.values()), 1),
        "knowledge_tokens": sum(int(r.get("tokens") or 0) for r in references),
        "created_at": created_at or started_at,
        "started_at": started_at,
        "completed_at": completed_at,
        "duration_seconds": duration,
        "error": result.get("error"),
        "event_count": len(events),
        # True while a running debate's worker has stopped (died or drained) and no other
        # has taken it over yet; the service fills it in from the debate's lease.
        "awaiting_resumption": False,
    }
