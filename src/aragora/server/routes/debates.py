"""Debates: create, read, list, messages, events (polling), cancel."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from aragora.server.auth import ReadAccess, WriteAccess
from aragora.server.responses import json_response
from aragora.server.routes import MAX_INT, errors
from aragora.server.schemas import (
    CancelBody,
    CreateDebateBody,
    CreateDebateRequest,
    DebateDocument,
    DebateList,
    DebateStatus,
    EventsBody,
    MessagesBody,
)
from aragora.server.state import ServiceDep
from aragora.server.throttling import DebateStartLimit

__all__ = ["router"]

router = APIRouter(prefix="/debates", tags=["debates"])

DebateId = Annotated[str, Path(min_length=1, max_length=200, description="The debate's id.")]
Limit = Annotated[int, Query(ge=1, le=1000, description="Page size (1..1000).")]
Offset = Annotated[int, Query(ge=0, le=MAX_INT, description="Items to skip.")]


@router.post(
    "",
    status_code=202,
    response_model=CreateDebateBody,
    summary="Start a debate",
    responses=errors(400, 401, 403, 413, 422, 503),
)
async def create_debate(
    body: CreateDebateRequest, service: ServiceDep, _: WriteAccess, __: DebateStartLimit
) -> Response:
    """Validate and queue a debate; follow it with ``GET /debates/{id}`` or the
    WebSocket. 429 with ``Retry-After`` when the caller started too many debates lately
    (``ARAGORA_RATE_LIMIT_DEBATES``) or the queue is full (``ARAGORA_MAX_QUEUED_DEBATES``);
    503 with ``Retry-After`` in maintenance mode."""
    created = await service.create(body.model_dump(mode="json", exclude_unset=True))
    return json_response(created, 202)


@router.get(
    "",
    response_model=DebateList,
    summary="List debates",
    responses=errors(401, 403, 422),
)
async def list_debates(
    service: ServiceDep,
    _: ReadAccess,
    limit: Limit = 20,
    offset: Offset = 0,
    status: Annotated[DebateStatus | None, Query(description="Only debates in this state.")] = None,
    q: Annotated[
        str | None, Query(max_length=500, description="Only debates whose task contains this.")
    ] = None,
) -> Response:
    """One page of debates, newest first."""
    return json_response(await service.list(status=status, query=q, limit=limit, offset=offset))


@router.get(
    "/{debate_id}",
    response_model=DebateDocument,
    summary="Get a debate",
    responses=errors(401, 403, 404),
)
async def get_debate(debate_id: DebateId, service: ServiceDep, _: ReadAccess) -> Response:
    """The debate document: status, decision, votes, dissent, messages and cost."""
    return json_response(await service.get(debate_id))


@router.get(
    "/{debate_id}/messages",
    response_model=MessagesBody,
    summary="A debate's messages",
    responses=errors(401, 403, 404),
)
async def debate_messages(debate_id: DebateId, service: ServiceDep, _: ReadAccess) -> Response:
    """Proposals, critiques, revisions and votes, in order."""
    return json_response(await service.messages(debate_id))


@router.get(
    "/{debate_id}/events",
    response_model=EventsBody,
    summary="A debate's events (polling)",
    responses=errors(401, 403, 404, 422),
)
async def debate_events(
    debate_id: DebateId,
    service: ServiceDep,
    _: ReadAccess,
    since: Annotated[int, Query(ge=0, le=MAX_INT, description="Events with a greater seq.")] = 0,
    limit: Limit = 100,
) -> Response:
    """Stored events after ``since`` (the WebSocket's polling fallback)."""
    return json_response(await service.events(debate_id, since=since, limit=limit))


@router.post(
    "/{debate_id}/cancel",
    response_model=CancelBody,
    summary="Cancel a debate",
    responses=errors(401, 403, 404, 409),
)
async def cancel_debate(debate_id: DebateId, service: ServiceDep, _: WriteAccess) -> Response:
    """Stop a queued or running debate (409 once it has ended)."""
    return json_response(await service.cancel(debate_id))
