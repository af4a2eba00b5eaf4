"""Anthropic's Messages API (``POST /v1/messages``, ``stream: true``).

The stream is a sequence of named SSE events: ``message_start`` (the message, with input
token usage), ``content_block_start``, ``content_block_delta`` (``text_delta`` pieces),
``content_block_stop``, ``message_delta`` (stop reason and cumulative output tokens),
``message_stop``; ``ping`` may appear anywhere and an ``error`` event may end the stream
(e.g. ``overloaded_error``). A stream without ``message_stop`` is truncated.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from aragora.agents.adapter import HTTPAdapter, StreamResult
from aragora.agents.http import ClientPool, error_from_payload, make_client
from aragora.debate.ports import CompletionRequest, TokenCallback

__all__ = ["ANTHROPIC_VERSION", "AnthropicLLM", "anthropic_client"]

ANTHROPIC_VERSION = "2023-06-01"


def anthropic_client(
    base_url: str, api_key: str, *, stall_timeout: float = 60.0, max_connections: int = 100
) -> ClientPool:
    """The pooled client for an Anthropic endpoint (``base_url`` without ``/v1``)."""
    return make_client(
        base_url,
        headers={"x-api-key": api_key, "anthropic-version": ANTHROPIC_VERSION},
        stall_timeout=stall_timeout,
        max_connections=max_connections,
    )


class AnthropicLLM(HTTPAdapter):
    """A Claude model over the Messages API."""

    path = "/v1/messages"

    def request_body(self, request: CompletionRequest) -> dict[str, Any]:
        """Messages API body: the system prompt apart, one user turn, streamed."""
        body: dict[str, Any] = {
            "model": self.model,
            "max_tokens": request.max_tokens,
            "messages": [{"role": "user", "content": request.prompt}],
            "stream": True,
        }
        if request.system:
            body["system"] = request.system
        if request.temperature is not None and self._quirks.temperature:
            body["temperature"] = request.temperature
        return body

    async def read_stream(
        self, events: AsyncIterator[tuple[str, Any]], on_token: TokenCallback | None
    ) -> StreamResult:
        """Collect text deltas and usage until ``message_stop``."""
        result = StreamResult()
        parts: list[str] = []
        async for name, data in events:
            if not isinstance(data, Mapping):
                raise self.invalid(f"{name} event without a JSON object")
            kind = data.get("type", name)
            if kind == "content_block_delta":
                delta = data.get("delta") or {}
                if delta.get("type") == "text_delta":
                    text = str(delta.get("text", ""))
                    parts.append(text)
                    if on_token is not None and text:
                        on_token(text)
            elif kind == "message_start":
                message = data.get("message") or {}
                usage = message.get("usage") or {}
                result.model = str(message.get("model") or "")
                result.input_tokens = sum(
                    int(usage.get(field) or 0)
                    for field in (
                        "input_tokens",
                        "cache_creation_input_tokens",
                        "cache_read_input_tokens",
                    )
                )
                result.output_tokens = int(usage.get("output_tokens") or 0)
            elif kind == "message_delta":
                usage = data.get("usage") or {}
                if "output_tokens" in usage:  # cumulative, per the API reference
                    result.output_tokens = int(usage["output_tokens"])
            elif kind == "message_stop":
                result.complete = True
                break
            elif kind == "error":
                raise error_from_payload(self.provider, data, self._secrets)
            # ping, content_block_start/stop and future event types carry nothing we need
        result.text = "".join(parts)
        return result
