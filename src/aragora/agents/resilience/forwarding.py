"""The base of the resilience wrappers: an LLM that wraps another and forwards the rest,
including the optional ports the engine reads (:class:`~aragora.debate.ports.CostEstimator`,
:class:`~aragora.debate.ports.SelfTimed`, :class:`~aragora.debate.ports.Availability`)."""

from __future__ import annotations

from aragora.debate.ports import (
    LLM,
    Completion,
    CompletionRequest,
    TokenCallback,
    Usage,
    estimates_cost,
    seconds_unavailable,
    times_own_calls,
)

__all__ = ["Wrapper"]


class Wrapper:
    """Forwards ``provider``, ``model``, ``estimate_usage``, ``times_calls`` and
    ``unavailable_for`` to the wrapped LLM; subclasses change :meth:`complete` (and what
    they add to the others)."""

    def __init__(self, inner: LLM) -> None:
        self._inner = inner

    @property
    def inner(self) -> LLM:
        """The wrapped agent."""
        return self._inner

    @property
    def provider(self) -> str:
        return self._inner.provider

    @property
    def model(self) -> str:
        return self._inner.model

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._inner!r})"

    def estimate_usage(self, request: CompletionRequest) -> Usage:
        """The wrapped agent's estimate (nothing, if it makes none)."""
        if estimates_cost(self._inner):
            return self._inner.estimate_usage(request)
        return Usage()

    def times_calls(self) -> bool:
        """Whether the wrapped agent bounds its own calls from sending (see
        :class:`~aragora.debate.ports.SelfTimed`)."""
        return times_own_calls(self._inner)

    def unavailable_for(self) -> float | None:
        """The wrapped agent's answer (None, a call may be made, when it cannot tell)."""
        return seconds_unavailable(self._inner)

    async def complete(
        self, request: CompletionRequest, on_token: TokenCallback | None = None
    ) -> Completion:
        """Call the wrapped agent unchanged."""
        return await self._inner.complete(request, on_token)
