"""ELO from a finished debate: winners agree with the decision, losers dissent, no
decision is a draw for all, failed agents play no games."""

from __future__ import annotations

from typing import Any

import pytest

from aragora.records.debates import Rating
from aragora.runtime.ratings import K_FACTOR, leaderboard_rows, rate_debate


def document(
    agrees: dict[str, bool],
    *,
    failed: tuple[str, ...] = (),
    decided: bool = True,
    models: dict[str, str] | None = None,
) -> dict[str, Any]:
    models = models or {}
    return {
        "status": "completed" if decided else "failed",
        "final_answer": "yes" if decided else None,
        "agents": [
            {"name": a, "provider": "p", "model": models.get(a, "m"), "failed": a in failed}
            for a in [*agrees, *failed]
        ],
        "positions": [{"agent": a, "agrees": v} for a, v in agrees.items()],
    }


def by_agent(ratings: list[Rating]) -> dict[str, Rating]:
    return {r.agent: r for r in ratings}


def test_the_majority_beats_the_dissenter_and_elo_is_conserved() -> None:
    new = by_agent(rate_debate(document({"a": True, "b": True, "c": False}), {}))
    assert (new["a"].wins, new["c"].losses) == (1, 1)
    assert new["a"].elo > 1500 > new["c"].elo
    assert sum(r.elo for r in new.values()) == pytest.approx(4500, abs=0.05)
    # two games lost at even odds, each worth K/(n-1)/2
    assert new["c"].elo == pytest.approx(1500 - K_FACTOR / 2, abs=0.01)


def test_no_decision_is_a_draw_and_moves_nothing_between_equals() -> None:
    new = by_agent(rate_debate(document({"a": True, "b": False}, decided=False), {}))
    assert all(r.draws == 1 and r.elo == 1500 and r.debates == 1 for r in new.values())


def test_failed_agents_count_the_debate_but_play_no_games() -> None:
    new = by_agent(rate_debate(document({"a": True, "b": False}, failed=("x",)), {}))
    assert (new["x"].debates, new["x"].wins, new["x"].losses, new["x"].draws) == (1, 0, 0, 0)
    assert new["x"].elo == 1500


def test_an_upset_moves_ratings_more_than_an_expected_result() -> None:
    current = {
        ("p", "m", "strong"): Rating("strong", elo=1800, provider="p", model="m"),
        ("p", "m", "weak"): Rating("weak", elo=1400, provider="p", model="m"),
    }
    upset = by_agent(rate_debate(document({"strong": False, "weak": True}), current))
    expected = by_agent(rate_debate(document({"strong": True, "weak": False}), current))
    assert upset["weak"].elo - 1400 > expected["strong"].elo - 1800 > 0


def test_a_rating_belongs_to_the_name_and_its_model() -> None:
    """The same name on another model starts from its own rating, not the other's."""
    current = {("p", "m1", "a"): Rating("a", elo=1800, provider="p", model="m1")}
    new = rate_debate(document({"a": True, "b": False}, models={"a": "m2"}), current)
    assert [(r.key, r.elo) for r in new] == [
        (("p", "m2", "a"), 1516.0),
        (("p", "m", "b"), 1484.0),
    ]


def test_leaderboard_rows_have_the_contract_fields() -> None:
    rows = leaderboard_rows(
        [Rating("a", elo=1510, wins=1, debates=2, provider="p", model="m"), Rating("old")]
    )
    assert rows[1]["provider"] is None
    assert rows[1]["model"] is None
    assert rows[:1] == [
        {
            "rank": 1,
            "agent": "a",
            "name": "a",
            "provider": "p",
            "model": "m",
            "elo": 1510,
            "wins": 1,
            "losses": 0,
            "draws": 0,
            "debates": 2,
            "win_rate": 0.5,
        }
    ]
