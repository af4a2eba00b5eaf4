"""``aragora migrate [status]`` and ``aragora backup FILE``: the database commands."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from aragora import wiring
from aragora.errors import InvalidInputError
from aragora.migrations.runner import run
from aragora.settings import load_settings
from aragora.storage.backup import backup_sqlite
from aragora.storage.sql.database import mask_url, sqlite_path

__all__ = ["add_storage_commands"]


def add_storage_commands(commands: Any) -> None:
    """Register ``migrate`` and ``backup`` on the ``aragora`` sub-command parser."""
    migrate = commands.add_parser(
        "migrate",
        help="apply pending schema migrations (or: migrate status)",
        description="Apply pending schema migrations to ARAGORA_DATABASE_URL; with "
        "`status`, print the current and head revisions and what is pending. Safe when "
        "several replicas run it at once.",
    )
    migrate.add_argument("action", nargs="?", choices=["status"], help="only report")
    migrate.set_defaults(handler=_migrate)

    backup = commands.add_parser(
        "backup",
        help="copy the embedded SQLite database to FILE, consistently, while it runs",
        description="Copy the embedded SQLite database to FILE with SQLite's online backup "
        "API; safe while the server runs. For PostgreSQL use pg_dump.",
    )
    backup.add_argument("file", type=Path, help="where to write the copy")
    backup.add_argument("--force", action="store_true", help="replace FILE if it exists")
    backup.set_defaults(handler=_backup)


async def _migrate(args: argparse.Namespace) -> int:
    settings = load_settings()
    database = wiring.build_database(settings, for_migrations=True)
    return await run(args.action or "migrate", database, out=sys.stdout)


async def _backup(args: argparse.Namespace) -> int:
    url = load_settings().effective_database_url
    source = sqlite_path(url)
    if source is None:
        raise InvalidInputError(
            f"aragora backup copies the embedded SQLite database; {mask_url(url)} is "
            "PostgreSQL: back it up with pg_dump (see the runbook)"
        )
    size = await backup_sqlite(source, args.file, overwrite=args.force)
    print(f"backed up {source} to {args.file} ({size} bytes)")
    return 0
