"""What a finished debate decided, read from its document for callers that want an answer
(an MCP tool, a chat completion) rather than the whole record.

A debate *decided* when it completed with an answer: consensus, or a plurality without the
rule's agreement (``consensus_reached`` false says so). A tie, too few valid answers, a
failure or a cancellation decided nothing, and :func:`no_decision_text` says that in words;
no verdict is ever made up for them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Outcome", "debate_path", "no_decision_text", "outcome_of"]


def debate_path(debate_id: str) -> str:
    """Where the debate's document is served (relative to the server's base URL)."""
    return f"/api/v1/debates/{debate_id}"


@dataclass(frozen=True, slots=True)
class Outcome:
    """The headline of a debate document."""

    debate_id: str
    status: str
    decided: bool
    verdict: str | None
    confidence: float | None
    consensus_reached: bool
    outcome: str | None
    reason: str | None
    """Why nothing (or only a plurality) was decided; ``None`` after consensus."""
    dissent: list[dict[str, Any]] = field(default_factory=list)
    """The agents whose final position differs from the verdict (all of them, with their
    positions, when nothing was decided)."""
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    cost_usd: float = 0.0
    receipt: dict[str, Any] | None = None

    def summary(self) -> dict[str, Any]:
        """The outcome as JSON: the extension field of a chat completion."""
        return {
            "debate_id": self.debate_id,
            "status": self.status,
            "decided": self.decided,
            "verdict": self.verdict,
            "confidence": self.confidence,
            "consensus_reached": self.consensus_reached,
            "outcome": self.outcome,
            "reason": self.reason,
            "dissent": self.dissent,
            "cost": {
                "input_tokens": self.input_tokens,
                "output_tokens": self.output_tokens,
                "tokens": self.total_tokens,
                "usd": self.cost_usd,
            },
            "receipt": self.receipt,
            "url": debate_path(self.debate_id),
        }


def outcome_of(document: Mapping[str, Any]) -> Outcome:
    """The :class:`Outcome` of a debate document (``GET /api/v1/debates/{id}``)."""
    status = str(document.get("status") or "")
    verdict = document.get("final_answer")
    decided = status == "completed" and isinstance(verdict, str) and bool(verdict.strip())
    cost = document.get("cost") or {}
    # Decided: the dissenters. Not decided: every agent's final position (none is the verdict).
    stances = document.get("dissent") if decided else document.get("positions")
    dissent = [dict(p) for p in stances or () if isinstance(p, Mapping) and not p.get("agrees")]
    reason = document.get("outcome_reason") or document.get("error")
    receipt = document.get("receipt")
    confidence = document.get("confidence")
    return Outcome(
        debate_id=str(document.get("id") or document.get("debate_id") or ""),
        status=status,
        decided=decided,
        verdict=verdict if decided else None,
        confidence=float(confidence) if decided and isinstance(confidence, int | float) else None,
        consensus_reached=bool(document.get("consensus_reached")),
        outcome=document.get("outcome"),
        reason=str(reason) if reason else None,
        dissent=dissent,
        input_tokens=int(cost.get("input_tokens") or 0),
        output_tokens=int(cost.get("output_tokens") or 0),
        total_tokens=int(cost.get("tokens") or 0),
        cost_usd=float(cost.get("usd") or 0.0),
        receipt=dict(receipt) if isinstance(receipt, Mapping) else None,
    )


_ENDINGS = {
    "tie": "the panel was split evenly (a tie)",
    "no_quorum": "too few agents gave a valid answer",
    "quorum_lost": "too few agents kept working",
    "cancelled": "the debate was cancelled",
}


def no_decision_text(outcome: Outcome) -> str:
    """What to answer when the debate decided nothing: that no decision was reached, why,
    and where each agent stood."""
    why = _ENDINGS.get(outcome.outcome or "") or _ENDINGS.get(outcome.status)
    if why is None:
        why = f"the debate ended as {outcome.status or 'unknown'}"
    text = f"No decision was reached: {why}."
    if outcome.reason and outcome.reason.rstrip(".") not in why:
        text += f" {outcome.reason.rstrip('.')}."
    stances = [
        f"- {p.get('agent')}: {str(p.get('final_position') or '').strip() or '(no answer)'}"
        for p in outcome.dissent
    ]
    if stances:
        text += "\n\nWhere the agents stood:\n" + "\n".join(stances)
    return text + f"\n\n(debate {outcome.debate_id})"
