"""The in-memory Knowledge Mound of ``aragora.storage.memory.storage`` as one object with both
Protocols (repository and index), plus snapshots for assertions."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from aragora.records.knowledge import (
    KnowledgeIndex,
    KnowledgeItem,
    KnowledgeLink,
    KnowledgeRepository,
    SearchFilters,
    SearchHit,
)
from aragora.storage.memory.knowledge import memory_knowledge


class Mound:
    """A knowledge store: a fresh, empty in-memory one, or the repository and index given."""

    def __init__(
        self, repository: KnowledgeRepository | None = None, index: KnowledgeIndex | None = None
    ) -> None:
        if repository is None or index is None:
            repository, index = memory_knowledge()
        self.repository: KnowledgeRepository = repository
        self.index: KnowledgeIndex = index

    async def put(self, items: Sequence[KnowledgeItem], links: Sequence[KnowledgeLink] = ()) -> int:
        return await self.repository.put(items, links)

    async def get(self, item_id: str) -> KnowledgeItem:
        return await self.repository.get(item_id)

    async def links(self, item_id: str) -> list[KnowledgeLink]:
        return await self.repository.links(item_id)

    async def delete(self, item_id: str) -> None:
        await self.repository.delete(item_id)

    async def count(self) -> int:
        return await self.repository.count()

    async def search(
        self, query: str, *, limit: int = 10, filters: SearchFilters | None = None
    ) -> list[SearchHit]:
        return await self.index.search(query, limit=limit, filters=filters)

    async def search_each(
        self,
        queries: Sequence[str],
        *,
        limit: int = 10,
        filters: SearchFilters | None = None,
        enough: int | None = None,
    ) -> list[list[KnowledgeItem]]:
        return await self.index.search_each(queries, limit=limit, filters=filters, enough=enough)

    def scan_items(self, *, batch: int = 1000) -> AsyncIterator[KnowledgeItem]:
        return self.index.scan_items(batch=batch)

    def scan_links(self, *, batch: int = 1000) -> AsyncIterator[KnowledgeLink]:
        return self.index.scan_links(batch=batch)

    async def items(self) -> dict[str, KnowledgeItem]:
        """Every item by id."""
        return {item.id: item async for item in self.index.scan_items()}

    async def edges(self) -> set[tuple[str, str, str]]:
        """Every link as (source, target, kind)."""
        return {(k.source_id, k.target_id, k.kind) async for k in self.index.scan_links()}
