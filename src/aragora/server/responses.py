"""JSON responses rendered with orjson, and the request id every response names."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.responses import Response
from starlette.types import Scope

__all__ = ["MAINTENANCE_KEY", "REQUEST_ID_KEY", "JSONBody", "json_response", "request_id_of"]

REQUEST_ID_KEY = "aragora.request_id"
"""The ASGI scope key under which :class:`~aragora.server.middleware.RequestHygiene`
stores the request id (echoed in ``X-Request-ID`` and in error bodies as ``trace_id``)."""

MAINTENANCE_KEY = "aragora.maintenance"
"""The ASGI scope key set (to ``True``) when a request was refused because of planned
work, maintenance mode or a draining replica: the metrics label such answers
``maintenance="true"`` so error-rate alerts can leave them out."""


class JSONBody(Response):
    """``application/json`` rendered with orjson (several times faster than ``json``)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        """Serialise ``content`` (dicts with str keys, lists, datetimes, numbers, text)."""
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


def json_response(
    body: Any, status_code: int = 200, headers: Mapping[str, str] | None = None
) -> JSONBody:
    """A JSON response of ``body``; routes return the service's documents as they are."""
    return JSONBody(body, status_code=status_code, headers=headers)


def request_id_of(scope: Scope) -> str:
    """The id of the request ``scope`` belongs to ("" outside the hygiene middleware)."""
    value = scope.get(REQUEST_ID_KEY, "")
    return value if isinstance(value, str) else ""
