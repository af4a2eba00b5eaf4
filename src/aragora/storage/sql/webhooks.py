"""Webhooks and their outbox in SQL (SQLite and PostgreSQL).

Claims: on PostgreSQL the due rows are locked ``FOR UPDATE SKIP LOCKED`` so replicas
claiming at once take different rows; SQLite's writer transaction (``BEGIN IMMEDIATE``)
serialises claimers anyway. Either way a claim is a lease (``claimed_by`` until
``claim_expires_at``): rows of a sender that died are claimed again once it expires.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from aragora.errors import InvalidInputError, NotFoundError
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
from aragora.storage.sql.database import Database, dump_json
from aragora.storage.sql.schema import webhook_attempts, webhook_deliveries, webhooks

__all__ = [
    "SUBSCRIBED_SQL",
    "SqlOutboxRepository",
    "SqlWebhookRepository",
    "check_outbox",
    "insert_outbox",
    "insert_outbox_postgres",
]

Now = Callable[[], datetime]


async def insert_outbox(
    database: Database, conn: AsyncConnection, events: Sequence[OutboxEvent], now: datetime
) -> int:
    """Inside the caller's transaction ``conn`` on ``database``: one pending delivery of
    each event for every webhook subscribed to it, due at ``now``; how many were written.
    On PostgreSQL both statements go to the driver (this runs as every debate ends)."""
    if not events:
        return 0
    check_outbox(events)
    if database.dialect == "postgresql":
        driver = await database.driver_connection(conn)
        return await insert_outbox_postgres(driver, events, now)
    subscribed = (await conn.execute(sa.select(webhooks.c.id, webhooks.c.events))).all()
    rows = _deliveries(events, [(str(id_), list(names)) for id_, names in subscribed])
    if rows:
        await conn.execute(
            webhook_deliveries.insert(),
            [
                {
                    "id": delivery_id,
                    "webhook_id": webhook_id,
                    "event": item.event,
                    "data": dict(item.data),
                    "state": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
                for delivery_id, webhook_id, item in rows
            ],
        )
    return len(rows)


def check_outbox(events: Sequence[OutboxEvent]) -> None:
    """:class:`InvalidInputError` unless every one of ``events`` is a webhook event."""
    for item in events:
        if item.event not in WEBHOOK_EVENTS:
            raise InvalidInputError(f"unknown webhook event {item.event!r}")


async def insert_outbox_postgres(
    driver: Any,
    events: Sequence[OutboxEvent],
    now: datetime,
    *,
    subscribed: Sequence[tuple[str, builtins.list[str]]] | None = None,
) -> int:
    """:func:`insert_outbox` on PostgreSQL, on ``driver`` (an asyncpg connection inside
    the caller's transaction), for ``events`` already checked; ``subscribed`` is every
    webhook's (id, events) when the caller has read them in the same transaction
    (:data:`SUBSCRIBED_SQL`), else they are read here."""
    if subscribed is None:
        found = await driver.fetch(_WEBHOOKS_SQL)
        subscribed = [(str(id_), list(names)) for id_, names in found]
    rows = _deliveries(events, subscribed)
    if rows:
        await driver.execute(
            _DELIVERIES_SQL,
            [row[0] for row in rows],
            [row[1] for row in rows],
            [row[2].event for row in rows],
            [dump_json(dict(row[2].data)) for row in rows],
            now,
        )
    return len(rows)


_WEBHOOKS_SQL = "SELECT id, events FROM webhooks"
SUBSCRIBED_SQL = "(SELECT coalesce(json_agg(json_build_array(id, events)), '[]') FROM webhooks)"
"""Every webhook's ``[id, events]`` as one JSON array: a column a statement of the
transaction that fills the outbox returns, saving :func:`insert_outbox_postgres` its own
read."""
_DELIVERIES_SQL = """
INSERT INTO webhook_deliveries
    (id, webhook_id, event, data, state, attempts, next_attempt_at, created_at)
SELECT d.id, d.webhook_id, d.event, d.data, 'pending', 0, $5, $5
FROM unnest($1::text[], $2::text[], $3::text[], $4::json[]) AS d (id, webhook_id, event, data)
"""


def _deliveries(
    events: Sequence[OutboxEvent], subscribed: Sequence[tuple[str, builtins.list[str]]]
) -> builtins.list[tuple[str, str, OutboxEvent]]:
    """(new delivery id, webhook id, event) for each event and webhook subscribed to it."""
    return [
        (new_delivery_id(), webhook_id, item)
        for item in events
        for webhook_id, names in subscribed
        if item.event in names
    ]


class SqlWebhookRepository:
    """:class:`~aragora.records.webhooks.WebhookRepository` on a :class:`Database`."""

    def __init__(self, database: Database, *, now: Now) -> None:
        self._db = database
        self._now = now

    async def create(self, webhook: NewWebhook) -> Webhook:
        """See :meth:`WebhookRepository.create`."""
        check_new_webhook(webhook)
        now = self._now()
        async with self._db.write() as conn:
            await conn.execute(
                webhooks.insert().values(
                    id=webhook.id,
                    url=webhook.url,
                    events=list(webhook.events),
                    description=webhook.description,
                    format=webhook.format,
                    secret=webhook.secret,
                    created_at=now,
                )
            )
        return Webhook(
            webhook.id, webhook.url, webhook.events, webhook.description, webhook.format, now
        )

    async def list(self) -> list[Webhook]:
        """See :meth:`WebhookRepository.list`."""
        query = sa.select(
            webhooks.c.id,
            webhooks.c.url,
            webhooks.c.events,
            webhooks.c.description,
            webhooks.c.format,
            webhooks.c.created_at,
        ).order_by(webhooks.c.created_at, webhooks.c.id)
        return [_webhook(row._mapping) for row in await self._db.rows(query, primary=True)]

    async def delete(self, webhook_id: str) -> None:
        """See :meth:`WebhookRepository.delete`."""
        async with self._db.write() as conn:
            # Explicitly, not only by the foreign keys' cascade: SQLite enforces them only
            # with the pragma on, and a file opened elsewhere may not have it.
            delivery_ids = sa.select(webhook_deliveries.c.id).where(
                webhook_deliveries.c.webhook_id == webhook_id
            )
            await conn.execute(
                webhook_attempts.delete().where(webhook_attempts.c.delivery_id.in_(delivery_ids))
            )
            await conn.execute(
                webhook_deliveries.delete().where(webhook_deliveries.c.webhook_id == webhook_id)
            )
            result = await conn.execute(webhooks.delete().where(webhooks.c.id == webhook_id))
            if result.rowcount == 0:
                raise NotFoundError(f"webhook {webhook_id} not found")

    async def deliveries(self, webhook_id: str, *, limit: int = 100) -> builtins.list[Delivery]:
        """See :meth:`WebhookRepository.deliveries`."""
        check_limit(limit)
        exists = sa.select(webhooks.c.id).where(webhooks.c.id == webhook_id)
        if not await self._db.rows(exists, primary=True):
            raise NotFoundError(f"webhook {webhook_id} not found")
        query = (
            sa.select(
                webhook_deliveries.c.id,
                webhook_deliveries.c.webhook_id,
                webhook_deliveries.c.event,
                webhook_deliveries.c.state,
                webhook_deliveries.c.created_at,
                webhook_deliveries.c.next_attempt_at,
            )
            .where(webhook_deliveries.c.webhook_id == webhook_id)
            .order_by(webhook_deliveries.c.created_at.desc(), webhook_deliveries.c.id.desc())
            .limit(limit)
        )
        found = [row._mapping for row in await self._db.rows(query, primary=True)]
        attempts: dict[str, list[DeliveryAttempt]] = {row["id"]: [] for row in found}
        if attempts:
            rows = await self._db.rows(
                sa.select(webhook_attempts)
                .where(webhook_attempts.c.delivery_id.in_(list(attempts)))
                .order_by(webhook_attempts.c.delivery_id, webhook_attempts.c.number),
                primary=True,
            )
            for row in rows:
                attempts[row.delivery_id].append(
                    DeliveryAttempt(
                        row.number, row.at, row.status_code, row.error, float(row.duration_ms)
                    )
                )
        return [
            Delivery(
                id=row["id"],
                webhook_id=row["webhook_id"],
                event=row["event"],
                state=row["state"],
                created_at=row["created_at"],
                next_attempt_at=row["next_attempt_at"],
                attempts=tuple(attempts[row["id"]]),
            )
            for row in found
        ]

    async def enqueue(self, events: Sequence[OutboxEvent]) -> int:
        """See :meth:`WebhookRepository.enqueue`."""
        if not events:
            return 0
        async with self._db.write() as conn:
            return await insert_outbox(self._db, conn, events, self._now())


class SqlOutboxRepository:
    """:class:`~aragora.records.webhooks.OutboxRepository` on a :class:`Database`."""

    def __init__(self, database: Database, *, now: Now) -> None:
        self._db = database
        self._now = now

    async def claim(self, owner: str, ttl: float, *, limit: int = 10) -> list[ClaimedDelivery]:
        """See :meth:`OutboxRepository.claim`."""
        if ttl <= 0:
            raise InvalidInputError(f"a claim needs a positive ttl, got {ttl}")
        check_limit(limit)
        now = self._now()
        due = (
            sa.select(webhook_deliveries.c.id)
            .where(
                webhook_deliveries.c.state == "pending",
                webhook_deliveries.c.next_attempt_at <= now,
                sa.or_(
                    webhook_deliveries.c.claim_expires_at.is_(None),
                    webhook_deliveries.c.claim_expires_at <= now,
                ),
            )
            .order_by(webhook_deliveries.c.next_attempt_at, webhook_deliveries.c.id)
            .limit(limit)
        )
        if self._db.dialect == "postgresql":
            due = due.with_for_update(skip_locked=True)
        async with self._db.write() as conn:
            ids = [row[0] for row in (await conn.execute(due)).all()]
            if not ids:
                return []
            await conn.execute(
                webhook_deliveries.update()
                .where(webhook_deliveries.c.id.in_(ids))
                .values(claimed_by=owner, claim_expires_at=now + timedelta(seconds=ttl))
            )
            rows = (
                await conn.execute(
                    sa.select(
                        webhook_deliveries.c.id,
                        webhook_deliveries.c.webhook_id,
                        webhook_deliveries.c.event,
                        webhook_deliveries.c.created_at,
                        webhook_deliveries.c.data,
                        webhook_deliveries.c.attempts,
                        webhook_deliveries.c.next_attempt_at,
                        webhooks.c.url,
                        webhooks.c.secret,
                        webhooks.c.format,
                    )
                    .join(webhooks, webhooks.c.id == webhook_deliveries.c.webhook_id)
                    .where(webhook_deliveries.c.id.in_(ids))
                    .order_by(webhook_deliveries.c.next_attempt_at, webhook_deliveries.c.id)
                )
            ).all()
        return [
            ClaimedDelivery(
                id=row.id,
                webhook_id=row.webhook_id,
                url=row.url,
                secret=row.secret,
                format=row.format,
                event=row.event,
                created_at=row.created_at,
                data=row.data,
                attempts=row.attempts,
            )
            for row in rows
        ]

    async def record(
        self,
        delivery_id: str,
        owner: str,
        attempt: DeliveryAttempt,
        *,
        outcome: Outcome,
        retry_at: datetime | None = None,
    ) -> bool:
        """See :meth:`OutboxRepository.record`."""
        if outcome == "retry" and retry_at is None:
            raise InvalidInputError("a retry needs retry_at")
        async with self._db.write() as conn:
            held = (
                webhook_deliveries.update()
                .where(
                    webhook_deliveries.c.id == delivery_id,
                    webhook_deliveries.c.claimed_by == owner,
                    webhook_deliveries.c.state == "pending",
                )
                .values(
                    state="pending" if outcome == "retry" else outcome,
                    attempts=webhook_deliveries.c.attempts + 1,
                    next_attempt_at=retry_at if outcome == "retry" else None,
                    claimed_by=None,
                    claim_expires_at=None,
                )
            )
            if (await conn.execute(held)).rowcount == 0:
                return False
            number = sa.select(
                sa.func.coalesce(sa.func.max(webhook_attempts.c.number), 0) + 1
            ).where(webhook_attempts.c.delivery_id == delivery_id)
            next_number = int((await conn.execute(number)).scalar_one())
            await conn.execute(
                webhook_attempts.insert().values(
                    delivery_id=delivery_id,
                    number=next_number,
                    at=attempt.at,
                    status_code=attempt.status_code,
                    error=attempt.error,
                    duration_ms=attempt.duration_ms,
                )
            )
        return True


def _webhook(row: RowMapping) -> Webhook:
    return Webhook(
        id=row["id"],
        url=row["url"],
        events=tuple(row["events"]),
        description=row["description"],
        format=row["format"],
        created_at=row["created_at"],
    )
