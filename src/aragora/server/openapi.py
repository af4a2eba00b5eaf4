"""The OpenAPI document, completed with what every route shares.

FastAPI documents what each route declares. Some answers come from layers around the
routes, the same for every operation, so they are added here once rather than declared
on each route (where one would be forgotten):

- ``security: bearer`` on every operation that can answer 401;
- 400 (a NUL byte in the URL, malformed JSON) and 422 (parameters or body outside the
  schema) on every operation that takes parameters or a body;
- 404 on every operation with a path parameter (the thing named does not exist);
- 413 on every operation with a request body;
- 429 on every rate-limited operation (all but health, probes and metrics);
- 503 on every operation but liveness (starting, stopping, database unreachable).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from aragora.server.routes import describe_error
from aragora.server.throttling import UNLIMITED_PATHS

__all__ = ["complete_openapi"]

_BEARER = {
    "type": "http",
    "scheme": "bearer",
    "description": "An Aragora API token (`aragora tokens create`) or the admin token.",
}
_NEVER_UNAVAILABLE = frozenset({"/healthz"})
_METHODS = frozenset({"get", "put", "post", "delete", "patch", "head", "options", "trace"})


def complete_openapi(app: FastAPI) -> None:
    """Make ``app.openapi()`` return the completed document (built once, then cached)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        components = schema.setdefault("components", {})
        components.setdefault("securitySchemes", {})["bearer"] = _BEARER
        for path, item in schema.get("paths", {}).items():
            for method, operation in item.items():
                if method in _METHODS:
                    _complete(path, operation)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _complete(path: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    parameters = operation.get("parameters", [])
    has_body = "requestBody" in operation
    statuses: list[int] = []
    if parameters or has_body:
        statuses += [400, 422]
    if any(p.get("in") == "path" for p in parameters):
        statuses.append(404)
    if has_body:
        statuses.append(413)
    if path not in UNLIMITED_PATHS:
        statuses.append(429)
    if path not in _NEVER_UNAVAILABLE:
        statuses.append(503)
    for status in statuses:
        responses.setdefault(str(status), describe_error(status))
    if "401" in responses:
        operation["security"] = [{"bearer": []}]
    # Keep the statuses in order, as a reader expects.
    operation["responses"] = dict(sorted(responses.items(), key=lambda item: item[0]))
