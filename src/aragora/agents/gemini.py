"""Google's Gemini API: ``POST /v1beta/models/{model}:streamGenerateContent?alt=sse``.

Each SSE ``data:`` line is a whole ``GenerateContentResponse``: text in
``candidates[0].content.parts[].text`` (parts marked ``thought`` are the model's thinking
and are skipped), ``usageMetadata`` with running token counts, and a ``finishReason`` on
the last candidate. There is no end sentinel: a stream that closes before any
``finishReason`` is truncated. A prompt refused outright comes back as
``promptFeedback.blockReason`` with no candidates.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import quote

from aragora.agents.adapter import HTTPAdapter, StreamResult
from aragora.agents.http import ClientPool, Kind, error_from_payload, make_client
from aragora.debate.ports import CompletionRequest, TokenCallback
from aragora.errors import ProviderError

__all__ = ["GeminiLLM", "gemini_client"]

API_VERSION = "v1beta"


def gemini_client(
    base_url: str, api_key: str, *, stall_timeout: float = 60.0, max_connections: int = 100
) -> ClientPool:
    """The pooled client for a Gemini endpoint (``base_url`` without the version path).
    The key goes in the ``x-goog-api-key`` header, never in the URL, so it cannot leak
    into logged URLs."""
    return make_client(
        base_url,
        headers={"x-goog-api-key": api_key},
        stall_timeout=stall_timeout,
        max_connections=max_connections,
    )


class GeminiLLM(HTTPAdapter):
    """A Gemini model over ``streamGenerateContent``."""

    def url(self) -> str:
        """The streaming endpoint of this model, SSE framing requested."""
        model = quote(self.model, safe=".-_")
        return f"/{API_VERSION}/models/{model}:streamGenerateContent?alt=sse"

    def request_body(self, request: CompletionRequest) -> dict[str, Any]:
        """``contents`` with one user turn, the system prompt as ``systemInstruction``."""
        config: dict[str, Any] = {"maxOutputTokens": request.max_tokens}
        if request.temperature is not None and self._quirks.temperature:
            config["temperature"] = request.temperature
        if self._quirks.thinking_budget is not None:
            config["thinkingConfig"] = {"thinkingBudget": self._quirks.thinking_budget}
        body: dict[str, Any] = {
            "contents": [{"role": "user", "parts": [{"text": request.prompt}]}],
            "generationConfig": config,
        }
        if request.system:
            body["systemInstruction"] = {"parts": [{"text": request.system}]}
        return body

    async def read_stream(
        self, events: AsyncIterator[tuple[str, Any]], on_token: TokenCallback | None
    ) -> StreamResult:
        """Collect candidate text and the latest usage until a ``finishReason``."""
        result = StreamResult()
        parts: list[str] = []
        async for _, data in events:
            if not isinstance(data, Mapping):
                raise self.invalid("a chunk that is not a JSON object")
            if data.get("error"):
                raise error_from_payload(self.provider, data, self._secrets)
            usage = data.get("usageMetadata") or {}
            if usage:
                result.input_tokens = int(usage.get("promptTokenCount") or 0)
                # thinking tokens are billed as output
                result.output_tokens = int(usage.get("candidatesTokenCount") or 0) + int(
                    usage.get("thoughtsTokenCount") or 0
                )
            if data.get("modelVersion"):
                result.model = str(data["modelVersion"])
            blocked = (data.get("promptFeedback") or {}).get("blockReason")
            if blocked:
                raise ProviderError(
                    f"{self.provider}: prompt blocked ({blocked})",
                    kind=Kind.BAD_REQUEST,
                    provider=self.provider,
                )
            candidates = data.get("candidates") or ()
            if not candidates:
                continue
            candidate = candidates[0]
            for part in (candidate.get("content") or {}).get("parts") or ():
                text = part.get("text")
                if text and not part.get("thought"):
                    parts.append(str(text))
                    if on_token is not None:
                        on_token(str(text))
            if candidate.get("finishReason"):
                result.complete = True
        result.text = "".join(parts)
        return result
