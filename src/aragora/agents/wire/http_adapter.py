"""The part every HTTP provider adapter shares: one streamed POST, timed, logged, classified.

A subclass says how to phrase a request (:meth:`HTTPAdapter.request_body`) and how to read
each event of its stream (:meth:`HTTPAdapter.read_event`); this class sends it over the
provider's pooled client, reads the stream, turns a failed response or transport error into
a classified :class:`~aragora.errors.ProviderError` (with the API key scrubbed from its
message), and logs ``agent_response_time`` for every call (with ``queued_ms``, the time the
call waited in our own limits before it was sent), ``rate_limit`` for every 429 and
``timeout`` for every stalled or timed-out call. Every response's status and headers go to
``on_response`` when given (the endpoint's limiter learns the provider's limits from them)
before its body is read.

How a stream ends decides what the call returns, the same way for every wire format:

- the model reported a normal finish (``stop``, ``end_turn``, ``STOP`` …): the completion;
- it stopped at the output token limit (``length``, ``max_tokens``, ``MAX_TOKENS``): the
  completion with ``truncated=True`` (its text is cut short, but it is what the model said);
- the body ended, with or without the end sentinel (``[DONE]``, ``message_stop``), before
  any finish reason: a ``cut_off`` error. llama-cpp-python's server does exactly this when it
  interrupts a running stream for a waiting request; recording the text would record a
  short or empty answer as if the model had finished it;
- the provider withheld or diverted the answer (a content filter, a refusal, a tool call we
  never offered): an ``invalid_response`` error, see :meth:`HTTPAdapter.unusable`;
- the connection broke mid-body: a ``network`` error (from :mod:`aragora.agents.wire.transport`).

Usage is the provider's own numbers when it reports them. A count it does not report
(llama-cpp-python reports none on a stream; some servers report only the prompt's) is
estimated with :mod:`aragora.agents.tokens`: the input from the messages as sent, the output
from the streamed text. A reported 0 next to a non-empty text or prompt is taken as not
reported. The usage is then marked ``estimated`` and priced from the table like any other.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aragora.agents.catalog import ModelQuirks
from aragora.agents.pricing import PriceTable
from aragora.agents.resilience.limits import CALL_QUEUED
from aragora.agents.tokens import estimate_prompt_tokens, estimate_text_tokens
from aragora.agents.wire.http1 import Response, TransportError
from aragora.agents.wire.transport import (
    ClientPool,
    Kind,
    SSEEvent,
    error_from_exception,
    error_from_response,
    sse_events,
)
from aragora.debate.ports import Completion, CompletionRequest, TokenCallback, Usage
from aragora.errors import ProviderError
from aragora.logs import log_event

__all__ = ["Finish", "HTTPAdapter", "ResponseHook", "StreamResult"]

log = logging.getLogger("aragora.agents")

ResponseHook = Callable[[int, Mapping[str, str]], Awaitable[None]]
"""Receives each response's status and headers as soon as they arrive."""


class Finish(enum.Enum):
    """How the model ended an answer the caller can use."""

    END = "end"
    """It finished (OpenAI ``stop``, Anthropic ``end_turn``, Gemini ``STOP`` …)."""
    LENGTH = "length"
    """It reached the output token limit: the text is cut short."""


@dataclass(slots=True)
class StreamResult:
    """What a stream reader collected: the text, the usage the provider reported (``None``
    for a count it did not report), how the model finished (``None``: it never said, the
    stream was cut off) and whether the stream reached its documented end sentinel."""

    text: str = ""
    input_tokens: int | None = None
    output_tokens: int | None = None
    reported_cost: float | None = None
    model: str = ""
    finish: Finish | None = None
    ended: bool = False


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
        on_response: ResponseHook | None = None,
    ) -> None:
        self._provider = provider
        self._on_response = on_response
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
            usage = self._usage(request, result)
            tokens = usage.total_tokens
            outcome = "ok" if result.finish is Finish.END else "truncated"
            return Completion(
                text=result.text,
                usage=usage,
                model=result.model or self._model,
                provider=self._provider,
                truncated=result.finish is Finish.LENGTH,
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
                queued_ms=round(CALL_QUEUED.get() * 1000, 1),
                tokens=tokens,
                outcome=outcome,
            )

    async def _call(
        self, request: CompletionRequest, on_token: TokenCallback | None
    ) -> StreamResult:
        body = self.request_body(request)
        try:
            async with self._client.stream(
                "POST", self.url(), json=body, headers=self.request_headers()
            ) as response:
                if self._on_response is not None:
                    await self._on_response(response.status_code, response.headers)
                if response.status_code != 200:
                    raise self._failed(response, await response.aread())
                lines = response.aiter_lines()
                try:
                    result = await self.read_stream(_decoded(sse_events(lines), self), on_token)
                except ProviderError as exc:
                    if exc.kind == Kind.RATE_LIMITED:  # a 429 reported inside the stream
                        self._log_rate_limit(exc)
                    raise
                if result.ended:
                    # Read the rest of the body (the end of the chunked stream) so the
                    # connection goes back to the pool instead of being closed.
                    async for _ in lines:
                        pass
        except TransportError as exc:
            raise error_from_exception(self._provider, exc, self._secrets) from exc
        if result.finish is None:
            end = "its end marker" if result.ended else "the end of the body"
            raise ProviderError(
                f"{self._provider}: cut off: the stream reached {end} before the model "
                f"finished ({len(result.text)} characters, no finish reason)",
                kind=Kind.CUT_OFF,
                provider=self._provider,
            )
        return result

    def _usage(self, request: CompletionRequest, result: StreamResult) -> Usage:
        """The call's usage: reported counts, estimated ones where none was reported."""
        input_tokens, output_tokens = result.input_tokens, result.output_tokens
        if input_tokens == 0:
            input_tokens = None  # a prompt is never empty: 0 means "not counted"
        if output_tokens == 0 and result.text:
            output_tokens = None
        estimated = input_tokens is None or output_tokens is None
        if input_tokens is None:
            input_tokens = estimate_prompt_tokens(self.prompt_texts(request))
        if output_tokens is None:
            output_tokens = estimate_text_tokens(result.text)
        # Price the snapshot that answered when it is listed, else the model asked for.
        priced = result.model
        if not priced or self._prices.price(self._provider, priced) is None:
            priced = self._model
        return self._prices.usage(
            self._provider,
            priced,
            input_tokens,
            output_tokens,
            result.reported_cost,
            estimated=estimated,
        )

    def _failed(self, response: Response, body: bytes) -> ProviderError:
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

    def unusable(self, reason: str, why: str) -> ProviderError:
        """The error for a stream the provider ended with finish reason ``reason`` and no
        usable answer (``why``: a content filter or refusal withheld it, or the model
        turned to a tool we never offered).

        Its kind is ``invalid_response``: the request was accepted (so not ``bad_request``,
        and not the caller's mistake), the server deliberately ended the answer (so not
        ``cut_off``), and the text, empty or partial, is not the model's answer, so it must
        not be recorded as one. Sampling makes a second attempt able to succeed, and a
        model that keeps doing it should trip its circuit breaker, which this kind does."""
        return ProviderError(
            f"{self._provider}: no usable answer: the model stopped with {reason!r} ({why})",
            kind=Kind.INVALID_RESPONSE,
            provider=self._provider,
        )

    def prompt_texts(self, request: CompletionRequest) -> list[str]:
        """The messages' texts as :meth:`request_body` sends them (system, then user)."""
        return [request.system, request.prompt] if request.system else [request.prompt]

    def url(self) -> str:
        """The request path, relative to the client's base URL."""
        return self.path

    def request_headers(self) -> Mapping[str, str]:
        """Per-request headers beyond the client's (none by default)."""
        return {}

    @abstractmethod
    def request_body(self, request: CompletionRequest) -> dict[str, Any]:
        """The JSON body that asks for a streamed completion of ``request``."""

    async def read_stream(
        self,
        events: AsyncIterator[tuple[str, Any]],
        on_token: TokenCallback | None,
    ) -> StreamResult:
        """Read ``(event type, decoded JSON or the raw text of a sentinel)`` pairs, sending
        text deltas to ``on_token``; raise for an error reported inside the stream.

        Each event goes to :meth:`read_event`; reading stops at the end of the events or
        once an event marks the result ``ended``."""
        result = StreamResult()
        parts: list[str] = []
        async for name, data in events:
            for text in self.read_event(name, data, result):
                parts.append(text)
                if on_token is not None:
                    on_token(text)
            if result.ended:
                break
        result.text = "".join(parts)
        return result

    @abstractmethod
    def read_event(self, name: str, data: Any, result: StreamResult) -> Iterator[str]:
        """Yield one event's text deltas (non-empty, in order) and record the rest of what
        it says in ``result`` (usage, model, finish reason, ``ended`` at the end marker);
        raise for an error reported inside the stream."""


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
