"""The statistics of an evaluation, with the standard library only.

- :func:`bootstrap_ci` — the percentile bootstrap of an accuracy. Resampling ``n`` scored
  questions with replacement makes the number right a Binomial(n, p̂) draw, so each
  resample is one draw from that distribution by inversion of its exact CDF (the same
  distribution as resampling question by question, at a fraction of the cost).
- :func:`paired_bootstrap_ci` — the same for the difference of two modes' accuracies on the
  same questions: a resample's (only-A-right, only-B-right) counts are a multinomial draw,
  made as two binomial draws.
- :func:`mcnemar_exact` — McNemar's exact test: the two-sided binomial test of the
  discordant pairs against one half.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

__all__ = [
    "Comparison",
    "bootstrap_ci",
    "compare",
    "mcnemar_exact",
    "paired_bootstrap_ci",
]

RESAMPLES = 4000
LEVEL = 0.95


@lru_cache(maxsize=4096)
def _binomial_cdf(n: int, p: float) -> tuple[float, ...]:
    """P(X <= k) for k = 0..n, X ~ Binomial(n, p)."""
    if p <= 0.0:
        return (1.0,) * (n + 1)
    if p >= 1.0:
        return (0.0,) * n + (1.0,)
    log_p, log_q = math.log(p), math.log1p(-p)
    base = math.lgamma(n + 1)
    total, cdf = 0.0, []
    for k in range(n + 1):
        total += math.exp(
            base - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * log_p + (n - k) * log_q
        )
        cdf.append(total)
    return tuple(cdf)


def _binomial(rng: random.Random, n: int, p: float) -> int:
    if n == 0:
        return 0
    cdf = _binomial_cdf(n, round(p, 12))
    return min(n, bisect.bisect_left(cdf, rng.random() * cdf[-1]))


def _percentiles(values: list[float], level: float) -> tuple[float, float]:
    values.sort()
    tail = (1.0 - level) / 2
    low = values[math.floor(tail * (len(values) - 1))]
    high = values[math.ceil((1.0 - tail) * (len(values) - 1))]
    return low, high


def bootstrap_ci(
    correct: int, n: int, *, seed: int = 0, resamples: int = RESAMPLES, level: float = LEVEL
) -> tuple[float, float]:
    """The percentile bootstrap interval of the accuracy ``correct / n`` (``(0, 0)`` for
    ``n == 0``)."""
    if n == 0:
        return 0.0, 0.0
    rng = random.Random(f"ci:{seed}:{correct}:{n}")
    p = correct / n
    draws = [_binomial(rng, n, p) / n for _ in range(resamples)]
    return _percentiles(draws, level)


def paired_bootstrap_ci(
    only_a: int,
    only_b: int,
    n: int,
    *,
    seed: int = 0,
    resamples: int = RESAMPLES,
    level: float = LEVEL,
) -> tuple[float, float]:
    """The percentile bootstrap interval of accuracy(A) - accuracy(B) over ``n`` paired
    questions, ``only_a`` of them right under A alone and ``only_b`` under B alone."""
    if n == 0:
        return 0.0, 0.0
    rng = random.Random(f"paired:{seed}:{only_a}:{only_b}:{n}")
    discordant = only_a + only_b
    share = discordant / n
    draws = []
    for _ in range(resamples):
        d = _binomial(rng, n, share)
        a = _binomial(rng, d, only_a / discordant) if discordant else 0
        draws.append((a - (d - a)) / n)
    return _percentiles(draws, level)


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value for the discordant counts (1.0 with none)."""
    m = only_a + only_b
    if m == 0:
        return 1.0
    k = min(only_a, only_b)
    tail = sum(math.comb(m, i) for i in range(k + 1))
    # Exact integer arithmetic, then one division: no underflow for large m.
    return min(1.0, 2 * tail / (1 << m))


@dataclass(frozen=True, slots=True)
class Comparison:
    """Mode ``a`` against mode ``b`` on the questions both scored."""

    a: str
    b: str
    n: int
    accuracy_a: float
    accuracy_b: float
    only_a: int
    only_b: int
    p_value: float
    diff_ci_low: float
    diff_ci_high: float

    def to_dict(self) -> dict[str, object]:
        return {
            "a": self.a,
            "b": self.b,
            "n": self.n,
            "accuracy_a": round(self.accuracy_a, 4),
            "accuracy_b": round(self.accuracy_b, 4),
            "diff": round(self.accuracy_a - self.accuracy_b, 4),
            "diff_ci_low": round(self.diff_ci_low, 4),
            "diff_ci_high": round(self.diff_ci_high, 4),
            "only_a_correct": self.only_a,
            "only_b_correct": self.only_b,
            "test": "mcnemar_exact",
            "p_value": round(self.p_value, 6),
        }


def compare(a: str, b: str, right_a: Sequence[bool], right_b: Sequence[bool]) -> Comparison:
    """Compare two modes' per-question results (paired: the same questions, in order)."""
    if len(right_a) != len(right_b):
        raise ValueError("paired results must have the same length")
    n = len(right_a)
    only_a = sum(1 for x, y in zip(right_a, right_b, strict=True) if x and not y)
    only_b = sum(1 for x, y in zip(right_a, right_b, strict=True) if y and not x)
    low, high = paired_bootstrap_ci(only_a, only_b, n)
    return Comparison(
        a=a,
        b=b,
        n=n,
        accuracy_a=sum(right_a) / n if n else 0.0,
        accuracy_b=sum(right_b) / n if n else 0.0,
        only_a=only_a,
        only_b=only_b,
        p_value=mcnemar_exact(only_a, only_b),
        diff_ci_low=low,
        diff_ci_high=high,
    )
