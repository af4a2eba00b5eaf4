"""The part every HTTP provider adapter shares: one streamed POST, timed, logged, classified.

A subclass says how to phrase a request (:meth:`HTTPAdapter.request_body`) and how to read
its stream (:meth:`HTTPAdapter.read_stream`); this class sends it over the provider's pooled
client, turns a failed response or transport error into a classified
:class:`~aragora.errors.ProviderError` (with the API key scrubbed from its message), and
logs ``agent_response_time`` for every call, ``rate_limit`` for every 429 and ``timeout``
for every stalled or timed-out call.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from aragora.agents.catalog import ModelQuirks
from aragora.agents.http import (
    ClientPool,
    Kind,
    SSEEvent,
    error_from_exception,
    error_from_response,
    sse_events,
)
from aragora.agents.pricing import PriceTable
from aragora.debate.ports import Completion, CompletionRequest, TokenCallback, Usage
from aragora.errors import ProviderError
from aragora.logs import log_event

__all__ = ["HTTPAdapter", "StreamResult"]

log = logging.getLogger("aragora.agents")


@dataclass(slots=True)
class StreamResult:
    """What a stream reader collected: the text, reported usage, and whether the stream
    reached its documented end (a stream that did not was truncated)."""

    text: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    reported_cost: float | None = None
    model: str = ""
    complete: bool = False


class HTTPAdapter(ABC):
    """An :class:`~aragora.debate.ports.LLM` over one provider's streaming HTTP API.

    ``client`` is the provider endpoint's shared connection pool (base URL and auth headers
    set); ``secrets`` are strings never to repeat in an error message (the API keys).
    """

    path: str = ""

    def __init__(
        self,
        *,
        provider: str,
        model: str,
        client: ClientPool,
        prices: PriceTable,
        quirks: ModelQuirks | None = None,
        secrets: Sequence[str] = (),
    ) -> None:
        self._provider = provider
        self._model = model
        self._client = client
        self._prices = prices
        self._quirks = quirks or ModelQuirks()
        self._secrets = tuple(s for s in secrets if s)

    @property
    def provider(self) -> str:
        return self._provider

    @property
    def model(self) -> str:
        return self._model

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._provider}:{self._model})"

    def estimate_usage(self, request: CompletionRequest) -> Usage:
        """The most ``request`` could cost (its prompt and ``max_tokens`` of output)."""
        return self._prices.estimate(self._provider, self._model, request)

    async def complete(
        self, request: CompletionRequest, on_token: TokenCallback | None = None
    ) -> Completion:
        """Stream one completion; raise a classified :class:`ProviderError` on failure."""
        started = time.perf_counter()
        outcome = "error"
        tokens = 0
        try:
            result = await self._call(request, on_token)
            # Price the snapshot that answered when it is listed, else the model asked for.
            priced = result.model
            if not priced or self._prices.price(self._provider, priced) is None:
                priced = self._model
            usage = self._prices.usage(
                self._provider,
                priced,
                result.input_tokens,
                result.output_tokens,
                result.reported_cost,
            )
            tokens = usage.total_tokens
            outcome = "ok"
            return Completion(
                text=result.text,
                usage=usage,
                model=result.model or self._model,
                provider=self._provider,
            )
        except ProviderError as exc:
            outcome = exc.kind
            if exc.kind == Kind.TIMEOUT:
                self._log_timeout(request, started)
            raise
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        finally:
            log_event(
                log,
                "agent_response_time",
                provider=self._provider,
                model=self._model,
                agent=request.metadata.get("agent", ""),
                seconds=round(time.perf_counter() - started, 4),
                tokens=tokens,
                outcome=outcome,
            )

    async def _call(
        self, request: CompletionRequest, on_token: TokenCallback | None
    ) -> StreamResult:
        body = self.request_body(request)
        try:
            async with (
                self._client.client() as client,
                client.stream(
                    "POST", self.url(), json=body, headers=self.request_headers()
                ) as response,
            ):
                if response.status_code != 200:
                    raise self._failed(response, await response.aread())
                lines = response.aiter_lines()
                try:
                    result = await self.read_stream(_decoded(sse_events(lines), self), on_token)
                except ProviderError as exc:
                    if exc.kind == Kind.RATE_LIMITED:  # a 429 reported inside the stream
                        self._log_rate_limit(exc)
                    raise
                if result.complete:
                    # Read the rest of the body (the end of the chunked stream) so the
                    # connection goes back to the pool instead of being closed.
                    async for _ in lines:
                        pass
        except httpx.HTTPError as exc:
            raise error_from_exception(self._provider, exc, self._secrets) from exc
        if not result.complete:
            raise ProviderError(
                f"{self._provider}: the stream ended before its final event (truncated)",
                kind=Kind.NETWORK,
                provider=self._provider,
            )
        return result

    def _failed(self, response: httpx.Response, body: bytes) -> ProviderError:
        error = error_from_response(
            self._provider, response.status_code, response.headers, body, self._secrets
        )
        if response.status_code == 429:
            self._log_rate_limit(error)
        return error

    def _log_rate_limit(self, error: ProviderError) -> None:
        log_event(
            log,
            "rate_limit",
            logging.WARNING,
            provider=self._provider,
            model=self._model,
            status=429,
            retry_after=error.retry_after,
            kind=error.kind,
        )

    def _log_timeout(self, request: CompletionRequest, started: float) -> None:
        log_event(
            log,
            "timeout",
            logging.WARNING,
            provider=self._provider,
            model=self._model,
            agent=request.metadata.get("agent", ""),
            seconds=round(time.perf_counter() - started, 4),
        )

    def invalid(self, what: str) -> ProviderError:
        """The error for a stream that broke its documented format."""
        return ProviderError(
            f"{self._provider}: invalid response: {what}",
            kind=Kind.INVALID_RESPONSE,
            provider=self._provider,
        )

    def url(self) -> str:
        """The request path, relative to the client's base URL."""
        return self.path

    def request_headers(self) -> Mapping[str, str]:
        """Per-request headers beyond the client's (none by default)."""
        return {}

    @abstractmethod
    def request_body(self, request: CompletionRequest) -> dict[str, Any]:
        """The JSON body that asks for a streamed completion of ``request``."""

    @abstractmethod
    async def read_stream(
        self,
        events: AsyncIterator[tuple[str, Any]],
        on_token: TokenCallback | None,
    ) -> StreamResult:
        """Read ``(event type, decoded JSON or the raw text of a sentinel)`` pairs, sending
        text deltas to ``on_token``; raise for an error reported inside the stream."""


async def _decoded(
    events: AsyncIterator[SSEEvent], adapter: HTTPAdapter
) -> AsyncIterator[tuple[str, Any]]:
    """Each event's data parsed as JSON; ``[DONE]`` passes through as text."""
    async for event in events:
        if event.data == "[DONE]":
            yield event.event, event.data
            continue
        try:
            yield event.event, json.loads(event.data)
        except ValueError:
            raise adapter.invalid(f"event data is not JSON: {event.data[:60]!r}") from None
