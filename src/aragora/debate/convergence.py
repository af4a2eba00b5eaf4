"""Whether a debate's answers have stopped moving between rounds.

After each revision round the engine compares every agent's answer with its answer of the
round before. When every agent's answer is nearly unchanged the panel has converged and
further rounds would only cost money, so the debate may stop early.

:func:`lexical_similarity`, the default measure, is defined in :mod:`aragora.debate.normalize`
(clustering needs it too) and re-exported here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from aragora.debate.normalize import Similarity, lexical_similarity, normalize_answer
from aragora.errors import InvalidInputError

__all__ = [
    "DIVERGING_BELOW",
    "Convergence",
    "lexical_similarity",
    "measure_convergence",
]

DIVERGING_BELOW = 0.4
"""Below this minimum similarity a round is "diverging": some agent changed its answer
substantially rather than refining it."""


@dataclass(frozen=True, slots=True)
class Convergence:
    """How much the answers moved between two rounds.

    ``similarity`` is the lowest per-agent similarity (the panel is as unsettled as its most
    unsettled member); ``per_agent`` maps each compared agent to its similarity, in agent-name
    order; ``status`` is ``"converged"``, ``"refining"`` or ``"diverging"``.
    """

    similarity: float
    per_agent: dict[str, float]
    converged: bool
    status: str


def measure_convergence(
    previous: Mapping[str, str],
    current: Mapping[str, str],
    threshold: float,
    similarity: Similarity = lexical_similarity,
) -> Convergence:
    """Compare each agent's answer in ``current`` with its answer in ``previous``.

    Only agents present in both are compared. An agent whose two answers have the same
    non-empty :func:`~aragora.debate.normalize.normalize_answer` key scores 1.0 without
    calling ``similarity``; an empty answer on either side scores 0.0 (no answer is not a
    settled answer); otherwise ``similarity`` decides, clamped to [0, 1] with NaN read as 0.

    ``converged`` is true when at least one agent was compared and every compared agent
    scores at least ``threshold``; then ``status`` is ``"converged"``. Otherwise ``status``
    is ``"diverging"`` when the minimum is below :data:`DIVERGING_BELOW` and ``"refining"``
    when it is not. With no agent to compare, ``similarity`` is 0.0 (nothing shows the
    answers settled), which makes the result not converged and ``"diverging"``, the same
    rule as everywhere else. Raises :class:`InvalidInputError` for a threshold outside [0, 1].
    """
    if not (isinstance(threshold, int | float) and 0.0 <= threshold <= 1.0):
        raise InvalidInputError(f"convergence threshold must be in [0, 1], got {threshold!r}")
    per_agent = {
        agent: _agent_similarity(previous[agent], current[agent], similarity)
        for agent in sorted(current.keys() & previous.keys())
    }
    lowest = min(per_agent.values(), default=0.0)
    converged = bool(per_agent) and lowest >= threshold
    if converged:
        status = "converged"
    elif lowest < DIVERGING_BELOW:
        status = "diverging"
    else:
        status = "refining"
    return Convergence(similarity=lowest, per_agent=per_agent, converged=converged, status=status)


def _agent_similarity(before: str, after: str, similarity: Similarity) -> float:
    key_before, key_after = normalize_answer(before), normalize_answer(after)
    if not key_before or not key_after:
        return 0.0
    if key_before == key_after:
        return 1.0
    score = similarity(before, after)
    if math.isnan(score):
        return 0.0
    return min(1.0, max(0.0, score))
