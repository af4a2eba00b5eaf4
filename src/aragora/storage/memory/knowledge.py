"""The Knowledge Mound kept in dictionaries: the in-process fake of
:class:`~aragora.records.knowledge.KnowledgeRepository` and
:class:`~aragora.records.knowledge.KnowledgeIndex`.

It behaves as the SQL store does (``tests/storage/test_knowledge_contract.py`` runs on
both): the same validation, all-or-nothing writes, change counting, ordering and errors.
Search is a small imitation of a database's full-text search: words are lowercased and
cut by a crude suffix stemmer (``decisions`` and ``decision`` meet), every query word
must occur, and the score sums term frequencies weighted title 1.0, content 0.4, tags 0.2
(PostgreSQL's default weights for A, B, C).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field, replace

from aragora.errors import InvalidInputError, NotFoundError
from aragora.records.knowledge import (
    KnowledgeItem,
    KnowledgeLink,
    SearchFilters,
    SearchHit,
)
from aragora.storage.knowledge_rules import (
    START,
    STOP,
    WORD,
    check_enough,
    check_filters,
    check_limit,
    marked,
    normal_items,
    normal_links,
    query_words,
)

__all__ = ["MemoryKnowledge", "MemoryKnowledgeIndex", "memory_knowledge"]

LinkKey = tuple[str, str, str]
_WEIGHTS = (1.0, 0.4, 0.2)  # title, content, tags
_SNIPPET_WORDS = 16
_SUFFIXES = re.compile(r"(?:ing|ed|es|s)$")


Fields = tuple[list[str], list[str], list[str]]
"""An item's stemmed words: title, content, tags."""


@dataclass(slots=True)
class _Mound:
    items: dict[str, KnowledgeItem] = field(default_factory=dict)
    links: dict[LinkKey, KnowledgeLink] = field(default_factory=dict)
    words: dict[str, Fields] = field(default_factory=dict)


def _stem(word: str) -> str:
    word = word.lower()
    if len(word) > 4:
        word = _SUFFIXES.sub("", word)
    return word.rstrip("e") if len(word) > 4 else word


def _stems(text: str) -> list[str]:
    return [_stem(word) for word in WORD.findall(text)]


def _copy(item: KnowledgeItem) -> KnowledgeItem:
    return replace(item, provenance=dict(item.provenance))


class MemoryKnowledge:
    """:class:`~aragora.records.knowledge.KnowledgeRepository` in memory."""

    def __init__(self, mound: _Mound) -> None:
        self._m = mound

    async def put(self, items: Iterable[KnowledgeItem], links: Iterable[KnowledgeLink] = ()) -> int:
        """See :meth:`KnowledgeRepository.put`."""
        new_items = normal_items(list(items))
        new_links = normal_links(list(links))
        ids = {item.id for item in new_items}
        for link in new_links:
            for end in (link.source_id, link.target_id):
                if end not in ids and end not in self._m.items:
                    raise InvalidInputError(
                        f"link {link.source_id!r} -> {link.target_id!r} ({link.kind}): "
                        f"item {end!r} does not exist"
                    )
        changed = 0
        for item in new_items:
            if self._m.items.get(item.id) != item:
                self._m.items[item.id] = item
                self._m.words[item.id] = (
                    _stems(item.title),
                    _stems(item.content),
                    _stems(" ".join(item.tags)),
                )
                changed += 1
        for link in new_links:
            self._m.links.setdefault((link.source_id, link.target_id, link.kind), link)
        return changed

    async def get(self, item_id: str) -> KnowledgeItem:
        """See :meth:`KnowledgeRepository.get`."""
        item = self._m.items.get(item_id)
        if item is None:
            raise NotFoundError(f"knowledge item {item_id} not found")
        return _copy(item)

    async def links(self, item_id: str) -> list[KnowledgeLink]:
        """See :meth:`KnowledgeRepository.links`."""
        found = [
            link for link in self._m.links.values() if item_id in (link.source_id, link.target_id)
        ]
        return sorted(found, key=lambda k: (k.created_at, k.source_id, k.target_id, k.kind))

    async def delete(self, item_id: str) -> None:
        """See :meth:`KnowledgeRepository.delete`."""
        if self._m.items.pop(item_id, None) is None:
            raise NotFoundError(f"knowledge item {item_id} not found")
        del self._m.words[item_id]
        for key in [key for key in self._m.links if item_id in key[:2]]:
            del self._m.links[key]

    async def count(self) -> int:
        """See :meth:`KnowledgeRepository.count`."""
        return len(self._m.items)


class MemoryKnowledgeIndex:
    """:class:`~aragora.records.knowledge.KnowledgeIndex` in memory."""

    def __init__(self, mound: _Mound) -> None:
        self._m = mound

    async def search(
        self, query: str, *, limit: int = 10, filters: SearchFilters | None = None
    ) -> list[SearchHit]:
        """See :meth:`KnowledgeIndex.search`."""
        check_limit(limit)
        wanted = check_filters(filters)
        terms = {_stem(word) for word in query_words(query)}
        if not terms:
            return []
        hits: list[tuple[float, str]] = []
        for item in self._m.items.values():
            if not _passes(item, wanted):
                continue
            fields = self._m.words[item.id]
            if not all(any(term in words for words in fields) for term in terms):
                continue
            score = sum(
                weight * words.count(term)
                for weight, words in zip(_WEIGHTS, fields, strict=True)
                for term in terms
            )
            hits.append((score, item.id))
        hits.sort(key=lambda hit: (-hit[0], hit[1]))
        return [
            SearchHit(_copy(self._m.items[item_id]), score, _snippet(self._m.items[item_id], terms))
            for score, item_id in hits[:limit]
        ]

    async def search_each(
        self,
        queries: Sequence[str],
        *,
        limit: int = 10,
        filters: SearchFilters | None = None,
        enough: int | None = None,
    ) -> list[list[KnowledgeItem]]:
        """See :meth:`KnowledgeIndex.search_each`."""
        check_limit(limit)
        check_enough(enough)
        found: list[list[KnowledgeItem]] = []
        seen: set[str] = set()
        for query in queries:
            if enough is not None and len(seen) >= enough:
                found.append([])
                continue
            found.append(
                [hit.item for hit in await self.search(query, limit=limit, filters=filters)]
            )
            seen.update(item.id for item in found[-1])
        return found

    async def scan_items(self, *, batch: int = 1000) -> AsyncIterator[KnowledgeItem]:
        """See :meth:`KnowledgeIndex.scan_items`."""
        _check_batch(batch)
        last: str | None = None
        while True:
            ids = sorted(self._m.items)
            start = 0 if last is None else bisect.bisect_right(ids, last)
            page = ids[start : start + batch]
            for item_id in page:
                yield _copy(self._m.items[item_id])
            if len(page) < batch:
                return
            last = page[-1]

    async def scan_links(self, *, batch: int = 1000) -> AsyncIterator[KnowledgeLink]:
        """See :meth:`KnowledgeIndex.scan_links`."""
        _check_batch(batch)
        last: LinkKey | None = None
        while True:
            keys = sorted(self._m.links)
            start = 0 if last is None else bisect.bisect_right(keys, last)
            page = keys[start : start + batch]
            for key in page:
                yield self._m.links[key]
            if len(page) < batch:
                return
            last = page[-1]


def _check_batch(batch: int) -> None:
    if batch < 1:
        raise InvalidInputError(f"batch must be at least 1, got {batch}")


def _passes(item: KnowledgeItem, filters: SearchFilters) -> bool:
    if filters.kinds and item.kind not in filters.kinds:
        return False
    if any(tag not in item.tags for tag in filters.tags):
        return False
    if filters.since is not None and item.created_at < filters.since:
        return False
    return filters.until is None or item.created_at < filters.until


def _snippet(item: KnowledgeItem, terms: set[str]) -> str:
    """A window of words around the first match (in the content if it matches, else in
    the title), matches marked."""
    text = item.content if terms & set(_stems(item.content)) else item.title
    words = list(WORD.finditer(text))
    first = next((n for n, word in enumerate(words) if _stem(word.group()) in terms), 0)
    begin = max(0, first - _SNIPPET_WORDS // 4)
    window = words[begin : begin + _SNIPPET_WORDS]
    if not window:
        return marked(text[:200])
    out: list[str] = []
    cursor = window[0].start()
    for word in window:
        out.append(text[cursor : word.start()])
        matched = _stem(word.group()) in terms
        out.append(f"{START}{word.group()}{STOP}" if matched else word.group())
        cursor = word.end()
    prefix = "…" if begin > 0 else ""
    suffix = "…" if begin + _SNIPPET_WORDS < len(words) else ""
    return marked(prefix + "".join(out) + suffix)


def memory_knowledge() -> tuple[MemoryKnowledge, MemoryKnowledgeIndex]:
    """A fresh, empty in-memory mound: its repository and its index (sharing the data)."""
    mound = _Mound()
    return MemoryKnowledge(mound), MemoryKnowledgeIndex(mound)
