"""One router per area of the HTTP API; the app mounts each under ``/api/v1`` and
``/api`` (see :func:`aragora.server.app.include_api`)."""

from __future__ import annotations

from typing import Any

from aragora.server.schemas import ErrorBody

__all__ = ["MAX_INT", "describe_error", "errors"]

MAX_INT = 2**31 - 1
"""The largest integer a query parameter may carry where the database compares it: the
narrowest column such a parameter meets is PostgreSQL's INTEGER (int4), and SQLite refuses
anything from 2**63 on. Larger values are refused (422) instead of failing in the
database."""

_DESCRIPTIONS = {
    400: "Invalid input (the message names the first problem).",
    401: "Missing or invalid bearer token.",
    403: "The token's role may not do this.",
    404: "Not found: nothing by that name.",
    409: "The request contradicts the current state.",
    413: "The request body is too large.",
    422: "The request does not match the schema.",
    429: "Too many requests from this client, or too many debates queued; see Retry-After.",
    503: "Unavailable for now (maintenance, draining, database down); see Retry-After.",
}
_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "required": True,
        "schema": {"type": "integer", "minimum": 1},
    }
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these error statuses, each an :class:`ErrorBody`."""
    return {s: _declared(s) for s in statuses}


def _declared(status: int) -> dict[str, Any]:
    declared: dict[str, Any] = {"model": ErrorBody, "description": _DESCRIPTIONS[status]}
    if status in (429, 503):
        declared["headers"] = _RETRY_AFTER
    return declared


def describe_error(status: int, schema: str = "ErrorBody") -> dict[str, Any]:
    """The finished OpenAPI response object of an error status (for documents already
    generated, where a ``model`` is no longer resolved); ``schema`` names the body's
    component (``OpenAIErrorBody`` under ``/v1``)."""
    response: dict[str, Any] = {
        "description": _DESCRIPTIONS[status],
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }
    if status in (429, 503):
        response["headers"] = _RETRY_AFTER
    return response
