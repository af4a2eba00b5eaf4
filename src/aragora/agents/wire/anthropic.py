"""Anthropic's Messages API (``POST /v1/messages``, ``stream: true``).

The stream is a sequence of named SSE events: ``message_start`` (the message, with input
token usage), ``content_block_start``, ``content_block_delta`` (``text_delta`` pieces),
``content_block_stop``, ``message_delta`` (the ``stop_reason`` and cumulative output
tokens), ``message_stop``; ``ping`` may appear anywhere and an ``error`` event may end the
stream (e.g. ``overloaded_error``).

The ``stop_reason`` of ``message_delta`` is the finish reason (outcomes in
:mod:`aragora.agents.wire.http_adapter`): ``end_turn`` and ``stop_sequence`` end a finished answer;
``max_tokens`` and ``model_context_window_exceeded`` a truncated one; ``refusal`` (the
safety classifiers stopped the reply) and ``tool_use`` (we offer no tools) leave no usable
answer (``invalid_response``); ``pause_turn`` (a long turn paused, to be continued) is
``cut_off``; any other value is taken as a finished answer. A stream that ends without a
stop reason, even after ``message_stop``, was cut off. The output tokens are read from
``message_delta`` only (``message_start`` carries a placeholder); a stream without them has
its output estimated, and one without ``message_start`` usage its input.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from aragora.agents.wire.http_adapter import Finish, HTTPAdapter, StreamResult
from aragora.agents.wire.transport import ClientPool, Kind, error_from_payload, make_client
from aragora.debate.ports import CompletionRequest
from aragora.errors import ProviderError

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

    def read_event(self, name: str, data: Any, result: StreamResult) -> Iterator[str]:
        """Collect text deltas, the stop reason and usage until ``message_stop``."""
        if not isinstance(data, Mapping):
            raise self.invalid(f"{name} event without a JSON object")
        kind = data.get("type", name)
        if kind == "content_block_delta":
            delta = data.get("delta") or {}
            if delta.get("type") == "text_delta":
                text = str(delta.get("text", ""))
                if text:
                    yield text
        elif kind == "message_start":
            message = data.get("message") or {}
            usage = message.get("usage") or {}
            result.model = str(message.get("model") or "")
            counts = [
                usage[field]
                for field in (
                    "input_tokens",
                    "cache_creation_input_tokens",
                    "cache_read_input_tokens",
                )
                if isinstance(usage.get(field), int)
            ]
            if counts:
                result.input_tokens = sum(counts)
        elif kind == "message_delta":
            usage = data.get("usage") or {}
            if isinstance(usage.get("output_tokens"), int):  # cumulative, per the docs
                result.output_tokens = int(usage["output_tokens"])
            reason = (data.get("delta") or {}).get("stop_reason")
            if reason:
                result.finish = self._finish(str(reason))
        elif kind == "message_stop":
            result.ended = True
        elif kind == "error":
            raise error_from_payload(self.provider, data, self._secrets)
        # ping, content_block_start/stop and future event types carry nothing we need

    def _finish(self, reason: str) -> Finish:
        """What ``stop_reason`` means for the answer (or the error it is)."""
        if reason in ("max_tokens", "model_context_window_exceeded"):
            return Finish.LENGTH
        if reason == "refusal":
            raise self.unusable(reason, "the provider's safety classifiers stopped the reply")
        if reason == "tool_use":
            raise self.unusable(reason, "the model called a tool, and none was offered")
        if reason == "pause_turn":
            raise ProviderError(
                f"{self.provider}: cut off: the model paused its turn (stop_reason 'pause_turn')",
                kind=Kind.CUT_OFF,
                provider=self.provider,
            )
        return Finish.END
