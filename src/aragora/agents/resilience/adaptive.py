"""How an endpoint's limits follow what the provider says: additive increase while calls
are answered, multiplicative decrease on a 429 (AIMD, as TCP finds a link's capacity).

- **Start rate.** Until the first 429 each answered call doubles the rate (TCP's slow
  start: a provider that states a limit far above the default is reached in a few calls),
  after it each answered call raises it by :attr:`AdaptivePolicy.increase` starts a second;
  never above the *ceiling*. A 429 multiplies it by
  :attr:`AdaptivePolicy.decrease` (at least :attr:`AdaptivePolicy.floor`). The 429s of one
  wave cut once: a cut within :attr:`AdaptivePolicy.hold` seconds of the last one does not
  cut again, and the rate does not rise again during that time either.
- **Ceiling.** The configured rate's ceiling (a provider's default may rise to its
  ``max_rate``, an operator's setting is its own ceiling) until the provider states its
  limit (``x-ratelimit-limit-requests``, ``anthropic-ratelimit-requests-limit``, requests a
  minute): then that limit over 60 s, never above an operator's setting.
- **Pauses.** ``Retry-After`` on a 429, or a window with no requests left (remaining 0)
  and its reset time, stop every start on the endpoint until then.
- **Remaining.** A start bucket never holds more tokens than the provider says are left.

The arithmetic is here once for the in-process bucket
(:class:`~aragora.agents.resilience.limits.TokenBucket`); the Redis bucket
(:mod:`aragora.agents.resilience.shared_limits`) does the same in its Lua script.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from aragora.agents.resilience.rate_signal import RateSignal

__all__ = ["AdaptivePolicy", "RateState"]


@dataclass(frozen=True, slots=True)
class AdaptivePolicy:
    """The AIMD constants (see the module docstring)."""

    decrease: float = 0.5
    """The rate (and the calls in flight) are multiplied by this on a 429."""
    increase: float = 1.0
    """Starts a second added per answered call while below the ceiling."""
    floor: float = 0.05
    """The least start rate (one call every 20 s)."""
    hold: float = 1.0
    """Seconds after a cut during which further 429s do not cut again (one wave's calls
    all meet the same limit) and the rate does not rise."""

    def __post_init__(self) -> None:
        if not (0 < self.decrease < 1) or self.increase < 0 or self.floor <= 0 or self.hold < 0:
            raise ValueError("AIMD needs 0 < decrease < 1, increase >= 0, floor > 0, hold >= 0")


@dataclass(slots=True)
class RateState:
    """One endpoint and model's adaptive start rate, at times of one monotonic clock."""

    rate: float
    """Starts a second allowed now."""
    ceiling: float
    """The most :attr:`rate` may rise to."""
    fixed: bool = False
    """The ceiling is the operator's: a provider's stated limit may lower, not raise, it."""
    configured: float = 0.0
    """The configured ceiling (the provider's stated limit is checked against it)."""
    paused_until: float = 0.0
    """No call starts before this time."""
    cut_at: float = -math.inf
    """When the rate was last cut."""
    remaining: int | None = None
    """Requests the provider last said were left in its window (None: not said)."""

    def learn(self, signal: RateSignal, now: float, policy: AdaptivePolicy) -> None:
        """Update from one response's ``signal`` received at ``now``."""
        configured = self.configured or self.ceiling
        if signal.limit_per_minute is not None:
            stated = signal.limit_per_minute / 60.0
            self.ceiling = min(configured, stated) if self.fixed else stated
        holding = now - self.cut_at < policy.hold
        if signal.limited:
            if not holding:
                self.rate = max(policy.floor, self.rate * policy.decrease)
                self.cut_at = now
        elif signal.answered and not holding:
            # slow start until the first 429, then additive increase (as TCP does)
            starting = math.isinf(self.cut_at)
            self.rate = self.rate * 2 if starting else self.rate + policy.increase
        self.rate = max(policy.floor, min(self.rate, self.ceiling))
        if signal.retry_after is not None and (signal.limited or signal.remaining == 0):
            self.paused_until = max(self.paused_until, now + signal.retry_after)
        if signal.remaining == 0 and signal.reset is not None:
            self.paused_until = max(self.paused_until, now + signal.reset)
        self.remaining = signal.remaining
