"""The OpenAPI document, completed with what every route shares.

FastAPI documents what each route declares. Some answers come from layers around the
routes, the same for every operation, so they are added here once rather than declared
on each route (where one would be forgotten):

- ``security``: the bearer token, required on admin operations and on reads and
  writes when ``ARAGORA_REQUIRE_AUTH`` is on; optional (``{}`` listed too) where a caller
  without a token is let in (reads and writes with auth off, the stats of a local
  operator), so the document describes the deployment that serves it;
- 400 (a NUL byte in the URL, malformed JSON) and 422 (parameters or body outside the
  schema) on every operation that takes parameters or a body;
- 404 on every operation with a path parameter (the thing named does not exist);
- 413 on every operation with a request body;
- 429 on every rate-limited operation (all but health, probes and metrics);
- 503 on every operation but liveness (starting, stopping, database unreachable).

Under ``/v1`` (the OpenAI-compatible routes) these errors are OpenAI's shape
(``OpenAIErrorBody``) and a schema error is a 400, never a 422.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from aragora.server.auth import Access, access_of
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


def complete_openapi(app: FastAPI, *, require_auth: bool) -> None:
    """Make ``app.openapi()`` return the completed document (built once, then cached);
    ``require_auth`` is ``ARAGORA_REQUIRE_AUTH`` as in force."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        components = schema.setdefault("components", {})
        components.setdefault("securitySchemes", {})["bearer"] = _BEARER
        accesses = _accesses(app)
        for path, item in schema.get("paths", {}).items():
            for method, operation in item.items():
                if method in _METHODS:
                    _complete(path, operation)
                    access = accesses.get((path, method))
                    if access is not None:
                        operation["security"] = _security(access, require_auth)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _accesses(app: FastAPI) -> dict[tuple[str, str], Access]:
    """The access level of each documented operation, from its dependencies."""
    found: dict[tuple[str, str], Access] = {}
    for route in app.routes:
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        for dependency in route.dependant.dependencies:
            access = access_of(dependency.call) if dependency.call is not None else None
            if access is not None:
                for method in route.methods or ():
                    found[(route.path_format, method.lower())] = access
    return found


def _security(access: Access, require_auth: bool) -> list[dict[str, list[str]]]:
    optional = (access.open_without_auth and not require_auth) or access.local_operator
    return [{"bearer": []}, {}] if optional else [{"bearer": []}]


def _complete(path: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    parameters = operation.get("parameters", [])
    has_body = "requestBody" in operation
    openai = path.startswith("/v1/")
    statuses: list[int] = []
    if parameters or has_body:
        statuses += [400] if openai else [400, 422]
    if any(p.get("in") == "path" for p in parameters):
        statuses.append(404)
    if has_body:
        statuses.append(413)
    if path not in UNLIMITED_PATHS:
        statuses.append(429)
    if path not in _NEVER_UNAVAILABLE:
        statuses.append(503)
    schema = "OpenAIErrorBody" if openai else "ErrorBody"
    if openai:
        responses.pop("422", None)  # answered as a 400 (see OpenAIErrorShape)
    for status in statuses:
        responses.setdefault(str(status), describe_error(status, schema))
    for code, response in responses.items():
        _errors_are_json(code, response)
    # Keep the statuses in order, as a reader expects.
    operation["responses"] = dict(sorted(responses.items(), key=lambda item: item[0]))


def _errors_are_json(status: str, response: dict[str, Any]) -> None:
    """An error body is JSON whatever the route's own media type (FastAPI gives declared
    error models the route's type: a PEM route's 404 would claim to be PEM)."""
    if not status.isdigit() or int(status) < 400:
        return
    for media in response.get("content", {}).values():
        schema = media.get("schema", {})
        if isinstance(schema, dict) and str(schema.get("$ref", "")).endswith("ErrorBody"):
            response["content"] = {"application/json": {"schema": schema}}
            return
