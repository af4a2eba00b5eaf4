"""The Knowledge Mound in SQL (SQLite and PostgreSQL): items, links, full-text search and
streaming scans.

Writes: :meth:`SqlKnowledgeRepository.put` runs in one transaction on the primary. It
reads the stored rows of the given ids, inserts the new items, updates only those whose
fields differ (an identical item is not touched, so its row, ``updated_at`` included,
stays byte for byte), checks that every link's ends exist and inserts the links with
``ON CONFLICT DO NOTHING``. Any failure rolls all of it back.

Search, the one place the dialects differ (:class:`_PostgresSearch`, :class:`_SqliteSearch`):
the query is cut into words first (:func:`~aragora.storage.knowledge_rules.query_words`),
so quotes, operators and symbols in it are dropped rather than parsed, and no input can
raise. Both rank the matches (at most :data:`RANKED_MATCHES` of them, the first found
after filters: exact for all but very common words), take the page, and only then build
snippets for that page (``ts_headline`` and ``snippet()`` read whole documents, which is
too slow per match).

Scans read ``batch`` rows at a time by keyset (``WHERE id > last ORDER BY id LIMIT n``),
each batch its own short query, so memory stays flat and no transaction stays open.
"""

from __future__ import annotations

import functools
import itertools
import json
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from aragora.errors import ConflictError, InvalidInputError, NotFoundError
from aragora.records.knowledge import (
    KnowledgeItem,
    KnowledgeLink,
    SearchFilters,
    SearchHit,
)
from aragora.storage.knowledge_rules import (
    START,
    STOP,
    check_enough,
    check_filters,
    check_limit,
    marked,
    normal_items,
    normal_links,
    query_words,
    until_enough,
)
from aragora.storage.sql.database import Database
from aragora.storage.sql.schema import UTCDateTime, knowledge_items, knowledge_links

__all__ = ["RANKED_MATCHES", "SqlKnowledgeIndex", "SqlKnowledgeRepository"]

Now = Callable[[], datetime]
_WRITE_BATCH = 5000  # items a put holds at once (~10 MB): fewer, larger statements
RANKED_MATCHES = 300
"""A search ranks at most this many matches: the first the database finds (after the
filters), in no particular order. Ranking reads every ranked row, so a word found in most
of a million items would otherwise take seconds; a query with fewer matches (rare words,
several words, narrow filters) is ranked exactly. 300 keeps the p95 of bench/knowledge.py
under 50 ms at a million items on PostgreSQL (1,000: ~70 ms)."""
_ITEM_COLUMNS = tuple(knowledge_items.c)
_LINK_COLUMNS = tuple(knowledge_links.c)


def _item(row: Sequence[Any]) -> KnowledgeItem:
    """The item of a row of :data:`_ITEM_COLUMNS` (from SQLAlchemy or straight from the
    driver: both give aware datetimes)."""
    id_, kind, title, content, debate, agent, confidence, tags, provenance, created, updated = row
    return KnowledgeItem(
        id=id_,
        kind=kind,
        title=title,
        content=content,
        source_debate_id=debate,
        source_agent=agent,
        confidence=confidence,
        tags=tuple(tags),
        provenance=provenance,
        created_at=created.astimezone(UTC),
        updated_at=updated.astimezone(UTC),
    )


# The items of ids, as PostgreSQL text for Database.driver_rows (rows for _item).
_ITEMS_SQL = (
    f"SELECT {', '.join(c.name for c in _ITEM_COLUMNS)} FROM knowledge_items"
    " WHERE id = ANY($1::text[])"
)


def _item_row(item: KnowledgeItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "kind": item.kind,
        "title": item.title,
        "content": item.content,
        "source_debate_id": item.source_debate_id,
        "source_agent": item.source_agent,
        "confidence": item.confidence,
        "tags": list(item.tags),
        "provenance": dict(item.provenance),
        "created_at": item.created_at,
        "updated_at": item.updated_at,
    }


def _batches(items: Iterable[KnowledgeItem], size: int) -> Iterator[list[KnowledgeItem]]:
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def _among(column: sa.Column[str], dialect: str) -> sa.ColumnElement[bool]:
    """``column`` is one of the ids bound as ``:ids`` (see :func:`_ids`): one statement
    for any number of ids, so it is compiled and prepared once, and no id count reaches
    a parameter limit. An ``IN`` list would make a new statement for every count."""
    if dialect == "postgresql":
        return column == sa.any_(sa.bindparam("ids", type_=postgresql.ARRAY(sa.Text())))
    values: sa.Select[Any] = sa.select(sa.literal_column("value")).select_from(
        sa.func.json_each(sa.bindparam("ids", type_=sa.Text()))
    )
    return column.in_(values.scalar_subquery())


def _ids(ids: Iterable[str], dialect: str) -> dict[str, Any]:
    """The ``:ids`` parameter of :func:`_among`: an array, or a JSON array on SQLite."""
    values = list(ids)
    return {"ids": values if dialect == "postgresql" else json.dumps(values)}


@functools.cache
def _items_among(dialect: str) -> sa.Select[Any]:
    return sa.select(*_ITEM_COLUMNS).where(_among(knowledge_items.c.id, dialect))


@functools.cache
def _ids_among(dialect: str) -> sa.Select[Any]:
    return sa.select(knowledge_items.c.id).where(_among(knowledge_items.c.id, dialect))


async def _items_by_id(conn: AsyncConnection, ids: Iterable[str]) -> dict[str, KnowledgeItem]:
    """The stored items of ``ids`` (those that exist), by id."""
    ids = list(ids)
    if not ids:
        return {}
    dialect = conn.dialect.name
    rows = await conn.execute(_items_among(dialect), _ids(ids, dialect))
    return {row.id: _item(row) for row in rows}


class SqlKnowledgeRepository:
    """:class:`~aragora.records.knowledge.KnowledgeRepository` on a
    :class:`Database`."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def put(self, items: Iterable[KnowledgeItem], links: Iterable[KnowledgeLink] = ()) -> int:
        """See :meth:`KnowledgeRepository.put`. ``items`` is read :data:`_WRITE_BATCH` at a
        time inside the one transaction, so a generator of any length is stored in flat
        memory (a restore of a whole backup)."""
        new_links = normal_links(list(links))
        seen: set[str] = set()
        written = 0
        async with self._db.write() as conn:
            for batch in _batches(items, _WRITE_BATCH):
                new_items = normal_items(batch)
                for item in new_items:
                    if item.id in seen:
                        raise InvalidInputError(f"item {item.id!r} appears twice in one write")
                    seen.add(item.id)
                stored = await _items_by_id(conn, [item.id for item in new_items])
                fresh = [item for item in new_items if item.id not in stored]
                changed = [
                    item for item in new_items if item.id in stored and stored[item.id] != item
                ]
                written += len(fresh) + len(changed)
                await self._write(conn, fresh, changed, [])
            if new_links:
                await _check_ends(conn, new_links, seen)
                await self._write(conn, [], [], new_links)
        return written

    async def _write(
        self,
        conn: AsyncConnection,
        fresh: list[KnowledgeItem],
        changed: list[KnowledgeItem],
        links: list[KnowledgeLink],
    ) -> None:
        try:
            await _write(conn, self._db.dialect, fresh, changed, links)
        except exc.IntegrityError:
            # Only a concurrent writer gets here (this transaction checked ids and ends).
            raise ConflictError(
                "knowledge items changed concurrently; nothing was written, retry"
            ) from None

    async def get(self, item_id: str) -> KnowledgeItem:
        """See :meth:`KnowledgeRepository.get`."""
        if "\x00" in item_id:  # no stored id has one, and PostgreSQL cannot take it
            raise NotFoundError(f"knowledge item {item_id} not found")
        rows = await self._db.rows(sa.select(*_ITEM_COLUMNS).where(knowledge_items.c.id == item_id))
        if not rows:
            raise NotFoundError(f"knowledge item {item_id} not found")
        return _item(rows[0])

    async def links(self, item_id: str) -> list[KnowledgeLink]:
        """See :meth:`KnowledgeRepository.links`."""
        if "\x00" in item_id:
            return []
        c = knowledge_links.c
        query = (
            sa.select(*_LINK_COLUMNS)
            .where(sa.or_(c.source_id == item_id, c.target_id == item_id))
            .order_by(c.created_at, c.source_id, c.target_id, c.kind)
        )
        return [KnowledgeLink(**row._mapping) for row in await self._db.rows(query)]

    async def delete(self, item_id: str) -> None:
        """See :meth:`KnowledgeRepository.delete`."""
        if "\x00" in item_id:
            raise NotFoundError(f"knowledge item {item_id} not found")
        async with self._db.write() as conn:
            result = await conn.execute(
                knowledge_items.delete().where(knowledge_items.c.id == item_id)
            )
            if result.rowcount != 1:
                raise NotFoundError(f"knowledge item {item_id} not found")

    async def count(self) -> int:
        """See :meth:`KnowledgeRepository.count`."""
        (row,) = await self._db.rows(sa.select(sa.func.count()).select_from(knowledge_items))
        return int(row[0])


async def _write(
    conn: AsyncConnection,
    dialect: str,
    fresh: list[KnowledgeItem],
    changed: list[KnowledgeItem],
    links: list[KnowledgeLink],
) -> None:
    if fresh:
        await conn.execute(knowledge_items.insert(), [_item_row(item) for item in fresh])
    if changed:
        update = knowledge_items.update().where(knowledge_items.c.id == sa.bindparam("item_id"))
        rows = [{**_item_row(item), "item_id": item.id} for item in changed]
        for row in rows:
            del row["id"]
        await conn.execute(update, rows)
    if links:
        await conn.execute(_insert_links(dialect), _link_rows(links))


async def _check_ends(conn: AsyncConnection, links: list[KnowledgeLink], ids: set[str]) -> None:
    """:class:`InvalidInputError` naming the first link with an end that neither exists
    nor is being written."""
    outside = sorted({end for link in links for end in (link.source_id, link.target_id)} - ids)
    existing: set[str] = set()
    if outside:
        dialect = conn.dialect.name
        existing.update(
            row.id for row in await conn.execute(_ids_among(dialect), _ids(outside, dialect))
        )
    for link in links:
        for end in (link.source_id, link.target_id):
            if end not in ids and end not in existing:
                raise InvalidInputError(
                    f"link {link.source_id!r} -> {link.target_id!r} ({link.kind}): "
                    f"item {end!r} does not exist"
                )


def _insert_links(dialect: str) -> sa.Executable:
    """``INSERT … ON CONFLICT DO NOTHING`` for links, to run with many rows (SQLAlchemy
    sends them in pages, within either database's parameter limit)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(knowledge_links).on_conflict_do_nothing()


def _link_rows(links: list[KnowledgeLink]) -> list[dict[str, Any]]:
    return [
        {"source_id": k.source_id, "target_id": k.target_id, "kind": k.kind,
         "created_at": k.created_at}
        for k in links
    ]  # fmt: skip


class SqlKnowledgeIndex:
    """:class:`~aragora.records.knowledge.KnowledgeIndex` on a
    :class:`Database`."""

    def __init__(self, database: Database) -> None:
        self._db = database
        self._search = _PostgresSearch() if database.dialect == "postgresql" else _SqliteSearch()

    async def search(
        self, query: str, *, limit: int = 10, filters: SearchFilters | None = None
    ) -> list[SearchHit]:
        """See :meth:`KnowledgeIndex.search`."""
        check_limit(limit)
        wanted = check_filters(filters)
        words = query_words(query)
        if not words:
            return []
        async with self._db.read() as conn:
            ranked = await self._search.top(conn, words, limit, wanted)
            if not ranked:
                return []
            items = await _items_by_id(conn, [item_id for item_id, _, _ in ranked])
        return [
            SearchHit(items[item_id], score, marked(snippet))
            for item_id, score, snippet in ranked
            if item_id in items
        ]

    async def search_each(
        self,
        queries: Sequence[str],
        *,
        limit: int = 10,
        filters: SearchFilters | None = None,
        enough: int | None = None,
    ) -> list[list[KnowledgeItem]]:
        """See :meth:`KnowledgeIndex.search_each`: every query ranked in one statement
        (no snippets), then their items in one more. PostgreSQL leaves the queries past
        ``enough`` unsearched within the statement; SQLite, searching in process, ranks
        them all and drops theirs."""
        check_limit(limit)
        check_enough(enough)
        wanted = check_filters(filters)
        words = [query_words(query) for query in queries]
        if not any(words):
            return [[] for _ in queries]
        if isinstance(self._search, _PostgresSearch):
            return await self._search.items_each(self._db, words, limit, wanted, enough)
        async with self._db.read() as conn:
            ranked = until_enough(await self._search.top_each(conn, words, limit, wanted), enough)
            ids = sorted({item_id for found in ranked for item_id in found})
            items = await _items_by_id(conn, ids)
        return [[items[i] for i in found if i in items] for found in ranked]

    async def scan_items(self, *, batch: int = 1000) -> AsyncIterator[KnowledgeItem]:
        """See :meth:`KnowledgeIndex.scan_items`."""
        _check_batch(batch)
        query = sa.select(*_ITEM_COLUMNS).order_by(knowledge_items.c.id).limit(batch)
        last: str | None = None
        while True:
            page = query if last is None else query.where(knowledge_items.c.id > last)
            rows = await self._db.rows(page)
            for row in rows:
                yield _item(row)
            if len(rows) < batch:
                return
            last = rows[-1].id

    async def scan_links(self, *, batch: int = 1000) -> AsyncIterator[KnowledgeLink]:
        """See :meth:`KnowledgeIndex.scan_links`."""
        _check_batch(batch)
        c = knowledge_links.c
        key = sa.tuple_(c.source_id, c.target_id, c.kind)
        query = sa.select(*_LINK_COLUMNS).order_by(c.source_id, c.target_id, c.kind).limit(batch)
        last: tuple[str, str, str] | None = None
        while True:
            rows = await self._db.rows(query if last is None else query.where(key > last))
            for row in rows:
                yield KnowledgeLink(**row._mapping)
            if len(rows) < batch:
                return
            last = (rows[-1].source_id, rows[-1].target_id, rows[-1].kind)


def _check_batch(batch: int) -> None:
    if batch < 1:
        raise InvalidInputError(f"batch must be at least 1, got {batch}")


# --- the two dialects' full-text search -------------------------------------------------------
Ranked = list[tuple[str, float, str]]
"""(item id, score, snippet with START/STOP marks), best first."""


def _filter_sql(
    filters: SearchFilters, *, tags_sql: Callable[[list[str], dict[str, Any]], str]
) -> tuple[str, dict[str, Any], list[sa.BindParameter[Any]]]:
    """The ``AND …`` clauses (on the items aliased ``i``) for ``filters``, their plain
    parameters and their typed ones."""
    clauses: list[str] = []
    params: dict[str, Any] = {}
    typed: list[sa.BindParameter[Any]] = []
    if filters.kinds:
        clauses.append("i.kind IN :kinds")
        typed.append(sa.bindparam("kinds", list(filters.kinds), expanding=True))
    if filters.tags:
        clauses.append(tags_sql(list(filters.tags), params))
    if filters.since is not None:
        clauses.append("i.created_at >= :since")
        typed.append(sa.bindparam("since", filters.since, type_=UTCDateTime))
    if filters.until is not None:
        clauses.append("i.created_at < :until")
        typed.append(sa.bindparam("until", filters.until, type_=UTCDateTime))
    return "".join(f" AND {clause}" for clause in clauses), params, typed


class _PostgresSearch:
    """``search @@ plainto_tsquery('english', words)`` on the GIN index, ranked by
    ``ts_rank_cd`` (weights A title, B content, C tags), ``ts_headline`` on the page."""

    _HEADLINE = (
        f'StartSel="{START}", StopSel="{STOP}", MaxFragments=2, MaxWords=18, MinWords=6, '
        'FragmentDelimiter=" … "'
    )
    # The tsquery is spelled out in the statement (it is made of letters and digits only;
    # see query_words) rather than bound: the planner then plans each search with its
    # words' frequencies, scanning the table in order until enough rows match for a word
    # in most items and using the GIN index for a rare one. A bound parameter would get
    # one generic plan (always the index, which for a common word first gathers every
    # match: ~0.2 s at a million items).
    _SQL = """
        WITH top AS (
            SELECT m.id, ts_rank_cd(m.search, {tsquery}) AS score
            FROM (
                SELECT i.id, i.search FROM knowledge_items AS i
                WHERE i.search @@ {tsquery}{filters}
                LIMIT :candidates
            ) AS m
            ORDER BY score DESC, m.id
            LIMIT :limit
        )
        SELECT top.id, top.score,
               ts_headline('english', i.content, {tsquery}, :headline) AS in_content,
               ts_headline('english', i.title, {tsquery}, :headline) AS in_title
        FROM top JOIN knowledge_items AS i ON i.id = top.id
        ORDER BY top.score DESC, top.id
    """

    @staticmethod
    def _tags(values: list[str], params: dict[str, Any]) -> str:
        params["tags"] = json.dumps(values, ensure_ascii=False)
        return "i.tags @> CAST(:tags AS jsonb)"

    async def top(
        self, conn: AsyncConnection, words: list[str], limit: int, filters: SearchFilters
    ) -> Ranked:
        where, params, typed = _filter_sql(filters, tags_sql=self._tags)
        text = " ".join(words).replace("'", "''")  # no quote can be in a word; still
        tsquery = f"plainto_tsquery('english', '{text}')"
        statement = sa.text(self._SQL.format(filters=where, tsquery=tsquery)).bindparams(*typed)
        rows = await conn.execute(
            statement,
            {
                "limit": limit,
                "candidates": RANKED_MATCHES,
                "headline": self._HEADLINE,
                **params,
            },
        )
        return [
            (row.id, float(row.score), row.in_content if START in row.in_content else row.in_title)
            for row in rows
        ]

    async def items_each(
        self,
        database: Database,
        queries: list[list[str]],
        limit: int,
        filters: SearchFilters,
        enough: int | None,
    ) -> list[list[KnowledgeItem]]:
        """The items :meth:`top` ranks for each of ``queries`` (its words), best first: the
        rankings in one statement, then their items in one more, both sent to the driver.
        A debate's context and its conflict check each make one, on the paths to its first
        call and to its end, where SQLAlchemy's compile and result layers cost more than
        the database did.

        With ``enough``, each query is a ``MATERIALIZED`` CTE whose scan is gated on the
        distinct ids of the ones before it (an uncorrelated subquery: a one-time filter,
        so a query not needed is never scanned nor ranked). Among many similar decisions,
        a question's broad one-word queries each ranked ``RANKED_MATCHES`` items that the
        caller never looked at."""
        bound = [limit, RANKED_MATCHES] if enough is None else [limit, RANKED_MATCHES, enough]
        where, args = self._driver_filters(filters, first=len(bound) + 1)
        parts: list[tuple[int, str]] = []
        for n, words in enumerate(queries):
            if not words:
                continue
            text = " ".join(words).replace("'", "''")
            tsquery = f"plainto_tsquery('english', '{text}')"
            gate = ""
            if enough is not None and parts:
                before = " UNION ALL ".join(f"SELECT id FROM r{m}" for m, _ in parts)
                gate = f" AND (SELECT count(DISTINCT id) FROM ({before}) AS b) < $3"
            parts.append((n, self._EACH.format(n=n, filters=where + gate, tsquery=tsquery)))
        if enough is None:
            sql = " UNION ALL ".join(f"({part})" for _, part in parts)
        else:
            ctes = ", ".join(f"r{n} AS MATERIALIZED ({part})" for n, part in parts)
            sql = f"WITH {ctes} " + " UNION ALL ".join(f"SELECT * FROM r{n}" for n, _ in parts)
        rows = await database.driver_rows(sql, *bound, *args)
        ranked = _grouped(rows, len(queries))
        ids = sorted({item_id for found in ranked for item_id in found})
        items = {}
        if ids:
            items = {row[0]: _item(row) for row in await database.driver_rows(_ITEMS_SQL, ids)}
        return [[items[i] for i in found if i in items] for found in ranked]

    @staticmethod
    def _driver_filters(filters: SearchFilters, *, first: int) -> tuple[str, list[Any]]:
        """:func:`_filter_sql`'s clauses with the driver's numbered parameters, from
        ``$first`` on, and their values."""
        clauses: list[str] = []
        args: list[Any] = []

        def bind(value: Any, cast: str) -> str:
            args.append(value)
            return f"${first + len(args) - 1}::{cast}"

        if filters.kinds:
            clauses.append(f"i.kind = ANY({bind(list(filters.kinds), 'text[]')})")
        if filters.tags:
            tags = json.dumps(list(filters.tags), ensure_ascii=False)
            clauses.append(f"i.tags @> {bind(tags, 'text')}::jsonb")
        if filters.since is not None:
            clauses.append(f"i.created_at >= {bind(filters.since, 'timestamptz')}")
        if filters.until is not None:
            clauses.append(f"i.created_at < {bind(filters.until, 'timestamptz')}")
        return "".join(f" AND {clause}" for clause in clauses), args

    _EACH = """
        SELECT {n} AS q, m.id, ts_rank_cd(m.search, {tsquery}) AS score
        FROM (
            SELECT i.id, i.search FROM knowledge_items AS i
            WHERE i.search @@ {tsquery}{filters}
            LIMIT $2
        ) AS m
        ORDER BY score DESC, m.id
        LIMIT $1
    """


def _grouped(rows: Iterable[Any], count: int) -> list[list[str]]:
    """Rows of (query number, id, score) as each query's ids, best first."""
    each: list[list[tuple[float, str]]] = [[] for _ in range(count)]
    for q, item_id, score in rows:
        each[int(q)].append((-float(score), str(item_id)))
    return [[item_id for _, item_id in sorted(found)] for found in each]


class _SqliteSearch:
    """``knowledge_fts MATCH '"w1" "w2"'`` (every word, each quoted so nothing in it is an
    operator; the porter tokenizer stems it), ranked by ``bm25`` (title 5, content 2,
    tags 1; negated so higher is better), ``snippet()`` for the page's rows only.

    FTS5 walks matches in rowid order, so a time window far from the start would be
    reached only after every earlier match; the window's rowid range (one scan of the
    ``created_at`` index) lets it start and stop there instead."""

    _TOP = """
        SELECT id, doc, score FROM (
            SELECT i.id, f.rowid AS doc, -bm25(knowledge_fts, 5.0, 2.0, 1.0) AS score
            FROM knowledge_fts AS f JOIN knowledge_items AS i ON i.rowid = f.rowid
            WHERE knowledge_fts MATCH :match{filters}
            LIMIT :candidates
        )
        ORDER BY score DESC, id
        LIMIT :limit
    """
    _SNIPPETS = f"""
        SELECT rowid, snippet(knowledge_fts, -1, '{START}', '{STOP}', '…', 16) AS snippet
        FROM knowledge_fts WHERE knowledge_fts MATCH :match AND rowid IN :docs
    """

    @staticmethod
    def _tags(values: list[str], params: dict[str, Any]) -> str:
        clauses = []
        for n, value in enumerate(values):
            params[f"tag{n}"] = value
            clauses.append(f"EXISTS (SELECT 1 FROM json_each(i.tags) AS t WHERE t.value = :tag{n})")
        return " AND ".join(clauses)

    async def _where(
        self, conn: AsyncConnection, filters: SearchFilters
    ) -> tuple[str, dict[str, Any], list[sa.BindParameter[Any]]] | None:
        """The filters' clauses and parameters (see :func:`_filter_sql`), with the time
        window as a rowid range; ``None`` when the window holds no item."""
        where, params, typed = _filter_sql(filters, tags_sql=self._tags)
        if filters.since is not None or filters.until is not None:
            bounds = await _rowid_bounds(conn, filters)
            if bounds is None:
                return None
            where += " AND f.rowid BETWEEN :first AND :last"
            params.update(first=bounds[0], last=bounds[1])
        return where, params, typed

    async def top(
        self, conn: AsyncConnection, words: list[str], limit: int, filters: SearchFilters
    ) -> Ranked:
        match = " ".join(f'"{word}"' for word in words)
        clauses = await self._where(conn, filters)
        if clauses is None:
            return []
        where, params, typed = clauses
        statement = sa.text(self._TOP.format(filters=where)).bindparams(*typed)
        values = {"match": match, "limit": limit, "candidates": RANKED_MATCHES, **params}
        rows = list(await conn.execute(statement, values))
        if not rows:
            return []
        snippets_sql = sa.text(self._SNIPPETS).bindparams(
            sa.bindparam("docs", [row.doc for row in rows], expanding=True)
        )
        found = await conn.execute(snippets_sql, {"match": match})
        snippets: dict[int, str] = {int(row[0]): str(row[1]) for row in found}
        return [(row.id, float(row.score), str(snippets.get(row.doc, ""))) for row in rows]

    async def top_each(
        self, conn: AsyncConnection, queries: list[list[str]], limit: int, filters: SearchFilters
    ) -> list[list[str]]:
        """The ids :meth:`top` ranks for each of ``queries`` (its words), in one statement."""

        clauses = await self._where(conn, filters)
        if clauses is None:
            return [[] for _ in queries]
        where, params, typed = clauses
        parts = []
        for n, words in enumerate(queries):
            if words:
                parts.append(self._EACH.format(n=n, filters=where))
                params[f"match{n}"] = " ".join(f'"{word}"' for word in words)
        statement = sa.text(" UNION ALL ".join(parts)).bindparams(*typed)
        values = {"limit": limit, "candidates": RANKED_MATCHES, **params}
        return _grouped(await conn.execute(statement, values), len(queries))

    _EACH = """
        SELECT * FROM (
            SELECT {n} AS q, id, score FROM (
                SELECT i.id, -bm25(knowledge_fts, 5.0, 2.0, 1.0) AS score
                FROM knowledge_fts AS f JOIN knowledge_items AS i ON i.rowid = f.rowid
                WHERE knowledge_fts MATCH :match{n}{filters}
                LIMIT :candidates
            )
            ORDER BY score DESC, id
            LIMIT :limit
        )
    """


async def _rowid_bounds(conn: AsyncConnection, filters: SearchFilters) -> tuple[int, int] | None:
    """The lowest and highest rowid of the items created within the filters' window,
    ``None`` when there are none."""
    c = knowledge_items.c
    rowid: sa.ColumnElement[int] = sa.literal_column("rowid", sa.Integer)
    query = sa.select(sa.func.min(rowid), sa.func.max(rowid)).select_from(knowledge_items)
    if filters.since is not None:
        query = query.where(c.created_at >= filters.since)
    if filters.until is not None:
        query = query.where(c.created_at < filters.until)
    first, last = (await conn.execute(query)).one()
    return None if first is None else (int(first), int(last))
