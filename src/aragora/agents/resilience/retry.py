"""How patiently a call is retried: which failures are worth another attempt, how long to
wait before it, and which failures say the server was not there at all (a restart), which
are waited for by time rather than counted as attempts. Pure policy; the waiting is done by
:class:`aragora.agents.resilience.wrappers.Dispatch`."""

from __future__ import annotations

from dataclasses import dataclass

from aragora.agents.wire.transport import Kind
from aragora.errors import ProviderError

__all__ = ["RETRYABLE_KINDS", "RetryPolicy", "not_answered"]

RETRYABLE_KINDS = frozenset(
    {
        Kind.RATE_LIMITED,
        Kind.OVERLOADED,
        Kind.SERVER_ERROR,
        Kind.NETWORK,
        Kind.TIMEOUT,
        Kind.INVALID_RESPONSE,
        Kind.CUT_OFF,
    }
)
"""Failures worth trying again. Never: auth, bad_request, context_too_long (the same
request fails the same way), quota_exhausted (it will not come back within a call),
circuit_open (the breaker exists to stop calls), queue_timeout (the call already waited
its bound for our own queue)."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently to retry.

    Attempt ``n`` (from 1) that fails is followed by a wait drawn uniformly from
    ``[0, min(max_delay, base_delay * 2**(n-1))]`` ("full jitter"), but never shorter than
    the provider's ``Retry-After``. A ``Retry-After`` longer than ``max_retry_after`` is not
    waited for: the error goes up at once (so a fallback can take the call).

    A failure that says the server was not there (see :class:`Dispatch`) is retried until
    ``connect_retry`` seconds have passed since the first such failure (the last attempt
    made at that moment), the ``k``-th wait drawn from ``[c/2, c]`` with
    ``c = min(connect_max_delay, connect_base_delay * 2**(k-1))``; these do not count
    against ``attempts``.
    """

    attempts: int = 3
    base_delay: float = 0.5
    max_delay: float = 20.0
    max_retry_after: float = 30.0
    connect_retry: float = 30.0
    connect_base_delay: float = 0.25
    connect_max_delay: float = 2.0

    def __post_init__(self) -> None:
        delays = (self.base_delay, self.max_delay, self.connect_retry, self.connect_base_delay)
        if self.attempts < 1 or min(delays) < 0 or self.connect_max_delay <= 0:
            raise ValueError("attempts must be >= 1 and delays >= 0")

    def delay(self, attempt: int, error: ProviderError, draw: float) -> float | None:
        """Seconds to wait after failed attempt ``attempt`` (``draw`` uniform in [0, 1));
        None means do not retry."""
        if error.kind not in RETRYABLE_KINDS or attempt >= self.attempts:
            return None
        wait = draw * min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        if error.retry_after is not None:
            if error.retry_after > self.max_retry_after:
                return None
            wait = max(wait, error.retry_after)
        return wait

    def connect_delay(self, failures: int, draw: float) -> float:
        """Seconds to wait after the ``failures``-th failure in a row to reach the server."""
        growth = 2.0 ** min(failures - 1, 32)
        ceiling = min(self.connect_max_delay, self.connect_base_delay * growth)
        return ceiling * (0.5 + 0.5 * draw)


def not_answered(error: ProviderError, streamed: bool) -> bool:
    """Whether a failed attempt says the server was not there to take the call: a network
    failure (refused, reset, closed) before any text came back, or a ``503 Loading model``
    (llama.cpp's answer while a restarted server loads its model)."""
    if error.kind == Kind.NETWORK:
        return not streamed
    return error.kind == Kind.OVERLOADED and "loading model" in str(error).lower()
