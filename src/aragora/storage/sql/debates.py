"""Debates in SQL (SQLite and PostgreSQL): create with its queue job, get, list, update."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.ext.asyncio import AsyncConnection

from aragora.errors import (
    ConflictError,
    DataRejectedError,
    InvalidInputError,
    NotFoundError,
)
from aragora.records.debates import (
    DEBATE_STATUSES,
    TERMINAL_STATUSES,
    Claimant,
    CreatedDebate,
    DebatePage,
    DebateRecord,
    Lease,
    NewDebate,
    check_new_debate,
    check_page,
    check_status,
)
from aragora.records.webhooks import OutboxEvent
from aragora.storage.sql.database import Database, dump_json
from aragora.storage.sql.schema import COUNT_SHARDS, debate_counts, debates, jobs
from aragora.storage.sql.webhooks import (
    SUBSCRIBED_SQL,
    check_outbox,
    insert_outbox,
    insert_outbox_postgres,
)

__all__ = [
    "SqlDebateRepository",
    "count_changes",
    "count_changes_script",
    "queued_ahead",
    "update_postgres",
    "update_sqlite",
]

Now = Callable[[], datetime]
_SUMMARY_COLUMNS = (
    debates.c.id,
    debates.c.status,
    debates.c.task,
    debates.c.request,
    debates.c.created_at,
    debates.c.updated_at,
)

# create() on PostgreSQL. The queue as the statement finds it: the jobs claimed before
# this one (queued_ahead), and whether a lease has expired (its debate is claimed first).
# A claimant ($6) takes the debate only when a claim now would: nothing ahead, nothing
# lapsed. Concurrent creates may both take theirs: neither was queued first. The jobs
# row's foreign key is checked at the statement's end, once the debate's row is in.
_CREATE_SQL = """
WITH queue AS (
    SELECT count(*) AS ahead FROM jobs
    WHERE state = 'queued' AND (
        priority > $5::integer OR (priority = $5::integer AND (
            enqueued_at < $4::timestamptz
            OR (enqueued_at = $4::timestamptz AND debate_id < $1::varchar)
        ))
    )
), decided AS (
    SELECT queue.ahead, $6::boolean AND queue.ahead = 0 AND NOT EXISTS (
        SELECT FROM jobs WHERE state = 'running' AND lease_expires_at < $4
    ) AS taken
    FROM queue
), debate AS (
    INSERT INTO debates (id, status, task, request, document, created_at, updated_at)
    SELECT $1::varchar, CASE WHEN taken THEN 'running' ELSE 'queued' END, $2::text, $3::json,
        NULL, $4, $4
    FROM decided
), job AS (
    INSERT INTO jobs (debate_id, state, epoch, attempts, enqueued_at, priority, owner,
        lease_expires_at)
    SELECT $1::varchar, CASE WHEN taken THEN 'running' ELSE 'queued' END,
        CASE WHEN taken THEN 1 ELSE 0 END, CASE WHEN taken THEN 1 ELSE 0 END, $4, $5,
        CASE WHEN taken THEN $7::varchar END, CASE WHEN taken THEN $8::timestamptz END
    FROM decided
), counted AS (
    UPDATE debate_count_shards SET n = n + 1
    WHERE status = (SELECT CASE WHEN taken THEN 'running' ELSE 'queued' END FROM decided)
        AND shard = $9::smallint
)
SELECT ahead, taken FROM decided
"""

# Each status's count on PostgreSQL: its row from before migration 0009 and its shards.
_COUNTS_SQL = """
SELECT status, sum(n) FROM (
    SELECT status, n FROM debate_counts UNION ALL SELECT status, n FROM debate_count_shards
) AS c GROUP BY status
"""

# The same read as get()'s query, as PostgreSQL text for Database.driver_rows.
_GET_SQL = (
    f"SELECT {', '.join(c.name for c in (*_SUMMARY_COLUMNS, debates.c.document))}"
    " FROM debates WHERE id = $1"
)


class SqlDebateRepository:
    """:class:`~aragora.records.debates.DebateRepository` on a :class:`Database`."""

    def __init__(self, database: Database, *, now: Now) -> None:
        self._db = database
        self._now = now

    async def create(self, debate: NewDebate, *, claimant: Claimant | None = None) -> CreatedDebate:
        """See :meth:`DebateRepository.create`."""
        check_new_debate(debate)
        if claimant is not None and not claimant.ttl > 0:
            raise InvalidInputError(f"lease ttl must be positive, got {claimant.ttl}")
        now = self._now()
        if self._db.dialect == "postgresql":
            return await self._create_postgres(debate, claimant, now)
        ahead = queued_ahead(debate.priority, now, debate.id).scalar_subquery()
        async with self._db.write() as conn:
            lease = None
            position = None
            if claimant is not None:
                # Where the debate stands, and whether a lease has expired (its debate is
                # claimed first), read before the insert: the claimant takes the debate
                # only when a claim now would. Concurrent creates may both take theirs:
                # neither was queued first.
                expired = sa.exists().where(
                    jobs.c.state == "running", jobs.c.lease_expires_at < now
                )
                before, lapsed = (await conn.execute(sa.select(ahead, expired))).one()
                position = int(before) + 1
                if position == 1 and not lapsed:
                    lease = Lease(
                        debate.id, claimant.owner, 1, now + timedelta(seconds=claimant.ttl)
                    )
            record = DebateRecord(
                debate.id,
                "queued" if lease is None else "running",
                debate.task,
                dict(debate.request),
                now,
                now,
            )
            try:
                await conn.execute(
                    debates.insert().values(
                        id=record.id,
                        status=record.status,
                        task=record.task,
                        request=record.request,
                        document=None,
                        created_at=now,
                        updated_at=now,
                    )
                )
            except exc.IntegrityError:
                raise ConflictError(f"debate {debate.id} already exists") from None
            job = jobs.insert().values(
                debate_id=record.id,
                state="queued" if lease is None else "running",
                epoch=0 if lease is None else lease.epoch,
                attempts=0 if lease is None else 1,
                enqueued_at=now,
                priority=debate.priority,
                owner=None if lease is None else lease.owner,
                lease_expires_at=None if lease is None else lease.expires_at,
            )
            if position is None:
                # No claimant: the place in the queue comes back from the job's insert (one
                # round trip fewer), counted as the transaction found the queue.
                inserted = await conn.execute(job.returning(ahead.correlate(None)))
                position = int(inserted.scalar_one()) + 1
            else:
                await conn.execute(job)
            for change in count_changes(None, record.status):
                await conn.execute(change)
        return CreatedDebate(record, position, lease)

    async def _create_postgres(
        self, debate: NewDebate, claimant: Claimant | None, now: datetime
    ) -> CreatedDebate:
        """The create as one statement sent to the driver, committed on its own: the
        queue read, both inserts and the count, in one round trip where the transaction
        through SQLAlchemy made six (every POST of a debate waits on it)."""
        expires_at = None if claimant is None else now + timedelta(seconds=claimant.ttl)
        try:
            async with self._db.autocommit() as driver:
                ahead, taken = await driver.fetchrow(
                    _CREATE_SQL,
                    debate.id,
                    debate.task,
                    dump_json(dict(debate.request)),
                    now,
                    debate.priority,
                    claimant is not None,
                    None if claimant is None else claimant.owner,
                    expires_at,
                    _count_shard(),
                )
        except DataRejectedError as error:
            if isinstance(error.__cause__, asyncpg.UniqueViolationError):
                raise ConflictError(f"debate {debate.id} already exists") from None
            raise
        lease = None
        if taken and claimant is not None and expires_at is not None:
            lease = Lease(debate.id, claimant.owner, 1, expires_at)
        record = DebateRecord(
            debate.id,
            "running" if taken else "queued",
            debate.task,
            dict(debate.request),
            now,
            now,
        )
        return CreatedDebate(record, int(ahead) + 1, lease)

    async def get(self, debate_id: str, *, primary: bool = False) -> DebateRecord:
        """See :meth:`DebateRepository.get`."""
        if self._db.dialect == "postgresql":
            # Every GET of a debate and every run reads this row: straight from the driver.
            rows: Sequence[Sequence[Any]] = await self._db.driver_rows(
                _GET_SQL, debate_id, primary=primary
            )
        else:
            query = sa.select(*_SUMMARY_COLUMNS, debates.c.document).where(
                debates.c.id == debate_id
            )
            rows = await self._db.rows(query, primary=primary)
        if not rows:
            raise NotFoundError(f"debate {debate_id} not found")
        return _record(rows[0])

    async def list(
        self,
        *,
        status: str | None = None,
        query: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> DebatePage:
        """See :meth:`DebateRepository.list`."""
        check_page(limit, offset)
        conditions: list[sa.ColumnElement[bool]] = []
        if status is not None:
            conditions.append(debates.c.status == check_status(status))
        if query:
            pattern = "%" + _escape_like(query.lower()) + "%"
            conditions.append(sa.func.lower(debates.c.task).like(pattern, escape="\\"))
        page = (
            sa.select(*_SUMMARY_COLUMNS)
            .where(*conditions)
            .order_by(debates.c.created_at.desc(), debates.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        rows = await self._db.rows(page)
        if query:
            count = sa.select(sa.func.count()).select_from(debates).where(*conditions)
            total = int((await self._db.rows(count))[0][0])
        else:  # the maintained per-status counts
            counts = await self.counts()
            total = counts[status] if status is not None else sum(counts.values())
        return DebatePage(tuple(_record(row) for row in rows), total, limit, offset)

    async def update(
        self,
        debate_id: str,
        *,
        status: str,
        document: Mapping[str, Any] | None = None,
        outbox: Sequence[OutboxEvent] = (),
        followups: bool = False,
    ) -> None:
        """See :meth:`DebateRepository.update`."""
        check_status(status)
        if self._db.dialect == "postgresql":
            async with self._db.autocommit() as driver, driver.transaction():
                await update_postgres(
                    driver,
                    self._now(),
                    debate_id,
                    status=status,
                    document=document,
                    outbox=outbox,
                    followups=followups,
                )
            return
        async with self._db.write() as conn:
            await update_sqlite(
                self._db,
                conn,
                self._now(),
                debate_id,
                status=status,
                document=document,
                outbox=outbox,
                followups=followups,
            )

    async def counts(self) -> dict[str, int]:
        """See :meth:`DebateRepository.counts`."""
        rows: Sequence[Sequence[Any]]
        if self._db.dialect == "postgresql":
            # A POST reads them when the queue is bounded: straight from the driver.
            rows = await self._db.driver_rows(_COUNTS_SQL)
        else:
            rows = await self._db.rows(sa.select(debate_counts.c.status, debate_counts.c.n))
        found = {str(status): int(n) for status, n in rows}
        return {status: found.get(status, 0) for status in DEBATE_STATUSES}


async def update_sqlite(
    database: Database,
    conn: AsyncConnection,
    now: datetime,
    debate_id: str,
    *,
    status: str,
    document: Mapping[str, Any] | None,
    outbox: Sequence[OutboxEvent],
    followups: bool,
) -> None:
    """:meth:`SqlDebateRepository.update`'s statements on SQLite, in the caller's
    transaction ``conn`` on ``database`` (``status`` already checked); PostgreSQL's are
    :func:`update_postgres`."""
    done = status in TERMINAL_STATUSES and not followups
    previous = await _update_sqlite(conn, now, debate_id, status, document, done=done)
    if previous != status:  # a debate finished twice is reported once
        await insert_outbox(database, conn, outbox, now)


async def update_postgres(
    driver: Any,
    now: datetime,
    debate_id: str,
    *,
    status: str,
    document: Mapping[str, Any] | None,
    outbox: Sequence[OutboxEvent],
    followups: bool,
) -> None:
    """:func:`update_sqlite` on PostgreSQL, on ``driver`` (an asyncpg connection inside the
    caller's transaction): one statement locks the row, updates it, takes the job off the
    queue when it is done and returns the previous status (and, when there is an outbox
    to fill, the webhooks subscribed); one script moves the counts when the status
    changed; one insert fills the outbox when a webhook is subscribed."""
    check_outbox(outbox)
    done = status in TERMINAL_STATUSES and not followups
    row = await driver.fetchrow(
        _UPDATE_SUBSCRIBED_SQL if outbox else _UPDATE_SQL,
        debate_id,
        status,
        now,
        None if document is None else dump_json(dict(document)),
        done,
    )
    if row is None:
        raise NotFoundError(f"debate {debate_id} not found")
    previous = str(row[0])
    if previous == status:
        return  # a debate finished twice is reported once
    await driver.execute(count_changes_script(previous, status))
    if outbox:
        subscribed = [(str(id_), list(names)) for id_, names in row[1]]
        await insert_outbox_postgres(driver, outbox, now, subscribed=subscribed)


# The row is locked before it is read (``FOR UPDATE``: the counts must move with it), then
# the job. ``done`` runs after the main statement, and only once ``previous`` has locked
# the debate's row, so the locks are taken in the order of every status change.
_UPDATE_SQL = """
WITH previous AS (
    SELECT status FROM debates WHERE id = $1::varchar FOR UPDATE
), done AS (
    UPDATE jobs SET state = 'done', owner = NULL, lease_expires_at = NULL
    WHERE debate_id = $1::varchar AND $5::boolean AND EXISTS (SELECT FROM previous)
)
UPDATE debates
SET status = $2, updated_at = $3, document = coalesce($4::json, debates.document)
FROM previous WHERE debates.id = $1::varchar
RETURNING previous.status
"""
_UPDATE_SUBSCRIBED_SQL = _UPDATE_SQL.rstrip() + f", {SUBSCRIBED_SQL}\n"


async def _update_sqlite(
    conn: AsyncConnection,
    now: datetime,
    debate_id: str,
    status: str,
    document: Mapping[str, Any] | None,
    *,
    done: bool,
) -> str:
    """The update statement by statement (``BEGIN IMMEDIATE`` has made this the only
    writer). The previous status."""
    values: dict[str, Any] = {"status": status, "updated_at": now}
    if document is not None:
        values["document"] = dict(document)
    current = sa.select(debates.c.status).where(debates.c.id == debate_id)
    previous = (await conn.execute(current)).scalar_one_or_none()
    if previous is None:
        raise NotFoundError(f"debate {debate_id} not found")
    await conn.execute(debates.update().where(debates.c.id == debate_id).values(**values))
    if previous != status:
        for change in count_changes(previous, status):
            await conn.execute(change)
    if done:
        await conn.execute(
            jobs.update()
            .where(jobs.c.debate_id == debate_id)
            .values(state="done", owner=None, lease_expires_at=None)
        )
    return str(previous)


def _count_shard() -> int:
    """The count shard a PostgreSQL transaction moves: any, at random, so that concurrent
    status changes seldom wait for one another's row lock (see migration 0009)."""
    return random.randrange(COUNT_SHARDS)


def count_changes(previous: str | None, status: str) -> list[sa.Update]:
    """The statements moving a debate from ``previous`` (``None``: new) to ``status`` in
    the counts, in status-name order: every transaction locks count rows in the same order,
    so concurrent status changes cannot deadlock on them. SQLite's: one writer at a time
    has no lock to spread, so its counts have no shards."""
    return [
        debate_counts.update()
        .where(debate_counts.c.status == name)
        .values(n=debate_counts.c.n + delta)
        for name, delta in _count_deltas(previous, status)
    ]


def count_changes_script(previous: str | None, status: str, shard: int | None = None) -> str:
    """:func:`count_changes` on PostgreSQL, in ``shard`` (by default one at random), as one
    script for the driver's simple-query protocol (no parameters), which sends it in one
    round trip. Each row keeps its own statement, in status-name order: a single
    ``UPDATE`` of both rows would lock them in whatever order it scans them, and could
    deadlock with a transaction taking them in name order (rows of different statuses are
    always taken in that order, whatever their shards, so no two transactions can wait
    for each other in a cycle). The statuses are checked names and the shard an integer
    in range, so they are safe as literals."""
    if shard is None:
        shard = _count_shard()
    elif not 0 <= shard < COUNT_SHARDS:
        raise ValueError(f"count shard {shard} is not in 0..{COUNT_SHARDS - 1}")
    return "; ".join(
        f"UPDATE debate_count_shards SET n = n {'+' if delta > 0 else '-'} 1 "
        f"WHERE status = '{check_status(name)}' AND shard = {int(shard)}"
        for name, delta in _count_deltas(previous, status)
    )


def _count_deltas(previous: str | None, status: str) -> list[tuple[str, int]]:
    deltas = {status: 1} if previous is None else {previous: -1, status: 1}
    return sorted(deltas.items())


def queued_ahead(priority: int, enqueued_at: datetime, debate_id: str) -> sa.Select[Any]:
    """The count of queued jobs claimed before a job of ``priority`` queued at
    ``enqueued_at``: higher priority, or equal and queued earlier, or equal both and a
    smaller id (the claim's order; see :meth:`LeaseRepository.position`)."""
    return sa.select(sa.func.count()).where(
        jobs.c.state == "queued",
        sa.or_(
            jobs.c.priority > priority,
            sa.and_(
                jobs.c.priority == priority,
                sa.or_(
                    jobs.c.enqueued_at < enqueued_at,
                    sa.and_(jobs.c.enqueued_at == enqueued_at, jobs.c.debate_id < debate_id),
                ),
            ),
        ),
    )


def _record(row: Sequence[Any]) -> DebateRecord:
    """The debate of a row of :data:`_SUMMARY_COLUMNS`, then the document if selected (from
    SQLAlchemy or straight from the driver: both give aware datetimes)."""
    id_, status, task, request, created_at, updated_at, *document = row
    return DebateRecord(
        id=id_,
        status=status,
        task=task,
        request=request,
        created_at=created_at.astimezone(UTC),
        updated_at=updated_at.astimezone(UTC),
        document=document[0] if document else None,
    )


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
