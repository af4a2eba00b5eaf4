"""Webhooks and their outbox in process, behaving as the SQL store does (the contract
tests run against both). No method awaits, so each is atomic within one event loop."""

from __future__ import annotations

import builtins
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from aragora.errors import DataRejectedError, InvalidInputError, NotFoundError
from aragora.records.webhooks import (
    WEBHOOK_EVENTS,
    ClaimedDelivery,
    Delivery,
    DeliveryAttempt,
    NewWebhook,
    OutboxEvent,
    Outcome,
    Webhook,
    check_limit,
    check_new_webhook,
    new_delivery_id,
)

__all__ = ["MemoryOutbox", "MemoryWebhooks", "WebhookState", "enqueue"]

Now = Callable[[], datetime]


def _json(value: Any) -> Any:
    text = json.dumps(value, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise DataRejectedError(f"the store refused a value: {error}") from None
    return json.loads(text)


@dataclass(slots=True)
class _Row:
    delivery: Delivery
    data: Any
    claimed_by: str | None = None
    claim_expires_at: datetime | None = None


@dataclass(slots=True)
class WebhookState:
    """The webhooks (with their secrets) and the outbox rows."""

    webhooks: dict[str, tuple[Webhook, str]] = field(default_factory=dict)
    rows: dict[str, _Row] = field(default_factory=dict)


def enqueue(state: WebhookState, events: Sequence[OutboxEvent], now: datetime) -> int:
    """One pending delivery of each event per subscribed webhook, due at ``now``."""
    for item in events:
        if item.event not in WEBHOOK_EVENTS:
            raise InvalidInputError(f"unknown webhook event {item.event!r}")
    new = []
    for item in events:
        data = _json(dict(item.data))
        for webhook, _secret in state.webhooks.values():
            if item.event in webhook.events:
                delivery = Delivery(
                    new_delivery_id(), webhook.id, item.event, "pending", now, now, ()
                )
                new.append(_Row(delivery, data))
    for row in new:
        state.rows[row.delivery.id] = row
    return len(new)


class MemoryWebhooks:
    """:class:`~aragora.records.webhooks.WebhookRepository` in process."""

    def __init__(self, state: WebhookState, now: Now) -> None:
        self._s = state
        self._now = now

    async def create(self, webhook: NewWebhook) -> Webhook:
        check_new_webhook(webhook)
        _json([webhook.url, webhook.description])
        stored = Webhook(
            webhook.id,
            webhook.url,
            tuple(webhook.events),
            webhook.description,
            webhook.format,
            self._now(),
        )
        self._s.webhooks[webhook.id] = (stored, webhook.secret)
        return stored

    async def list(self) -> list[Webhook]:
        return sorted((w for w, _ in self._s.webhooks.values()), key=lambda w: (w.created_at, w.id))

    async def delete(self, webhook_id: str) -> None:
        if self._s.webhooks.pop(webhook_id, None) is None:
            raise NotFoundError(f"webhook {webhook_id} not found")
        for key in [k for k, row in self._s.rows.items() if row.delivery.webhook_id == webhook_id]:
            del self._s.rows[key]

    async def deliveries(self, webhook_id: str, *, limit: int = 100) -> builtins.list[Delivery]:
        check_limit(limit)
        if webhook_id not in self._s.webhooks:
            raise NotFoundError(f"webhook {webhook_id} not found")
        found = [r.delivery for r in self._s.rows.values() if r.delivery.webhook_id == webhook_id]
        found.sort(key=lambda d: (d.created_at, d.id), reverse=True)
        return found[:limit]

    async def enqueue(self, events: Sequence[OutboxEvent]) -> int:
        return enqueue(self._s, events, self._now())


class MemoryOutbox:
    """:class:`~aragora.records.webhooks.OutboxRepository` in process."""

    def __init__(self, state: WebhookState, now: Now) -> None:
        self._s = state
        self._now = now

    async def claim(self, owner: str, ttl: float, *, limit: int = 10) -> list[ClaimedDelivery]:
        if ttl <= 0:
            raise InvalidInputError(f"a claim needs a positive ttl, got {ttl}")
        check_limit(limit)
        now = self._now()
        due = [
            row
            for row in self._s.rows.values()
            if row.delivery.state == "pending"
            and row.delivery.next_attempt_at is not None
            and row.delivery.next_attempt_at <= now
            and (row.claim_expires_at is None or row.claim_expires_at <= now)
        ]
        due.sort(key=lambda r: (r.delivery.next_attempt_at or now, r.delivery.id))
        claimed = []
        for row in due[:limit]:
            row.claimed_by, row.claim_expires_at = owner, now + timedelta(seconds=ttl)
            webhook, secret = self._s.webhooks[row.delivery.webhook_id]
            claimed.append(
                ClaimedDelivery(
                    id=row.delivery.id,
                    webhook_id=webhook.id,
                    url=webhook.url,
                    secret=secret,
                    format=webhook.format,
                    event=row.delivery.event,
                    created_at=row.delivery.created_at,
                    data=_json(row.data),
                    attempts=len(row.delivery.attempts),
                )
            )
        return claimed

    async def record(
        self,
        delivery_id: str,
        owner: str,
        attempt: DeliveryAttempt,
        *,
        outcome: Outcome,
        retry_at: datetime | None = None,
    ) -> bool:
        if outcome == "retry" and retry_at is None:
            raise InvalidInputError("a retry needs retry_at")
        row = self._s.rows.get(delivery_id)
        if row is None or row.claimed_by != owner or row.delivery.state != "pending":
            return False
        stored = replace(attempt, number=len(row.delivery.attempts) + 1)
        row.delivery = replace(
            row.delivery,
            state="pending" if outcome == "retry" else outcome,
            next_attempt_at=retry_at if outcome == "retry" else None,
            attempts=(*row.delivery.attempts, stored),
        )
        row.claimed_by, row.claim_expires_at = None, None
        return True
