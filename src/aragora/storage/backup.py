"""Embedded-mode backup: a consistent copy of the SQLite database while it is in use.

SQLite's online backup API copies the database page by page inside one read transaction
(all pages in a single step), so the copy is the database as of one instant even while a
server keeps writing: in WAL mode the writer is not blocked, and the reader sees a stable
snapshot. The copy is written beside the target, checked with ``PRAGMA integrity_check``
and only then renamed into place, so a failed backup never leaves a half-written file.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from pathlib import Path

from aragora.errors import ConflictError, StorageError
from aragora.storage.sql.database import create_private_file

__all__ = ["backup_sqlite"]


async def backup_sqlite(source: Path, target: Path, *, overwrite: bool = False) -> int:
    """Copy the SQLite database ``source`` to ``target``; returns the copy's size in bytes.

    :class:`StorageError` if ``source`` does not exist or the copy fails;
    :class:`ConflictError` if ``target`` exists and ``overwrite`` is false."""
    return await asyncio.to_thread(_backup, source, target, overwrite)


def _backup(source: Path, target: Path, overwrite: bool) -> int:
    if not source.is_file():
        raise StorageError(f"no embedded database at {source}: nothing to back up")
    if target.exists() and not overwrite:
        raise ConflictError(f"{target} exists; choose another file or pass --force")
    partial = target.with_name(f".{target.name}.partial")
    try:
        partial.unlink(missing_ok=True)
        create_private_file(partial)  # a copy of the database is as private as the database
        with (
            contextlib.closing(sqlite3.connect(source, timeout=30)) as src,
            contextlib.closing(sqlite3.connect(partial)) as dst,
        ):
            src.backup(dst)
            # A self-contained file: no -wal/-shm companions needed to open it.
            dst.execute("PRAGMA journal_mode=DELETE")
            check = dst.execute("PRAGMA integrity_check").fetchone()
            if check is None or check[0] != "ok":
                raise StorageError(f"backup of {source} failed its integrity check: {check}")
        os.replace(partial, target)
    except (sqlite3.Error, OSError) as error:
        raise StorageError(f"backup of {source} to {target} failed: {error}") from error
    finally:
        partial.unlink(missing_ok=True)
    return target.stat().st_size
