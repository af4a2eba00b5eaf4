"""An append on PostgreSQL: the whole batch of events in one statement, sent to the driver.

An append is on the path between a debate's waves of agent calls and at its end.
Through SQLAlchemy it was two statements (the first event, checked, then the rest) whose
compile and result work cost more than the database did, on the event loop that also
answers requests. Here the batch goes as one ``INSERT … SELECT … FROM unnest(…)`` of
column arrays, which inserts every row or none, so it needs no transaction of its own
(an append alone is one round trip; the debate's end joins its status change's):

- only if the lease is held: the job row is ``running`` under the appender's epoch,
  read ``FOR SHARE``, so a concurrent claim cannot take the debate until the append has
  committed (it passes the locked row over), and its new owner then sees the events;
- only if the first event is the next one (the log's last seq + 1). Two writers racing
  for the same seqs collide on the primary key, a writer skipping ahead inserts nothing,
  so the stored log is contiguous whatever concurrent writers do.

Both checks are uncorrelated subqueries, evaluated once before any row goes in. JSON
goes as text (:func:`~aragora.storage.sql.database.dump_json`, the engines' serializer),
so what is stored is byte for byte what SQLAlchemy would have stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from aragora.debate.events import Event
from aragora.errors import ConflictError
from aragora.storage.sql.database import dump_json

__all__ = ["append_postgres"]

# $1 is cast alike everywhere: PostgreSQL deduces one type per parameter.
_APPEND_SQL = """
INSERT INTO debate_events (debate_id, seq, type, round, agent, timestamp, data, created_at)
SELECT $1::varchar, batch.seq, batch.type, batch.round, batch.agent, batch.timestamp,
    batch.data, $3
FROM unnest($4::int[], $5::text[], $6::int[], $7::text[], $8::text[], $9::json[])
    AS batch (seq, type, round, agent, timestamp, data)
WHERE EXISTS (
    SELECT FROM jobs
    WHERE debate_id = $1::varchar AND state = 'running' AND epoch = $2 FOR SHARE
) AND (
    SELECT coalesce(max(seq), 0) FROM debate_events WHERE debate_id = $1::varchar
) = $10 - 1
"""


async def append_postgres(
    driver: Any, batch: Sequence[Event], *, epoch: int, created_at: datetime
) -> bool:
    """Insert ``batch`` (checked consecutive events of one debate) on ``driver``, an
    asyncpg connection (outside a transaction the statement commits on its own; inside
    one, with it), if the lease of ``epoch`` is held and its first event is the next one.
    ``True`` when every event went in, ``False`` when a check refused them all (the caller
    says which); :class:`ConflictError` when one of them is already stored."""
    first = batch[0]
    try:
        status = await driver.execute(
            _APPEND_SQL,
            first.debate_id,
            epoch,
            created_at,
            [e.seq for e in batch],
            [e.type for e in batch],
            [e.round for e in batch],
            [e.agent for e in batch],
            [e.timestamp for e in batch],
            [dump_json(dict(e.data)) for e in batch],
            first.seq,
        )
    except asyncpg.UniqueViolationError:
        # The primary key is the table's only unique constraint.
        stored = (
            f"seq {first.seq} is"
            if len(batch) == 1
            else f"one of seqs {first.seq}..{batch[-1].seq} is"
        )
        raise ConflictError(f"debate {first.debate_id}: {stored} already stored") from None
    # The command tag of an INSERT: "INSERT 0 <rows>".
    return int(str(status).rsplit(" ", 1)[-1]) == len(batch)
