"""A debate's state as a fold over its events.

``fold(events)`` rebuilds everything the planner needs from the log alone, so a worker
that picks up a half-finished debate continues exactly where the log ends. ``apply``
is the only place that interprets stored events.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aragora.debate.consensus import Consensus
from aragora.debate.convergence import RoundConvergence
from aragora.debate.events import Event, EventType
from aragora.debate.model import DebateResult, Participant, Task
from aragora.debate.ports import Usage
from aragora.debate.protocol import DebateProtocol

__all__ = [
    "CallKey",
    "CritiqueRecord",
    "DebateSetup",
    "DebateState",
    "JudgeRecord",
    "Position",
    "VoteRecord",
    "fold",
]


@dataclass(frozen=True, slots=True)
class DebateSetup:
    """Everything fixed when a debate starts; stored in its ``debate_start`` event."""

    debate_id: str
    task: Task
    protocol: DebateProtocol
    panel: tuple[Participant, ...]
    seed: int
    judge: Participant | None = None
    references: tuple[Mapping[str, Any], ...] = ()
    """What the context was drawn from (e.g. past decisions of the knowledge base, with
    their ids), JSON-ready; shown in the debate document for attribution."""

    def to_data(self) -> dict[str, Any]:
        data = {
            "task": self.task.question,
            "context": self.task.context,
            "mode": self.protocol.mode.value,
            "protocol": self.protocol.to_dict(),
            "agents": [p.to_dict() for p in self.panel],
            "judge": self.judge.to_dict() if self.judge else None,
            "seed": self.seed,
        }
        if self.references:
            data["references"] = [dict(r) for r in self.references]
        return data

    @classmethod
    def from_event(cls, event: Event) -> DebateSetup:
        data = event.data
        judge = data.get("judge")
        return cls(
            debate_id=event.debate_id,
            task=Task(str(data["task"]), str(data.get("context") or "")),
            protocol=DebateProtocol.from_dict(dict(data["protocol"])),
            panel=tuple(Participant.from_dict(p) for p in data["agents"]),
            seed=int(data["seed"]),
            judge=Participant.from_dict(judge) if judge else None,
            references=tuple(dict(r) for r in data.get("references") or ()),
        )


@dataclass(frozen=True, slots=True)
class CallKey:
    """Identifies one agent call; a call whose key is in the log is never made again."""

    phase: str
    round: int
    agent: str


@dataclass(frozen=True, slots=True)
class Position:
    """An agent's answer as of a round (from ``propose`` or ``revision``)."""

    round: int
    phase: str
    answer: str
    confidence: float
    reasoning: str


@dataclass(frozen=True, slots=True)
class CritiqueRecord:
    agent: str
    content: str
    score: float


@dataclass(frozen=True, slots=True)
class VoteRecord:
    agent: str
    option: int
    choice: str
    confidence: float
    reasoning: str


@dataclass(frozen=True, slots=True)
class JudgeRecord:
    """One judge attempt: ``option`` is None when the judge failed or named no valid option."""

    agent: str
    option: int | None
    confidence: float
    reasoning: str


@dataclass(slots=True)
class DebateState:
    """What the log says so far. Mutated only by :func:`apply`."""

    setup: DebateSetup | None = None
    next_seq: int = 1
    started_at: str | None = None
    round: int = 0
    phase: str | None = None
    answered: set[CallKey] = field(default_factory=set)
    positions: dict[str, list[Position]] = field(default_factory=dict)
    critiques: dict[int, dict[str, CritiqueRecord]] = field(default_factory=dict)
    options: tuple[str, ...] | None = None
    members: dict[str, int] = field(default_factory=dict)
    votes: dict[str, VoteRecord] = field(default_factory=dict)
    judge_calls: list[JudgeRecord] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    failed_during: dict[str, tuple[str, int]] = field(default_factory=dict)
    abstained: dict[str, str] = field(default_factory=dict)
    """Agents whose latest answer (propose/revise) was no answer, with the reason."""
    abstained_at: set[CallKey] = field(default_factory=set)
    owed_warnings: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    warned: set[tuple[str, str]] = field(default_factory=set)
    convergence: dict[int, RoundConvergence] = field(default_factory=dict)
    usage: dict[str, Usage] = field(default_factory=dict)
    usage_total: Usage = field(default_factory=Usage)
    calls: dict[str, int] = field(default_factory=dict)
    stop: str | None = None
    stop_message: str = ""
    consensus: Consensus | None = None
    consensus_announced: bool = False
    result: DebateResult | None = None

    @property
    def started(self) -> bool:
        return self.setup is not None

    @property
    def ended(self) -> bool:
        return self.result is not None

    def require_setup(self) -> DebateSetup:
        if self.setup is None:
            raise ValueError("debate has no debate_start event")
        return self.setup

    def alive(self) -> list[Participant]:
        """Panel members that have not failed, in panel order."""
        return [p for p in self.require_setup().panel if p.name not in self.failed]

    def present_this_phase(self) -> list[Participant]:
        """Panel members as the current phase began: the working ones plus any that failed
        during this phase. A phase's calls all see the same panel, whatever order their
        results (and failures) arrive in."""
        here = (self.phase or "", self.round)
        return [
            p
            for p in self.require_setup().panel
            if p.name not in self.failed or self.failed_during.get(p.name) == here
        ]

    def latest(self, agent: str) -> Position | None:
        history = self.positions.get(agent)
        return history[-1] if history else None

    def total_usage(self) -> Usage:
        """Tokens and cost of every call so far."""
        return self.usage_total

    def budget_reached(self) -> bool:
        """Whether the calls so far have used up the token or cost budget."""
        protocol = self.require_setup().protocol
        spent = self.usage_total
        return (protocol.max_tokens is not None and spent.total_tokens >= protocol.max_tokens) or (
            protocol.max_cost_usd is not None and spent.cost_usd >= protocol.max_cost_usd
        )


def fold(events: Iterable[Event]) -> DebateState:
    """Rebuild a debate's state from its events (which must be in ``seq`` order)."""
    state = DebateState()
    for event in events:
        apply(state, event)
    return state


def apply(state: DebateState, event: Event) -> None:
    """Apply one stored event. Raises ValueError on a gap in ``seq``."""
    if event.seq is None:
        return  # ephemeral token deltas are never part of the state
    if event.seq != state.next_seq:
        raise ValueError(f"event seq {event.seq} out of order; expected {state.next_seq}")
    state.next_seq += 1
    data = event.data
    handler = _HANDLERS.get(event.type)
    if handler is not None:
        handler(state, event, data)


def _on_start(state: DebateState, event: Event, data: Mapping[str, Any]) -> None:
    state.setup = DebateSetup.from_event(event)
    state.started_at = event.timestamp


def _on_round(state: DebateState, event: Event, data: Mapping[str, Any]) -> None:
    state.round = int(data["round"])
    state.phase = None


def _on_phase(state: DebateState, event: Event, data: Mapping[str, Any]) -> None:
    state.phase = str(data["phase"])
    if state.phase == "vote":
        state.options = tuple(str(o) for o in data["options"])
        state.members = {str(k): int(v) for k, v in dict(data["members"]).items()}


def _mark_call(state: DebateState, event: Event, data: Mapping[str, Any]) -> str:
    agent = str(data["agent"])
    state.answered.add(CallKey(str(data["phase"]), int(data["round_number"]), agent))
    usage = data.get("usage")
    if usage:
        spent = Usage(
            int(usage.get("input_tokens", 0)),
            int(usage.get("output_tokens", 0)),
            float(usage.get("cost_usd", 0.0)),
            bool(usage.get("estimated", False)),
        )
        state.usage[agent] = state.usage.get(agent, Usage()) + spent
        state.calls[agent] = state.calls.get(agent, 0) + 1
        state.usage_total = state.usage_total + spent
    problems = data.get("problems") or []
    if problems and event.seq is not None:
        state.owed_warnings[event.seq] = [dict(p) for p in problems]
    return agent


def _on_answer(state: DebateState, event: Event, data: Mapping[str, Any]) -> None:
    agent = _mark_call(state, event, data)
    answer = str(data.get("answer") or "")
    if not answer:
        reason = str(data.get("abstained") or "reply held no usable answer")
        state.abstained[agent] = reason
        state.abstained_at.add(CallKey(str(data["phase"]), int(data["round_number"]), agent))
    else:
        state.abstained.pop(agent, None)
        state.positions.setdefault(agent, []).append(
            Position(
                round=int(data["round_number"]),
                phase=str(data["phase"]),
                answer=answer,
                confidence=float(data.get("confidence", 0.0)),
                reasoning=str(data.get("reasoning") or ""),
            )
        )


def _on_critique(state: DebateState, event: Event, data: Mapping[str, Any]) -> None:
    agent = _mark_call(state, event, data)
    content = str(data.get("content") or "")
    if content:
        state.critiques.setdefault(int(data["round_number"]), {})[agent] = CritiqueRecord(
            agent, content, float(data.get("score", 0.0))
        )


def _on_vote(state: DebateState, event: Event, data: Mapping[str, Any]) -> None:
    agent = _mark_call(state, event, data)
    option = data.get("option")
    if data["phase"] == "judge":
        state.judge_calls.append(
            JudgeRecord(
                agent=agent,
                option=None if option is None else int(option),
                confidence=float(data.get("confidence", 0.0)),
                reasoning=str(data.get("reasoning") or ""),
            )
        )
    elif option is not None:
        state.votes[agent] = VoteRecord(
            agent=agent,
            option=int(option),
            choice=str(data.get("choice") or ""),
            confidence=float(data.get("confidence", 0.0)),
            reasoning=str(data.get("reasoning") or ""),
        )


def _on_agent_error(state: DebateState, event: Event, data: Mapping[str, Any]) -> None:
    agent = _mark_call(state, event, data)
    state.failed.setdefault(agent, str(data.get("error") or "failed"))
    state.failed_during.setdefault(agent, (str(data["phase"]), int(data["round_number"])))
    if data["phase"] == "judge":
        state.judge_calls.append(
            JudgeRecord(agent=agent, option=None, confidence=0.0, reasoning="")
        )


def _on_warning(state: DebateState, event: Event, data: Mapping[str, Any]) -> None:
    code = str(data.get("code") or "")
    ref = data.get("ref_seq")
    if ref is not None:
        owed = state.owed_warnings.get(int(ref))
        if owed:
            owed.pop(0)
            if not owed:
                del state.owed_warnings[int(ref)]
    if code in _STOP_CODES and state.stop is None:
        state.stop = code
        state.stop_message = str(data.get("message") or "")
    state.warned.add((code, str(data.get("agent") or "")))


def _on_convergence(state: DebateState, event: Event, data: Mapping[str, Any]) -> None:
    convergence = RoundConvergence.from_wire(data)
    state.convergence[convergence.round] = convergence


def _on_consensus(state: DebateState, event: Event, data: Mapping[str, Any]) -> None:
    state.consensus = Consensus.from_wire(data)


def _on_consensus_reached(state: DebateState, event: Event, data: Mapping[str, Any]) -> None:
    state.consensus_announced = True


def _on_end(state: DebateState, event: Event, data: Mapping[str, Any]) -> None:
    state.result = DebateResult.from_wire(data["result"])


_STOP_CODES = frozenset({"debate_timeout", "budget_exhausted", "cancelled", "quorum_lost"})

_Handler = Callable[[DebateState, Event, Mapping[str, Any]], None]
_HANDLERS: dict[str, _Handler] = {
    EventType.DEBATE_START: _on_start,
    EventType.ROUND_START: _on_round,
    EventType.PHASE_CHANGE: _on_phase,
    EventType.PROPOSE: _on_answer,
    EventType.REVISION: _on_answer,
    EventType.CRITIQUE: _on_critique,
    EventType.VOTE: _on_vote,
    EventType.AGENT_ERROR: _on_agent_error,
    EventType.WARNING: _on_warning,
    EventType.CONVERGENCE: _on_convergence,
    EventType.CONSENSUS: _on_consensus,
    EventType.CONSENSUS_REACHED: _on_consensus_reached,
    EventType.DEBATE_END: _on_end,
}
