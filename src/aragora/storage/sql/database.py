"""Connections: the SQLAlchemy engines for one database, its optional read replica, and the
translation of driver errors into :mod:`aragora.errors`.

    database = Database("postgresql://aragora:pw@db/aragora", read_url=..., options=...)
    async with database.write() as conn: ...           # one transaction on the primary
    async with database.read() as conn: ...            # the replica if configured
    await database.dispose()

URLs are the operator's (``postgresql://``, ``postgres://``, ``sqlite:///path``); the async
driver (asyncpg, aiosqlite) is chosen here. Every error that leaves ``write``/``read``/``ping``
is an :class:`~aragora.errors.AragoraError`: an unreachable or lost database becomes
:class:`~aragora.errors.DatabaseUnavailableError` whose message names the URL with its
password masked. Nothing waits longer than the pool timeout for a connection, the connect
timeout for a new one, or the command timeout for a statement, so a lost database makes
operations fail fast. They recover by themselves when it returns: a write never takes a
pooled connection the server has closed (PostgreSQL's driver sees the close as it happens),
and reads (idempotent) are retried once on a fresh connection when theirs turns out dead;
either way the pool then drops its stale ones.

PostgreSQL reads use their own pool in autocommit mode (no BEGIN/ROLLBACK round trips, no
ping), which halves their fixed cost; ``ARAGORA_DB_POOL_SIZE`` sizes each pool.

SQLite: the database file is created 0600 in a directory created 0700 (its ``-wal`` and
``-shm`` files follow the file's mode), since it holds every debate and token hash. The
driver's implicit transactions are replaced by an explicit ``BEGIN IMMEDIATE`` for
writes, so that DDL is transactional too and a writer takes the write lock before it reads;
a read is one statement in SQLite's own implicit transaction (``read()`` blocks begin one
of their own); WAL mode lets readers run beside the writer; the writer pool holds one
connection because SQLite has one writer at a time anyway. A SQLite connection cannot
drop, so it is not pinged at checkout.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from uuid import uuid4

import asyncpg
import orjson
import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import QueuePool

from aragora.errors import (
    AragoraError,
    ConfigurationError,
    DatabaseUnavailableError,
    DataRejectedError,
    StorageError,
)

__all__ = [
    "DISPOSE_WAIT",
    "Database",
    "PoolOptions",
    "create_private_file",
    "dump_json",
    "mask_url",
    "sqlite_path",
    "translate_error",
]

_SQLITE_BUSY_TIMEOUT_MS = 15000
_PING_AFTER_IDLE = 1.0
"""Seconds a pooled PostgreSQL writer connection may sit idle before a checkout pings it."""
DISPOSE_WAIT = 2.0
"""Seconds :meth:`Database.dispose` waits for connections in use to come back."""
_DISPOSE_POLL = 0.005
AnyRow = sa.Row[*tuple[Any, ...]]
_json_dumps = partial(json.dumps, ensure_ascii=False, separators=(",", ":"))


def dump_json(value: Any) -> str:
    """The text a JSON column stores for ``value``: the engines' own serializer (compact,
    non-ASCII kept). A statement sent to the driver passes this for a JSON parameter (the
    pool's codec takes JSON as text), so it stores exactly what SQLAlchemy would."""
    return _json_dumps(value)


def _json_loads(text: str | bytes) -> Any:
    """Decode a JSON column. orjson is several times faster than the standard library,
    which matters on the replay path (one document per event); anything it rejects that
    Python's own writer may produce (NaN, Infinity) falls back to :func:`json.loads`."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


@dataclass(frozen=True, slots=True)
class PoolOptions:
    """Pool and timeout settings (seconds). ``pgbouncer`` turns off server-side prepared
    statement caching, which PgBouncer's transaction pooling cannot carry."""

    pool_size: int = 15
    max_overflow: int = 0
    pool_timeout: float = 10.0
    connect_timeout: float = 5.0
    command_timeout: float | None = 30.0
    pgbouncer: bool = False


def mask_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (safe for messages and logs)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def _driver_url(url: str) -> URL:
    """The SQLAlchemy URL with the async driver for the operator's ``url``."""
    try:
        parsed = make_url(url)
    except exc.ArgumentError as error:
        raise ConfigurationError(f"invalid database URL {mask_url(url)!r}") from error
    backend = parsed.get_backend_name()
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+asyncpg")
    if backend == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise ConfigurationError(
                f"database URL {mask_url(url)!r}: SQLite needs a file (sqlite:///path)"
            )
        return parsed.set(drivername="sqlite+aiosqlite")
    raise ConfigurationError(
        f"database URL {mask_url(url)!r}: expected postgresql://… or sqlite:///path"
    )


class Database:
    """The engines of one database: ``writer`` (the primary) and ``reader`` (the replica
    named by ``read_url``, else the primary)."""

    def __init__(
        self, url: str, *, read_url: str | None = None, options: PoolOptions | None = None
    ) -> None:
        self.options = options or PoolOptions()
        self.url = url
        self.display_url = mask_url(url)
        self.read_display_url = mask_url(read_url) if read_url else self.display_url
        driver_url = _driver_url(url)
        self.dialect = "sqlite" if driver_url.get_backend_name() == "sqlite" else "postgresql"
        if self.dialect == "sqlite":
            path = Path(driver_url.database or "")
            try:
                create_private_file(path)
            except OSError as error:
                raise DatabaseUnavailableError(
                    f"database {self.display_url} unavailable: cannot create {path}: "
                    f"{error.strerror or error}"
                ) from error
        self.writer = self._engine(driver_url, writer=True)
        if read_url is not None:
            read_driver_url = _driver_url(read_url)
            if read_driver_url.get_backend_name() != driver_url.get_backend_name():
                raise ConfigurationError(
                    "ARAGORA_DATABASE_READ_URL must name the same kind of database as "
                    "ARAGORA_DATABASE_URL"
                )
            self.reader = self._engine(read_driver_url, writer=False)
        else:
            # A second engine on the primary. SQLite: reads in WAL mode do not queue behind
            # the single writer connection. PostgreSQL: see _postgres_engine (autocommit).
            self.reader = self._engine(driver_url, writer=False)
        # Reads that must see every write: the primary's read engine, or with a replica
        # configured the writer (rather than a third pool).
        self._primary_reader = self.reader if read_url is None else self.writer
        # The health check's own connection to the primary: a ping queued behind a busy
        # pool (every connection out under a burst of requests) would say the database is
        # down when it is only busy, and take the replica out of service for it.
        self._pinger = self._engine(
            driver_url, writer=False, options=replace(self.options, pool_size=1, max_overflow=0)
        )

    def _engine(self, url: URL, *, writer: bool, options: PoolOptions | None = None) -> AsyncEngine:
        options = options or self.options
        if url.get_backend_name() == "sqlite":
            return _sqlite_engine(url, options, writer=writer)
        return _postgres_engine(url, options, writer=writer)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """One transaction on the primary, committed when the block exits normally."""
        try:
            async with self.writer.begin() as conn:
                yield conn
        except Exception as error:
            raise translate_error(error, self.display_url) from error

    @asynccontextmanager
    async def read(self, *, primary: bool = False) -> AsyncIterator[AsyncConnection]:
        """A connection for reads on the replica (``primary=True``: on the primary), for
        the few reads that need more than :meth:`rows`; no retry here."""
        engine = self._primary_reader if primary else self.reader
        shown = self.display_url if primary else self.read_display_url
        try:
            async with engine.connect() as conn:
                if self.dialect == "sqlite":
                    # One snapshot for every statement of the block (see _sqlite_engine).
                    await conn.exec_driver_sql("BEGIN")
                yield conn
                await conn.rollback()
        except Exception as error:
            raise translate_error(error, shown) from error

    async def rows(self, query: sa.Executable, *, primary: bool = False) -> list[AnyRow]:
        """Every row of one read-only ``query`` on the replica (``primary=True``: on the
        primary). Reads are idempotent, so one whose pooled connection turns out to be dead
        (the database restarted, a backend was terminated) is retried once on a fresh
        connection; the pool has then discarded its other stale connections too."""
        if primary:
            return await _rows_on(self._primary_reader, query, self.display_url)
        return await _rows_on(self.reader, query, self.read_display_url)

    async def driver_rows(
        self, sql: str, *args: Any, primary: bool = False
    ) -> list[tuple[Any, ...]]:
        """PostgreSQL only: the rows of one read-only SQL statement (``$1`` parameters)
        fetched straight from the driver, skipping SQLAlchemy's result layer, which costs
        more than the query on the replay path. Same routing, retry of a dead pooled
        connection and error translation as :meth:`rows`; JSON columns come back decoded
        (the pool's connections carry the JSON codec)."""
        if self.dialect != "postgresql":
            raise ConfigurationError("driver_rows is for PostgreSQL; use rows()")
        engine = self._primary_reader if primary else self.reader
        shown = self.display_url if primary else self.read_display_url
        for attempt in (1, 2):
            try:
                async with engine.connect() as conn:
                    driver = (await conn.get_raw_connection()).driver_connection
                    if driver is None:
                        raise DatabaseUnavailableError(f"database {shown}: connection closed")
                    try:
                        records = await driver.fetch(sql, *args)
                    except (asyncpg.ConnectionDoesNotExistError, asyncpg.InterfaceError, OSError):
                        # The backend is gone: drop this connection (and let the pool test
                        # the rest) before trying once more on a fresh one.
                        await conn.invalidate()
                        if attempt == 1:
                            continue
                        raise
                    return [tuple(record) for record in records]
            except Exception as error:
                raise translate_error(error, shown) from error
        raise AssertionError("unreachable")  # pragma: no cover

    @asynccontextmanager
    async def autocommit(self) -> AsyncIterator[Any]:
        """PostgreSQL only: an asyncpg connection of the primary's pool outside any
        transaction, for a write that is one statement: the statement commits on its own,
        in one round trip where :meth:`write` costs three (``BEGIN``, the statement,
        ``COMMIT``) and SQLAlchemy's transaction work besides. A single statement is atomic
        (every row or none) and holds its locks until it commits, as a transaction would.
        Errors leave translated, as from :meth:`write`; the pool's checkout replaces a
        connection the server closed, as for :meth:`write`."""
        if self.dialect != "postgresql":
            raise ConfigurationError("autocommit is for PostgreSQL; use write()")
        try:
            async with self.writer.connect() as conn:
                driver: Any = (await conn.get_raw_connection()).driver_connection
                if driver is None:
                    raise DatabaseUnavailableError(
                        f"database {self.display_url}: connection closed"
                    )
                yield driver
        except Exception as error:
            raise translate_error(error, self.display_url) from error

    async def driver_connection(self, conn: AsyncConnection) -> Any:
        """PostgreSQL only: the asyncpg connection of a :meth:`write` block ``conn``, inside
        the block's transaction, for a write that skips SQLAlchemy's compile and result
        layers (a lease claim, an append, a status change: on the path of every debate).
        What it raises leaves the block as any error does: the transaction rolls back and
        the error is translated.

        SQLAlchemy's asyncpg adapter sends ``BEGIN`` only before the first statement it
        runs itself, so a statement sent to the driver first would commit on its own: the
        transaction is begun here, through the adapter so that it still commits or rolls
        back as the block ends, and checked (a changed adapter fails loudly rather than
        writing outside the transaction)."""
        if self.dialect != "postgresql":
            raise ConfigurationError("driver_connection is for PostgreSQL")
        raw = await conn.get_raw_connection()
        adapter: Any = raw.dbapi_connection
        driver: Any = raw.driver_connection
        if adapter is None or driver is None:
            raise DatabaseUnavailableError(f"database {self.display_url}: connection closed")
        if adapter._transaction is None:
            try:
                await adapter._start_transaction()
            except Exception as error:
                # The adapter raises its own classes here (SQLAlchemy wraps them only on its
                # own paths): the driver's error behind one is what translates.
                cause = error.__cause__ if isinstance(error.__cause__, Exception) else error
                raise translate_error(cause, self.display_url) from error
        if not driver.is_in_transaction():
            raise StorageError("the write block's transaction could not be begun")
        return driver

    async def ping(self) -> None:
        """Raise :class:`DatabaseUnavailableError` unless the primary answers a query, on a
        connection of its own (not one the requests wait for). A dead connection is
        replaced once, as for :meth:`rows`."""
        await _rows_on(self._pinger, sa.text("SELECT 1"), self.display_url)

    async def dispose(self, *, wait: float = DISPOSE_WAIT) -> None:
        """Close every pooled connection, once those in use are back (at most ``wait``
        seconds). A connection still out when its pool is disposed is never closed by the
        pool: it goes back to a pool nothing holds, and the garbage collector, which cannot
        run the driver's asynchronous close, drops it open. So work finishing as the
        database closes (a debate's last write during a drain) gets to return its
        connection first."""
        deadline = time.monotonic() + wait
        for engine in (self.writer, self.reader, self._pinger):
            pool = engine.pool
            if not isinstance(pool, QueuePool):
                continue
            while pool.checkedout() and time.monotonic() < deadline:  # noqa: ASYNC110 - no pool event to await
                await asyncio.sleep(_DISPOSE_POLL)
        await self.writer.dispose()
        await self.reader.dispose()
        await self._pinger.dispose()


async def _rows_on(engine: AsyncEngine, query: sa.Executable, shown: str) -> list[AnyRow]:
    """Every row of the read-only ``query`` on ``engine``, retried once on a fresh
    connection when its pooled one turns out to be dead (see :meth:`Database.rows`);
    errors translated, naming the database ``shown``."""
    for attempt in (1, 2):
        try:
            async with engine.connect() as conn:
                return list((await conn.execute(query)).all())
        except exc.DBAPIError as error:
            if attempt == 1 and error.connection_invalidated:
                continue
            raise translate_error(error, shown) from error
        except Exception as error:
            raise translate_error(error, shown) from error
    raise AssertionError("unreachable")  # pragma: no cover


def translate_error(error: Exception, display_url: str) -> Exception:
    """The :mod:`aragora.errors` exception for a driver or pool ``error`` (Aragora's own
    errors pass through unchanged). Messages are one line and never hold a password.

    The classes tell a caller whether trying again can help:
    :class:`DatabaseUnavailableError` (the database is unreachable, timed out, lost the
    connection, or rolled the transaction back for a deadlock or serialization conflict:
    a retry later may work), :class:`DataRejectedError` (the database refused a value:
    too long, not storable in its encoding, a violated constraint; the same write always
    fails), and :class:`StorageError` for the rest."""
    if isinstance(error, AragoraError):
        return error
    if isinstance(error, exc.TimeoutError):
        return DatabaseUnavailableError(
            f"database {display_url} unavailable: no connection free within the pool timeout"
        )
    if isinstance(error, exc.StatementError) and isinstance(error.orig, UnicodeError):
        error = error.orig  # a value the driver could not even encode
    if isinstance(error, UnicodeError):
        return DataRejectedError(f"database {display_url} refused a value: {_reason(error)}")
    if isinstance(error, exc.DBAPIError):
        reason = _reason(error.orig if error.orig is not None else error)
        if type(error.orig).__module__.startswith("sqlite3"):
            # SQLite raises OperationalError for bad SQL too; only these are "unavailable".
            if _SQLITE_UNAVAILABLE.search(reason):
                return DatabaseUnavailableError(f"database {display_url} unavailable: {reason}")
            if isinstance(error, exc.IntegrityError | exc.DataError) or _SQLITE_REFUSED.search(
                reason
            ):
                return DataRejectedError(f"database {display_url} refused a value: {reason}")
            return StorageError(f"database {display_url} error: {reason}")
        lost = isinstance(error, exc.OperationalError | exc.InterfaceError)
        return _postgres_error(
            error.orig, reason, display_url, lost=lost or error.connection_invalidated
        )
    if isinstance(error, asyncpg.PostgresError | asyncpg.InterfaceError):
        # Raised by statements sent to the driver itself (driver_rows, the claim).
        return _postgres_error(error, _reason(error), display_url, lost=False)
    if isinstance(error, OSError | TimeoutError):
        return DatabaseUnavailableError(f"database {display_url} unavailable: {_reason(error)}")
    return error


# PostgreSQL error classes (SQLSTATE's first two characters): 22 data exception (value too
# long, invalid byte sequence, out of range ...), 23 integrity constraint violation (check,
# not null, unique, foreign key). Whatever retries do, the same values fail the same way.
_PG_REFUSED_CLASSES = frozenset({"22", "23"})
# 08 connection exception, 40 transaction rollback (deadlock, serialization failure),
# 53 insufficient resources, 57 operator intervention (shutdown, statement timeout): these
# pass, so the work is tried again later.
_PG_TRANSIENT_CLASSES = frozenset({"08", "40", "53", "57"})
_PG_TRANSIENT_STATES = frozenset({"55P03"})  # lock_not_available
_SQLITE_REFUSED = re.compile(
    r"too big|constraint failed|error binding parameter|surrogates not allowed",
    re.IGNORECASE,
)


def _postgres_error(
    orig: BaseException | None, reason: str, display_url: str, *, lost: bool
) -> AragoraError:
    """A PostgreSQL error (the driver's ``orig``, or SQLAlchemy's wrapper saying the
    connection was ``lost``) by its SQLSTATE class: see :func:`translate_error`."""
    sqlstate = str(getattr(orig, "sqlstate", None) or "")
    if sqlstate[:2] in _PG_REFUSED_CLASSES:
        return DataRejectedError(f"database {display_url} refused a value: {reason}")
    if (
        lost
        or sqlstate[:2] in _PG_TRANSIENT_CLASSES
        or sqlstate in _PG_TRANSIENT_STATES
        or _looks_like_connection_loss(orig)
    ):
        return DatabaseUnavailableError(f"database {display_url} unavailable: {reason}")
    return StorageError(f"database {display_url} error: {reason}")


def _looks_like_connection_loss(error: BaseException | None) -> bool:
    if error is None:
        return False
    if isinstance(error, OSError | TimeoutError):
        return True
    name = type(error).__name__
    return name in {
        "ConnectionDoesNotExistError",
        "ConnectionFailureError",
        "CannotConnectNowError",
        "AdminShutdownError",
        "InterfaceError",
    }


_SQLITE_UNAVAILABLE = re.compile(
    r"database is locked|unable to open|disk i/o error|readonly database|database is full",
    re.IGNORECASE,
)
_PASSWORD_IN_URL = re.compile(r"(://[^:/@\s]*:)[^@\s]*@")


def _reason(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    if isinstance(error, TimeoutError) and not str(error).strip():
        text = "timed out"
    text = _PASSWORD_IN_URL.sub(r"\1***@", text.splitlines()[0])
    if isinstance(error, ConnectionRefusedError) or "refused" in text.lower():
        return f"connection refused ({text})"
    return text


# --- engines --------------------------------------------------------------------------------
def _sqlite_engine(url: URL, options: PoolOptions, *, writer: bool) -> AsyncEngine:
    # No ping at checkout: a SQLite connection is a file handle, it cannot drop. Readers
    # run each statement in SQLite's own implicit transaction (one statement reads one
    # snapshot in WAL mode) rather than BEGIN … ROLLBACK around it: every statement costs
    # a round trip to the driver's thread, and a read is most often one statement.
    # Database.read() begins a transaction itself for blocks of several.
    engine = create_async_engine(
        url,
        pool_size=1 if writer else max(options.pool_size, 1),
        max_overflow=0 if writer else options.max_overflow,
        pool_timeout=options.pool_timeout,
        json_serializer=_json_dumps,
        json_deserializer=_json_loads,
        connect_args={"timeout": _SQLITE_BUSY_TIMEOUT_MS / 1000},
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transactions out of the driver's hands (see the module docstring).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode")
        if str(cursor.fetchone()[0]).lower() != "wal":
            # Persistent: only the first connection to a new file switches it (and needs
            # the exclusive lock for it).
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    if writer:

        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin(connection: Any) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _postgres_engine(url: URL, options: PoolOptions, *, writer: bool) -> AsyncEngine:
    query = dict(url.query)
    connect_args: dict[str, Any] = {"timeout": options.connect_timeout}
    if options.command_timeout is not None:
        connect_args["command_timeout"] = options.command_timeout
    sslmode = query.pop("sslmode", None)
    if sslmode is not None:  # libpq's spelling; asyncpg calls it ``ssl``
        connect_args["ssl"] = sslmode if isinstance(sslmode, str) else sslmode[0]
    if options.pgbouncer:
        # Transaction pooling hands each transaction a different server connection, so
        # prepared statements must be neither cached nor reused by name.
        connect_args["statement_cache_size"] = 0
        connect_args["prepared_statement_cache_size"] = 0
        connect_args["prepared_statement_name_func"] = _unique_statement_name
    else:
        connect_args["server_settings"] = {"application_name": "aragora"}
    if writer:
        engine = create_async_engine(
            url.set(query=query),
            pool_size=options.pool_size,
            max_overflow=options.max_overflow,
            pool_timeout=options.pool_timeout,
            json_serializer=_json_dumps,
            json_deserializer=_json_loads,
            connect_args=connect_args,
        )

        dialect = engine.sync_engine.dialect

        @event.listens_for(engine.sync_engine, "checkin")
        def _idle_from(_dbapi_connection: Any, record: Any) -> None:
            if record is not None:
                record.info["idle_from"] = time.monotonic()

        @event.listens_for(engine.sync_engine, "checkout")
        def _alive(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
            # A pooled connection the server closed (a restart, a terminated backend) is
            # replaced at checkout, so a write after an outage does not fail on it. The
            # driver sees most closes as they happen (free to check); a connection idle
            # for a while is pinged too (SQLAlchemy's pre-ping on every checkout costs
            # three round trips: BEGIN, a query, ROLLBACK).
            driver = getattr(dbapi_connection, "driver_connection", None)
            if driver is None or driver.is_closed():
                raise exc.DisconnectionError("the pooled connection was closed")
            idle_from = record.info.get("idle_from")
            if idle_from is not None and time.monotonic() - idle_from > _PING_AFTER_IDLE:
                try:
                    dialect.do_ping(dbapi_connection)
                except Exception as error:
                    raise exc.DisconnectionError(
                        f"the pooled connection is dead: {error}"
                    ) from error

        return engine
    # Reads: autocommit (a single SELECT needs no BEGIN/ROLLBACK round trips) and no ping
    # at checkout (Database.rows retries a read whose connection was dead instead). This
    # halves the fixed cost of a read; the price is a second pool of the same size.
    return create_async_engine(
        url.set(query=query),
        isolation_level="AUTOCOMMIT",
        pool_size=options.pool_size,
        max_overflow=options.max_overflow,
        pool_timeout=options.pool_timeout,
        pool_pre_ping=False,
        pool_reset_on_return=None,
        json_serializer=_json_dumps,
        json_deserializer=_json_loads,
        connect_args=connect_args,
    )


def _unique_statement_name() -> str:
    return f"__aragora_{uuid4().hex}__"


def create_private_file(path: Path) -> None:
    """Make sure ``path`` exists, creating it (and any missing directory) readable by this
    user alone: a new directory 0700, a new file 0600. SQLite then gives the ``-wal`` and
    ``-shm`` files it creates beside a database the database file's mode. An existing file
    or directory keeps the mode the operator gave it."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def sqlite_path(url: str) -> Path | None:
    """The file of a ``sqlite:///path`` URL, or ``None`` for any other database."""
    driver_url = _driver_url(url)
    if driver_url.get_backend_name() != "sqlite":
        return None
    return Path(driver_url.database or "")
