"""Google's Gemini API: ``POST /v1beta/models/{model}:streamGenerateContent?alt=sse``.

Each SSE ``data:`` line is a whole ``GenerateContentResponse``: text in
``candidates[0].content.parts[].text`` (parts marked ``thought`` are the model's thinking
and are skipped), ``usageMetadata`` with running token counts, and a ``finishReason`` on
the last candidate. There is no end sentinel: a stream that closes before any
``finishReason`` was cut off. A prompt refused outright comes back as
``promptFeedback.blockReason`` with no candidates (``bad_request``).

``finishReason`` (outcomes in :mod:`aragora.agents.wire.http_adapter`): ``STOP`` ends a finished
answer; ``MAX_TOKENS`` a truncated one; the content stops (``SAFETY``, ``RECITATION``,
``LANGUAGE``, ``BLOCKLIST``, ``PROHIBITED_CONTENT``, ``SPII``, ``IMAGE_*``), the tool stops
(``MALFORMED_FUNCTION_CALL``, ``UNEXPECTED_TOOL_CALL``, ``TOO_MANY_TOOL_CALLS``) and
``OTHER``/``FINISH_REASON_UNSPECIFIED`` (stopped for no stated reason, so the text may be
incomplete) leave no usable answer (``invalid_response``); any other value is taken as a
finished answer. Usage counts missing from the last ``usageMetadata`` are estimated.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote

from aragora.agents.wire.http_adapter import Finish, HTTPAdapter, StreamResult
from aragora.agents.wire.transport import ClientPool, Kind, error_from_payload, make_client
from aragora.debate.ports import CompletionRequest
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

    def read_event(self, name: str, data: Any, result: StreamResult) -> Iterator[str]:
        """Collect candidate text, the latest usage and the ``finishReason``."""
        if not isinstance(data, Mapping):
            raise self.invalid("a chunk that is not a JSON object")
        if data.get("error"):
            raise error_from_payload(self.provider, data, self._secrets)
        usage = data.get("usageMetadata") or {}
        if isinstance(usage.get("promptTokenCount"), int):
            result.input_tokens = usage["promptTokenCount"]
        counted = [
            usage[field]
            for field in ("candidatesTokenCount", "thoughtsTokenCount")
            if isinstance(usage.get(field), int)
        ]
        if counted:
            result.output_tokens = sum(counted)  # thinking tokens are billed as output
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
            return
        candidate = candidates[0]
        for part in (candidate.get("content") or {}).get("parts") or ():
            text = part.get("text")
            if text and not part.get("thought"):
                yield str(text)
        reason = candidate.get("finishReason")
        if reason:
            result.finish = self._finish(str(reason))

    def _finish(self, reason: str) -> Finish:
        """What ``finishReason`` means for the answer (or the error it is)."""
        if reason == "STOP":
            return Finish.END
        if reason == "MAX_TOKENS":
            return Finish.LENGTH
        if reason in _WITHHELD or reason.startswith("IMAGE_"):
            raise self.unusable(reason, "the provider withheld the answer")
        if reason in _TOOL_STOPS:
            raise self.unusable(reason, "the model called a tool, and none was offered")
        if reason in ("OTHER", "FINISH_REASON_UNSPECIFIED"):
            raise self.unusable(reason, "stopped for no stated reason; the text may be partial")
        return Finish.END


_WITHHELD = frozenset(
    {"SAFETY", "RECITATION", "LANGUAGE", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII"}
)
_TOOL_STOPS = frozenset({"MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL", "TOO_MANY_TOOL_CALLS"})
