"""Rules both Knowledge Mound stores (in-memory and SQL) share, so they behave alike: how
an item is normalised before it is stored and compared, how a search query splits into
words, and how a snippet's matches are marked.

Snippets are HTML-safe: the stores mark matches with two private-use characters
(:data:`START`, :data:`STOP`), then :func:`marked` escapes the text and turns those into
``<mark>``/``</mark>``, so stored text can never inject markup into a page showing a hit.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC

from aragora.errors import InvalidInputError
from aragora.records.knowledge import (
    ITEM_KINDS,
    KnowledgeItem,
    KnowledgeLink,
    SearchFilters,
    check_item,
    check_link,
)

__all__ = [
    "MAX_LIMIT",
    "MAX_QUERY_WORDS",
    "START",
    "STOP",
    "WORD",
    "check_filters",
    "check_limit",
    "marked",
    "normal_item",
    "normal_items",
    "normal_links",
    "query_words",
]

MAX_LIMIT = 100
MAX_QUERY_WORDS = 32
START = "\ue000"
STOP = "\ue001"
# A searchable word: letters and digits of any script (so operators, quotes, emoji and
# punctuation in a query are dropped rather than interpreted).
WORD = re.compile(r"[^\W_]+")


def normal_item(item: KnowledgeItem) -> KnowledgeItem:
    """``item`` checked and in the form the stores keep and return: times in UTC, tags a
    tuple, provenance a fresh JSON-ready dict (:class:`InvalidInputError` otherwise)."""
    check_item(item)  # also refuses what a backend cannot store (NUL, lone surrogates)
    try:
        text = json.dumps(dict(item.provenance), ensure_ascii=False, allow_nan=False)
        provenance = json.loads(text)
    except (TypeError, ValueError) as error:
        raise InvalidInputError(f"item {item.id!r}: provenance must be JSON: {error}") from None
    return replace(
        item,
        created_at=item.created_at.astimezone(UTC),
        updated_at=item.updated_at.astimezone(UTC),
        tags=tuple(item.tags),
        provenance=provenance,
    )


def normal_items(items: Sequence[KnowledgeItem]) -> list[KnowledgeItem]:
    """Every item normalised; :class:`InvalidInputError` for a bad one or a repeated id."""
    seen: set[str] = set()
    result = []
    for item in items:
        normal = normal_item(item)
        if normal.id in seen:
            raise InvalidInputError(f"item {item.id!r} appears twice in one write")
        seen.add(normal.id)
        result.append(normal)
    return result


def normal_links(links: Sequence[KnowledgeLink]) -> list[KnowledgeLink]:
    """Every link checked, in UTC, each (source, target, kind) once (the first wins)."""
    unique: dict[tuple[str, str, str], KnowledgeLink] = {}
    for link in links:
        check_link(link)
        if link.created_at.tzinfo is None:
            raise InvalidInputError(
                f"link {link.source_id!r} -> {link.target_id!r}: time must carry a timezone"
            )
        key = (link.source_id, link.target_id, link.kind)
        unique.setdefault(key, replace(link, created_at=link.created_at.astimezone(UTC)))
    return list(unique.values())


def query_words(query: str) -> list[str]:
    """The searchable words of ``query``, lowercased, in order, at most
    :data:`MAX_QUERY_WORDS` (everything else in it is ignored)."""
    return [word.lower() for word in WORD.findall(query)][:MAX_QUERY_WORDS]


def check_limit(limit: int) -> None:
    """Refuse a search limit outside 1..100."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInputError(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")


def check_enough(enough: int | None) -> None:
    """Refuse a ``search_each`` ``enough`` below 1."""
    if enough is not None and enough < 1:
        raise InvalidInputError(f"enough must be at least 1, got {enough}")


def until_enough(found: list[list[str]], enough: int | None) -> list[list[str]]:
    """Each query's ids in ``found``, with ``[]`` for every query after the one whose ids
    and those before it make ``enough`` distinct ids (all of ``found`` for ``None``)."""
    if enough is None:
        return found
    seen: set[str] = set()
    kept: list[list[str]] = []
    for ids in found:
        kept.append(ids if len(seen) < enough else [])
        seen.update(kept[-1])
    return kept


def check_filters(filters: SearchFilters | None) -> SearchFilters:
    """``filters`` (empty ones for ``None``) if their kinds are known and times aware."""
    if filters is None:
        return SearchFilters()
    for kind in filters.kinds:
        if kind not in ITEM_KINDS:
            raise InvalidInputError(f"unknown kind {kind!r} (expected one of {ITEM_KINDS})")
    for moment in (filters.since, filters.until):
        if moment is not None and moment.tzinfo is None:
            raise InvalidInputError("search times must carry a timezone")
    return filters


def marked(text: str) -> str:
    """``text`` with matches between :data:`START` and :data:`STOP`, as HTML: escaped,
    matches in ``<mark>…</mark>``."""
    return html.escape(text, quote=False).replace(START, "<mark>").replace(STOP, "</mark>")
