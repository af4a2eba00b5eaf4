"""Debate events: the one record of what happened in a debate.

A debate *is* its event log. Every event but ``token`` carries a contiguous ``seq``
(1, 2, 3, ...) per debate; ``token`` events are ephemeral stream deltas with
``seq = None``. Names are shared with the aragora-sdk (see CONTRACT.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = ["Event", "EventType", "WarningCode"]


class EventType(StrEnum):
    """Event names as streamed over WebSocket and stored in the log.

    This engine never emits ``SYNTHESIS`` or ``AGENT_MESSAGE``; they stay because
    CONTRACT.md lists them among the event names shared with the SDK, so clients may
    already handle them (the web app does)."""

    CONNECTED = "connected"
    DEBATE_START = "debate_start"
    ROUND_START = "round_start"
    PHASE_CHANGE = "phase_change"
    PROPOSE = "propose"
    CRITIQUE = "critique"
    REVISION = "revision"
    SYNTHESIS = "synthesis"
    VOTE = "vote"
    CONSENSUS = "consensus"
    CONSENSUS_REACHED = "consensus_reached"
    DEBATE_END = "debate_end"
    AGENT_MESSAGE = "agent_message"
    WARNING = "warning"
    ERROR = "error"
    AGENT_FALLBACK = "agent_fallback"
    AGENT_ERROR = "agent_error"
    CONVERGENCE = "convergence"
    TOKEN = "token"


class WarningCode(StrEnum):
    """``warning`` events carry one of these in ``data.code``.

    The stop codes (timeout, budget, cancelled, quorum) are decisions the engine logs
    so that a resumed debate folds to the same place instead of re-deciding them.
    """

    MALFORMED_OUTPUT = "malformed_output"
    EMPTY_OUTPUT = "empty_output"
    INVALID_ANSWER = "invalid_answer"
    TRUNCATED_OUTPUT = "truncated_output"
    WAITING_FOR_AGENTS = "waiting_for_agents"
    JUDGE_REPLACED = "judge_replaced"
    JUDGE_UNAVAILABLE = "judge_unavailable"
    AGENT_REPLACED = "agent_replaced"
    DEBATE_TIMEOUT = "debate_timeout"
    BUDGET_EXHAUSTED = "budget_exhausted"
    CANCELLED = "cancelled"
    QUORUM_LOST = "quorum_lost"


@dataclass(frozen=True, slots=True)
class Event:
    """One event. ``data`` holds JSON-ready values only."""

    type: str
    debate_id: str
    seq: int | None
    timestamp: str
    round: int | None = None
    agent: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)

    def to_wire(self) -> dict[str, Any]:
        """The WebSocket/HTTP frame: ``round`` and ``agent`` only when set."""
        frame: dict[str, Any] = {
            "type": self.type,
            "debate_id": self.debate_id,
            "seq": self.seq,
            "timestamp": self.timestamp,
        }
        if self.round is not None:
            frame["round"] = self.round
        if self.agent is not None:
            frame["agent"] = self.agent
        frame["data"] = dict(self.data)
        return frame

    @classmethod
    def from_wire(cls, frame: Mapping[str, Any]) -> Event:
        """Inverse of :meth:`to_wire`."""
        return cls(
            type=str(frame["type"]),
            debate_id=str(frame["debate_id"]),
            seq=frame.get("seq"),
            timestamp=str(frame["timestamp"]),
            round=frame.get("round"),
            agent=frame.get("agent"),
            data=dict(frame.get("data") or {}),
        )
