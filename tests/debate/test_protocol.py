"""The debate protocol: defaults, validation, round trips and the quorum rule."""

from __future__ import annotations

import math
from typing import Any

import pytest

from aragora.debate.protocol import MAX_ROUNDS, ConsensusRule, DebateProtocol, Mode
from aragora.errors import InvalidInputError, UserError


def build(**changes: Any) -> DebateProtocol:
    return DebateProtocol(**changes)


def test_defaults() -> None:
    protocol = DebateProtocol()
    assert protocol.mode is Mode.AUTO
    assert protocol.rounds == 3
    assert protocol.consensus is ConsensusRule.MAJORITY
    assert protocol.supermajority_threshold == pytest.approx(2 / 3)
    assert protocol.judge is None
    assert protocol.convergence_threshold == 0.85
    assert protocol.early_stop is True
    assert protocol.quorum is None
    assert protocol.agent_timeout == 120.0
    assert protocol.debate_timeout == 900.0
    assert protocol.max_tokens is None
    assert protocol.max_cost_usd is None
    assert protocol.max_answer_tokens == 1024


def test_mode_and_rule_accept_their_string_values() -> None:
    protocol = build(mode="debate", consensus="supermajority")
    assert protocol.mode is Mode.DEBATE
    assert protocol.consensus is ConsensusRule.SUPERMAJORITY


def test_validation_errors_are_user_errors() -> None:
    with pytest.raises(UserError):
        build(rounds=0)


def test_unknown_mode_lists_the_known_ones() -> None:
    with pytest.raises(InvalidInputError, match="unknown mode 'chat'") as caught:
        build(mode="chat")
    for mode in Mode:
        assert mode.value in str(caught.value)


def test_unknown_consensus_rule_lists_the_known_ones() -> None:
    with pytest.raises(InvalidInputError, match="unknown consensus rule 'plurality'") as caught:
        build(consensus="plurality")
    for rule in ConsensusRule:
        assert rule.value in str(caught.value)


@pytest.mark.parametrize("rounds", [0, -1, MAX_ROUNDS + 1, 2.5, "3", True, None])
def test_bad_rounds_are_rejected(rounds: object) -> None:
    with pytest.raises(
        InvalidInputError, match=rf"rounds must be an integer from 1 to {MAX_ROUNDS}"
    ):
        build(rounds=rounds)


@pytest.mark.parametrize("rounds", [1, MAX_ROUNDS])
def test_rounds_bounds_are_inclusive(rounds: int) -> None:
    assert build(rounds=rounds).rounds == rounds


@pytest.mark.parametrize("value", [0, 0.0, -0.1, 1.01, math.nan, math.inf, "0.7", True])
def test_bad_supermajority_threshold_is_rejected(value: object) -> None:
    with pytest.raises(
        InvalidInputError, match=r"supermajority_threshold must be a number in \(0, 1\]"
    ):
        build(supermajority_threshold=value)


def test_supermajority_threshold_may_be_one() -> None:
    assert build(supermajority_threshold=1).supermajority_threshold == 1


@pytest.mark.parametrize("value", [-0.01, 1.5, math.nan, "high", False])
def test_bad_convergence_threshold_is_rejected(value: object) -> None:
    # 0 is accepted (see below), so the message must state the closed range [0, 1]
    with pytest.raises(
        InvalidInputError, match=r"convergence_threshold must be a number in \[0, 1\]"
    ):
        build(convergence_threshold=value)


@pytest.mark.parametrize("value", [0.0, 1.0])
def test_convergence_threshold_bounds_are_inclusive(value: float) -> None:
    assert build(convergence_threshold=value).convergence_threshold == value


@pytest.mark.parametrize("name", ["agent_timeout", "debate_timeout", "max_cost_usd"])
@pytest.mark.parametrize("value", [0, -5, math.inf, math.nan, "10", True])
def test_bad_timeouts_and_cost_budget_are_rejected(name: str, value: object) -> None:
    with pytest.raises(InvalidInputError, match=rf"{name} must be a positive number"):
        build(**{name: value})


@pytest.mark.parametrize("name", ["agent_timeout", "debate_timeout", "max_cost_usd"])
def test_timeouts_and_cost_budget_may_be_unlimited(name: str) -> None:
    assert getattr(build(**{name: None}), name) is None
    assert getattr(build(**{name: 0.5}), name) == 0.5


@pytest.mark.parametrize("value", [0, -1, 1.5, "100", True])
def test_bad_token_budget_is_rejected(value: object) -> None:
    with pytest.raises(InvalidInputError, match=r"max_tokens must be an integer from 1"):
        build(max_tokens=value)


@pytest.mark.parametrize("value", [15, 200_001, 512.0])
def test_bad_max_answer_tokens_is_rejected(value: object) -> None:
    with pytest.raises(InvalidInputError, match=r"max_answer_tokens must be an integer from 16"):
        build(max_answer_tokens=value)


@pytest.mark.parametrize("value", [0, -2, 1001, 2.0])
def test_bad_quorum_is_rejected(value: object) -> None:
    with pytest.raises(InvalidInputError, match=r"quorum must be an integer from 1 to 1000"):
        build(quorum=value)


@pytest.mark.parametrize("value", ["", "   ", 3])
def test_bad_judge_is_rejected(value: object) -> None:
    with pytest.raises(InvalidInputError, match="judge must be a non-empty agent name"):
        build(judge=value)


def test_to_dict_is_json_ready() -> None:
    data = build(mode=Mode.DEBATE, consensus=ConsensusRule.JUDGE, judge="a1").to_dict()
    assert data["mode"] == "debate"
    assert data["consensus"] == "judge"
    assert type(data["mode"]) is str
    assert type(data["consensus"]) is str
    assert data["judge"] == "a1"


def test_round_trip_through_dict() -> None:
    protocol = build(
        mode=Mode.VOTE,
        rounds=5,
        consensus=ConsensusRule.WEIGHTED,
        supermajority_threshold=0.75,
        judge="critic",
        convergence_threshold=0.5,
        early_stop=False,
        quorum=2,
        agent_timeout=None,
        debate_timeout=30.0,
        max_tokens=50_000,
        max_cost_usd=1.25,
        max_answer_tokens=256,
    )
    assert DebateProtocol.from_dict(protocol.to_dict()) == protocol
    assert DebateProtocol.from_dict(DebateProtocol().to_dict()) == DebateProtocol()


def test_from_dict_fills_defaults_for_missing_keys() -> None:
    assert DebateProtocol.from_dict({"rounds": 2}) == build(rounds=2)


def test_from_dict_rejects_unknown_keys_by_name() -> None:
    with pytest.raises(InvalidInputError, match="unknown protocol field" r"\(s\): color, roundz"):
        DebateProtocol.from_dict({"roundz": 2, "color": "blue", "rounds": 2})


def test_from_dict_validates_values() -> None:
    with pytest.raises(InvalidInputError, match="unknown mode"):
        DebateProtocol.from_dict({"mode": "shout"})


def test_with_changes_validates_again() -> None:
    protocol = DebateProtocol()
    assert protocol.with_changes(rounds=4).rounds == 4
    assert protocol.rounds == 3
    with pytest.raises(InvalidInputError, match="rounds"):
        protocol.with_changes(rounds=99)


@pytest.mark.parametrize(("panel", "needed"), [(1, 1), (2, 2), (3, 2), (4, 3), (5, 3), (6, 4)])
def test_default_quorum_is_a_majority_of_the_panel(panel: int, needed: int) -> None:
    assert DebateProtocol().quorum_for(panel) == needed


def test_explicit_quorum_is_capped_at_the_panel_size() -> None:
    protocol = build(quorum=4)
    assert protocol.quorum_for(10) == 4
    assert protocol.quorum_for(3) == 3
    assert build(quorum=1).quorum_for(5) == 1
