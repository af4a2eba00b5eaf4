"""OpenAI's Chat Completions API, and every server that speaks it.

One adapter serves ``openai``, ``openrouter``, ``ollama`` (its ``/v1`` endpoint), vLLM,
llama.cpp's servers, LM Studio and any ``openai-compatible:MODEL@URL``. The stream is
``data: {chunk}`` lines, each a ``chat.completion.chunk`` whose ``choices[0].delta.content``
carries text and whose last choice chunk has a ``finish_reason``, ending with
``data: [DONE]``; with ``stream_options.include_usage`` the last chunk before ``[DONE]`` has
empty ``choices`` and the ``usage``. OpenRouter may report an error inside the stream as
``data: {"error": ...}`` and a ``usage.cost`` in USD, and sends ``: OPENROUTER PROCESSING``
comment lines while it waits.

What compatible servers really send (see :mod:`aragora.agents.wire.http_adapter` for the outcomes):

- llama-cpp-python's server (0.3.x) sends no usage on a stream at all (it ignores
  ``stream_options``): the usage is estimated. When another request waits for its single
  model, it ends the running stream after the current chunk with ``data: [DONE]`` and no
  finish reason (its default ``interrupt_requests``): a ``cut_off`` error.
- ``finish_reason``: ``stop`` is a finished answer; ``length`` a truncated one;
  ``content_filter`` (the provider withheld the rest) and ``tool_calls``/``function_call``
  (we offer no tools) leave no usable answer (``invalid_response``); ``error`` (OpenRouter,
  beside its error object) is a ``server_error``; ``abort`` (vLLM, an aborted request) is
  ``cut_off``. Any other value (``eos_token``, ``stop_sequence`` … of other servers) is taken
  as a finished answer.
- A ``usage`` with only ``prompt_tokens`` keeps that count and estimates the output.
- A stream that reported its finish reason but closed without ``[DONE]`` still holds the
  whole answer and is accepted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

from aragora.agents.wire.http_adapter import Finish, HTTPAdapter, StreamResult
from aragora.agents.wire.transport import ClientPool, Kind, error_from_payload, make_client
from aragora.debate.ports import CompletionRequest, TokenCallback
from aragora.errors import ProviderError

__all__ = ["OpenAIChatLLM", "openai_client"]


def openai_client(
    base_url: str,
    api_key: str | None,
    *,
    stall_timeout: float = 60.0,
    max_connections: int = 100,
    extra_headers: Mapping[str, str] | None = None,
) -> ClientPool:
    """The pooled client for an OpenAI-style endpoint (``base_url`` including ``/v1``);
    local servers need no ``api_key``."""
    headers = dict(extra_headers or {})
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    return make_client(
        base_url, headers=headers, stall_timeout=stall_timeout, max_connections=max_connections
    )


class OpenAIChatLLM(HTTPAdapter):
    """A model behind a Chat Completions endpoint."""

    path = "chat/completions"  # relative, so it joins a base URL ending in /v1

    def request_body(self, request: CompletionRequest) -> dict[str, Any]:
        """Chat body: system and user messages, streamed, usage in the final chunk."""
        messages = []
        if request.system:
            messages.append({"role": self._quirks.system_role, "content": request.system})
        messages.append({"role": "user", "content": request.prompt})
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "stream": True,
            "stream_options": {"include_usage": True},
            self._quirks.max_tokens_param: request.max_tokens,
        }
        if request.temperature is not None and self._quirks.temperature:
            body["temperature"] = request.temperature
        if self.provider == "openrouter":
            body["usage"] = {"include": True}  # OpenRouter then reports the call's cost
        return body

    async def read_stream(
        self, events: AsyncIterator[tuple[str, Any]], on_token: TokenCallback | None
    ) -> StreamResult:
        """The stream's result, without the model a proxy reports."""
        result = await super().read_stream(events, on_token)
        if self.provider != "openai":
            result.model = ""  # proxies report their own routing names; keep the spec's
        return result

    def read_event(self, name: str, data: Any, result: StreamResult) -> Iterator[str]:
        """Collect content deltas, the finish reason and any usage until ``[DONE]``."""
        if data == "[DONE]":
            result.ended = True
            return
        if not isinstance(data, Mapping):
            raise self.invalid("a chunk that is not a JSON object")
        if data.get("error"):
            raise error_from_payload(self.provider, data, self._secrets)
        if data.get("model"):
            result.model = str(data["model"])
        for choice in data.get("choices") or ():
            if not isinstance(choice, Mapping) or choice.get("index", 0) != 0:
                continue
            text = (choice.get("delta") or {}).get("content")
            if text:
                yield str(text)
            reason = choice.get("finish_reason")
            if reason:
                result.finish = self._finish(str(reason))
        usage = data.get("usage")
        if isinstance(usage, Mapping):
            result.input_tokens = _count(usage.get("prompt_tokens"), result.input_tokens)
            result.output_tokens = _count(usage.get("completion_tokens"), result.output_tokens)
            cost = usage.get("cost")
            if isinstance(cost, int | float) and not isinstance(cost, bool):
                result.reported_cost = float(cost)

    def _finish(self, reason: str) -> Finish:
        """What ``finish_reason`` means for the answer (or the error it is)."""
        if reason == "length":
            return Finish.LENGTH
        if reason == "content_filter":
            raise self.unusable(reason, "the provider's content filter withheld the answer")
        if reason in ("tool_calls", "function_call"):
            raise self.unusable(reason, "the model called a tool, and none was offered")
        if reason == "error":
            raise ProviderError(
                f"{self.provider}: the stream stopped with finish_reason 'error'",
                kind=Kind.SERVER_ERROR,
                provider=self.provider,
            )
        if reason == "abort":
            raise ProviderError(
                f"{self.provider}: cut off: the server aborted the request (finish_reason 'abort')",
                kind=Kind.CUT_OFF,
                provider=self.provider,
            )
        return Finish.END


def _count(value: Any, previous: int | None) -> int | None:
    """A token count from a usage object: an integer, else the previous value."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return previous
