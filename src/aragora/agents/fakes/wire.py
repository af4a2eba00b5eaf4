"""The fake providers' wire formats: each provider's streamed events and error bodies, as
documented, and the chunks of llama-cpp-python's server exactly as it sends them (see
:mod:`aragora.agents.fakes.servers`).

llama-cpp-python 0.3.x (``llama_cpp/server/app.py`` and ``llama_chat_format.py``) streams a
chat completion as ``data: {json.dumps(chunk)}`` lines framed with ``\\n`` (so with
``", "`` and ``": "`` separators): a first chunk whose delta is ``{"role": "assistant"}``,
one chunk per token with ``{"content": …}``, a last chunk with an empty delta and the
``finish_reason`` (``stop`` or ``length``), then ``data: [DONE]``. Its chunks have no
``usage`` key at all, whatever ``stream_options`` asked, and their ``model`` is the request's
``model`` field. A comment ``: ping - <UTC time>`` is sent every 15 s.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from aragora.agents.fakes.behaviours import Answer

__all__ = [
    "LLAMA_CPP",
    "answer_events",
    "cut_off_events",
    "end_marker",
    "error_body",
    "frame",
    "http_chunk",
    "ping_comment",
    "send_json",
    "send_stream_head",
]

LLAMA_CPP = "llama-cpp-python"
"""The dialect of the OpenAI wire that llama-cpp-python's server speaks."""

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
_NORMAL_STOP = {"anthropic": "end_turn", "openai": "stop", "gemini": "STOP"}
_STATUS_TEXT = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found"}
_STREAM_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
    b"transfer-encoding: chunked\r\n\r\n"
)


def frame(wire: str, event: str, data: str) -> bytes:
    """One SSE event as ``wire`` frames it (Anthropic names its events; Gemini uses CRLF)."""
    if wire == "anthropic":
        return f"event: {event}\ndata: {data}\n\n".encode()
    if wire == "gemini":
        return f"data: {data}\r\n\r\n".encode()
    return f"data: {data}\n\n".encode()


def end_marker(wire: str) -> bytes | None:
    """The end sentinel of ``wire``, as a server that stops a stream early may still send it:
    OpenAI's ``[DONE]`` (llama-cpp-python's interrupt), Anthropic's ``message_stop``; Gemini
    has none."""
    if wire == "openai":
        return frame(wire, "message", "[DONE]")
    if wire == "anthropic":
        return frame(wire, "message_stop", json.dumps({"type": "message_stop"}))
    return None


def ping_comment() -> bytes:
    """sse-starlette's keep-alive comment, as llama-cpp-python's server sends it."""
    return f": ping - {datetime.now(UTC)}\n\n".encode()


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


def answer_events(wire: str, model: str, answer: Answer, dialect: str = "") -> list[bytes]:
    """Every event of a complete streamed ``answer``, framed for ``wire`` (and ``dialect``):
    its finish reason is ``answer.stop`` or the wire's normal one, its usage as
    ``answer.usage`` says (``full``, ``prompt`` only, or ``none``)."""
    stop = answer.stop or _NORMAL_STOP[wire]
    if dialect == LLAMA_CPP:
        return _llama_cpp(model, answer.text, stop)
    output = answer.output_tokens
    if output is None:
        output = max(1, len(answer.text.split()))
    counts = (answer.input_tokens, output, answer.usage)
    if wire == "anthropic":
        return _anthropic(model, _pieces(answer.text), stop, counts)
    if wire == "openai":
        return _openai(model, _pieces(answer.text), stop, counts, answer.cost)
    return _gemini(model, _pieces(answer.text), stop, counts)


def cut_off_events(wire: str, model: str, text: str, dialect: str = "") -> list[bytes]:
    """The events of a stream that carries ``text`` but no finish reason (and no usage), up
    to where a server that cuts it off stops: everything before the finish."""
    if dialect == LLAMA_CPP:
        return _llama_cpp(model, text, None)
    if wire == "anthropic":
        return _anthropic(model, _pieces(text), None, (0, 0, "none"))
    if wire == "openai":
        return _openai(model, _pieces(text), None, (0, 0, "none"), None)
    return _gemini(model, _pieces(text), None, (0, 0, "none"))


def _anthropic(
    model: str, pieces: list[str], stop: str | None, counts: tuple[int, int, str]
) -> list[bytes]:
    dumps = json.dumps
    input_tokens, output, usage = counts
    message: dict[str, Any] = {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
    }
    if usage != "none":
        message["usage"] = {"input_tokens": input_tokens, "output_tokens": 1}
    block = {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "text", "text": ""},
    }
    events = [
        frame("anthropic", "message_start", dumps({"type": "message_start", "message": message}))
    ]
    events.append(frame("anthropic", "content_block_start", dumps(block)))
    events.append(frame("anthropic", "ping", dumps({"type": "ping"})))
    for piece in pieces:
        delta = {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": piece},
        }
        events.append(frame("anthropic", "content_block_delta", dumps(delta)))
    if stop is None:
        return events
    events.append(
        frame("anthropic", "content_block_stop", dumps({"type": "content_block_stop", "index": 0}))
    )
    end: dict[str, Any] = {
        "type": "message_delta",
        "delta": {"stop_reason": stop, "stop_sequence": None},
    }
    if usage == "full":
        end["usage"] = {"output_tokens": output}
    events.append(frame("anthropic", "message_delta", dumps(end)))
    events.append(frame("anthropic", "message_stop", dumps({"type": "message_stop"})))
    return events


def _openai(
    model: str,
    pieces: list[str],
    stop: str | None,
    counts: tuple[int, int, str],
    cost: float | None,
) -> list[bytes]:
    input_tokens, output, usage = counts

    def chunk(delta: dict[str, Any], finish: str | None) -> bytes:
        body = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": 1700000000,
            "model": model,
            "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            "usage": None,
        }
        return frame("openai", "message", json.dumps(body))

    events = [chunk({"role": "assistant", "content": "", "refusal": None}, None)]
    events.extend(chunk({"content": piece}, None) for piece in pieces)
    if stop is None:
        return events
    events.append(chunk({}, stop))
    if usage != "none":
        numbers: dict[str, Any] = {"prompt_tokens": input_tokens}
        if usage == "full":
            numbers["completion_tokens"] = output
            numbers["total_tokens"] = input_tokens + output
        if cost is not None:
            numbers["cost"] = cost
        last = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": 1700000000,
            "model": model,
            "system_fingerprint": "fp_fake",
            "choices": [],
            "usage": numbers,
        }
        events.append(frame("openai", "message", json.dumps(last)))
    events.append(frame("openai", "message", "[DONE]"))
    return events


def _gemini(
    model: str, pieces: list[str], stop: str | None, counts: tuple[int, int, str]
) -> list[bytes]:
    input_tokens, output, usage = counts
    events = []
    for index, piece in enumerate(pieces):
        last = index == len(pieces) - 1
        candidate: dict[str, Any] = {
            "content": {"parts": [{"text": piece}], "role": "model"},
            "index": 0,
        }
        if last and stop is not None:
            candidate["finishReason"] = stop
        body: dict[str, Any] = {"candidates": [candidate]}
        so_far = output if last else index + 1
        if usage == "full":
            body["usageMetadata"] = {
                "promptTokenCount": input_tokens,
                "candidatesTokenCount": so_far,
                "totalTokenCount": input_tokens + so_far,
            }
        elif usage == "prompt":
            body["usageMetadata"] = {"promptTokenCount": input_tokens}
        body["modelVersion"] = model
        body["responseId"] = "fake"
        events.append(frame("gemini", "message", json.dumps(body)))
    return events


def _llama_cpp(model: str, text: str, stop: str | None) -> list[bytes]:
    """llama-cpp-python's chunks (``_convert_text_completion_chunks_to_chat``): role chunk,
    one chunk per token, the finish chunk, ``[DONE]`` (``stop`` None: up to the last token)."""
    ident = f"chatcmpl-{uuid.uuid4()}"
    created = int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None) -> bytes:
        body = {
            "id": ident,
            "model": model,
            "created": created,
            "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        return frame("openai", "message", json.dumps(body))

    events = [chunk({"role": "assistant"}, None)]
    events.extend(chunk({"content": token}, None) for token in _tokens(text))
    if stop is None:
        return events
    events.append(chunk({}, stop))
    events.append(frame("openai", "message", "[DONE]"))
    return events


def _pieces(text: str) -> list[str]:
    """Split text into a few stream pieces that concatenate back to it."""
    if not text:
        return [""]
    size = max(1, len(text) // 3)
    return [text[i : i + size] for i in range(0, len(text), size)]


def _tokens(text: str) -> list[str]:
    """Token-sized pieces (a word with its leading space), as a local server streams."""
    return re.findall(r"\s*\S+|\s+", text)


# -- HTTP/1.1 framing -------------------------------------------------------------------------


def http_chunk(data: bytes) -> bytes:
    """One chunk of a chunked body (empty data: the last chunk)."""
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


async def send_stream_head(
    writer: asyncio.StreamWriter,
    *,
    body: bytes = b"",
    headers: Iterable[tuple[str, str]] = (),
) -> None:
    """A 200 event-stream response head with extra ``headers`` (a provider's rate-limit
    headers), and, at once, ``body``: ready-made chunks."""
    extra = "".join(f"{name}: {value}\r\n" for name, value in headers).encode("latin-1")
    head = _STREAM_HEAD[: -len(b"\r\n")] + extra + b"\r\n"
    writer.write(head + body)
    await writer.drain()


async def send_json(
    writer: asyncio.StreamWriter,
    status: int,
    body: Any,
    headers: Iterable[tuple[str, str]] = (),
) -> None:
    """A whole JSON response with ``status`` and extra ``headers``."""
    payload = json.dumps(body).encode()
    reason = _STATUS_TEXT.get(status, "Error")
    head = [f"HTTP/1.1 {status} {reason}", "content-type: application/json"]
    head += [f"{name}: {value}" for name, value in headers]
    head.append(f"content-length: {len(payload)}")
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + payload)
    await writer.drain()
