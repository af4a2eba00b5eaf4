"""Counting ballots into a verdict under every consensus rule."""

from __future__ import annotations

import pytest

from aragora.debate.consensus import Ballot, tally
from aragora.debate.protocol import ConsensusRule


def ballots(*votes: tuple[int, float]) -> list[Ballot]:
    """Ballots from (option, confidence) pairs, cast by agents a1, a2, ..."""
    return [Ballot(f"a{i}", option, conf) for i, (option, conf) in enumerate(votes, start=1)]


@pytest.mark.parametrize("rule", list(ConsensusRule))
def test_no_ballots_give_no_winner_under_every_rule(rule: ConsensusRule) -> None:
    result = tally([], rule)
    assert result.winner is None
    assert result.reached is False
    assert result.tie is False
    assert result.confidence == 0.0
    assert result.scores == {}
    assert result.ballots == 0


@pytest.mark.parametrize("rule", list(ConsensusRule))
def test_a_unanimous_confident_panel_reaches_consensus_under_every_rule(
    rule: ConsensusRule,
) -> None:
    result = tally(ballots((0, 1.0), (0, 1.0), (0, 1.0)), rule)
    assert result.winner == 0
    assert result.reached is True
    assert result.tie is False
    assert result.confidence == 1.0
    assert result.ballots == 3


def test_majority_needs_strictly_more_than_half() -> None:
    result = tally(ballots((0, 0.9), (0, 0.8), (1, 0.7)), ConsensusRule.MAJORITY)
    assert result.winner == 0
    assert result.reached is True
    assert result.scores == {0: 2.0, 1: 1.0}


def test_majority_is_not_reached_by_a_plurality() -> None:
    result = tally(
        ballots((0, 0.9), (0, 0.9), (1, 0.9), (2, 0.9), (3, 0.9)), ConsensusRule.MAJORITY
    )
    assert result.winner == 0
    assert result.tie is False
    assert result.reached is False


def test_exactly_half_is_not_a_majority() -> None:
    # 2 of 4 for option 0, the other two split: 0.5 share, not more than half
    result = tally(ballots((0, 0.9), (0, 0.9), (1, 0.8), (2, 0.8)), ConsensusRule.MAJORITY)
    assert result.winner == 0
    assert result.tie is False
    assert result.reached is False


def test_a_tie_on_count_is_reported_and_never_consensus() -> None:
    result = tally(ballots((0, 0.6), (1, 0.9)), ConsensusRule.MAJORITY)
    assert result.tie is True
    assert result.reached is False


def test_a_count_tie_goes_to_the_higher_summed_confidence() -> None:
    result = tally(ballots((0, 0.6), (0, 0.6), (1, 0.9), (1, 0.9)), ConsensusRule.MAJORITY)
    assert result.winner == 1
    assert result.tie is True


def test_a_full_tie_goes_to_the_option_that_appeared_first() -> None:
    result = tally(ballots((1, 0.7), (0, 0.7)), ConsensusRule.MAJORITY)
    assert result.winner == 0
    assert result.tie is True
    assert result.reached is False


def test_the_same_ballots_in_any_order_give_the_same_verdict() -> None:
    forward = ballots((2, 0.5), (1, 0.9), (2, 0.4), (1, 0.3))
    assert tally(forward, ConsensusRule.MAJORITY) == tally(
        list(reversed(forward)), ConsensusRule.MAJORITY
    )


def test_unanimous_needs_every_ballot_on_one_option() -> None:
    result = tally(ballots((0, 1.0), (0, 1.0), (0, 1.0), (1, 0.1)), ConsensusRule.UNANIMOUS)
    assert result.winner == 0
    assert result.reached is False


def test_a_single_ballot_is_unanimous() -> None:
    result = tally(ballots((3, 0.4)), ConsensusRule.UNANIMOUS)
    assert result.winner == 3
    assert result.reached is True
    assert result.confidence == 0.4


def test_supermajority_is_reached_at_exactly_two_thirds() -> None:
    result = tally(ballots((0, 0.9), (0, 0.9), (1, 0.9)), ConsensusRule.SUPERMAJORITY)
    assert result.winner == 0
    assert result.reached is True


def test_supermajority_is_not_reached_just_below_two_thirds() -> None:
    # 5 of 8 = 0.625 < 2/3
    votes = [(0, 0.9)] * 5 + [(1, 0.9)] * 3
    result = tally(ballots(*votes), ConsensusRule.SUPERMAJORITY)
    assert result.winner == 0
    assert result.reached is False


def test_supermajority_threshold_is_configurable() -> None:
    votes = ballots((0, 0.9), (0, 0.9), (0, 0.9), (1, 0.9))
    assert tally(votes, ConsensusRule.SUPERMAJORITY, supermajority_threshold=0.75).reached is True
    assert tally(votes, ConsensusRule.SUPERMAJORITY, supermajority_threshold=0.8).reached is False


def test_supermajority_threshold_of_one_means_everyone() -> None:
    votes = ballots((0, 0.9), (0, 0.9), (1, 0.9))
    assert tally(votes, ConsensusRule.SUPERMAJORITY, supermajority_threshold=1.0).reached is False
    same = ballots((0, 0.9), (0, 0.9))
    assert tally(same, ConsensusRule.SUPERMAJORITY, supermajority_threshold=1.0).reached is True


def test_judge_rule_counts_like_majority_for_the_panel_view() -> None:
    votes = ballots((0, 0.9), (1, 0.8), (1, 0.2))
    judged = tally(votes, ConsensusRule.JUDGE)
    majority = tally(votes, ConsensusRule.MAJORITY)
    assert judged == majority
    assert judged.winner == 1
    assert judged.reached is True


def test_weighted_scores_are_summed_confidence() -> None:
    # two hesitant votes for 0 lose to one confident vote for 1 when weighted
    votes = ballots((0, 0.3), (0, 0.3), (1, 0.9))
    weighted = tally(votes, ConsensusRule.WEIGHTED)
    assert weighted.scores == pytest.approx({0: 0.6, 1: 0.9})
    assert weighted.winner == 1
    assert weighted.reached is True  # 0.9 / 1.5 = 0.6 > 0.5


def test_count_rules_ignore_confidence_for_the_winner() -> None:
    votes = ballots((0, 0.3), (0, 0.3), (1, 0.9))
    counted = tally(votes, ConsensusRule.MAJORITY)
    assert counted.scores == {0: 2.0, 1: 1.0}
    assert counted.winner == 0


def test_weighted_with_all_zero_confidence_has_no_consensus() -> None:
    result = tally(ballots((0, 0.0), (0, 0.0)), ConsensusRule.WEIGHTED)
    assert result.winner == 0
    assert result.reached is False
    assert result.confidence == 0.0


def test_weighted_tie_is_reported() -> None:
    result = tally(ballots((0, 0.5), (0, 0.5), (1, 1.0)), ConsensusRule.WEIGHTED)
    assert result.tie is True
    assert result.reached is False


def test_confidence_is_winner_supporters_confidence_over_all_ballots() -> None:
    result = tally(ballots((0, 0.9), (0, 0.6), (1, 1.0)), ConsensusRule.MAJORITY)
    assert result.confidence == pytest.approx((0.9 + 0.6) / 3)


def test_a_bare_hesitant_majority_gives_little_confidence() -> None:
    result = tally(ballots((0, 0.2), (0, 0.2), (1, 0.2)), ConsensusRule.MAJORITY)
    assert result.reached is True
    assert result.confidence == pytest.approx(0.4 / 3, abs=1e-4)


def test_confidence_is_rounded_to_four_places() -> None:
    result = tally(ballots((0, 1.0), (1, 0.5), (2, 0.5)), ConsensusRule.MAJORITY)
    assert result.confidence == 0.3333


def test_out_of_range_confidence_is_clamped() -> None:
    result = tally(ballots((0, 1.7), (0, -0.4)), ConsensusRule.WEIGHTED)
    assert result.scores == {0: 1.0}
    assert result.confidence == 0.5
