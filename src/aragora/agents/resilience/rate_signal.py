"""What a provider's response says about its request limits, read from its headers.

Every response a provider sends (an answer's ``200`` head as much as a ``429``) may say how
many requests it allows and how many are left; :func:`read_rate_signal` reads that into a
:class:`RateSignal`, which the endpoint's limiter learns from
(:meth:`~aragora.agents.resilience.limits.ProviderLimit.learn`). The headers read, as each provider
documents them:

- ``retry-after`` (seconds or an HTTP date) and ``retry-after-ms``: wait this long before
  the next request (sent with 429 and 503 by OpenAI, Anthropic and OpenRouter);
- OpenAI: ``x-ratelimit-limit-requests`` (requests per minute, as the usage tiers state
  them), ``x-ratelimit-remaining-requests`` and ``x-ratelimit-reset-requests`` (a duration
  such as ``1s``, ``6m0s`` or ``20ms``);
- Anthropic: ``anthropic-ratelimit-requests-limit`` (requests per minute),
  ``anthropic-ratelimit-requests-remaining`` and ``anthropic-ratelimit-requests-reset``
  (an RFC 3339 time).

Gemini sends none of these (a 429's body carries ``RetryInfo.retryDelay``, which the
error's ``retry_after`` holds): its limiter learns only from 429s.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from aragora.agents.wire.transport import parse_duration, parse_timestamp, seconds_or_date

__all__ = ["RateSignal", "read_rate_signal"]


@dataclass(frozen=True, slots=True)
class RateSignal:
    """One response's word on the endpoint's request limits (None: not said)."""

    answered: bool = False
    """The provider accepted the request (a 2xx)."""
    limited: bool = False
    """The provider refused the request for its rate (a 429)."""
    retry_after: float | None = None
    """Seconds before any further request may start."""
    limit_per_minute: int | None = None
    """Requests a minute the provider allows this key and model."""
    remaining: int | None = None
    """Requests left in the provider's current window."""
    reset: float | None = None
    """Seconds until that window starts again."""

    @property
    def says_anything(self) -> bool:
        """Whether the response tells the limiter anything (an answer counts: it may raise
        the rate)."""
        return (
            self.answered
            or self.limited
            or any(
                value is not None
                for value in (self.retry_after, self.limit_per_minute, self.remaining, self.reset)
            )
        )


def read_rate_signal(
    status: int, headers: Mapping[str, str], *, now: datetime | None = None
) -> RateSignal:
    """What a response of ``status`` with ``headers`` says about the limits (see the
    module docstring). Malformed values are ignored, never an error."""
    lowered = {key.lower(): value for key, value in headers.items()}
    moment = now or datetime.now(UTC)
    retry_after = None
    if "retry-after-ms" in lowered:
        try:
            retry_after = max(0.0, float(lowered["retry-after-ms"]) / 1000)
        except ValueError:
            retry_after = None
    if retry_after is None and "retry-after" in lowered:
        retry_after = seconds_or_date(lowered["retry-after"], moment)
    limit = _count(lowered.get("x-ratelimit-limit-requests"))
    remaining = _count(lowered.get("x-ratelimit-remaining-requests"))
    reset = parse_duration(lowered.get("x-ratelimit-reset-requests", "") or "")
    if limit is None and remaining is None:
        limit = _count(lowered.get("anthropic-ratelimit-requests-limit"))
        remaining = _count(lowered.get("anthropic-ratelimit-requests-remaining"))
        when = parse_timestamp(lowered.get("anthropic-ratelimit-requests-reset", "") or "")
        reset = None if when is None else max(0.0, (when - moment).total_seconds())
    return RateSignal(
        answered=200 <= status < 300,
        limited=status == 429,
        retry_after=retry_after,
        limit_per_minute=limit if limit else None,
        remaining=remaining,
        reset=reset,
    )


def _count(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        count = int(value.strip())
    except ValueError:
        return None
    return count if count >= 0 else None
