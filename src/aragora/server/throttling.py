"""The inbound rate limit of every HTTP route, as one pure ASGI middleware, and the
stricter one on starting debates (a route dependency).

Health, the probes and metrics are never limited: orchestrators and Prometheus must
always get through. Everything else counts against its client's bucket of
``ARAGORA_RATE_LIMIT`` requests a minute; ``POST /debates`` also against the bucket of
``ARAGORA_RATE_LIMIT_DEBATES``. Loopback peers are limited too unless
``ARAGORA_RATE_LIMIT_LOOPBACK=false``. A refused request gets 429, ``Retry-After`` and the
CONTRACT error body (code ``rate_limited``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from starlette.requests import HTTPConnection
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from aragora.errors import RateLimitedError
from aragora.server.errors import error_response
from aragora.server.ratelimit import (
    Limit,
    Limiter,
    client_key,
    peer_is_loopback,
    retry_after_header,
)
from aragora.server.responses import request_id_of

__all__ = [
    "UNLIMITED_PATHS",
    "DebateStartLimit",
    "RateLimitMiddleware",
    "Throttle",
    "count_debate_start",
]

UNLIMITED_PATHS = frozenset(
    {
        "/api/health",
        "/api/v1/health",
        "/healthz",
        "/readyz",
        "/metrics",
        "/api/metrics/prometheus",
        "/api/v1/metrics/prometheus",
    }
)
"""Paths never rate limited: health, the probes and the Prometheus scrape."""


class Throttle:
    """The app's limits on one :class:`Limiter`: ``requests`` for every limited route,
    ``debates`` for starting debates (either ``None`` when off)."""

    def __init__(
        self,
        limiter: Limiter,
        *,
        requests: Limit | None,
        debates: Limit | None,
        limit_loopback: bool = True,
    ) -> None:
        self.limiter = limiter
        self.requests = requests
        self.debates = debates
        self.limit_loopback = limit_loopback

    async def check(
        self, connection: HTTPConnection, limit: Limit | None, *, query_token: bool = False
    ) -> float:
        """Count one request of ``connection`` against ``limit``: 0.0 when it may go on,
        else the seconds to wait."""
        if limit is None or (not self.limit_loopback and peer_is_loopback(connection)):
            return 0.0
        return await self.limiter.hit(client_key(connection, query_token=query_token), limit)


class RateLimitMiddleware:
    """Refuse HTTP requests over the client's ``requests`` limit (see the module)."""

    def __init__(self, app: ASGIApp, *, throttle: Callable[[], Throttle | None]) -> None:
        self.app = app
        self._throttle = throttle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        throttle = self._throttle()
        if (
            scope["type"] != "http"
            or throttle is None
            or throttle.requests is None
            or scope["path"] in UNLIMITED_PATHS
        ):
            await self.app(scope, receive, send)
            return
        wait = await throttle.check(HTTPConnection(scope), throttle.requests)
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        _label_route(scope)
        response = error_response(
            request_id_of(scope),
            429,
            f"too many requests; retry after {retry_after_header(wait)} s",
            "rate_limited",
            {"Retry-After": retry_after_header(wait)},
        )
        await response(scope, receive, send)


def _label_route(scope: Scope) -> None:
    """Name the route the refused request was for (the metrics label), as routing would."""
    app = scope.get("app")
    routes = getattr(getattr(app, "router", None), "routes", ())
    for route in routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            scope["route"] = route
            return


async def count_debate_start(connection: HTTPConnection) -> None:
    """Count one debate start of this caller against its debate limit;
    :class:`RateLimitedError` when it is over (for a start that is no route of its own:
    the MCP ``deliberate`` tool)."""
    throttle: Throttle | None = connection.app.state.aragora.throttle
    if throttle is None:
        return
    wait = await throttle.check(connection, throttle.debates)
    if wait > 0:
        raise RateLimitedError(
            f"too many debates started; retry after {retry_after_header(wait)} s",
            retry_after=wait,
        )


def _start_limit() -> Callable[[Request], Awaitable[None]]:
    async def limit_debate_starts(request: Request) -> None:
        await count_debate_start(request)

    return limit_debate_starts


DebateStartLimit = Annotated[None, Depends(_start_limit())]
"""A route dependency: count one debate start against the caller's debate limit."""
