"""Whether a debate's agents have stopped changing their positions between rounds.

After each revision round the engine compares every agent's answer with its answer of the
round before. An agent has *kept its position* when the two answers are the same position
as :func:`~aragora.debate.normalize.cluster_answers` judges it (equal keys, or free text that
differs in no polarity, number, name or opposite and is similar enough); overlapping words
alone never count, so an agent that flips from "17 is prime" to "17 is not prime" has moved.
When every agent kept its position the panel has converged and further rounds would only
cost money, so the debate may stop early.

:func:`lexical_similarity`, the default measure, is defined in :mod:`aragora.debate.normalize`
(clustering needs it too) and re-exported here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aragora.debate.normalize import (
    Similarity,
    cluster_answers,
    compare_answers,
    lexical_similarity,
)
from aragora.errors import InvalidInputError

__all__ = [
    "Convergence",
    "RoundConvergence",
    "lexical_similarity",
    "measure_convergence",
]

# How far below the threshold the score of an agent that changed position is held, so that
# it still reads as below when shown rounded to two decimals or more.
_MOVED_MARGIN = 0.01


@dataclass(frozen=True, slots=True)
class Convergence:
    """How the panel's positions moved between two rounds.

    ``per_agent`` maps each compared agent, in agent-name order, to how alike its two
    answers are in words (informational; see :func:`measure_convergence`); ``similarity`` is
    the lowest of them (the panel is as unsettled as its most unsettled member);
    ``converged`` says every compared agent kept its position; ``status`` is
    ``"converged"``, ``"refining"`` or ``"diverging"``.
    """

    similarity: float
    per_agent: dict[str, float]
    converged: bool
    status: str


@dataclass(frozen=True, slots=True)
class RoundConvergence:
    """The data of a round's ``convergence`` event: :class:`Convergence` as the planner
    judged it, with ``distinct_answers``, the number of options the panel now holds."""

    round: int
    similarity: float
    per_agent: dict[str, float]
    converged: bool
    status: str
    distinct_answers: int

    def to_wire(self) -> dict[str, Any]:
        """The event's data (key order included)."""
        return {
            "round": self.round,
            "similarity": self.similarity,
            "per_agent": dict(self.per_agent),
            "converged": self.converged,
            "status": self.status,
            "distinct_answers": self.distinct_answers,
        }

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> RoundConvergence:
        """Read a stored ``convergence`` event's data, values as stored."""
        return cls(
            round=int(data["round"]),
            similarity=data.get("similarity", 0.0),
            per_agent=dict(data.get("per_agent") or {}),
            converged=bool(data["converged"]),
            status=data.get("status", ""),
            distinct_answers=data.get("distinct_answers", 0),
        )


def measure_convergence(
    previous: Mapping[str, str],
    current: Mapping[str, str],
    threshold: float,
    similarity: Similarity = lexical_similarity,
) -> Convergence:
    """Compare each agent's answer in ``current`` with its answer in ``previous``.

    Only agents present in both are compared. An agent *kept its position* when
    :func:`~aragora.debate.normalize.compare_answers` (with ``similarity`` and ``threshold``)
    finds its two answers the same position: the same non-empty key, or free text with no
    difference in polarity, numbers, names or opposites and ``similarity`` at least
    ``threshold``. An empty answer on either side is no kept position.

    ``per_agent`` holds the agent's score: 1.0 for the same key, 0.0 with an empty answer,
    otherwise ``similarity`` clamped to [0, 1] (NaN read as 0) — except that an agent that
    changed position scores at most ``threshold - 0.01`` (and at least 0), so however many
    words its answers share it never reads as settled.

    ``converged`` is true when at least one agent was compared and every compared agent kept
    its position; so, for a threshold of at least 0.01, exactly when ``similarity`` (the
    lowest score) is at least ``threshold``. ``status`` is:

    - ``"converged"`` when ``converged`` is true;
    - ``"refining"`` when some agent changed position but the compared agents' answers now
      form no more distinct positions (clusters under
      :func:`~aragora.debate.normalize.cluster_answers`) than their previous answers did;
    - ``"diverging"`` when they form more, or when no agent could be compared (then
      ``similarity`` is 0.0: nothing shows the answers settled).

    Raises :class:`InvalidInputError` for a threshold outside [0, 1].
    """
    if not (isinstance(threshold, int | float) and 0.0 <= threshold <= 1.0):
        raise InvalidInputError(f"convergence threshold must be in [0, 1], got {threshold!r}")
    agents = sorted(current.keys() & previous.keys())
    per_agent: dict[str, float] = {}
    moved = False
    for agent in agents:
        comparison = compare_answers(previous[agent], current[agent], similarity, threshold)
        score = comparison.similarity
        if not comparison.same:
            moved = True
            score = min(score, max(0.0, threshold - _MOVED_MARGIN))
        per_agent[agent] = score
    converged = bool(agents) and not moved
    if converged:
        status = "converged"
    elif agents and _positions(current, agents, similarity, threshold) <= _positions(
        previous, agents, similarity, threshold
    ):
        status = "refining"
    else:
        status = "diverging"
    lowest = min(per_agent.values(), default=0.0)
    return Convergence(similarity=lowest, per_agent=per_agent, converged=converged, status=status)


def _positions(
    answers: Mapping[str, str], agents: list[str], similarity: Similarity, threshold: float
) -> int:
    return len(cluster_answers([answers[agent] for agent in agents], similarity, threshold))
