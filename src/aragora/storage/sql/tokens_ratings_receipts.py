"""The smaller records in SQL (SQLite and PostgreSQL): API tokens, settings, agent ratings
and the receipt chain."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg
import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.dialects import postgresql, sqlite

from aragora.errors import ConflictError, DataRejectedError, InvalidInputError, NotFoundError
from aragora.records.debates import (
    ApiToken,
    NewReceipt,
    Rating,
    RatingKey,
    StoredReceipt,
    check_page,
    check_rating,
    check_role,
    check_token_name,
    hash_secret,
    new_token_id,
)
from aragora.storage.sql.database import Database, dump_json
from aragora.storage.sql.schema import agent_ratings, api_tokens, rated_debates, receipts, settings

__all__ = [
    "SqlRatingRepository",
    "SqlReceiptRepository",
    "SqlSettingsRepository",
    "SqlTokenRepository",
]

Now = Callable[[], datetime]


def _upsert(dialect: str, table: sa.Table, rows: list[dict[str, Any]], *key: str) -> sa.Executable:
    """``INSERT … ON CONFLICT (key) DO UPDATE`` in the dialect's spelling."""
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table).values(rows)
    updated = {c.name: insert.excluded[c.name] for c in table.columns if c.name not in key}
    return insert.on_conflict_do_update(index_elements=list(key), set_=updated)


def _insert_ignore(
    dialect: str, table: sa.Table, rows: list[dict[str, Any]], *key: str
) -> sa.Executable:
    """``INSERT … ON CONFLICT (key) DO NOTHING`` in the dialect's spelling."""
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table).values(rows)
    return insert.on_conflict_do_nothing(index_elements=list(key))


_RATING_KEY = ("provider", "model", "agent")


def _rating_row(rating: Rating, now: datetime) -> dict[str, Any]:
    check_rating(rating)
    return {
        "provider": rating.provider,
        "model": rating.model,
        "agent": rating.agent,
        "elo": rating.elo,
        "wins": rating.wins,
        "losses": rating.losses,
        "draws": rating.draws,
        "debates": rating.debates,
        "updated_at": now,
    }


class SqlTokenRepository:
    """:class:`~aragora.records.debates.TokenRepository` on a :class:`Database`."""

    def __init__(self, database: Database, *, now: Now) -> None:
        self._db = database
        self._now = now

    async def create(self, *, name: str, role: str, secret: str) -> ApiToken:
        """See :meth:`TokenRepository.create`."""
        name = check_token_name(name)
        if not secret:
            raise InvalidInputError("a token needs a non-empty secret")
        token = ApiToken(new_token_id(), name.strip(), check_role(role), self._now())
        async with self._db.write() as conn:
            try:
                await conn.execute(
                    api_tokens.insert().values(
                        id=token.id,
                        name=token.name,
                        role=token.role,
                        secret_hash=hash_secret(secret),
                        created_at=token.created_at,
                    )
                )
            except exc.IntegrityError:
                raise ConflictError("a token with this secret already exists") from None
        return token

    async def authenticate(self, secret: str) -> ApiToken | None:
        """See :meth:`TokenRepository.authenticate`."""
        now = self._now()
        async with self._db.write() as conn:
            row = (
                await conn.execute(
                    api_tokens.update()
                    .where(
                        api_tokens.c.secret_hash == hash_secret(secret),
                        api_tokens.c.revoked_at.is_(None),
                    )
                    .values(last_used_at=now)
                    .returning(*_TOKEN_COLUMNS)
                )
            ).first()
        return None if row is None else ApiToken(**row._mapping)

    async def list(self) -> list[ApiToken]:
        """See :meth:`TokenRepository.list`."""
        query = sa.select(*_TOKEN_COLUMNS).order_by(api_tokens.c.created_at, api_tokens.c.id)
        return [ApiToken(**row._mapping) for row in await self._db.rows(query, primary=True)]

    async def revoke(self, token_id: str) -> ApiToken:
        """See :meth:`TokenRepository.revoke`."""
        async with self._db.write() as conn:
            await conn.execute(
                api_tokens.update()
                .where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=self._now())
            )
            row = (
                await conn.execute(sa.select(*_TOKEN_COLUMNS).where(api_tokens.c.id == token_id))
            ).first()
        if row is None:
            raise NotFoundError(f"token {token_id} not found")
        return ApiToken(**row._mapping)


_TOKEN_COLUMNS = (
    api_tokens.c.id,
    api_tokens.c.name,
    api_tokens.c.role,
    api_tokens.c.created_at,
    api_tokens.c.last_used_at,
    api_tokens.c.revoked_at,
)


class SqlSettingsRepository:
    """:class:`~aragora.records.debates.SettingsRepository` on a :class:`Database`.

    Reads go to the primary: a flag such as maintenance must take effect at once."""

    def __init__(self, database: Database, *, now: Now) -> None:
        self._db = database
        self._now = now

    async def get(self, key: str) -> Any | None:
        """See :meth:`SettingsRepository.get`."""
        rows: Sequence[Sequence[Any]]
        if self._db.dialect == "postgresql":
            # Every POST of a debate reads the maintenance flag: straight from the driver.
            rows = await self._db.driver_rows(
                "SELECT value FROM settings WHERE key = $1", key, primary=True
            )
        else:
            query = sa.select(settings.c.value).where(settings.c.key == key)
            rows = await self._db.rows(query, primary=True)
        return rows[0][0] if rows else None

    async def set(self, key: str, value: Any) -> None:
        """See :meth:`SettingsRepository.set`."""
        if value is None:
            raise InvalidInputError("a setting's value must not be null; delete it instead")
        row = {"key": key, "value": value, "updated_at": self._now()}
        async with self._db.write() as conn:
            await conn.execute(_upsert(self._db.dialect, settings, [row], "key"))

    async def delete(self, key: str) -> None:
        """See :meth:`SettingsRepository.delete`."""
        async with self._db.write() as conn:
            await conn.execute(settings.delete().where(settings.c.key == key))


class SqlRatingRepository:
    """:class:`~aragora.records.debates.RatingRepository` on a :class:`Database`."""

    def __init__(self, database: Database, *, now: Now) -> None:
        self._db = database
        self._now = now

    async def get(self, keys: Sequence[RatingKey]) -> dict[RatingKey, Rating]:
        """See :meth:`RatingRepository.get`."""
        if not keys:
            return {}
        rows = await self._db.rows(_ratings_of(sorted(set(keys))), primary=True)
        return {(r.provider, r.model, r.agent): Rating(**r._mapping) for r in rows}

    async def put(self, ratings: Sequence[Rating]) -> None:
        """See :meth:`RatingRepository.put`."""
        if not ratings:
            return
        now = self._now()
        rows = [_rating_row(r, now) for r in {rating.key: rating for rating in ratings}.values()]
        async with self._db.write() as conn:
            await conn.execute(_upsert(self._db.dialect, agent_ratings, rows, *_RATING_KEY))

    async def record(
        self,
        debate_id: str,
        keys: Sequence[RatingKey],
        rate: Callable[[Mapping[RatingKey, Rating]], Sequence[Rating]],
    ) -> bool:
        """See :meth:`RatingRepository.record`."""
        now = self._now()
        wanted = sorted(set(keys))
        # Checked before the transaction: a name that cannot be stored is the caller's error.
        fresh = [_rating_row(Rating(agent, provider=p, model=m), now) for p, m, agent in wanted]
        if self._db.dialect == "postgresql":
            return await self._record_postgres(debate_id, fresh, rate, now)
        async with self._db.write() as conn:
            claimed = await conn.execute(
                _insert_ignore(
                    self._db.dialect,
                    rated_debates,
                    [{"debate_id": debate_id, "rated_at": now}],
                    "debate_id",
                )
            )
            if claimed.rowcount != 1:
                return False  # rated before: by an earlier attempt or another worker
            current: dict[RatingKey, Rating] = {}
            if wanted:
                # Rows exist before they are locked: a concurrent first rating of the same
                # new agent waits on this insert instead of reading "no rating" as well.
                await conn.execute(
                    _insert_ignore(self._db.dialect, agent_ratings, fresh, *_RATING_KEY)
                )
                query = _ratings_of(wanted)
                if self._db.dialect == "postgresql":
                    # Rows in key order so two raters never lock in opposite orders.
                    query = query.order_by(*_KEY_COLUMNS).with_for_update()
                rows = (await conn.execute(query)).all()
                current = {(r.provider, r.model, r.agent): Rating(**r._mapping) for r in rows}
            updated = {r.key: r for r in rate(current)}
            if updated:
                rows_out = [_rating_row(r, now) for r in updated.values()]
                await conn.execute(_upsert(self._db.dialect, agent_ratings, rows_out, *_RATING_KEY))
        return True

    async def _record_postgres(
        self,
        debate_id: str,
        fresh: list[dict[str, Any]],
        rate: Callable[[Mapping[RatingKey, Rating]], Sequence[Rating]],
        now: datetime,
    ) -> bool:
        """:meth:`record` on PostgreSQL, its statements sent to the driver in the driver's
        own transaction (every debate is rated as it finishes): the claim and the new rows
        in one statement, then the rows locked and read in key order, then the upsert."""
        async with self._db.autocommit() as driver, driver.transaction():
            claimed = await driver.fetchval(_CLAIM_RATING_SQL, debate_id, now, *_columns(fresh))
            if not claimed:
                return False  # rated before: by an earlier attempt or another worker
            current: dict[RatingKey, Rating] = {}
            if fresh:
                keys = _columns(fresh)[:3]
                for row in await driver.fetch(_LOCK_RATINGS_SQL, *keys):
                    rating = Rating(**dict(row.items()))
                    current[(rating.provider, rating.model, rating.agent)] = rating
            updated = {r.key: r for r in rate(current)}
            if updated:
                rows = [_rating_row(r, now) for r in updated.values()]
                await driver.execute(_UPSERT_RATINGS_SQL, now, *_columns(rows))
        return True

    async def leaderboard(self, *, limit: int = 100) -> list[Rating]:
        """See :meth:`RatingRepository.leaderboard`."""
        if limit < 1:
            raise InvalidInputError(f"limit must be at least 1, got {limit}")
        query = (
            sa.select(*_RATING_COLUMNS)
            .order_by(
                agent_ratings.c.elo.desc(),
                agent_ratings.c.agent,
                agent_ratings.c.provider,
                agent_ratings.c.model,
            )
            .limit(limit)
        )
        return [Rating(**row._mapping) for row in await self._db.rows(query)]


_RATING_COLUMNS = (
    agent_ratings.c.agent,
    agent_ratings.c.elo,
    agent_ratings.c.wins,
    agent_ratings.c.losses,
    agent_ratings.c.draws,
    agent_ratings.c.debates,
    agent_ratings.c.provider,
    agent_ratings.c.model,
)
_KEY_COLUMNS = (agent_ratings.c.provider, agent_ratings.c.model, agent_ratings.c.agent)


def _rating_rows(first: int) -> str:
    """The rows of :func:`_columns` given as parameters ``$first`` on, aliased ``r``."""
    casts = ("text", "text", "text", "float8", "int", "int", "int", "int")
    arrays = ", ".join(f"${first + n}::{cast}[]" for n, cast in enumerate(casts))
    return f"unnest({arrays}) AS r (provider, model, agent, elo, wins, losses, draws, debates)"


# record() on PostgreSQL. The new agents' rows go in only if this debate is claimed; they
# exist before they are locked, so a concurrent first rating of the same agent waits on
# this insert instead of reading "no rating" as well.
_CLAIM_RATING_SQL = f"""
WITH claimed AS (
    INSERT INTO rated_debates (debate_id, rated_at) VALUES ($1::varchar, $2::timestamptz)
    ON CONFLICT (debate_id) DO NOTHING RETURNING 1
), fresh AS (
    INSERT INTO agent_ratings
        (provider, model, agent, elo, wins, losses, draws, debates, updated_at)
    SELECT r.*, $2::timestamptz FROM {_rating_rows(3)}
    WHERE EXISTS (SELECT FROM claimed)
    ON CONFLICT (provider, model, agent) DO NOTHING
)
SELECT count(*) FROM claimed
"""
# Rows in key order so two raters never lock in opposite orders.
_LOCK_RATINGS_SQL = """
SELECT agent, elo, wins, losses, draws, debates, provider, model FROM agent_ratings
WHERE (provider, model, agent) IN (SELECT * FROM unnest($1::text[], $2::text[], $3::text[]))
ORDER BY provider, model, agent
FOR UPDATE
"""
_UPSERT_RATINGS_SQL = f"""
INSERT INTO agent_ratings (provider, model, agent, elo, wins, losses, draws, debates, updated_at)
SELECT r.*, $1::timestamptz FROM {_rating_rows(2)}
ON CONFLICT (provider, model, agent) DO UPDATE SET elo = excluded.elo, wins = excluded.wins,
    losses = excluded.losses, draws = excluded.draws, debates = excluded.debates,
    updated_at = excluded.updated_at
"""


def _columns(rows: Sequence[Mapping[str, Any]]) -> list[list[Any]]:
    """Rating rows (:func:`_rating_row`) as the column arrays of :func:`_rating_rows`."""
    names = ("provider", "model", "agent", "elo", "wins", "losses", "draws", "debates")
    return [[row[name] for row in rows] for name in names]


def _ratings_of(keys: Sequence[RatingKey]) -> sa.Select[Any]:
    """The ratings of ``keys`` (one row-value ``IN``, which both databases index)."""
    return sa.select(*_RATING_COLUMNS).where(sa.tuple_(*_KEY_COLUMNS).in_(list(keys)))


class SqlReceiptRepository:
    """:class:`~aragora.records.debates.ReceiptRepository` on a :class:`Database`.

    The chain position is the primary key and a receipt goes in only when its
    ``previous_digest`` is the head's digest, so concurrent issuers cannot fork the chain:
    one wins, the others get :class:`ConflictError` and must re-read the head."""

    def __init__(self, database: Database, *, now: Now) -> None:
        self._db = database
        self._now = now

    async def append(self, receipt: NewReceipt) -> StoredReceipt:
        """See :meth:`ReceiptRepository.append`."""
        created_at = self._now()
        if self._db.dialect == "postgresql":
            return await self._append_postgres(receipt, created_at)
        async with self._db.write() as conn:
            head = (
                await conn.execute(
                    sa.select(receipts.c.position, receipts.c.digest)
                    .order_by(receipts.c.position.desc())
                    .limit(1)
                )
            ).first()
            head_digest = None if head is None else head.digest
            if receipt.previous_digest != head_digest:
                raise _not_after_head(receipt, head_digest)
            stored = _stored(receipt, 1 if head is None else head.position + 1, created_at)
            try:
                await conn.execute(
                    receipts.insert().values(
                        position=stored.position,
                        id=stored.id,
                        debate_id=stored.debate_id,
                        digest=stored.digest,
                        previous_digest=stored.previous_digest,
                        document=stored.document,
                        created_at=stored.created_at,
                    )
                )
            except exc.IntegrityError:
                raise _moved_on(receipt) from None
        return stored

    async def _append_postgres(self, receipt: NewReceipt, created_at: datetime) -> StoredReceipt:
        """The append as one statement sent to the driver, committed on its own: every
        completed debate issues a receipt just after its end, when the loop also answers
        the reads of the debate that ended."""
        try:
            async with self._db.autocommit() as driver:
                position = await driver.fetchval(
                    _APPEND_RECEIPT_SQL,
                    receipt.id,
                    receipt.debate_id,
                    receipt.digest,
                    receipt.previous_digest,
                    dump_json(dict(receipt.document)),
                    created_at,
                )
        except DataRejectedError as error:
            if isinstance(error.__cause__, asyncpg.UniqueViolationError):
                raise _moved_on(receipt) from None
            raise
        if position is None:
            head = await self.head()
            raise _not_after_head(receipt, None if head is None else head.digest)
        return _stored(receipt, int(position), created_at)

    async def get(self, receipt_id: str) -> StoredReceipt:
        """See :meth:`ReceiptRepository.get`."""
        rows = await self._db.rows(sa.select(receipts).where(receipts.c.id == receipt_id))
        if not rows:
            raise NotFoundError(f"receipt {receipt_id} not found")
        return _receipt(rows[0])

    async def for_debate(self, debate_id: str) -> list[StoredReceipt]:
        """See :meth:`ReceiptRepository.for_debate`."""
        if self._db.dialect == "postgresql":
            found = await self._db.driver_rows(
                f"{_RECEIPTS_SQL} WHERE debate_id = $1 ORDER BY position", debate_id
            )
            return [_receipt(row) for row in found]
        query = (
            sa.select(receipts)
            .where(receipts.c.debate_id == debate_id)
            .order_by(receipts.c.position)
        )
        return [_receipt(row) for row in await self._db.rows(query)]

    async def head(self) -> StoredReceipt | None:
        """See :meth:`ReceiptRepository.head`."""
        if self._db.dialect == "postgresql":
            found = await self._db.driver_rows(
                f"{_RECEIPTS_SQL} ORDER BY position DESC LIMIT 1", primary=True
            )
            return _receipt(found[0]) if found else None
        query = sa.select(receipts).order_by(receipts.c.position.desc()).limit(1)
        rows = await self._db.rows(query, primary=True)
        return _receipt(rows[0]) if rows else None

    async def chain(self, *, after: int = 0, limit: int = 100) -> list[StoredReceipt]:
        """See :meth:`ReceiptRepository.chain`."""
        check_page(limit, 0)
        query = (
            sa.select(receipts)
            .where(receipts.c.position > after)
            .order_by(receipts.c.position)
            .limit(limit)
        )
        return [_receipt(row) for row in await self._db.rows(query)]


# Receipts as PostgreSQL text for Database.driver_rows (rows for _receipt).
_RECEIPTS_SQL = f"SELECT {', '.join(c.name for c in receipts.c)} FROM receipts"
# The next position after the head, only if the head's digest is the previous one (the
# head read and the insert in one statement: one round trip, no transaction around it).
# Two issuers racing for the same head collide on the primary key.
_APPEND_RECEIPT_SQL = """
WITH head AS (SELECT position, digest FROM receipts ORDER BY position DESC LIMIT 1)
INSERT INTO receipts (position, id, debate_id, digest, previous_digest, document, created_at)
SELECT coalesce((SELECT position FROM head), 0) + 1, $1::varchar, $2::varchar, $3::varchar,
    $4::varchar, $5::json, $6::timestamptz
WHERE (SELECT digest FROM head) IS NOT DISTINCT FROM $4::varchar
RETURNING position
"""


def _receipt(row: Sequence[Any]) -> StoredReceipt:
    """The receipt of a row of every column of ``receipts``, in the table's order (from
    SQLAlchemy or straight from the driver)."""
    position, id_, debate_id, digest, previous_digest, document, created_at = row
    return StoredReceipt(
        position=position,
        id=id_,
        debate_id=debate_id,
        digest=digest,
        previous_digest=previous_digest,
        document=document,
        created_at=created_at.astimezone(UTC),
    )


def _stored(receipt: NewReceipt, position: int, created_at: datetime) -> StoredReceipt:
    """``receipt`` as appended at ``position``."""
    return StoredReceipt(
        position=position,
        id=receipt.id,
        debate_id=receipt.debate_id,
        digest=receipt.digest,
        previous_digest=receipt.previous_digest,
        document=dict(receipt.document),
        created_at=created_at,
    )


def _not_after_head(receipt: NewReceipt, head_digest: str | None) -> ConflictError:
    return ConflictError(
        f"receipt {receipt.id}: previous digest {receipt.previous_digest!r} is not "
        f"the chain head {head_digest!r}"
    )


def _moved_on(receipt: NewReceipt) -> ConflictError:
    return ConflictError(f"receipt {receipt.id}: the chain moved on, or the id or digest exists")
