"""The base of the resilience wrappers: an LLM that wraps another and forwards the rest."""

from __future__ import annotations

from aragora.debate.ports import (
    LLM,
    Completion,
    CompletionRequest,
    CostEstimator,
    TokenCallback,
    Usage,
)

__all__ = ["Wrapper"]


class Wrapper:
    """Forwards ``provider``, ``model`` and ``estimate_usage`` to the wrapped LLM;
    subclasses change :meth:`complete`."""

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
        if isinstance(self._inner, CostEstimator):
            return self._inner.estimate_usage(request)
        return Usage()

    async def complete(
        self, request: CompletionRequest, on_token: TokenCallback | None = None
    ) -> Completion:
        """Call the wrapped agent unchanged."""
        return await self._inner.complete(request, on_token)
