"""The Knowledge Mound as the faces use it (HTTP routes, ``aragora knowledge``): search,
read an item with its links, write a note, delete, export and import.

Documents returned are JSON-ready dicts in the export format's item shape
(:func:`aragora.knowledge.format.item_json`)."""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from typing import IO, Any

from aragora.errors import InvalidInputError, NotFoundError
from aragora.knowledge.format import (
    export_chunks,
    format_time,
    item_json,
    read_items,
    scan_document,
)
from aragora.records.knowledge import (
    ITEM_KINDS,
    KnowledgeIndex,
    KnowledgeItem,
    KnowledgeLink,
    KnowledgeRepository,
    SearchFilters,
    check_item,
    check_link,
)

__all__ = ["KnowledgeService"]

MAX_SEARCH_LIMIT = 100


def _utc_now() -> datetime:
    return datetime.now(UTC)


class KnowledgeService:
    """Reads and writes of the Knowledge Mound on one repository and its index."""

    def __init__(
        self,
        repository: KnowledgeRepository,
        index: KnowledgeIndex,
        *,
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.repository = repository
        self.index = index
        self._now = now

    async def search(
        self,
        query: str,
        *,
        limit: int = 10,
        kinds: Sequence[str] = (),
        tags: Sequence[str] = (),
    ) -> dict[str, Any]:
        """Items matching ``query`` best first, each with its ``score`` and ``snippet``."""
        if not 1 <= limit <= MAX_SEARCH_LIMIT:
            raise InvalidInputError(f"limit must be between 1 and {MAX_SEARCH_LIMIT}")
        for kind in kinds:
            if kind not in ITEM_KINDS:
                raise InvalidInputError(f"unknown kind {kind!r} (one of {', '.join(ITEM_KINDS)})")
        hits = await self.index.search(
            query, limit=limit, filters=SearchFilters(kinds=tuple(kinds), tags=tuple(tags))
        )
        results = []
        for hit in hits:
            body = item_json(hit.item)
            del body["links"]
            results.append({**body, "score": hit.score, "snippet": hit.snippet})
        return {"query": query, "results": results, "total": len(results)}

    async def get(self, item_id: str) -> dict[str, Any]:
        """The item with its outgoing ``links`` (as exported) and incoming ``backlinks``;
        :class:`NotFoundError` if it does not exist."""
        item = await self.repository.get(item_id)
        links = await self.repository.links(item_id)
        body = item_json(item, [link for link in links if link.source_id == item_id])
        body["backlinks"] = [
            {
                "kind": link.kind,
                "source": link.source_id,
                "created_at": format_time(link.created_at),
            }
            for link in links
            if link.target_id == item_id
        ]
        return body

    async def create_note(
        self,
        *,
        title: str,
        content: str = "",
        tags: Sequence[str] = (),
        confidence: float | None = None,
        links: Sequence[tuple[str, str]] = (),
        author: str | None = None,
    ) -> dict[str, Any]:
        """Store a note written by a person (``links``: (kind, target id) pairs from it);
        the stored item. :class:`InvalidInputError` for a bad field or an unknown target."""
        now = self._now()
        item = check_item(
            KnowledgeItem(
                id=f"note-{uuid.uuid4().hex}",
                kind="note",
                title=title,
                content=content,
                created_at=now,
                updated_at=now,
                confidence=confidence,
                tags=tuple(tags),
                provenance={"author": author} if author else {},
            )
        )
        new_links = []
        for kind, target in links:
            new_links.append(check_link(KnowledgeLink(item.id, target, kind, now)))
            await self._require(target, f"link target {target!r}")
        await self.repository.put([item], new_links)
        return await self.get(item.id)

    async def delete(self, item_id: str) -> dict[str, Any]:
        """Remove the item and its links; :class:`NotFoundError` if it does not exist."""
        await self.repository.delete(item_id)
        return {"deleted": item_id}

    def export(self, *, batch: int = 1000) -> AsyncIterator[bytes]:
        """The export document as bytes chunks, streamed from the index (flat memory)."""
        return export_chunks(self.index, exported_at=self._now(), batch=batch)

    async def import_document(self, body: bytes | str | IO[bytes]) -> dict[str, Any]:
        """Store every item and link of an export document in one transaction, or none.

        ``body`` is the document, or a seekable binary file holding it (read from where it
        stands): a file is streamed, twice (validate, then store), so memory holds the
        items' ids and links but never the document. Items already stored identically are
        left alone, so importing the same document twice changes nothing.
        :class:`InvalidInputError` names the first bad item (a malformed field, a value no
        backend stores, a duplicate id, a link to an item in neither the document nor the
        store) before anything is written. Returns ``{"imported", "unchanged", "count"}``:
        items written, items already there as they are, and items stored now."""
        source = (
            io.BytesIO(body.encode() if isinstance(body, str) else body)
            if isinstance(body, bytes | str)
            else body
        )
        start = source.tell()
        # Parsing is CPU work for seconds on a large backup: off the event loop.
        index = await asyncio.to_thread(scan_document, source)
        positions = index.positions
        known: set[str] = set()
        for link in index.links:
            target = link.target_id
            if target in positions or target in known:
                continue
            try:
                await self.repository.get(target)
            except NotFoundError as exc:
                n = positions[link.source_id]
                raise InvalidInputError(
                    f"items[{n}] (id {link.source_id!r}): links to {target!r}, which is in "
                    "neither the document nor the knowledge base"
                ) from exc
            known.add(target)
        source.seek(start)
        written = await self.repository.put(read_items(source), index.links)
        return {
            "imported": written,
            "unchanged": len(positions) - written,
            "count": await self.repository.count(),
        }

    async def _require(self, item_id: str, what: str) -> None:
        try:
            await self.repository.get(item_id)
        except NotFoundError as exc:
            raise InvalidInputError(f"{what} does not exist") from exc
