"""The debate document served by ``GET /api/v1/debates/{id}`` and printed by
``aragora debate --json``: a projection of the debate's events (see CONTRACT.md)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from aragora.debate.events import Event, EventType
from aragora.debate.state import fold

__all__ = ["DOCUMENT_VERSION", "debate_document"]

DOCUMENT_VERSION = 1
_CALL_TYPES = frozenset({EventType.PROPOSE, EventType.CRITIQUE, EventType.REVISION, EventType.VOTE})
_MESSAGE_TYPES = {
    EventType.PROPOSE: "proposal",
    EventType.CRITIQUE: "critique",
    EventType.REVISION: "revision",
    EventType.VOTE: "vote",
}


def debate_document(
    debate_id: str,
    events: Sequence[Event],
    *,
    status: str | None = None,
    created_at: str | None = None,
) -> dict[str, Any]:
    """Build the document from ``events`` (seq order). ``status`` overrides the derived
    one (e.g. ``queued`` before any event exists); ``created_at`` defaults to the start."""
    state = fold(events)
    setup = state.setup
    result: dict[str, Any] = state.result.to_wire() if state.result is not None else {}
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
        "version": DOCUMENT_VERSION,
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
