"""Agents' ELO ratings, updated from each finished debate's outcome.

Every pair of rated agents in a debate plays one game: an agent whose final position
agreed with the decision beats one whose position did not; agents on the same side draw;
when the debate reached no decision every pair draws. Each agent's change is the sum over
its games of ``K / (n - 1) * (score - expected)``, so a panel's size does not scale how
fast ratings move. Agents that failed take no part in the games (their debate is still
counted).

A rating belongs to an agent's (provider, model, name): the same name under two models
is two leaderboard entries, so a label reused for a different model starts afresh.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from aragora.records.debates import Rating, RatingKey

__all__ = ["K_FACTOR", "leaderboard_rows", "rate_debate", "rating_keys"]

K_FACTOR = 32.0


def rating_keys(document: Mapping[str, Any]) -> dict[str, RatingKey]:
    """Each agent's name in a debate ``document`` and the key of its rating."""
    return {
        str(a["name"]): (str(a.get("provider") or ""), str(a.get("model") or ""), str(a["name"]))
        for a in document.get("agents") or []
    }


def rate_debate(document: Mapping[str, Any], current: Mapping[RatingKey, Rating]) -> list[Rating]:
    """New ratings for the agents of a finished debate ``document`` (CONTRACT's debate
    document), starting from ``current`` (agents missing from it start at 1500)."""
    keys = rating_keys(document)
    agents = list(keys)
    if not agents:
        return []
    failed = {str(a["name"]) for a in document.get("agents") or [] if a.get("failed")}
    decided = document.get("status") == "completed" and document.get("final_answer") is not None
    agrees = {
        str(p["agent"]): bool(p.get("agrees"))
        for p in document.get("positions") or []
        if isinstance(p, Mapping) and "agent" in p
    }
    players = [a for a in agents if a not in failed]
    ratings = {
        a: current.get(keys[a]) or Rating(agent=a, provider=keys[a][0], model=keys[a][1])
        for a in agents
    }
    deltas = dict.fromkeys(agents, 0.0)
    k = K_FACTOR / max(1, len(players) - 1)
    for i, a in enumerate(players):
        for b in players[i + 1 :]:
            score = _score(agrees.get(a), agrees.get(b)) if decided else 0.5
            expected = 1.0 / (1.0 + 10 ** ((ratings[b].elo - ratings[a].elo) / 400.0))
            deltas[a] += k * (score - expected)
            deltas[b] -= k * (score - expected)
    updated = []
    for agent in agents:
        rating = ratings[agent]
        side = agrees.get(agent) if decided and agent not in failed else None
        updated.append(
            replace(
                rating,
                elo=round(rating.elo + deltas[agent], 2),
                wins=rating.wins + (side is True),
                losses=rating.losses + (side is False),
                draws=rating.draws + (side is None and agent not in failed),
                debates=rating.debates + 1,
            )
        )
    return updated


def _score(a: bool | None, b: bool | None) -> float:
    if bool(a) == bool(b):
        return 0.5
    return 1.0 if a else 0.0


def leaderboard_rows(ratings: Sequence[Rating]) -> list[dict[str, Any]]:
    """CONTRACT's ``rankings`` entries, with the ``provider`` and ``model`` the rating
    belongs to (``null`` for a rating from before ratings knew their model)."""
    return [
        {
            "rank": index,
            "agent": r.agent,
            "name": r.agent,
            "provider": r.provider or None,
            "model": r.model or None,
            "elo": r.elo,
            "wins": r.wins,
            "losses": r.losses,
            "draws": r.draws,
            "debates": r.debates,
            "win_rate": round(r.wins / r.debates, 4) if r.debates else 0.0,
        }
        for index, r in enumerate(ratings, start=1)
    ]
