"""OpenAI's Chat Completions API, and every server that speaks it.

One adapter serves ``openai``, ``openrouter``, ``ollama`` (its ``/v1`` endpoint), vLLM,
llama.cpp's server, LM Studio and any ``openai-compatible:MODEL@URL``. The stream is
``data: {chunk}`` lines, each a ``chat.completion.chunk`` whose ``choices[0].delta.content``
carries text, ending with ``data: [DONE]``; with ``stream_options.include_usage`` the last
chunk before ``[DONE]`` has empty ``choices`` and the ``usage``. OpenRouter may report an
error inside the stream as ``data: {"error": ...}`` and a ``usage.cost`` in USD, and sends
``: OPENROUTER PROCESSING`` comment lines while it waits. A stream without ``[DONE]`` is
truncated.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from aragora.agents.adapter import HTTPAdapter, StreamResult
from aragora.agents.http import ClientPool, error_from_payload, make_client
from aragora.debate.ports import CompletionRequest, TokenCallback

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
        """Collect content deltas and the final usage until ``[DONE]``."""
        result = StreamResult()
        parts: list[str] = []
        async for _, data in events:
            if data == "[DONE]":
                result.complete = True
                break
            if not isinstance(data, Mapping):
                raise self.invalid("a chunk that is not a JSON object")
            if data.get("error"):
                raise error_from_payload(self.provider, data, self._secrets)
            if data.get("model"):
                result.model = str(data["model"])
            for choice in data.get("choices") or ():
                if choice.get("index", 0) != 0:
                    continue
                text = (choice.get("delta") or {}).get("content")
                if text:
                    parts.append(str(text))
                    if on_token is not None:
                        on_token(str(text))
            usage = data.get("usage")
            if isinstance(usage, Mapping):
                result.input_tokens = int(usage.get("prompt_tokens") or 0)
                result.output_tokens = int(usage.get("completion_tokens") or 0)
                cost = usage.get("cost")
                if isinstance(cost, int | float) and not isinstance(cost, bool):
                    result.reported_cost = float(cost)
        result.text = "".join(parts)
        if self.provider != "openai":
            result.model = ""  # proxies report their own routing names; keep the spec's
        return result
