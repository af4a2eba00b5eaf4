"""One router per area of the HTTP API; the app mounts each under ``/api/v1`` and
``/api`` (see :func:`aragora.server.app.include_api`)."""

from __future__ import annotations

from typing import Any

from aragora.server.schemas import ErrorBody

__all__ = ["errors"]

_DESCRIPTIONS = {
    400: "Invalid input (the message names the first problem).",
    401: "Missing or invalid bearer token.",
    403: "The token's role may not do this.",
    404: "No such debate.",
    409: "The request contradicts the current state.",
    413: "The request body is too large.",
    422: "The request does not match the schema.",
    503: "Unavailable for now (maintenance, draining, database down); see Retry-After.",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these error statuses, each an :class:`ErrorBody`."""
    return {s: {"model": ErrorBody, "description": _DESCRIPTIONS[s]} for s in statuses}
