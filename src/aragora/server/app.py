"""The ASGI application: routers, middleware, error handlers and the lifespan.

    app = create_app(settings)              # opens its own node (database, workers) at startup
    app = create_app(settings, node=node)   # uses a node the caller opened, started and closes

Each area of the API is one router (``routes/``); its routes are added twice, under
``/api/v1`` (canonical, in the OpenAPI document) and under ``/api`` (the unversioned
alias CONTRACT.md promises). Probes, metrics, the docs page and the WebSocket live at the
root. A router joins the API under both prefixes with ``include_api(app, router)``.

Middleware, outermost first: HTTP metrics, request hygiene (request id, body limit,
NUL bytes, security headers, last-resort 500), CORS when ``ARAGORA_CORS_ORIGINS`` is set
(so refusals carry its headers too), the inbound rate limit.
"""

from __future__ import annotations

import copy
import functools
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute, APIWebSocketRoute
from fastapi.utils import generate_unique_id
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import compile_path

from aragora import __version__, wiring
from aragora.integrations.openai.panels import Panels
from aragora.migrations.runner import ensure_schema
from aragora.runtime.auth import Authenticator, ensure_admin_token
from aragora.runtime.node import Node
from aragora.server import docs, web, ws
from aragora.server.errors import install_error_handlers
from aragora.server.mcp import McpRoute, mcp_route
from aragora.server.metrics import HttpMetrics, Metrics
from aragora.server.middleware import RequestHygiene
from aragora.server.openai_errors import OpenAIErrorShape
from aragora.server.openapi import complete_openapi
from aragora.server.ratelimit import Limit, open_limiter
from aragora.server.routes import (
    admin,
    agents,
    console,
    debates,
    evals,
    health,
    knowledge,
    receipts,
    webhooks,
)
from aragora.server.routes import metrics as metrics_routes
from aragora.server.routes import openai as openai_routes
from aragora.server.state import AppState
from aragora.server.throttling import RateLimitMiddleware, Throttle
from aragora.settings import Settings, load_settings

__all__ = ["API_PREFIX", "LEGACY_PREFIX", "create_app", "flatten", "include_api"]

API_PREFIX = "/api/v1"
LEGACY_PREFIX = "/api"

_DESCRIPTION = """Multi-agent deliberation: a panel of LLM agents proposes, critiques,
revises and votes; you get a decision with its confidence, dissent and cost.

Every `/api/v1/...` route is also served as `/api/...`. Errors are
`{"error", "code", "trace_id"}`; every response carries `X-Request-ID`. Live events
stream over the WebSocket `/ws?debate_id=ID&since=SEQ&token=T`."""


def include_api(app: FastAPI, router: APIRouter) -> None:
    """Add ``router``'s routes under ``/api/v1`` (documented) and ``/api`` (alias)."""
    first = len(app.router.routes)
    flatten(app, router, prefix=API_PREFIX)
    for route in app.router.routes[first:]:
        if isinstance(route, APIRoute):
            app.router.routes.append(_alias(route))
        elif isinstance(route, APIWebSocketRoute):
            path = LEGACY_PREFIX + route.path.removeprefix(API_PREFIX)
            app.router.add_api_websocket_route(path, route.endpoint, name=route.name)


def _alias(route: APIRoute) -> APIRoute:
    """The undocumented ``/api`` twin of an ``/api/v1`` route: the same route (its
    parameters, body and response models, handler) under the other path. A copy rather
    than a second ``add_api_route``, which would analyse the endpoint and build its
    models again (a sixth of the server's start, over every route)."""
    alias = copy.copy(route)
    alias.path = LEGACY_PREFIX + route.path.removeprefix(API_PREFIX)
    alias.path_regex, alias.path_format, alias.param_convertors = compile_path(alias.path)
    alias.include_in_schema = False
    alias.unique_id = route.operation_id or generate_unique_id(alias)
    return alias


def flatten(app: FastAPI, router: APIRouter, *, prefix: str = "", documented: bool = True) -> None:
    """Add copies of ``router``'s routes to the app itself, paths prefixed.

    FastAPI's ``include_router`` nests the router, and every request then tries each
    included router in turn (about 10 us per router and request, measured): flat routes
    keep routing cheap and give each route its full path template (the metrics label)."""
    for route in router.routes:
        if isinstance(route, APIRoute):
            app.router.add_api_route(
                prefix + route.path,
                route.endpoint,
                methods=sorted(route.methods or ()),
                response_model=route.response_model,
                status_code=route.status_code,
                tags=route.tags,
                dependencies=route.dependencies,
                summary=route.summary,
                description=route.description,
                response_description=route.response_description,
                responses=route.responses,
                deprecated=route.deprecated,
                name=route.name,
                include_in_schema=documented and route.include_in_schema,
                response_class=route.response_class,
                openapi_extra=route.openapi_extra,
            )
        elif isinstance(route, APIWebSocketRoute):
            app.router.add_api_websocket_route(prefix + route.path, route.endpoint, name=route.name)
        else:
            raise TypeError(f"cannot add route {route!r}")


def create_app(
    settings: Settings | None = None, *, node: Node[wiring.Services] | None = None
) -> FastAPI:
    """The Aragora HTTP + WebSocket application for ``settings`` (default: from the
    environment).

    Without ``node`` the lifespan opens one through :func:`aragora.wiring.open_node`
    (checking, and in embedded mode migrating, the schema), starts its workers, and
    closes it at shutdown. A ``node`` passed in is used as it is: the caller starts and
    closes it (``aragora serve`` does, to drain on SIGTERM)."""
    settings = settings or load_settings()
    state = AppState(settings=settings, metrics=Metrics())
    state.throttle = _throttle(settings)
    mcp = McpRoute(state)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        admin_token = ensure_admin_token(settings)
        owned = node is None
        running = node
        if running is None:
            check = functools.partial(ensure_schema, auto_migrate=settings.effective_auto_migrate)
            running = await wiring.open_node(settings, check_schema=check)
        try:
            state.authenticator = Authenticator(
                running.tokens, admin_token.secret if admin_token else None
            )
            running.observe(state.metrics.observe_event)
            running.observe_webhooks(state.metrics.observe_webhook)
            if owned:
                running.start()
            state.node = running
            yield
        finally:
            await mcp.endpoint.aclose()  # MCP calls in flight end before their node
            state.node = None
            try:
                if owned:
                    await running.close()
            finally:
                if state.throttle is not None:
                    await state.throttle.limiter.aclose()

    app = FastAPI(
        title="Aragora",
        version=__version__,
        description=_DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        lifespan=lifespan,
        # FastAPI's OpenTelemetry hooks look at the global providers on every request;
        # Aragora exports Prometheus metrics instead.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    app.state.aragora = state
    # Checked now, so a panel that cannot run stops the start with a message naming it.
    setattr(
        app.state,
        openai_routes.PANELS_KEY,
        Panels.from_settings(settings, created=int(time.time())),
    )
    # Trailing-slash redirects are answered by the 404 handler, with a relative Location
    # (Starlette's own copies the Host header into it).
    app.router.redirect_slashes = False
    install_error_handlers(app)
    complete_openapi(app, require_auth=state.require_auth)

    # Routes are tried in order: the hot ones first (WebSocket handshakes, probes, health).
    flatten(app, ws.router)
    flatten(app, health.probes)
    for router in (health.router, debates.router, agents.router, admin.router, knowledge.router):
        include_api(app, router)
    include_api(app, receipts.router)
    include_api(app, console.router)  # the web console's tokens and maintenance notice
    include_api(app, webhooks.router)
    include_api(app, evals.router)  # past `aragora eval` runs, for the UI
    flatten(app, receipts.root, documented=True)  # /api/v2/receipts/..., /.well-known/...
    include_api(app, metrics_routes.router)
    flatten(app, metrics_routes.root)
    flatten(app, docs.router)
    # The OpenAI-compatible routes: /v1 is canonical (documented), the others aliases.
    flatten(app, openai_routes.router, prefix="/v1")
    for prefix in (f"{API_PREFIX}/openai", f"{LEGACY_PREFIX}/openai"):
        flatten(app, openai_routes.router, prefix=prefix, documented=False)
    app.router.routes.append(mcp_route(mcp))  # /mcp: the MCP streamable HTTP transport
    web.mount(app)  # last: the UI answers only paths no other route takes

    app.add_middleware(RateLimitMiddleware, throttle=lambda: state.throttle)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After"],
            max_age=600,
        )
    app.add_middleware(
        RequestHygiene, max_body_bytes=settings.max_body_bytes, path_limits=knowledge.BODY_LIMITS
    )
    app.add_middleware(OpenAIErrorShape)  # outside every layer that may answer an error
    app.add_middleware(HttpMetrics, metrics=state.metrics)
    return app


def _throttle(settings: Settings) -> Throttle | None:
    """The inbound limits ``settings`` ask for; ``None`` when both are off."""
    requests = Limit("requests", settings.rate_limit) if settings.rate_limit else None
    debates = Limit("debates", settings.rate_limit_debates) if settings.rate_limit_debates else None
    if requests is None and debates is None:
        return None
    return Throttle(
        open_limiter(settings),
        requests=requests,
        debates=debates,
        limit_loopback=settings.rate_limit_loopback,
    )
