"""Registering webhooks: the API's and the CLI's one way to add, list and remove them and
to read their deliveries. The URL passes the egress rule first (public addresses only,
unless the operator allows a prefix); the secret is made here and returned once."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from aragora.errors import InvalidInputError, UnavailableError
from aragora.records.debates import (
    Delivery,
    NewWebhook,
    Webhook,
    WebhookRepository,
    check_new_webhook,
    new_webhook_id,
)

__all__ = ["SECRET_PREFIX", "UrlGuard", "WebhookService", "delivery_json", "webhook_json"]

UrlGuard = Callable[[str], Awaitable[None]]
"""Returns when the server may send to the URL; raises ``InvalidInputError`` saying why
not, or ``UnavailableError`` when that cannot be told now (its host does not resolve)."""
SECRET_PREFIX = "whsec_"


class WebhookService:
    """Webhook registration on ``repository``, with targets checked by ``guard``."""

    def __init__(self, repository: WebhookRepository, guard: UrlGuard) -> None:
        self._repository = repository
        self._guard = guard

    async def add(
        self,
        url: str,
        events: Sequence[str],
        *,
        description: str | None = None,
        format: str = "aragora",
    ) -> dict[str, Any]:
        """Register a webhook: its JSON with the ``secret``, which is shown this once.
        :class:`InvalidInputError` for a URL the server may not send to, an unknown or
        missing event, or an unknown format."""
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        new = check_new_webhook(
            NewWebhook(
                id=new_webhook_id(),
                url=url.strip(),
                events=tuple(events),
                secret=secret,
                description=description,
                format=format,
            )
        )
        try:
            await self._guard(new.url)  # after the cheap checks: it may resolve a name
        except UnavailableError as exc:
            raise InvalidInputError(f"webhook URL refused: {exc.message}") from exc
        webhook = await self._repository.create(new)
        return {**webhook_json(webhook), "secret": secret}

    async def list(self) -> dict[str, Any]:
        """``{"webhooks": [...], "total"}``, never a secret."""
        found = [webhook_json(w) for w in await self._repository.list()]
        return {"webhooks": found, "total": len(found)}

    async def remove(self, webhook_id: str) -> None:
        """Remove the webhook; its pending deliveries are dropped. ``NotFoundError``."""
        await self._repository.delete(webhook_id)

    async def deliveries(self, webhook_id: str, *, limit: int = 100) -> dict[str, Any]:
        """``{"webhook_id", "deliveries": [...]}``, newest first, each with its attempts."""
        found = await self._repository.deliveries(webhook_id, limit=limit)
        return {"webhook_id": webhook_id, "deliveries": [delivery_json(d) for d in found]}


def webhook_json(webhook: Webhook) -> dict[str, Any]:
    """A webhook on the wire (no secret)."""
    return {
        "id": webhook.id,
        "url": webhook.url,
        "events": list(webhook.events),
        "description": webhook.description,
        "format": webhook.format,
        "created_at": webhook.created_at.isoformat(),
    }


def delivery_json(delivery: Delivery) -> dict[str, Any]:
    """A delivery on the wire, with every attempt."""
    return {
        "id": delivery.id,
        "webhook_id": delivery.webhook_id,
        "event": delivery.event,
        "state": delivery.state,
        "created_at": delivery.created_at.isoformat(),
        "next_attempt_at": _iso(delivery.next_attempt_at),
        "attempts": [
            {
                "number": a.number,
                "at": a.at.isoformat(),
                "status_code": a.status_code,
                "error": a.error,
                "duration_ms": round(a.duration_ms, 1),
            }
            for a in delivery.attempts
        ],
    }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()
