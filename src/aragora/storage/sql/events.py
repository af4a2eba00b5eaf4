"""The event log and the leases that fence it, in SQL (SQLite and PostgreSQL).

An append runs on the primary as one atomic write, its first event checked by the insert
itself: ``INSERT … SELECT … WHERE EXISTS (the job running under the appender's epoch) AND
(SELECT max(seq) …) = seq - 1``.

- The job row is read on PostgreSQL with ``FOR SHARE``, so a concurrent claim cannot
  take the debate until the append has committed (it passes the locked row over), and
  the new owner then sees the event when it folds the log; SQLite's ``BEGIN IMMEDIATE``
  serialises writers outright. An insert refused for the lease raises
  :class:`StaleLeaseError` (the job row is read again only then, to say which check
  refused it).
- The row goes in only if it is the next one. Two writers racing for the same seq collide
  on the primary key, a writer skipping ahead inserts nothing; both get
  :class:`ConflictError`. So the stored log is contiguous whatever concurrent writers do.

On PostgreSQL the whole batch is that one statement, sent to the driver outside any
transaction, so it commits on its own in one round trip (see
:mod:`aragora.storage.sql.append`; the debate's end goes in a transaction with its status
change); on SQLite the batch's other events follow in one multi-row insert, in one
transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.ext.asyncio import AsyncConnection

from aragora.debate.events import Event
from aragora.errors import ConflictError, InvalidInputError, StaleLeaseError
from aragora.records.debates import DebateOutcome, Lease, check_batch, check_status
from aragora.storage.sql.append import append_postgres
from aragora.storage.sql.claim import claim_postgres
from aragora.storage.sql.database import Database
from aragora.storage.sql.debates import (
    count_changes,
    queued_ahead,
    update_postgres,
    update_sqlite,
)
from aragora.storage.sql.schema import debate_events, debates, jobs

__all__ = ["SqlEventRepository", "SqlLeaseRepository", "events_after"]

Now = Callable[[], datetime]


def events_after(debate_id: str, since: int, limit: int | None) -> sa.Select[Any]:
    """The query for a debate's events after ``since``: a range scan of the primary key."""
    query = (
        sa.select(
            debate_events.c.seq,
            debate_events.c.type,
            debate_events.c.timestamp,
            debate_events.c.round,
            debate_events.c.agent,
            debate_events.c.data,
        )
        .where(debate_events.c.debate_id == debate_id, debate_events.c.seq > since)
        .order_by(debate_events.c.seq)
    )
    return query if limit is None else query.limit(limit)


# The same query as events_after(), as PostgreSQL text for Database.driver_rows: replaying a
# debate is the hottest read, and SQLAlchemy's result layer costs more than the query.
_EVENTS_AFTER_SQL = (
    "SELECT seq, type, timestamp, round, agent, data FROM debate_events"
    " WHERE debate_id = $1 AND seq > $2 ORDER BY seq"
)


class SqlEventRepository:
    """:class:`~aragora.records.debates.EventRepository` on a :class:`Database`."""

    def __init__(self, database: Database, *, now: Now) -> None:
        self._db = database
        self._now = now

    async def append(self, event: Event, *, epoch: int) -> None:
        """See :meth:`EventRepository.append`."""
        await self.append_many([event], epoch=epoch)

    async def append_many(self, events: Sequence[Event], *, epoch: int) -> None:
        """See :meth:`EventRepository.append_many`: one atomic write, the lease checked
        once, the first event inserted only if it is the next one and the rest after it
        (a concurrent writer collides on the primary key)."""
        batch = check_batch(events)
        if self._db.dialect == "postgresql":
            # The append is one statement, so it needs no transaction around it: it commits
            # on its own (one round trip, where BEGIN … COMMIT made three).
            async with self._db.autocommit() as driver:
                stored = await append_postgres(driver, batch, epoch=epoch, created_at=self._now())
            if not stored:
                async with self._db.write() as conn:
                    await self._refused(conn, batch[0], epoch)
            return
        async with self._db.write() as conn:
            await self._append(conn, batch, epoch)

    async def append_and_finish(
        self, events: Sequence[Event], *, epoch: int, outcome: DebateOutcome
    ) -> None:
        """See :meth:`EventRepository.append_and_finish`."""
        batch = check_batch(events)
        check_status(outcome.status)
        if self._db.dialect == "postgresql":
            # The driver's own transaction: SQLAlchemy's costs more than its statements.
            async with self._db.autocommit() as driver, driver.transaction():
                now = self._now()
                stored = await append_postgres(driver, batch, epoch=epoch, created_at=now)
                if stored:
                    await update_postgres(
                        driver,
                        now,
                        batch[0].debate_id,
                        status=outcome.status,
                        document=outcome.document,
                        outbox=outcome.outbox,
                        followups=outcome.followups,
                    )
            if not stored:
                async with self._db.write() as conn:
                    await self._refused(conn, batch[0], epoch)
            return
        async with self._db.write() as conn:
            await self._append(conn, batch, epoch)
            await update_sqlite(
                self._db,
                conn,
                self._now(),
                batch[0].debate_id,
                status=outcome.status,
                document=outcome.document,
                outbox=outcome.outbox,
                followups=outcome.followups,
            )

    async def _append(self, conn: AsyncConnection, batch: Sequence[Event], epoch: int) -> None:
        """SQLite: append ``batch`` in the transaction ``conn``, or raise why not."""
        if not await self._append_sqlite(conn, batch, epoch):
            await self._refused(conn, batch[0], epoch)

    async def _refused(self, conn: AsyncConnection, event: Event, epoch: int) -> NoReturn:
        """Raise why an append starting at ``event`` wrote nothing. The insert checked the
        lease itself (one statement fewer); only one that wrote nothing looks at it again,
        to say which check refused it: :class:`StaleLeaseError`, else
        :class:`ConflictError`."""
        await _check_lease(conn, self._db.dialect, event.debate_id, epoch)
        last = await _last_seq(conn, event.debate_id)
        raise ConflictError(
            f"debate {event.debate_id}: append of seq {event.seq}, expected {last + 1}"
        )

    async def _append_sqlite(
        self, conn: AsyncConnection, batch: Sequence[Event], epoch: int
    ) -> bool:
        """The batch statement by statement (``BEGIN IMMEDIATE`` has made this the only
        writer): the first event if it is the next one and the lease is held, then the
        rest. ``False`` when the checks refused the first (nothing is stored)."""
        event = batch[0]
        seq = event.seq or 0
        held = sa.select(jobs.c.debate_id).where(
            jobs.c.debate_id == event.debate_id, jobs.c.state == "running", jobs.c.epoch == epoch
        )
        previous = (
            sa.select(sa.func.coalesce(sa.func.max(debate_events.c.seq), 0))
            .where(debate_events.c.debate_id == event.debate_id)
            .scalar_subquery()
        )
        row = sa.select(
            sa.literal(event.debate_id, sa.String),
            sa.literal(seq, sa.Integer),
            sa.literal(event.type, sa.String),
            sa.literal(event.round, sa.Integer),
            sa.literal(event.agent, sa.String),
            sa.literal(event.timestamp, sa.String),
            sa.literal(dict(event.data), debate_events.c.data.type),
            sa.literal(self._now(), debate_events.c.created_at.type),
        ).where(held.exists(), previous == seq - 1)
        insert = debate_events.insert().from_select(
            ["debate_id", "seq", "type", "round", "agent", "timestamp", "data", "created_at"],
            row,
        )
        try:
            result = await conn.execute(insert)
        except exc.IntegrityError:
            raise ConflictError(f"debate {event.debate_id}: seq {seq} is already stored") from None
        if result.rowcount != 1:
            return False
        if len(batch) > 1:
            created_at = self._now()
            rows = [
                {
                    "debate_id": e.debate_id,
                    "seq": e.seq,
                    "type": e.type,
                    "round": e.round,
                    "agent": e.agent,
                    "timestamp": e.timestamp,
                    "data": dict(e.data),
                    "created_at": created_at,
                }
                for e in batch[1:]
            ]
            try:
                await conn.execute(debate_events.insert(), rows)
            except exc.IntegrityError:
                raise ConflictError(
                    f"debate {event.debate_id}: seq {batch[1].seq}.. is already stored"
                ) from None
        return True

    async def read(
        self, debate_id: str, *, since: int = 0, limit: int | None = None, primary: bool = False
    ) -> list[Event]:
        """See :meth:`EventRepository.read`."""
        if limit is not None and limit < 1:
            raise InvalidInputError(f"limit must be at least 1, got {limit}")
        rows: Sequence[Sequence[Any]]
        if self._db.dialect == "postgresql":
            rows = await self._db.driver_rows(
                _EVENTS_AFTER_SQL if limit is None else _EVENTS_AFTER_SQL + " LIMIT $3",
                *((debate_id, since) if limit is None else (debate_id, since, limit)),
                primary=primary,
            )
        else:
            rows = await self._db.rows(events_after(debate_id, since, limit), primary=primary)
        # Positional unpacking: this loop is the hot path of replay (see bench/storage.py).
        return [
            Event(kind, debate_id, seq, timestamp, round_, agent, data)
            for seq, kind, timestamp, round_, agent, data in rows
        ]

    async def last_seq(self, debate_id: str) -> int:
        """See :meth:`EventRepository.last_seq`."""
        (row,) = await self._db.rows(_last_seq_query(debate_id), primary=True)
        return int(row[0])


def _last_seq_query(debate_id: str) -> sa.Select[Any]:
    return sa.select(sa.func.coalesce(sa.func.max(debate_events.c.seq), 0)).where(
        debate_events.c.debate_id == debate_id
    )


async def _last_seq(conn: AsyncConnection, debate_id: str) -> int:
    return int((await conn.execute(_last_seq_query(debate_id))).scalar_one())


async def _check_lease(conn: AsyncConnection, dialect: str, debate_id: str, epoch: int) -> None:
    query = sa.select(jobs.c.state, jobs.c.epoch).where(jobs.c.debate_id == debate_id)
    if dialect == "postgresql":
        query = query.with_for_update(read=True)
    row = (await conn.execute(query)).first()
    if row is None:
        raise StaleLeaseError(f"debate {debate_id}: no lease exists")
    if row.state != "running" or row.epoch != epoch:
        raise StaleLeaseError(
            f"debate {debate_id}: lease epoch {epoch} is stale "
            f"(current epoch {row.epoch}, {row.state})"
        )


class SqlLeaseRepository:
    """:class:`~aragora.records.debates.LeaseRepository` on a :class:`Database`.

    On PostgreSQL a claim is one statement that picks its row with ``FOR UPDATE SKIP
    LOCKED`` (see :mod:`aragora.storage.sql.claim`), so concurrent claimers on many
    replicas each get a different debate without waiting on each other."""

    def __init__(self, database: Database, *, now: Now) -> None:
        self._db = database
        self._now = now

    async def claim(self, owner: str, ttl: float, *, debate_id: str | None = None) -> Lease | None:
        """See :meth:`LeaseRepository.claim`."""
        _check_ttl(ttl)
        now = self._now()
        expires_at = now + timedelta(seconds=ttl)
        if self._db.dialect == "postgresql":
            async with self._db.autocommit() as driver, driver.transaction():
                claimed = await claim_postgres(
                    driver, owner=owner, now=now, expires_at=expires_at, debate_id=debate_id
                )
        else:
            async with self._db.write() as conn:
                claimed = await _claim_sqlite(conn, owner, now, expires_at, debate_id)
        if claimed is None:
            return None
        return Lease(claimed[0], owner, claimed[1], expires_at)

    async def renew(self, lease: Lease, ttl: float) -> Lease:
        """See :meth:`LeaseRepository.renew`."""
        _check_ttl(ttl)
        renewed = Lease(
            lease.debate_id, lease.owner, lease.epoch, self._now() + timedelta(seconds=ttl)
        )
        async with self._db.write() as conn:
            result = await conn.execute(_held(lease).values(lease_expires_at=renewed.expires_at))
            if result.rowcount != 1:
                raise StaleLeaseError(f"debate {lease.debate_id}: lease epoch {lease.epoch} lost")
        return renewed

    async def release(self, lease: Lease, *, requeue: bool = False) -> None:
        """See :meth:`LeaseRepository.release`."""
        # A debate that reached a terminal status is already off the queue ("done"): its
        # worker's release is then a formality and must neither fail nor requeue it.
        state = sa.case((jobs.c.state == "done", "done"), else_="queued" if requeue else "done")
        held_or_finished = jobs.update().where(
            jobs.c.debate_id == lease.debate_id,
            jobs.c.epoch == lease.epoch,
            jobs.c.state.in_(("running", "done")),
        )
        async with self._db.write() as conn:
            result = await conn.execute(
                held_or_finished.values(state=state, owner=None, lease_expires_at=None)
            )
            if result.rowcount != 1:
                raise StaleLeaseError(f"debate {lease.debate_id}: lease epoch {lease.epoch} lost")

    async def current(self, debate_id: str) -> Lease | None:
        """See :meth:`LeaseRepository.current`."""
        rows: Sequence[Sequence[Any]]
        if self._db.dialect == "postgresql":
            # A read of a running debate on a replica not running it asks: from the driver.
            rows = await self._db.driver_rows(
                "SELECT owner, epoch, lease_expires_at FROM jobs WHERE debate_id = $1"
                " AND state = 'running' AND lease_expires_at > $2",
                debate_id,
                self._now(),
                primary=True,
            )
        else:
            query = sa.select(jobs.c.owner, jobs.c.epoch, jobs.c.lease_expires_at).where(
                jobs.c.debate_id == debate_id,
                jobs.c.state == "running",
                jobs.c.lease_expires_at > self._now(),
            )
            rows = await self._db.rows(query, primary=True)
        if not rows:
            return None
        owner, epoch, expires_at = rows[0]
        return Lease(debate_id, owner or "", epoch, expires_at.astimezone(UTC))

    async def position(self, debate_id: str) -> int | None:
        """See :meth:`LeaseRepository.position`."""
        me = sa.select(jobs.c.priority, jobs.c.enqueued_at).where(
            jobs.c.debate_id == debate_id, jobs.c.state == "queued"
        )
        async with self._db.write() as conn:  # the queue moves: read the primary
            row = (await conn.execute(me)).first()
            if row is None:
                return None
            ahead = queued_ahead(row.priority, row.enqueued_at, debate_id)
            return int((await conn.execute(ahead)).scalar_one()) + 1


async def _claim_sqlite(
    conn: AsyncConnection,
    owner: str,
    now: datetime,
    expires_at: datetime,
    debate_id: str | None,
) -> tuple[str, int] | None:
    """The claim statement by statement (SQLite: ``BEGIN IMMEDIATE`` has already made
    this the only writer; see :func:`~aragora.storage.sql.claim.claim_postgres` for
    PostgreSQL's)."""
    # Two index-ordered lookups rather than one OR (which makes the database sort
    # every candidate): a debate whose worker died first, then the queue.
    expired = sa.and_(jobs.c.state == "running", jobs.c.lease_expires_at < now)
    queued = jobs.c.state == "queued"
    if debate_id is not None:
        expired = sa.and_(expired, jobs.c.debate_id == debate_id)
        queued = sa.and_(queued, jobs.c.debate_id == debate_id)
    row = (await conn.execute(_first(expired))).first()
    if row is None:
        row = (await conn.execute(_first(queued))).first()
    if row is None:
        return None
    await conn.execute(
        jobs.update()
        .where(jobs.c.debate_id == row.debate_id)
        .values(
            state="running",
            epoch=row.epoch + 1,
            owner=owner,
            lease_expires_at=expires_at,
            attempts=jobs.c.attempts + 1,
        )
    )
    # The debate runs from its claim on (one write fewer before its first call).
    started = await conn.execute(
        debates.update()
        .where(debates.c.id == row.debate_id, debates.c.status == "queued")
        .values(status="running", updated_at=now)
    )
    if started.rowcount == 1:
        for change in count_changes("queued", "running"):
            await conn.execute(change)
    return row.debate_id, row.epoch + 1


def _first(condition: sa.ColumnElement[bool]) -> sa.Select[tuple[str, int]]:
    """The first job meeting ``condition`` in queue order."""
    return (
        sa.select(jobs.c.debate_id, jobs.c.epoch)
        .where(condition)
        .order_by(jobs.c.priority.desc(), jobs.c.enqueued_at, jobs.c.debate_id)
        .limit(1)
    )


def _held(lease: Lease) -> sa.Update:
    return jobs.update().where(
        jobs.c.debate_id == lease.debate_id,
        jobs.c.epoch == lease.epoch,
        jobs.c.state == "running",
    )


def _check_ttl(ttl: float) -> None:
    if not ttl > 0:
        raise InvalidInputError(f"lease ttl must be positive, got {ttl}")
