"""A lease claim on PostgreSQL: one statement picks the debate, leases it and marks it
running; one script moves the status counts.

A claim is on the path of every debate's start. Statement by statement it was eight round
trips (begin, two lookups, two updates, two count updates, commit), with SQLAlchemy's
work on each, all on the event loop that also answers requests; here it is four (three
when the counts need not move). The pick and both updates are one data-modifying
``WITH`` statement, sent to the driver itself:

- ``expired`` then ``queued`` are the two lookups (a debate whose worker died first, then
  the queue, each in queue order) as two CTEs, not one ``UNION``: PostgreSQL refuses
  ``FOR UPDATE`` beside ``UNION``. ``queued`` runs only when ``expired`` found nothing,
  so it never locks a row it will not take. Both skip rows other claimers hold, so
  concurrent claimers never wait on each other and never get the same debate.
- ``claimed`` leases the picked job, its epoch raised from the locked row's own value.
- ``started`` marks the debate ``running`` if it is still ``queued`` and its row is not
  locked: a status change holding that row takes the job row next, so waiting for it could
  deadlock; a row skipped is left to the runner, which marks the debate running itself.

The status counts move only when ``started`` changed the row, as two statements in
status-name order (see :func:`~aragora.storage.sql.debates.count_changes_script`), sent as
one script. Everything runs in the caller's transaction (the driver's own).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aragora.storage.sql.debates import count_changes_script

__all__ = ["claim_postgres"]

_QUEUE_ORDER = "ORDER BY priority DESC, enqueued_at, debate_id LIMIT 1 FOR UPDATE SKIP LOCKED"


def _claim_sql(*, one_debate: bool) -> str:
    # Two texts rather than ``($4 IS NULL OR debate_id = $4)``: a prepared statement's
    # generic plan could not use the key for the one-debate claim.
    only = " AND debate_id = $4" if one_debate else ""
    return f"""
WITH expired AS (
    SELECT debate_id FROM jobs
    WHERE state = 'running' AND lease_expires_at < $1{only}
    {_QUEUE_ORDER}
), queued AS (
    SELECT debate_id FROM jobs
    WHERE state = 'queued'{only} AND NOT EXISTS (SELECT FROM expired)
    {_QUEUE_ORDER}
), claimed AS (
    UPDATE jobs
    SET state = 'running', epoch = epoch + 1, owner = $2, lease_expires_at = $3,
        attempts = attempts + 1
    WHERE debate_id = (
        SELECT debate_id FROM expired UNION ALL SELECT debate_id FROM queued LIMIT 1
    )
    RETURNING debate_id, epoch
), started AS (
    UPDATE debates SET status = 'running', updated_at = $1
    WHERE id IN (
        SELECT id FROM debates
        WHERE id = (SELECT debate_id FROM claimed) AND status = 'queued'
        FOR UPDATE SKIP LOCKED
    )
    RETURNING id
)
SELECT debate_id, epoch, EXISTS (SELECT FROM started) FROM claimed
"""


_CLAIM_ANY = _claim_sql(one_debate=False)
_CLAIM_ONE = _claim_sql(one_debate=True)


async def claim_postgres(
    driver: Any,
    *,
    owner: str,
    now: datetime,
    expires_at: datetime,
    debate_id: str | None,
) -> tuple[str, int] | None:
    """Claim a debate for ``owner`` until ``expires_at`` on ``driver``, an asyncpg
    connection inside the caller's transaction; only ``debate_id`` when given. The
    debate's id and new epoch, or ``None`` when nothing is claimable."""
    if debate_id is None:
        row = await driver.fetchrow(_CLAIM_ANY, now, owner, expires_at)
    else:
        row = await driver.fetchrow(_CLAIM_ONE, now, owner, expires_at, debate_id)
    if row is None:
        return None
    claimed, epoch, started = row
    if started:
        await driver.execute(count_changes_script("queued", "running"))
    return str(claimed), int(epoch)
