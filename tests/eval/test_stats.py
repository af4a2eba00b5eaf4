"""The statistics: exact McNemar, bootstrap intervals of an accuracy and of a paired
difference, checked against closed forms."""

from __future__ import annotations

import itertools
import math
import random

import pytest

from aragora.eval.stats import (
    _binomial_cdf,
    bootstrap_ci,
    compare,
    mcnemar_exact,
    paired_bootstrap_ci,
)


def test_mcnemar_exact_against_hand_computed_values() -> None:
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(5, 5) == 1.0
    assert mcnemar_exact(0, 6) == pytest.approx(2 / 64)
    assert mcnemar_exact(1, 9) == pytest.approx(2 * 11 / 1024)
    assert mcnemar_exact(9, 1) == mcnemar_exact(1, 9)
    assert mcnemar_exact(0, 3000) < 1e-300  # no overflow on thousands of discordant pairs


def test_the_binomial_cdf_is_a_distribution() -> None:
    cdf = _binomial_cdf(50, 0.3)
    assert cdf[-1] == pytest.approx(1.0)
    assert all(a <= b for a, b in itertools.pairwise(cdf))
    assert cdf[15] == pytest.approx(0.5692, abs=1e-4)  # P(X <= 15), X ~ Bin(50, 0.3)


def test_the_bootstrap_interval_matches_the_normal_one_at_large_n() -> None:
    low, high = bootstrap_ci(1568, 2000)
    half = 1.96 * math.sqrt(0.784 * 0.216 / 2000)
    assert low == pytest.approx(0.784 - half, abs=0.003)
    assert high == pytest.approx(0.784 + half, abs=0.003)
    assert bootstrap_ci(0, 0) == (0.0, 0.0)
    assert bootstrap_ci(10, 10) == (1.0, 1.0)
    assert bootstrap_ci(1568, 2000) == bootstrap_ci(1568, 2000)  # seeded


def test_the_bootstrap_interval_covers_the_truth_about_95_percent_of_the_time() -> None:
    rng = random.Random(3)
    covered = 0
    for trial in range(200):
        right = sum(rng.random() < 0.6 for _ in range(300))
        low, high = bootstrap_ci(right, 300, seed=trial, resamples=1000)
        covered += low <= 0.6 <= high
    assert 180 <= covered <= 198  # 95 % of 200 is 190; the binomial sd is about 3


def test_the_paired_interval_and_the_comparison() -> None:
    low, high = paired_bootstrap_ci(120, 60, 2000)
    assert low < 0.03 < high
    assert low > 0
    assert paired_bootstrap_ci(0, 0, 100) == (0.0, 0.0)
    a = [True] * 80 + [False] * 20
    b = [True] * 60 + [False] * 40
    result = compare("debate", "vote", a, b)
    assert (result.only_a, result.only_b, result.n) == (20, 0, 100)
    assert result.accuracy_a - result.accuracy_b == pytest.approx(0.2)
    assert result.p_value == pytest.approx(2 / 2**20)
    assert result.to_dict()["test"] == "mcnemar_exact"
    with pytest.raises(ValueError, match="same length"):
        compare("a", "b", [True], [])
