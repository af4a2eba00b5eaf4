"""The database as the operator commands (``tokens``, ``maintenance``) open it.

They work on the database directly, without a running server, so a change holds for every
replica that shares it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aragora import wiring
from aragora.migrations.runner import ensure_schema
from aragora.records.debates import Storage
from aragora.settings import load_settings

__all__ = ["open_storage"]


@asynccontextmanager
async def open_storage() -> AsyncIterator[Storage]:
    """Every repository on the database of the current settings, its schema checked first
    (migrated when ``ARAGORA_AUTO_MIGRATE`` is in effect, as a starting server would; else
    :class:`~aragora.errors.SchemaMismatchError` names the command to run). Connections
    are closed on the way out."""
    settings = load_settings()
    database = wiring.build_database(settings)
    storage = wiring.build_storage(database)
    try:
        await ensure_schema(database, auto_migrate=settings.effective_auto_migrate)
        yield storage
    finally:
        await storage.close()
