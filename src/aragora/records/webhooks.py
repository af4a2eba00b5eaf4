"""Webhooks as stored: the registered endpoints, and the outbox of deliveries to them.

A delivery is written to the outbox in the same transaction as what it reports (the
terminal status of a debate: see ``DebateRepository.update(..., outbox=...)``), one row
per subscribed webhook, and then sent by the runtime's sender, which claims due rows
(safe across replicas: a claim is a lease with an expiry), records every attempt and
marks the delivery delivered, due again later, or failed. Delivery is at least once: a
sender that dies after sending but before recording leaves the row to be claimed again
when its claim expires, so receivers deduplicate by the delivery's id.

Secrets are stored as they are, since the sender must sign with them; they leave storage
only in a :class:`ClaimedDelivery` (for signing) and never in a :class:`Webhook`.
"""

from __future__ import annotations

import builtins
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from aragora.errors import InvalidInputError

__all__ = [
    "DELIVERY_STATES",
    "MAX_WEBHOOK_URL_CHARS",
    "WEBHOOK_EVENTS",
    "WEBHOOK_FORMATS",
    "ClaimedDelivery",
    "Delivery",
    "DeliveryAttempt",
    "NewWebhook",
    "OutboxEvent",
    "OutboxRepository",
    "Outcome",
    "Webhook",
    "WebhookRepository",
    "check_limit",
    "check_new_webhook",
    "new_delivery_id",
    "new_webhook_id",
]

WEBHOOK_EVENTS = ("debate.completed", "debate.failed", "knowledge.conflict")
WEBHOOK_FORMATS = ("aragora", "slack")
"""``aragora``: the JSON body of CONTRACT.md; ``slack``: ``{"text": ...}`` for a Slack (or
compatible) incoming webhook, with the same signature headers."""
DELIVERY_STATES = ("pending", "delivered", "failed")
MAX_WEBHOOK_URL_CHARS = 2000
MAX_DESCRIPTION_CHARS = 500
Outcome = Literal["delivered", "retry", "failed"]


@dataclass(frozen=True, slots=True)
class NewWebhook:
    """An endpoint to register; ``secret`` keys the signatures of its deliveries."""

    id: str
    url: str
    events: tuple[str, ...]
    secret: str
    description: str | None = None
    format: str = "aragora"


@dataclass(frozen=True, slots=True)
class Webhook:
    """A registered endpoint as listed: never its secret."""

    id: str
    url: str
    events: tuple[str, ...]
    description: str | None
    format: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    """Something that happened, to be delivered to every webhook subscribed to ``event``.
    ``data`` is JSON-ready (for ``debate.completed`` the debate document)."""

    event: str
    data: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    """One try at a delivery: the HTTP status (``None`` when no answer came), the error
    (``None`` for a 2xx answer), and how long it took."""

    number: int
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: float


@dataclass(frozen=True, slots=True)
class Delivery:
    """A delivery as listed, with every attempt so far (oldest first)."""

    id: str
    webhook_id: str
    event: str
    state: str
    created_at: datetime
    next_attempt_at: datetime | None
    """When it is tried next (``None`` once delivered or failed)."""
    attempts: tuple[DeliveryAttempt, ...]


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """A due delivery a sender holds until ``claim_expires_at``: what it needs to send."""

    id: str
    webhook_id: str
    url: str
    secret: str
    format: str
    event: str
    created_at: datetime
    data: Mapping[str, Any]
    attempts: int
    """Attempts made before this one."""


class WebhookRepository(Protocol):
    """Registered webhooks and their deliveries."""

    async def create(self, webhook: NewWebhook) -> Webhook:
        """Store ``webhook``; :class:`InvalidInputError` for an unknown event or format,
        no events, or a URL or description that does not fit."""
        ...

    async def list(self) -> list[Webhook]:
        """Every webhook, oldest first."""
        ...

    async def delete(self, webhook_id: str) -> None:
        """Remove the webhook and its deliveries (pending ones are never sent);
        :class:`NotFoundError` if it does not exist."""
        ...

    async def deliveries(self, webhook_id: str, *, limit: int = 100) -> builtins.list[Delivery]:
        """The webhook's newest ``limit`` deliveries (1..1000), newest first;
        :class:`NotFoundError` if the webhook does not exist (primary read)."""
        ...

    async def enqueue(self, events: Sequence[OutboxEvent]) -> int:
        """Put a delivery of each event in the outbox for every webhook subscribed to it,
        in one transaction, due now; the number of deliveries written."""
        ...


class OutboxRepository(Protocol):
    """The senders' side of the outbox."""

    async def claim(self, owner: str, ttl: float, *, limit: int = 10) -> list[ClaimedDelivery]:
        """Up to ``limit`` pending deliveries due now (earliest first) whose claim is free
        or expired, claimed by ``owner`` for ``ttl`` seconds. Concurrent claimers never
        get the same delivery while its claim lasts."""
        ...

    async def record(
        self,
        delivery_id: str,
        owner: str,
        attempt: DeliveryAttempt,
        *,
        outcome: Outcome,
        retry_at: datetime | None = None,
    ) -> bool:
        """Record ``attempt`` and release the claim: ``delivered``, ``failed`` (no more
        tries), or ``retry`` (due again at ``retry_at``). ``False`` (nothing changed) when
        ``owner`` no longer holds the claim or the delivery is gone."""
        ...


def new_webhook_id() -> str:
    """A public identifier for a webhook."""
    return "wh_" + secrets.token_hex(8)


def new_delivery_id() -> str:
    """A delivery's id: sent as ``X-Aragora-Delivery`` and as the body's ``id``, the same
    on every attempt, so a receiver can deduplicate."""
    return "dlv_" + secrets.token_hex(12)


def check_new_webhook(webhook: NewWebhook) -> NewWebhook:
    """``webhook`` if every backend can store it; else :class:`InvalidInputError`."""
    if not webhook.id or not webhook.secret:
        raise InvalidInputError("a webhook needs an id and a secret")
    if not webhook.url or len(webhook.url) > MAX_WEBHOOK_URL_CHARS:
        raise InvalidInputError(f"a webhook URL has 1 to {MAX_WEBHOOK_URL_CHARS} characters")
    if not webhook.events:
        raise InvalidInputError("a webhook needs at least one event")
    for event in webhook.events:
        if event not in WEBHOOK_EVENTS:
            raise InvalidInputError(
                f"unknown webhook event {event!r} (expected one of {', '.join(WEBHOOK_EVENTS)})"
            )
    if len(set(webhook.events)) != len(webhook.events):
        raise InvalidInputError("a webhook names each event once")
    if webhook.format not in WEBHOOK_FORMATS:
        raise InvalidInputError(
            f"unknown webhook format {webhook.format!r} "
            f"(expected one of {', '.join(WEBHOOK_FORMATS)})"
        )
    if webhook.description is not None and len(webhook.description) > MAX_DESCRIPTION_CHARS:
        raise InvalidInputError(f"a description has at most {MAX_DESCRIPTION_CHARS} characters")
    return webhook


def check_limit(limit: int) -> int:
    """``limit`` if it is 1..1000; else :class:`InvalidInputError`."""
    if not 1 <= limit <= 1000:
        raise InvalidInputError(f"limit must be between 1 and 1000, got {limit}")
    return limit
