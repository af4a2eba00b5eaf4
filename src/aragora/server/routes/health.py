"""Health: ``GET /api/health`` (components, for people and dashboards), and the probes
``GET /healthz`` (liveness) and ``GET /readyz`` (readiness) for orchestrators.

Health is cheap by design: the node coalesces concurrent checks and caches the result
about a second, so a flood of probes costs the database one ping a second."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from starlette.responses import Response

from aragora import __version__
from aragora.server.errors import error_response
from aragora.server.responses import json_response, request_id_of
from aragora.server.routes import errors
from aragora.server.schemas import HealthBody, ReadinessBody
from aragora.server.state import app_state

__all__ = ["probes", "router"]

router = APIRouter(tags=["health"])
probes = APIRouter(tags=["health"])

_UNHEALTHY_RETRY_AFTER = {"Retry-After": "5"}


@router.get(
    "/health",
    response_model=HealthBody,
    summary="Service health",
    responses={503: {"model": HealthBody, "description": "The database is unreachable."}},
)
async def health(request: Request) -> Response:
    """``healthy`` or ``degraded`` with 200; ``unhealthy`` with 503 when the database is
    unreachable. No token needed."""
    node = app_state(request).ready_node()
    report = await node.health()
    body = {
        "status": report.status,
        "version": __version__,
        "components": report.components,
        "maintenance": report.maintenance,
        "uptime_seconds": round(node.service.uptime(), 3),
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }
    if report.status == "unhealthy":
        return json_response(body, 503, _UNHEALTHY_RETRY_AFTER)
    return json_response(body)


@probes.get("/healthz", response_model=ReadinessBody, summary="Liveness probe")
async def healthz() -> Response:
    """200 while the process serves requests."""
    return json_response({"status": "ok"})


@probes.get(
    "/readyz",
    response_model=ReadinessBody,
    summary="Readiness probe",
    responses=errors(503),
)
async def readyz(request: Request) -> Response:
    """200 when this replica should get traffic; 503 while it drains or the database is
    down."""
    node = app_state(request).ready_node()
    if await node.ready():
        return json_response({"status": "ready"})
    reason = "draining" if node.draining else "database unreachable"
    return error_response(
        request_id_of(request.scope),
        503,
        f"not ready: {reason}",
        "not_ready",
        {"Retry-After": "5"},
        status="draining" if node.draining else "unavailable",
    )
