"""Turning ballots into a verdict under one consensus rule. Pure functions.

Options are the distinct answers of a debate (clustered so equal answers count once),
identified by their index in first-appearance order; that order also breaks ties last,
so the same ballots always give the same verdict.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aragora.debate.protocol import ConsensusRule

__all__ = ["Ballot", "Tally", "tally"]


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
