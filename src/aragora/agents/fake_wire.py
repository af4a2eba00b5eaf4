"""The fake providers' wire formats: each provider's streamed events and error bodies, as
documented (see :mod:`aragora.agents.fakes`)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aragora.agents.fakes import Answer

__all__ = ["answer_events", "error_body", "frame"]

_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
_GEMINI_STATUS = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


def frame(wire: str, event: str, data: str) -> bytes:
    """One SSE event as ``wire`` frames it (Anthropic names its events; Gemini uses CRLF)."""
    if wire == "anthropic":
        return f"event: {event}\ndata: {data}\n\n".encode()
    if wire == "gemini":
        return f"data: {data}\r\n\r\n".encode()
    return f"data: {data}\n\n".encode()


def error_body(wire: str, status: int, error_type: str, message: str) -> dict[str, Any]:
    """The error JSON ``wire``'s provider sends with ``status``."""
    if wire == "anthropic":
        kind = error_type or _ANTHROPIC_TYPES.get(status, "api_error")
        return {"type": "error", "error": {"type": kind, "message": message}}
    if wire == "gemini":
        name = error_type or _GEMINI_STATUS.get(status, "UNKNOWN")
        return {"error": {"code": status, "message": message, "status": name}}
    code = error_type or None
    kind = "requests" if status == 429 else "invalid_request_error"
    if status >= 500:
        kind = "server_error"
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def answer_events(wire: str, model: str, answer: Answer) -> list[bytes]:
    """Every event of a complete streamed ``answer``, framed for ``wire``."""
    pieces = _pieces(answer.text)
    output = answer.output_tokens
    if output is None:
        output = max(1, len(answer.text.split()))
    dumps = json.dumps
    if wire == "anthropic":
        start = {
            "type": "message_start",
            "message": {
                "id": "msg_fake",
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"input_tokens": answer.input_tokens, "output_tokens": 1},
            },
        }
        block = {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "text", "text": ""},
        }
        events = [frame(wire, "message_start", dumps(start))]
        events.append(frame(wire, "content_block_start", dumps(block)))
        events.append(frame(wire, "ping", dumps({"type": "ping"})))
        for piece in pieces:
            delta = {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": piece},
            }
            events.append(frame(wire, "content_block_delta", dumps(delta)))
        events.append(
            frame(wire, "content_block_stop", dumps({"type": "content_block_stop", "index": 0}))
        )
        stop = {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": output},
        }
        events.append(frame(wire, "message_delta", dumps(stop)))
        events.append(frame(wire, "message_stop", dumps({"type": "message_stop"})))
        return events
    if wire == "openai":

        def chunk(delta: dict[str, Any], finish: str | None) -> bytes:
            body = {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "created": 1700000000,
                "model": model,
                "system_fingerprint": "fp_fake",
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
                ],
                "usage": None,
            }
            return frame(wire, "message", dumps(body))

        events = [chunk({"role": "assistant", "content": "", "refusal": None}, None)]
        events.extend(chunk({"content": piece}, None) for piece in pieces)
        events.append(chunk({}, "stop"))
        counts: dict[str, Any] = {
            "prompt_tokens": answer.input_tokens,
            "completion_tokens": output,
            "total_tokens": answer.input_tokens + output,
        }
        if answer.cost is not None:
            counts["cost"] = answer.cost
        usage = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": 1700000000,
            "model": model,
            "system_fingerprint": "fp_fake",
            "choices": [],
            "usage": counts,
        }
        events.append(frame(wire, "message", dumps(usage)))
        events.append(frame(wire, "message", "[DONE]"))
        return events
    events = []
    for index, piece in enumerate(pieces):
        last = index == len(pieces) - 1
        candidate: dict[str, Any] = {
            "content": {"parts": [{"text": piece}], "role": "model"},
            "index": 0,
        }
        if last:
            candidate["finishReason"] = "STOP"
        body = {
            "candidates": [candidate],
            "usageMetadata": {
                "promptTokenCount": answer.input_tokens,
                "candidatesTokenCount": output if last else index + 1,
                "totalTokenCount": answer.input_tokens + (output if last else index + 1),
            },
            "modelVersion": model,
            "responseId": "fake",
        }
        events.append(frame(wire, "message", dumps(body)))
    return events


def _pieces(text: str) -> list[str]:
    """Split text into a few stream pieces that concatenate back to it."""
    if not text:
        return [""]
    size = max(1, len(text) // 3)
    return [text[i : i + size] for i in range(0, len(text), size)]
