"""Every error as ``{"error", "code", "trace_id"}``, with the status CONTRACT.md names.

    UserError               400  (NotFound 404, Conflict 409, Authentication 401 with
                                  WWW-Authenticate, PermissionDenied 403, PayloadTooLarge 413)
    request schema          422  (a malformed JSON body: 400 ``invalid_json``)
    RateLimitedError        429  with Retry-After (client over its limit, queue full)
    UnavailableError        503  with Retry-After (maintenance, draining)
    DatabaseUnavailable     503  with a short Retry-After
    ProviderError           503  with Retry-After (a provider failed while we waited on it)
    anything else           500  a generic message; the exception is logged with the trace id

The trace id is the request id (``X-Request-ID``), so a user's report finds the log line.
"""

from __future__ import annotations

import logging
import math
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import BaseRoute, Match

from aragora.errors import (
    AragoraError,
    AuthenticationError,
    ConflictError,
    DatabaseUnavailableError,
    MaintenanceError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    ProviderError,
    RateLimitedError,
    UnavailableError,
    UserError,
)
from aragora.logs import log_event
from aragora.server.responses import MAINTENANCE_KEY, json_response, request_id_of

__all__ = [
    "DATABASE_RETRY_AFTER",
    "INTERNAL_MESSAGE",
    "error_body",
    "error_response",
    "install_error_handlers",
    "log_unexpected",
    "response_for",
]

logger = logging.getLogger("aragora.server")

INTERNAL_MESSAGE = "internal server error; quote the trace_id when reporting it"
DATABASE_RETRY_AFTER = 2
"""Seconds a client should wait after a 503 for an unreachable database: reconnects are
fast, so a short wait."""

_USER_STATUS: tuple[tuple[type[UserError], int], ...] = (
    (NotFoundError, 404),
    (ConflictError, 409),
    (AuthenticationError, 401),
    (PermissionDeniedError, 403),
    (PayloadTooLargeError, 413),
)
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    503: "unavailable",
}


def error_body(message: str, code: str, trace_id: str) -> dict[str, Any]:
    """The CONTRACT error document."""
    return {"error": message, "code": code, "trace_id": trace_id}


def error_response(
    trace_id: str,
    status_code: int,
    message: str,
    code: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    """An error response in the CONTRACT shape; ``extra`` adds fields (e.g. ``errors``)."""
    return json_response({**error_body(message, code, trace_id), **extra}, status_code, headers)


def _retry_after(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))


def response_for(exc: AragoraError, trace_id: str) -> Response:
    """The response for an Aragora error (see the table in the module docstring).
    Internal failures are logged here, with the trace id, and answered generically."""
    if isinstance(exc, UserError):
        status = next((s for kind, s in _USER_STATUS if isinstance(exc, kind)), 400)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return error_response(trace_id, status, exc.message, exc.code, headers)
    if isinstance(exc, UnavailableError):
        headers = {"Retry-After": _retry_after(exc.retry_after)}
        status = 429 if isinstance(exc, RateLimitedError) else 503
        return error_response(trace_id, status, exc.message, exc.code, headers)
    if isinstance(exc, DatabaseUnavailableError):
        log_event(logger, "database_unavailable", logging.WARNING, trace_id=trace_id, error=exc)
        headers = {"Retry-After": str(DATABASE_RETRY_AFTER)}
        message = "the database is unreachable; retry shortly"
        return error_response(trace_id, 503, message, exc.code, headers)
    if isinstance(exc, ProviderError):
        log_event(logger, "provider_error", logging.WARNING, trace_id=trace_id, error=exc)
        headers = {"Retry-After": _retry_after(exc.retry_after or 30)}
        message = "an agent provider is unavailable; retry later"
        return error_response(trace_id, 503, message, exc.code, headers)
    log_unexpected(exc, trace_id)
    return error_response(trace_id, 500, INTERNAL_MESSAGE, "internal_error")


def log_unexpected(exc: BaseException, trace_id: str) -> None:
    """Log an internal failure with its traceback and the trace id the client was given."""
    log_event(logger, "internal_error", logging.ERROR, exc_info=exc, trace_id=trace_id)


def _validation_message(errors: list[Any]) -> tuple[str, list[dict[str, Any]]]:
    details = []
    for error in errors:
        loc = ".".join(str(part) for part in error.get("loc", ()))
        details.append({"loc": loc, "msg": str(error.get("msg", "")), "type": error.get("type")})
    if not details:
        return "invalid request", details
    first = details[0]
    message = f"{first['loc']}: {first['msg']}" if first["loc"] else first["msg"]
    if len(details) > 1:
        message += f" (and {len(details) - 1} more)"
    return message, details


async def _aragora_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AragoraError)
    if isinstance(exc, MaintenanceError):
        request.scope[MAINTENANCE_KEY] = True  # planned: see aragora.server.metrics
    return response_for(exc, request_id_of(request.scope))


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    trace_id = request_id_of(request.scope)
    errors = list(exc.errors())
    message, details = _validation_message(errors)
    if any(error.get("type") == "json_invalid" for error in errors):
        return error_response(trace_id, 400, f"malformed JSON body: {message}", "invalid_json")
    return error_response(trace_id, 422, message, "validation_error", errors=details)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    trace_id = request_id_of(request.scope)
    status = exc.status_code
    headers = dict(exc.headers or {})
    path = request.url.path[:200]
    if status == 404:
        location = _slash_redirect(request)
        if location is not None:
            return Response(status_code=307, headers={"Location": location})
        message = f"no such route: {request.method} {path}"
    elif status == 405:
        headers["Allow"] = ", ".join(_allowed_methods(request))
        message = f"method {request.method} not allowed on {path}"
    else:
        message = str(exc.detail)
    if status in (429, 503) and "Retry-After" not in headers:
        headers["Retry-After"] = "30"
    code = _HTTP_CODES.get(status, "http_error")
    return error_response(trace_id, status, message, code, headers or None)


def _matching(request: Request, path: str | None = None) -> list[BaseRoute]:
    """The app's routes whose path matches ``path`` (default: the request's), whatever
    their methods."""
    scope = request.scope if path is None else {**request.scope, "path": path}
    return [route for route in request.app.router.routes if route.matches(scope)[0] != Match.NONE]


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves on this path (several routes may share it)."""
    methods: set[str] = set()
    for route in _matching(request):
        methods.update(getattr(route, "methods", None) or ())
    return sorted(methods)


def _slash_redirect(request: Request) -> str | None:
    """Where the same path with its trailing slash removed (or added) is served, as a
    relative URL with the query kept; ``None`` when it is not. Relative, so the
    ``Host`` header a client sent never becomes the target."""
    path = request.scope["path"]
    if path == "/" or request.scope["type"] != "http":
        return None
    other = path.rstrip("/") if path.endswith("/") else path + "/"
    # "//host" or "/\host" would be read as another site by browsers.
    if (
        not other.startswith("/")
        or other.startswith(("//", "/\\"))
        or not _matching(request, other)
    ):
        return None
    raw = request.scope.get("raw_path")
    encoded = raw.decode("latin-1") if isinstance(raw, bytes) else quote(path)
    location = encoded.rstrip("/") if path.endswith("/") else encoded + "/"
    query = request.scope.get("query_string", b"")
    return f"{location}?{query.decode('latin-1')}" if query else location


def install_error_handlers(app: FastAPI) -> None:
    """Answer Aragora errors, request validation and routing errors (404, 405) in the
    CONTRACT shape. Unexpected exceptions are answered by the hygiene middleware."""
    app.add_exception_handler(AragoraError, _aragora_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
