"""Apply and report schema migrations: the runbook's commands and the start-up check.

    python -m aragora.migrations.runner migrate     # apply every pending migration
    python -m aragora.migrations.runner status      # current and head revisions, pending ones

(also ``aragora migrate [status]``). Both read the database from ``ARAGORA_DATABASE_URL``
(default: the embedded SQLite file in ``ARAGORA_DATA_DIR``); exit status 0 on success and 1
with one line on stderr when the database cannot be reached or a migration fails.

Safety:
- All pending migrations run in **one transaction**; a failing one rolls back everything,
  so the schema is left exactly as it was. PostgreSQL and SQLite both have transactional
  DDL (on SQLite, ``aragora.storage.sql.database`` issues the ``BEGIN`` itself so that the
  driver cannot commit DDL behind our back). A future SQLite migration must not rely on
  ``PRAGMA foreign_keys`` changes, which SQLite ignores inside a transaction.
- Several replicas migrating at once: on PostgreSQL the transaction first takes
  ``pg_advisory_xact_lock``; the others wait, then find nothing pending. The lock is
  transaction-scoped, so it also works through PgBouncer's transaction pooling and can
  never outlive a crashed migrator. On SQLite the transaction starts with
  ``BEGIN IMMEDIATE``, which takes the database's write lock.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from aragora import wiring
from aragora.errors import (
    AragoraError,
    DatabaseUnavailableError,
    SchemaMismatchError,
    StorageError,
)
from aragora.settings import load_settings
from aragora.storage.sql.database import Database, translate_error

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

# Alembic (with Mako and Pygments) takes a few hundred milliseconds to import: it is
# imported only when a migration has to be looked at or applied, never by a start on a
# database already at this code's head (see ``ensure_schema``).

__all__ = [
    "MIGRATE_COMMAND",
    "MigrationResult",
    "Migrator",
    "SchemaStatus",
    "ensure_schema",
    "main",
    "run",
]

MIGRATE_COMMAND = "python -m aragora.migrations.runner migrate"
# pg_advisory_xact_lock key: "ARAGORA1" as a big-endian 64-bit integer.
_LOCK_KEY = int.from_bytes(b"ARAGORA1", "big")
_HERE = Path(__file__).resolve().parent


@dataclass(frozen=True, slots=True)
class SchemaStatus:
    """Where a database's schema stands. ``pending`` lists ``(revision, description)`` in
    the order they would be applied; ``known`` is false when the database carries a
    revision this code does not have (it was migrated by a newer Aragora)."""

    current: str | None
    head: str
    pending: tuple[tuple[str, str], ...]
    known: bool = True

    @property
    def up_to_date(self) -> bool:
        return self.known and not self.pending


@dataclass(frozen=True, slots=True)
class MigrationResult:
    """What ``migrate`` did: the revision before and after, and what it applied."""

    before: str | None
    after: str | None
    applied: tuple[str, ...]


class Migrator:
    """Runs the Alembic versions of this package (plus any ``extra_versions`` directories,
    which tests use) against ``database``."""

    def __init__(self, database: Database, *, extra_versions: Sequence[Path] = ()) -> None:
        self._db = database
        self._locations = [_HERE / "versions", *extra_versions]

    def _config(self) -> Config:
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(_HERE))
        config.set_main_option("path_separator", "os")
        config.set_main_option("version_locations", _os_joined(self._locations))
        return config

    def _script(self) -> ScriptDirectory:
        from alembic.script import ScriptDirectory

        return ScriptDirectory.from_config(self._config())

    async def status(self) -> SchemaStatus:
        """Read the current revision and compare it with this code's head."""
        try:
            async with self._db.writer.connect() as conn:
                current = await conn.run_sync(_current_revision)
        except Exception as error:
            raise translate_error(error, self._db.display_url) from error
        return self._status(current)

    def _status(self, current: str | None, target: str | None = None) -> SchemaStatus:
        from alembic.script.revision import RevisionError
        from alembic.util.exc import CommandError

        script = self._script()
        head = script.get_current_head()
        if head is None:  # the package always ships at least one version
            raise StorageError("no migrations found")
        try:
            revisions = list(script.iterate_revisions(target or head, current))
        except (CommandError, RevisionError):
            return SchemaStatus(current, head, (), known=False)
        pending = tuple(
            (rev.revision, (rev.doc or "").strip().splitlines()[0] if rev.doc else "")
            for rev in reversed(revisions)
            if rev.revision != current
        )
        return SchemaStatus(current, head, pending)

    async def migrate(self, *, target: str | None = None) -> MigrationResult:
        """Apply every pending migration (up to ``target``, default the newest) in one
        transaction under the migration lock."""
        from alembic.util.exc import CommandError

        try:
            async with self._db.writer.connect() as conn:
                result = await conn.run_sync(self._upgrade, target)
                await conn.commit()
        except AragoraError:
            raise
        except CommandError as error:
            raise StorageError(f"migration failed: {error}") from error
        except Exception as error:
            mapped = translate_error(error, self._db.display_url)
            if isinstance(mapped, DatabaseUnavailableError):
                raise mapped from error
            reason = str(mapped).strip().splitlines()[0] if str(mapped).strip() else ""
            raise StorageError(
                f"migration failed on {self._db.display_url}, nothing was changed: "
                f"{type(error).__name__}: {reason}"
            ) from error
        return result

    def _upgrade(self, conn: Connection, target: str | None) -> MigrationResult:
        if not conn.in_transaction():
            conn.begin()  # SQLite: BEGIN IMMEDIATE, the write lock
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        before = _current_revision(conn)
        status = self._status(before, target)
        if not status.known:
            raise SchemaMismatchError(_newer_message(self._db.display_url, status))
        if status.pending:
            from alembic import command

            config = self._config()
            config.attributes["connection"] = conn
            command.upgrade(config, target or "head")
        after = _current_revision(conn)
        return MigrationResult(before, after, tuple(rev for rev, _ in status.pending))


def _current_revision(conn: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


_REVISION = re.compile(r"""^revision\s*=\s*["']([^"']+)["']\s*$""", re.MULTILINE)
_DOWN_REVISION = re.compile(r"""^down_revision\s*=\s*(?:None|["']([^"']+)["'])\s*$""", re.MULTILINE)


@functools.cache
def _shipped_head() -> str | None:
    """The head revision of this package's version files, read as text (the
    ``revision = "..."`` and ``down_revision = ...`` lines Alembic's template writes);
    ``None`` when that is not one linear chain with one head (a merge, a file written by
    hand in another form): the caller then asks Alembic."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted((_HERE / "versions").glob("*.py")):
        if path.name == "__init__.py":
            continue
        text = path.read_text(encoding="utf-8")
        revision = _REVISION.findall(text)
        down = _DOWN_REVISION.findall(text)
        if len(revision) != 1 or len(down) != 1 or revision[0] in revisions:
            return None
        revisions.add(revision[0])
        if down[0]:
            parents.add(down[0])
    heads = revisions - parents
    if len(heads) != 1 or not parents <= revisions:
        return None
    return heads.pop()


async def _stored_revisions(database: Database) -> tuple[str, ...] | None:
    """The revisions in ``database``'s ``alembic_version`` table; ``None`` when it cannot
    be read (no such table yet: Alembic's path takes over). An unreachable database is
    raised at once rather than tried a second time."""
    query = sa.text("SELECT version_num FROM alembic_version")
    try:
        rows = await database.rows(query, primary=True)
    except DatabaseUnavailableError:
        raise
    except Exception:
        return None
    return tuple(str(row[0]) for row in rows)


def _os_joined(paths: Sequence[Path]) -> str:
    return os.pathsep.join(str(path) for path in paths)


def _newer_message(url: str, status: SchemaStatus) -> str:
    return (
        f"database {url} is at schema revision {status.current}, which this Aragora does not "
        f"know (its newest is {status.head}); run the Aragora version that migrated it, or newer"
    )


async def ensure_schema(database: Database, *, auto_migrate: bool) -> SchemaStatus:
    """Make sure ``database`` is at this code's schema before a server uses it.

    Pending migrations are applied when ``auto_migrate`` (``ARAGORA_AUTO_MIGRATE``) is on;
    otherwise :class:`SchemaMismatchError` names the command to run. A schema newer than
    this code is always refused. Returns the (final) status.

    A database already at the head costs one small query: its revision is read from
    ``alembic_version`` and compared with the head named in this package's version files,
    without importing Alembic. Anything else (an empty database, another revision, more
    than one row, a version file this check cannot read) takes Alembic's own path."""
    head = _shipped_head()
    if head is not None and await _stored_revisions(database) == (head,):
        return SchemaStatus(head, head, ())
    migrator = Migrator(database)
    status = await migrator.status()
    if not status.known:
        raise SchemaMismatchError(_newer_message(database.display_url, status))
    if status.up_to_date:
        return status
    if not auto_migrate:
        raise SchemaMismatchError(
            f"database {database.display_url} schema is at revision "
            f"{status.current or '(empty)'} but this Aragora needs {status.head}; back it "
            f"up, then run `{MIGRATE_COMMAND}` (or `aragora migrate`), or set "
            "ARAGORA_AUTO_MIGRATE=true"
        )
    await migrator.migrate()
    return await migrator.status()


# --- command line -----------------------------------------------------------------------------
async def run(action: str, database: Database, *, out: TextIO) -> int:
    """Run ``migrate`` or ``status`` against ``database``, printing to ``out``; exit 0."""
    migrator = Migrator(database)
    try:
        if action == "status":
            _print_status(await migrator.status(), database.display_url, out)
        else:
            result = await migrator.migrate()
            if result.applied:
                out.write(
                    f"migrated {database.display_url} from {result.before or '(empty)'} "
                    f"to {result.after}: applied {', '.join(result.applied)}\n"
                )
            else:
                out.write(f"{database.display_url} is up to date at revision {result.after}\n")
    finally:
        await database.dispose()
    return 0


def _print_status(status: SchemaStatus, url: str, out: TextIO) -> None:
    out.write(f"database: {url}\n")
    out.write(f"current revision: {status.current or '(none: empty database)'}\n")
    out.write(f"head revision: {status.head}\n")
    if not status.known:
        out.write("pending: unknown (the database is newer than this Aragora)\n")
    elif not status.pending:
        out.write("pending: none (up to date)\n")
    else:
        out.write(f"pending: {len(status.pending)} (apply with `{MIGRATE_COMMAND}`)\n")
        for revision, description in status.pending:
            out.write(f"  {revision}  {description}\n")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m aragora.migrations.runner migrate|status``; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m aragora.migrations.runner",
        description="Apply (migrate) or report (status) Aragora's database schema migrations.",
    )
    parser.add_argument("action", choices=["migrate", "status"])
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        database = wiring.build_database(settings, for_migrations=True)
        return asyncio.run(run(args.action, database, out=sys.stdout))
    except AragoraError as error:
        print(f"aragora: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
