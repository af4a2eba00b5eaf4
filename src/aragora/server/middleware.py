"""Request hygiene as one pure ASGI middleware (no ``BaseHTTPMiddleware``: it costs a task
and a stream per request, and health is benchmarked).

For every HTTP request it

- assigns the request id: a sane incoming ``X-Request-ID`` (≤ 128 characters of
  ``[A-Za-z0-9._-]``) is kept, anything else replaced by a fresh one; the id is echoed on
  the response and is the ``trace_id`` of error bodies;
- refuses bodies over ``max_body_bytes`` with 413: at once when ``Content-Length`` says
  so, and by counting when the body is streamed without one; ``path_limits`` gives
  particular paths a limit of their own (a knowledge backup restored with
  ``POST /api/knowledge/import`` is one document and far larger than any other body);
- adds security headers (``nosniff``, ``DENY`` framing, no referrer, a restrictive CSP
  unless the route set its own, ``Cache-Control: no-store`` unless the route set one);
- refuses a URL whose path or query carries a NUL byte (``%00``) with 400: no route
  takes one, and PostgreSQL cannot even compare text holding one;
- answers an exception that escaped the application with a generic 500 in the CONTRACT
  shape, logged with the request id, instead of a bare text page.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aragora.errors import PayloadTooLargeError
from aragora.server.errors import INTERNAL_MESSAGE, error_response, log_unexpected, response_for
from aragora.server.responses import REQUEST_ID_KEY

__all__ = ["API_CSP", "RequestHygiene"]

API_CSP = "default-src 'none'; frame-ancestors 'none'"
"""The Content-Security-Policy of every response that does not set its own: JSON loads
nothing."""

_SANE_ID = re.compile(rb"[A-Za-z0-9._-]{1,128}")
_SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)
_DEFAULTS: tuple[tuple[bytes, bytes], ...] = (
    (b"cache-control", b"no-store"),
    (b"content-security-policy", API_CSP.encode("ascii")),
)


class _BodyTooLarge(Exception):
    """Raised into the application when a streamed body passes the limit."""


class RequestHygiene:
    """Request id, body limit, security headers and the last-resort 500 (see module)."""

    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, path_limits: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.path_limits = dict(path_limits or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                scope[REQUEST_ID_KEY] = uuid.uuid4().hex
            await self.app(scope, receive, send)
            return

        request_id = b""
        length: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                request_id = value
            elif name == b"content-length":
                length = value
        if not _SANE_ID.fullmatch(request_id):
            request_id = uuid.uuid4().hex.encode("ascii")
        trace_id = request_id.decode("ascii")
        scope[REQUEST_ID_KEY] = trace_id

        started = False
        too_large = False
        limit = self.path_limits.get(scope["path"], self.max_body_bytes)

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                if too_large:
                    return  # the app's answer to the aborted read is replaced by the 413
                started = True
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers.append((b"x-request-id", request_id))
                headers.extend(_SECURITY_HEADERS)
                headers.extend(h for h in _DEFAULTS if h[0] not in present)
                message["headers"] = headers
            elif too_large:
                return
            await send(message)

        if "\x00" in scope["path"] or _has_nul(scope.get("query_string", b"")):
            await error_response(
                trace_id, 400, "the URL must not contain NUL characters (%00)", "invalid_input"
            )(scope, receive, send_with_headers)
            return
        if length is not None:
            if not length.isdigit():
                await error_response(trace_id, 400, "invalid Content-Length header", "bad_request")(
                    scope, receive, send_with_headers
                )
                return
            if int(length) > limit:
                await self._too_large(scope, receive, send_with_headers, trace_id, limit)
                return
            app_receive = receive  # the server holds the body to its Content-Length
        else:
            received = 0

            async def app_receive() -> Message:
                nonlocal received, too_large
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > limit:
                        too_large = True
                        raise _BodyTooLarge
                return message

        try:
            await self.app(scope, app_receive, send_with_headers)
        except _BodyTooLarge:
            pass
        except Exception as exc:
            if started:
                raise  # too late to answer; the server closes the connection
            log_unexpected(exc, trace_id)
            response = error_response(trace_id, 500, INTERNAL_MESSAGE, "internal_error")
            await response(scope, receive, send_with_headers)
            return
        if too_large and not started:
            too_large = False
            await self._too_large(scope, receive, send_with_headers, trace_id, limit)

    async def _too_large(
        self, scope: Scope, receive: Receive, send: Send, trace_id: str, limit: int
    ) -> None:
        exc = PayloadTooLargeError(f"request body larger than {limit} bytes")
        response = response_for(exc, trace_id)
        response.headers["Connection"] = "close"
        await response(scope, receive, send)


def _has_nul(query: bytes) -> bool:
    """Whether a raw query string decodes to text holding a NUL byte."""
    return b"\x00" in query or b"%00" in query
