"""What the web console needs beyond the SDK's calls: API tokens over HTTP (admin), and
the maintenance notice for anyone who may read (the message new debates are refused with,
so a client can show it before the user tries).

    GET    /admin/tokens              every token, revoked ones included (never a secret)
    POST   /admin/tokens              {"name", "role"} -> the token and its secret, shown once
    POST   /admin/tokens/{id}/revoke  revoke (idempotent)
    GET    /maintenance               {"enabled", "message"} (read access)
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.responses import Response

from aragora.records.debates import ApiToken
from aragora.server.auth import AdminAccess, ReadAccess
from aragora.server.responses import json_response
from aragora.server.routes import errors
from aragora.server.schemas import MaintenanceBody
from aragora.server.state import ServiceDep, StateDep

__all__ = ["SECRET_PREFIX", "router"]

SECRET_PREFIX = "arg_"
"""Token secrets start with this (as ``aragora tokens create`` makes them)."""

router = APIRouter(tags=["console"])


class TokenBody(BaseModel):
    """An API token as listed: never its secret."""

    id: str
    name: str
    role: str
    created_at: str
    last_used_at: str | None
    revoked_at: str | None
    revoked: bool


class TokenListBody(BaseModel):
    """Every token, oldest first."""

    tokens: list[TokenBody]
    total: int


class CreatedTokenBody(TokenBody):
    """A new token with its secret: the only time the secret is shown."""

    secret: str


class TokenRequest(BaseModel):
    """A token to create."""

    name: str = Field(min_length=1, max_length=100, description="Who or what uses it.")
    role: Literal["admin", "operator", "viewer"]


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _token_json(token: ApiToken) -> dict[str, Any]:
    return {
        "id": token.id,
        "name": token.name,
        "role": token.role,
        "created_at": token.created_at.isoformat(),
        "last_used_at": _iso(token.last_used_at),
        "revoked_at": _iso(token.revoked_at),
        "revoked": token.revoked,
    }


@router.get(
    "/admin/tokens",
    response_model=TokenListBody,
    summary="API tokens",
    responses=errors(401, 403),
)
async def list_tokens(state: StateDep, _: AdminAccess) -> Response:
    """Every token, revoked ones included; secrets are never stored, so never shown."""
    tokens = await state.ready_node().tokens.list()
    return json_response({"tokens": [_token_json(t) for t in tokens], "total": len(tokens)})


@router.post(
    "/admin/tokens",
    response_model=CreatedTokenBody,
    status_code=201,
    summary="Create an API token",
    responses=errors(400, 401, 403, 422),
)
async def create_token(request: TokenRequest, state: StateDep, _: AdminAccess) -> Response:
    """A new token; the answer holds its secret, which Aragora keeps only hashed."""
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    token = await state.ready_node().tokens.create(
        name=request.name.strip(), role=request.role, secret=secret
    )
    return json_response({**_token_json(token), "secret": secret}, status_code=201)


@router.post(
    "/admin/tokens/{token_id}/revoke",
    response_model=TokenBody,
    summary="Revoke an API token",
    responses=errors(401, 403, 404),
)
async def revoke_token(token_id: str, state: StateDep, _: AdminAccess) -> Response:
    """Revoke at once for every replica; revoking twice is harmless."""
    return json_response(_token_json(await state.ready_node().tokens.revoke(token_id)))


@router.get(
    "/maintenance",
    response_model=MaintenanceBody,
    summary="The maintenance notice",
    responses=errors(401, 403),
)
async def maintenance_notice(service: ServiceDep, _: ReadAccess) -> Response:
    """Whether new debates are refused for maintenance, and the message they get."""
    return json_response(await service.maintenance())
