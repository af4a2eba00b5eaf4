"""Operations: ``GET /admin/stats`` and ``GET|POST /admin/maintenance``."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from aragora.server.auth import AdminAccess, StatsAccess
from aragora.server.responses import json_response
from aragora.server.routes import errors
from aragora.server.schemas import MaintenanceBody, MaintenanceUpdate, StatsBody
from aragora.server.state import ServiceDep

__all__ = ["router"]

router = APIRouter(prefix="/admin", tags=["admin"])


@router.get("/stats", response_model=StatsBody, summary="Debate counts", responses=errors(401, 403))
async def stats(service: ServiceDep, _: StatsAccess) -> Response:
    """Counts across every replica. Operator or admin token, or a local operator
    (loopback peer, no ``X-Forwarded-For``) without one."""
    return json_response(await service.stats())


@router.get(
    "/maintenance",
    response_model=MaintenanceBody,
    summary="Maintenance mode",
    responses=errors(401, 403),
)
async def get_maintenance(service: ServiceDep, _: AdminAccess) -> Response:
    """Whether maintenance mode is on, and the message clients get."""
    return json_response(await service.maintenance())


@router.post(
    "/maintenance",
    response_model=MaintenanceBody,
    summary="Turn maintenance mode on or off",
    responses=errors(400, 401, 403, 422),
)
async def set_maintenance(
    update: MaintenanceUpdate, service: ServiceDep, _: AdminAccess
) -> Response:
    """While on, new debates get 503 with ``Retry-After``; running and queued debates
    finish; health shows ``"maintenance": true``. Every replica sees it."""
    return json_response(await service.set_maintenance(update.enabled, update.message))
