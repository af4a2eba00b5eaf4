"""The SQL store: every repository on one :class:`~aragora.storage.sql.database.Database`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from aragora.records.debates import Storage
from aragora.storage.sql.database import Database
from aragora.storage.sql.debates import SqlDebateRepository
from aragora.storage.sql.events import SqlEventRepository, SqlLeaseRepository
from aragora.storage.sql.knowledge import SqlKnowledgeIndex, SqlKnowledgeRepository
from aragora.storage.sql.tokens_ratings_receipts import (
    SqlRatingRepository,
    SqlReceiptRepository,
    SqlSettingsRepository,
    SqlTokenRepository,
)
from aragora.storage.sql.webhooks import SqlOutboxRepository, SqlWebhookRepository

__all__ = ["sql_storage", "utc_now"]


def utc_now() -> datetime:
    """The current time in UTC (the default clock of the stores)."""
    return datetime.now(UTC)


def sql_storage(database: Database, *, now: Callable[[], datetime] = utc_now) -> Storage:
    """Every repository on ``database``; ``now`` stamps rows and times leases."""
    return Storage(
        debates=SqlDebateRepository(database, now=now),
        events=SqlEventRepository(database, now=now),
        leases=SqlLeaseRepository(database, now=now),
        tokens=SqlTokenRepository(database, now=now),
        settings=SqlSettingsRepository(database, now=now),
        ratings=SqlRatingRepository(database, now=now),
        receipts=SqlReceiptRepository(database, now=now),
        knowledge=SqlKnowledgeRepository(database),
        knowledge_index=SqlKnowledgeIndex(database),
        webhooks=SqlWebhookRepository(database, now=now),
        outbox=SqlOutboxRepository(database, now=now),
        ping=database.ping,
        close=database.dispose,
    )
