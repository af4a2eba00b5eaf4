"""Webhooks (admin): register an endpoint, list them, remove one, read its deliveries.

The secret that signs an endpoint's deliveries is in the answer to its registration and
nowhere else afterwards. Targets follow the egress rule (public addresses, or a prefix of
``ARAGORA_WEBHOOK_ENDPOINTS``): a refused URL is a 400 naming the reason.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import HTTPConnection
from starlette.responses import Response

from aragora.runtime.webhooks import WebhookService
from aragora.server.auth import AdminAccess
from aragora.server.responses import json_response
from aragora.server.routes import errors
from aragora.server.schemas import ErrorBody
from aragora.server.state import app_state

__all__ = ["router"]

router = APIRouter(prefix="/webhooks", tags=["webhooks"])

WebhookId = Annotated[str, Path(min_length=1, max_length=40, description="The webhook's id.")]
WebhookEvent = Literal["debate.completed", "debate.failed", "knowledge.conflict"]
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No such webhook."}
}


async def _webhooks(connection: HTTPConnection) -> WebhookService:
    return app_state(connection).ready_node().services.webhooks


WebhooksDep = Annotated[WebhookService, Depends(_webhooks)]


# --- wire models -------------------------------------------------------------------------------
class WebhookRequest(BaseModel):
    """``POST /api/v1/webhooks``: where to send, and which events."""

    model_config = ConfigDict(extra="forbid", strict=True)

    url: str = Field(
        min_length=1,
        max_length=2000,
        description="http(s) URL; loopback and private targets only under a prefix of "
        "ARAGORA_WEBHOOK_ENDPOINTS.",
        examples=["https://hooks.example.com/aragora"],
    )
    events: list[WebhookEvent] = Field(min_length=1, max_length=3)
    description: str | None = Field(default=None, max_length=500)
    format: Literal["aragora", "slack"] = Field(
        default="aragora",
        description='`slack`: the body is `{"text": ...}` for a Slack incoming webhook.',
    )


class WebhookBody(BaseModel):
    """A registered webhook (never its secret)."""

    id: str
    url: str
    events: list[WebhookEvent]
    description: str | None = None
    format: Literal["aragora", "slack"] = "aragora"
    created_at: str


class CreatedWebhookBody(WebhookBody):
    """The registration's answer: ``secret`` keys ``X-Aragora-Signature``; shown once."""

    secret: str


class WebhookList(BaseModel):
    webhooks: list[WebhookBody]
    total: int


class DeliveryAttemptBody(BaseModel):
    number: int
    at: str
    status_code: int | None = Field(description="The answer's status; null if none came.")
    error: str | None = Field(description="Why the attempt failed; null for a 2xx answer.")
    duration_ms: float


class DeliveryBody(BaseModel):
    """One delivery: ``id`` is its ``X-Aragora-Delivery``, the same on every attempt."""

    id: str
    webhook_id: str
    event: WebhookEvent
    state: Literal["pending", "delivered", "failed"]
    created_at: str
    next_attempt_at: str | None
    attempts: list[DeliveryAttemptBody]


class DeliveryList(BaseModel):
    webhook_id: str
    deliveries: list[DeliveryBody]


class DeletedWebhookBody(BaseModel):
    deleted: str


# --- routes ------------------------------------------------------------------------------------
@router.post(
    "",
    status_code=201,
    response_model=CreatedWebhookBody,
    summary="Register a webhook",
    responses=errors(400, 401, 403, 422),
)
async def create_webhook(request: WebhookRequest, service: WebhooksDep, _: AdminAccess) -> Response:
    """Register an endpoint for ``events``; the answer holds the signing ``secret``, shown
    only this once. Deliveries are signed POSTs, retried with backoff until a 2xx."""
    created = await service.add(
        request.url, request.events, description=request.description, format=request.format
    )
    return json_response(created, status_code=201)


@router.get("", response_model=WebhookList, summary="List webhooks", responses=errors(401, 403))
async def list_webhooks(service: WebhooksDep, _: AdminAccess) -> Response:
    """Every registered webhook, oldest first; secrets are never listed."""
    return json_response(await service.list())


@router.delete(
    "/{webhook_id}",
    response_model=DeletedWebhookBody,
    summary="Remove a webhook",
    responses={**errors(401, 403), **_NOT_FOUND},
)
async def delete_webhook(webhook_id: WebhookId, service: WebhooksDep, _: AdminAccess) -> Response:
    """Remove the webhook; its pending deliveries are never sent."""
    await service.remove(webhook_id)
    return json_response({"deleted": webhook_id})


@router.get(
    "/{webhook_id}/deliveries",
    response_model=DeliveryList,
    summary="A webhook's deliveries",
    responses={**errors(401, 403, 422), **_NOT_FOUND},
)
async def list_deliveries(
    webhook_id: WebhookId,
    service: WebhooksDep,
    _: AdminAccess,
    limit: Annotated[int, Query(ge=1, le=1000, description="How many, newest first.")] = 100,
) -> Response:
    """The newest deliveries first, each with every attempt (status code, error,
    duration) and when it is tried next."""
    return json_response(await service.deliveries(webhook_id, limit=limit))
