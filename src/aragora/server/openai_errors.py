"""Errors of the OpenAI-compatible routes in OpenAI's shape.

Every layer of the server answers errors as ``{"error", "code", "trace_id"}`` (routing,
validation, auth, rate limits, body limits, the last-resort 500). Under the OpenAI route
prefixes this middleware rewrites such a body as ``{"error": {"message", "type", "param",
"code"}}``, the shape OpenAI clients parse, with the same status and headers (a schema
error, 422 elsewhere, is a 400 here, as OpenAI answers it). Other responses pass untouched.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["OPENAI_PREFIXES", "OpenAIErrorShape", "openai_error", "openai_error_type"]

OPENAI_PREFIXES = ("/v1/", "/api/v1/openai/", "/api/openai/")
"""Where the OpenAI-compatible routes are served (``/v1`` is canonical)."""

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
}


def openai_error_type(status: int) -> str:
    """OpenAI's error ``type`` for an HTTP status."""
    if status >= 500:
        return "server_error"
    return _TYPES.get(status, "invalid_request_error")


def openai_error(status: int, message: str, code: str | None) -> dict[str, Any]:
    """The OpenAI error body."""
    return {
        "error": {
            "message": message,
            "type": openai_error_type(status),
            "param": None,
            "code": code,
        }
    }


class OpenAIErrorShape:
    """ASGI middleware: OpenAI-shaped errors under :data:`OPENAI_PREFIXES`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith(OPENAI_PREFIXES):
            await self.app(scope, receive, send)
            return
        held: Message | None = None
        chunks: list[bytes] = []

        async def reshape(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start":
                headers = MutableHeaders(raw=list(message.get("headers", [])))
                is_json = headers.get("content-type", "").startswith("application/json")
                if message["status"] >= 400 and is_json:
                    held = message  # the body decides; hold the start until it is complete
                    return
            elif message["type"] == "http.response.body" and held is not None:
                chunks.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                start, body = _rewritten(held, b"".join(chunks))
                held = None
                await send(start)
                await send({"type": "http.response.body", "body": body})
                return
            await send(message)

        await self.app(scope, receive, reshape)


def _rewritten(start: Message, body: bytes) -> tuple[Message, bytes]:
    status = int(start["status"])
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return start, body
    if not isinstance(document, dict) or not isinstance(document.get("error"), str):
        return start, body  # already OpenAI's shape, or not an error body
    code = document.get("code")
    if status == 422:
        status = 400
    new_body = orjson.dumps(
        openai_error(status, document["error"], code if isinstance(code, str) else None)
    )
    headers = MutableHeaders(raw=list(start.get("headers", [])))
    headers["content-length"] = str(len(new_body))
    return {**start, "status": status, "headers": headers.raw}, new_body
