"""What the Knowledge Mound stores, as records and small Protocols (the knowledge
package and the runtime import this module, never the SQL behind it).

An item is one piece of knowledge with a stable ``id``: a debate's decision, one of its
key claims, a dissenting view, a piece of evidence, or a note written by a person. Items
are linked by typed, directed links (``supports``, ``contradicts``, ``supersedes``).

Two implementations satisfy these Protocols with the same observable behaviour: the
in-memory fake (``aragora.storage.memory.knowledge``) and the SQL one (SQLite FTS5 / PostgreSQL
full-text search), held to it by one contract test suite.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from aragora.debate.model import MAX_AGENT_NAME_CHARS, check_name, check_storable
from aragora.errors import InvalidInputError

__all__ = [
    "ITEM_KINDS",
    "LINK_KINDS",
    "MAX_CONTENT_CHARS",
    "MAX_TAGS",
    "MAX_TITLE_CHARS",
    "KnowledgeIndex",
    "KnowledgeItem",
    "KnowledgeLink",
    "KnowledgeRepository",
    "SearchFilters",
    "SearchHit",
    "check_item",
    "check_link",
]

ITEM_KINDS = ("decision", "claim", "dissent", "evidence", "note")
LINK_KINDS = ("supports", "contradicts", "supersedes")
MAX_TITLE_CHARS = 500
MAX_CONTENT_CHARS = 100_000
MAX_TAGS = 32
MAX_TAG_CHARS = 100
MAX_ID_CHARS = 200
"""An item's id and a source debate's id (the schema's column size)."""


@dataclass(frozen=True, slots=True)
class KnowledgeItem:
    """One item. ``source_debate_id``/``source_agent`` say where it came from (``None``
    for a note); ``provenance`` holds the rest of its origin, JSON-ready (e.g. the
    debate's consensus rule and round, or who wrote a note and why)."""

    id: str
    kind: str
    title: str
    content: str
    created_at: datetime
    updated_at: datetime
    source_debate_id: str | None = None
    source_agent: str | None = None
    confidence: float | None = None
    tags: tuple[str, ...] = ()
    provenance: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class KnowledgeLink:
    """``source`` relates to ``target`` as ``kind`` (e.g. a claim *supports* a decision;
    a decision *contradicts* an earlier one; a newer decision *supersedes* one)."""

    source_id: str
    target_id: str
    kind: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SearchFilters:
    """Optional narrowing of a search: any of ``kinds``, all of ``tags``, and
    ``created_at`` within ``[since, until)``."""

    kinds: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class SearchHit:
    """A matching item, its relevance (higher is better; comparable within one search
    only) and a short excerpt of the matching text with the matches marked
    ``<mark>…</mark>``."""

    item: KnowledgeItem
    score: float
    snippet: str


class KnowledgeRepository(Protocol):
    """Items and links: writes are all-or-nothing."""

    async def put(self, items: Iterable[KnowledgeItem], links: Iterable[KnowledgeLink] = ()) -> int:
        """Store ``items`` and ``links`` in one transaction, all or none (``items`` may be
        a generator: it is consumed once, and need not fit in memory).

        An item whose id exists is replaced when any field differs and left alone when
        identical; a link is identified by (source, target, kind) and stored once. A
        link's ends must exist after the write (:class:`InvalidInputError` naming the
        link otherwise). Returns how many items were inserted or changed, so writing the
        same items twice returns 0 the second time and changes nothing."""
        ...

    async def get(self, item_id: str) -> KnowledgeItem:
        """The item; :class:`NotFoundError` if it does not exist."""
        ...

    async def links(self, item_id: str) -> list[KnowledgeLink]:
        """Every link from or to the item, oldest first (empty for an unknown id)."""
        ...

    async def delete(self, item_id: str) -> None:
        """Remove the item and its links; :class:`NotFoundError` if it does not exist."""
        ...

    async def count(self) -> int:
        """How many items are stored."""
        ...


class KnowledgeIndex(Protocol):
    """Full-text search and streaming scans (for export)."""

    async def search(
        self, query: str, *, limit: int = 10, filters: SearchFilters | None = None
    ) -> list[SearchHit]:
        """Items matching ``query`` (words, any order; stemming as the database's text
        search does), best first, at most ``limit`` (1..100). A query with no searchable
        word returns nothing; it never raises for odd characters or operators in it."""
        ...

    async def search_each(
        self,
        queries: Sequence[str],
        *,
        limit: int = 10,
        filters: SearchFilters | None = None,
        enough: int | None = None,
    ) -> list[list[KnowledgeItem]]:
        """For each of ``queries``, the items :meth:`search` finds for it, in its order
        (without scores or snippets): several searches at the cost of about one.

        With ``enough`` (at least 1), the queries are searched in order only until the
        items found so far, each counted once, number at least ``enough``: the queries
        after that one are not searched, and get ``[]``."""
        ...

    def scan_items(self, *, batch: int = 1000) -> AsyncIterator[KnowledgeItem]:
        """Every item ordered by id, read ``batch`` at a time so memory stays flat
        however many there are."""
        ...

    def scan_links(self, *, batch: int = 1000) -> AsyncIterator[KnowledgeLink]:
        """Every link ordered by (source, target, kind), ``batch`` at a time."""
        ...


def check_item(item: KnowledgeItem) -> KnowledgeItem:
    """``item`` if its fields are valid and fit every backend; else
    :class:`InvalidInputError` naming the item and the problem.

    Ids, the source and tags are names (one line, no control characters, the schema's
    sizes: the limits of :mod:`aragora.debate.model`); title, content and provenance are
    text that may hold what a model wrote, so only what no backend stores (NUL, an
    unpaired surrogate) is refused there."""
    where = f"item {item.id!r}"
    try:
        _check_fields(item)
    except InvalidInputError as exc:
        raise InvalidInputError(f"{where}: {exc.message}") from None
    return item


def _check_fields(item: KnowledgeItem) -> None:
    if not isinstance(item.id, str) or not item.id.strip() or len(item.id) > MAX_ID_CHARS:
        raise InvalidInputError(f"id must be 1..{MAX_ID_CHARS} characters")
    check_name(item.id, "id", max_chars=MAX_ID_CHARS)
    if item.kind not in ITEM_KINDS:
        raise InvalidInputError(f"kind must be one of {', '.join(ITEM_KINDS)}")
    if not item.title.strip() or len(item.title) > MAX_TITLE_CHARS:
        raise InvalidInputError(f"title must be 1..{MAX_TITLE_CHARS} characters")
    check_storable(item.title, "title")
    if len(item.content) > MAX_CONTENT_CHARS:
        raise InvalidInputError(f"content is longer than {MAX_CONTENT_CHARS}")
    check_storable(item.content, "content")
    if item.source_debate_id is not None:
        check_name(item.source_debate_id, "source.debate_id", max_chars=MAX_ID_CHARS)
    if item.source_agent is not None:
        check_name(item.source_agent, "source.agent", max_chars=MAX_AGENT_NAME_CHARS)
    if item.confidence is not None and not 0.0 <= item.confidence <= 1.0:
        raise InvalidInputError("confidence must be between 0 and 1")
    if len(item.tags) > MAX_TAGS or any(not t.strip() or len(t) > MAX_TAG_CHARS for t in item.tags):
        raise InvalidInputError(f"at most {MAX_TAGS} tags of 1..{MAX_TAG_CHARS} characters")
    for n, tag in enumerate(item.tags):
        check_name(tag, f"tags[{n}]", max_chars=MAX_TAG_CHARS)
    _check_json_strings(item.provenance, "provenance")
    if item.created_at.tzinfo is None or item.updated_at.tzinfo is None:
        raise InvalidInputError("times must carry a timezone")


def _check_json_strings(value: object, where: str) -> None:
    if isinstance(value, str):
        check_storable(value, where)
    elif isinstance(value, Mapping):
        for key, inner in value.items():
            check_storable(str(key), f"a key of {where}")
            _check_json_strings(inner, f"{where}.{key}")
    elif isinstance(value, list | tuple):
        for n, inner in enumerate(value):
            _check_json_strings(inner, f"{where}[{n}]")


def check_link(link: KnowledgeLink) -> KnowledgeLink:
    """``link`` if its kind is known, its ends are ids and it does not point at itself."""
    if link.kind not in LINK_KINDS:
        raise InvalidInputError(
            f"link {link.source_id!r} -> {link.target_id!r}: kind must be one of "
            f"{', '.join(LINK_KINDS)}"
        )
    for end in (link.source_id, link.target_id):
        if not end or len(end) > MAX_ID_CHARS:
            raise InvalidInputError(f"link {link.source_id!r}: ids must be 1..{MAX_ID_CHARS}")
        check_name(
            end, f"link {link.source_id!r} -> {link.target_id!r}: id", max_chars=MAX_ID_CHARS
        )
    if link.source_id == link.target_id:
        raise InvalidInputError(f"link {link.source_id!r}: an item cannot link to itself")
    return link
