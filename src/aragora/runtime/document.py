"""The debate document served by ``GET /api/v1/debates/{id}`` and printed by
``aragora debate --json``: a projection of the debate's events (see CONTRACT.md).

:func:`build_document` folds the events into a :class:`DebateDocument`; its ``to_wire``
is the JSON document, key order included, and :func:`debate_document` returns that.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aragora.debate.events import Event, EventType
from aragora.debate.model import DebateResult, Participant
from aragora.debate.ports import Usage
from aragora.debate.protocol import DebateProtocol
from aragora.debate.state import DebateState, fold

__all__ = [
    "DOCUMENT_VERSION",
    "AgentCost",
    "DebateDocument",
    "DocumentAgent",
    "DocumentCost",
    "build_document",
    "debate_document",
]

DOCUMENT_VERSION = 1
_CALL_TYPES = frozenset({EventType.PROPOSE, EventType.CRITIQUE, EventType.REVISION, EventType.VOTE})
_MESSAGE_TYPES = {
    EventType.PROPOSE: "proposal",
    EventType.CRITIQUE: "critique",
    EventType.REVISION: "revision",
    EventType.VOTE: "vote",
}
# Fields of a call event a message repeats when the event has them.
_MESSAGE_FIELDS = (
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
)


@dataclass(frozen=True, slots=True)
class DocumentAgent:
    """A panel member as the document shows it."""

    participant: Participant
    failed: bool
    abstained: bool
    """It gave no valid answer at all."""

    def to_wire(self) -> dict[str, Any]:
        return {
            **self.participant.to_dict(),
            "demo": self.participant.is_demo,
            "failed": self.failed,
            "abstained": self.abstained,
        }


@dataclass(frozen=True, slots=True)
class AgentCost:
    """One agent's calls: tokens, dollars, and the time they waited in our own limits."""

    usage: Usage
    calls: int
    queued_ms: float

    def to_wire(self) -> dict[str, Any]:
        return {
            "input_tokens": self.usage.input_tokens,
            "output_tokens": self.usage.output_tokens,
            "tokens": self.usage.total_tokens,
            "usd": round(self.usage.cost_usd, 8),
            "calls": self.calls,
            "estimated": self.usage.estimated,
            "queued_ms": round(self.queued_ms, 1),
        }


@dataclass(frozen=True, slots=True)
class DocumentCost:
    """What the debate's calls used, in all and per agent."""

    total: Usage
    per_agent: Mapping[str, AgentCost]

    def to_wire(self) -> dict[str, Any]:
        return {
            "tokens": self.total.total_tokens,
            "input_tokens": self.total.input_tokens,
            "output_tokens": self.total.output_tokens,
            "usd": round(self.total.cost_usd, 8),
            "estimated": self.total.estimated,
            "per_agent": {agent: cost.to_wire() for agent, cost in self.per_agent.items()},
        }


@dataclass(frozen=True, slots=True)
class DebateDocument:
    """A debate as its events tell it. ``result`` is ``None`` until the debate ended;
    ``messages`` and ``warnings`` are JSON-ready views of their events."""

    debate_id: str
    status: str
    task: str | None
    context: str | None
    protocol: DebateProtocol | None
    agents: tuple[DocumentAgent, ...]
    references: tuple[Mapping[str, Any], ...]
    result: DebateResult | None
    rounds_used: int
    abstained: Mapping[str, str]
    messages: tuple[Mapping[str, Any], ...]
    warnings: tuple[Mapping[str, Any], ...]
    cost: DocumentCost
    queued_ms: float
    """Time the agent calls spent waiting in Aragora's own provider limits (slots, start
    rate, pauses a provider asked for) before they were sent, summed over the calls."""
    created_at: str | None
    started_at: str | None
    completed_at: str | None
    duration_seconds: float | None
    event_count: int
    awaiting_resumption: bool = False
    """True while a running debate's worker has stopped (died or drained) and no other
    has taken it over yet; the service fills it in from the debate's lease."""
    version: int = field(default=DOCUMENT_VERSION)

    @property
    def knowledge_tokens(self) -> int:
        """Tokens of the knowledge-base context the debate was given."""
        return sum(int(r.get("tokens") or 0) for r in self.references)

    def to_wire(self) -> dict[str, Any]:
        """The JSON document (see CONTRACT.md), key order included."""
        protocol = self.protocol
        return {
            "id": self.debate_id,
            "debate_id": self.debate_id,
            "version": self.version,
            "task": self.task,
            "context": self.context,
            "status": self.status,
            "mode": protocol.mode.value if protocol else None,
            "consensus_rule": protocol.consensus.value if protocol else None,
            "protocol": protocol.to_dict() if protocol else None,
            "agents": [agent.to_wire() for agent in self.agents],
            "rounds": protocol.rounds if protocol else None,
            "references": [dict(r) for r in self.references],
            "rounds_used": self.rounds_used,
            **_verdict_fields(self.result),
            "abstained": dict(self.abstained),
            "messages": [dict(m) for m in self.messages],
            "warnings": [dict(w) for w in self.warnings],
            "cost": self.cost.to_wire(),
            "queued_ms": round(self.queued_ms, 1),
            "knowledge_tokens": self.knowledge_tokens,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "completed_at": self.completed_at,
            "duration_seconds": self.duration_seconds,
            "error": self.result.error if self.result else None,
            "event_count": self.event_count,
            "awaiting_resumption": self.awaiting_resumption,
        }


def debate_document(
    debate_id: str,
    events: Sequence[Event],
    *,
    status: str | None = None,
    created_at: str | None = None,
) -> dict[str, Any]:
    """The JSON document of :func:`build_document`."""
    return build_document(debate_id, events, status=status, created_at=created_at).to_wire()


def build_document(
    debate_id: str,
    events: Sequence[Event],
    *,
    status: str | None = None,
    created_at: str | None = None,
) -> DebateDocument:
    """Build the document from ``events`` (seq order). ``status`` overrides the derived
    one (e.g. ``queued`` before any event exists); ``created_at`` defaults to the start."""
    state = fold(events)
    setup = state.setup
    result = state.result
    derived_status = (result.status if result else None) or ("running" if setup else "queued")
    completed_at = events[-1].timestamp if state.ended and events else None
    queued = _queued_ms(events)
    return DebateDocument(
        debate_id=debate_id,
        status=status or derived_status,
        task=setup.task.question if setup else None,
        context=setup.task.context if setup else None,
        protocol=setup.protocol if setup else None,
        agents=_agents(state),
        references=tuple(dict(r) for r in setup.references) if setup else (),
        result=result,
        rounds_used=result.rounds_used if result else state.round,
        abstained=dict((result.abstained_agents if result else None) or state.abstained),
        messages=tuple(_message(e) for e in events if _is_message(e)),
        warnings=tuple({"seq": e.seq, **dict(e.data)} for e in events if _is_warning(e)),
        cost=_cost(state, queued),
        queued_ms=sum(queued.values()),
        created_at=created_at or state.started_at,
        started_at=state.started_at,
        completed_at=completed_at,
        duration_seconds=_duration(state.started_at, completed_at),
        event_count=len(events),
    )


def _verdict_fields(result: DebateResult | None) -> dict[str, Any]:
    """The document's copy of the result's verdict (its defaults before there is one)."""
    if result is None:
        return {
            "consensus_reached": False,
            "final_answer": None,
            "confidence": None,
            "votes": [],
            "dissent": [],
            "positions": [],
            "tally": {},
            "tie": False,
            "judge": None,
            "partial": False,
            "stop_reason": None,
            "outcome": None,
            "outcome_reason": None,
            "quorum": None,
        }
    return {
        "consensus_reached": bool(result.consensus_reached),
        "final_answer": result.final_answer,
        "confidence": result.confidence,
        "votes": [v.to_dict() for v in result.votes],
        "dissent": [d.to_dict() for d in result.dissent],
        "positions": [p.to_dict() for p in result.positions],
        "tally": dict(result.tally),
        "tie": result.tie,
        "judge": result.judge,
        "partial": result.partial,
        "stop_reason": result.stop_reason,
        "outcome": result.outcome,
        "outcome_reason": result.outcome_reason,
        "quorum": result.quorum.to_wire() if result.quorum else None,
    }


def _agents(state: DebateState) -> tuple[DocumentAgent, ...]:
    panel = state.setup.panel if state.setup else ()
    return tuple(
        DocumentAgent(
            participant=p,
            failed=p.name in state.failed,
            abstained=p.name in state.abstained and not state.positions.get(p.name),
        )
        for p in panel
    )


def _is_message(event: Event) -> bool:
    return event.type in _MESSAGE_TYPES and not event.data.get("derived")


def _is_warning(event: Event) -> bool:
    return event.type == EventType.WARNING


def _message(event: Event) -> dict[str, Any]:
    """A call's reply as the transcript shows it."""
    data = event.data
    message: dict[str, Any] = {
        "agent": event.agent,
        "role": _MESSAGE_TYPES[EventType(event.type)],
        "round": event.round,
        "content": data.get("content") or data.get("raw") or data.get("reasoning") or "",
        "timestamp": event.timestamp,
        "seq": event.seq,
    }
    message.update((name, data[name]) for name in _MESSAGE_FIELDS if name in data)
    return message


def _queued_ms(events: Sequence[Event]) -> dict[str, float]:
    """Milliseconds each agent's calls waited in our limits before they were sent."""
    queued: dict[str, float] = {}
    for event in events:
        data = event.data
        if event.type in _CALL_TYPES and isinstance(data.get("queued_ms"), int | float):
            agent = str(data.get("agent") or event.agent or "")
            queued[agent] = queued.get(agent, 0.0) + float(data["queued_ms"])
    return queued


def _cost(state: DebateState, queued: Mapping[str, float]) -> DocumentCost:
    # Usage is summed once, by the fold.
    per_agent = {
        agent: AgentCost(usage, state.calls.get(agent, 0), queued.get(agent, 0.0))
        for agent, usage in state.usage.items()
    }
    return DocumentCost(state.total_usage(), per_agent)


def _duration(started_at: str | None, completed_at: str | None) -> float | None:
    if not (started_at and completed_at):
        return None
    elapsed = datetime.fromisoformat(completed_at) - datetime.fromisoformat(started_at)
    return round(elapsed.total_seconds(), 3)
