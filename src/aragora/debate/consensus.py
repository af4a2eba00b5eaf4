"""Turning ballots into a verdict under one consensus rule. Pure functions.

Options are the distinct answers of a debate (clustered so equal answers count once),
identified by their index in first-appearance order; that order also breaks ties last,
so the same ballots always give the same verdict.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aragora.debate.protocol import ConsensusRule

__all__ = ["Ballot", "Consensus", "Tally", "tally"]


@dataclass(frozen=True, slots=True)
class Ballot:
    """One agent's vote for option ``option`` with its stated confidence in [0, 1]."""

    agent: str
    option: int
    confidence: float


@dataclass(frozen=True, slots=True)
class Tally:
    """The outcome of counting ballots.

    ``scores`` maps option index to its count (or summed confidence under ``weighted``).
    ``confidence`` blends agreement and certainty: the summed confidence of the winner's
    supporters divided by the size of the whole panel (the agents that failed or abstained
    count as not supporting it), so only a unanimous, fully confident panel gives 1.0, one
    valid answer out of three can never give more than a third, and a bare, hesitant
    majority gives little.
    """

    winner: int | None
    reached: bool
    tie: bool
    confidence: float
    scores: dict[int, float]
    ballots: int


@dataclass(frozen=True, slots=True)
class Consensus:
    """A debate's verdict: the data of its ``consensus`` event.

    ``outcome`` is ``consensus`` (decided by the rule), ``plurality`` (a leading answer
    without the rule's agreement), ``tie``, ``no_quorum`` (too few valid answers),
    ``quorum_lost`` (too few working agents) or ``cancelled``; ``reason`` says why there is
    no decision (or no consensus). Events logged before ``outcome``, ``reason`` and the
    quorum counts (``valid_answers``, ``panel``, ``quorum``) existed read back with them
    ``None``, as may ``rule``."""

    rule: str | None
    outcome: str | None
    reached: bool
    final_answer: str | None
    confidence: float
    tie: bool
    judge: str | None
    winner: int | None
    options: tuple[str, ...]
    tally: dict[str, float]
    ballots: int
    valid_answers: int | None
    panel: int | None
    quorum: int | None
    reason: str | None

    def to_wire(self) -> dict[str, Any]:
        """The event's data (key order included)."""
        return {
            "rule": self.rule,
            "outcome": self.outcome,
            "reached": self.reached,
            "final_answer": self.final_answer,
            "confidence": self.confidence,
            "tie": self.tie,
            "judge": self.judge,
            "winner": self.winner,
            "options": list(self.options),
            "tally": dict(self.tally),
            "ballots": self.ballots,
            "valid_answers": self.valid_answers,
            "panel": self.panel,
            "quorum": self.quorum,
            "reason": self.reason,
        }

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Consensus:
        """Read a stored ``consensus`` event's data, values as stored; keys that older
        versions did not write read as ``None`` (flags as false, counts as 0)."""
        return cls(
            rule=data.get("rule"),
            outcome=data.get("outcome"),
            reached=bool(data.get("reached")),
            final_answer=data.get("final_answer"),
            confidence=data.get("confidence", 0.0),
            tie=bool(data.get("tie")),
            judge=data.get("judge"),
            winner=data.get("winner"),
            options=tuple(data.get("options") or ()),
            tally=dict(data.get("tally") or {}),
            ballots=data.get("ballots", 0),
            valid_answers=data.get("valid_answers"),
            panel=data.get("panel"),
            quorum=data.get("quorum"),
            reason=data.get("reason"),
        )


def tally(
    ballots: Sequence[Ballot],
    rule: ConsensusRule,
    *,
    supermajority_threshold: float = 2 / 3,
    panel_size: int | None = None,
) -> Tally:
    """Count ``ballots`` under ``rule``; ``panel_size`` (default: the number of ballots,
    never less) is the whole panel the confidence is measured against.

    ``judge`` is decided by the judge, not by counting; here it counts like ``majority`` so
    callers get the panel's view (and a fallback when no judge could decide).
    The winner is the option with the highest score; ties go to the higher summed
    confidence, then to the option that appeared first. A tie on the score itself is
    reported (``tie=True``) and never counts as consensus.
    """
    if not ballots:
        return Tally(winner=None, reached=False, tie=False, confidence=0.0, scores={}, ballots=0)

    counts: dict[int, float] = {}
    weights: dict[int, float] = {}
    for ballot in ballots:
        counts[ballot.option] = counts.get(ballot.option, 0.0) + 1.0
        weights[ballot.option] = weights.get(ballot.option, 0.0) + _clamp(ballot.confidence)

    scores = weights if rule is ConsensusRule.WEIGHTED else counts
    ranked = sorted(scores, key=lambda opt: (-scores[opt], -weights[opt], opt))
    winner = ranked[0]
    tie = len(ranked) > 1 and _close(scores[ranked[0]], scores[ranked[1]])

    total = sum(scores.values())
    share = scores[winner] / total if total > 0 else 0.0
    if rule is ConsensusRule.UNANIMOUS:
        reached = len(scores) == 1
    elif rule is ConsensusRule.SUPERMAJORITY:
        reached = share >= supermajority_threshold - 1e-9
    else:  # majority, weighted, and judge's panel view: strictly more than half
        reached = share > 0.5 + 1e-9
    reached = reached and not tie

    confidence = weights[winner] / max(panel_size or 0, len(ballots))
    return Tally(
        winner=winner,
        reached=reached,
        tie=tie,
        confidence=round(_clamp(confidence), 4),
        scores=scores,
        ballots=len(ballots),
    )


def _clamp(value: float) -> float:
    return min(1.0, max(0.0, value))


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9
