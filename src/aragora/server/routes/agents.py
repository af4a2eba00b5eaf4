"""Agents and their ratings: ``GET /agents``, ``GET /leaderboard``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from aragora.server.auth import ReadAccess
from aragora.server.responses import json_response
from aragora.server.routes import errors
from aragora.server.schemas import AgentsBody, LeaderboardBody
from aragora.server.state import ServiceDep

__all__ = ["router"]

router = APIRouter(tags=["agents"])


@router.get(
    "/agents", response_model=AgentsBody, summary="Configured agents", responses=errors(401, 403)
)
async def list_agents(service: ServiceDep, _: ReadAccess) -> Response:
    """The operator's default agents and one per configured provider, with status."""
    return json_response(await service.agents())


@router.get(
    "/leaderboard",
    response_model=LeaderboardBody,
    summary="Agent rankings",
    responses=errors(401, 403, 422),
)
async def leaderboard(
    service: ServiceDep,
    _: ReadAccess,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
    min_debates: Annotated[int, Query(ge=0, description="Only agents with this many.")] = 0,
) -> Response:
    """Agents by ELO rating, highest first."""
    return json_response(
        await service.leaderboard(limit=limit, offset=offset, min_debates=min_debates)
    )
