"""The export document of the Knowledge Mound, version 1 (CONTRACT.md, "Knowledge"):

    {"format": "aragora.knowledge", "version": 1, "exported_at": ISO, "items": [ITEM, ...],
     "count": n}

    ITEM = {"id", "kind", "title", "content", "source": {"debate_id", "agent"},
            "confidence", "tags", "created_at", "updated_at", "provenance",
            "links": [{"kind", "target", "created_at"}]}

Times are ISO 8601 in UTC with microseconds, so export -> import -> export gives the same
text. An item carries its *outgoing* links only; ``created_at`` of a link is optional on
import (the item's ``created_at`` when absent). ``count`` comes after the items so that a
streamed export states exactly how many it wrote. Key order is irrelevant to readers.

:func:`export_chunks` streams the document from the index's scans (memory stays flat
whatever the number of items); :func:`parse_document` reads and validates one, naming
the first bad item by index and id.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from aragora.errors import InvalidInputError
from aragora.storage.knowledge_repository import (
    KnowledgeIndex,
    KnowledgeItem,
    KnowledgeLink,
    check_item,
    check_link,
)

__all__ = [
    "FORMAT",
    "VERSION",
    "ParsedDocument",
    "export_chunks",
    "format_time",
    "item_json",
    "link_json",
    "parse_document",
    "parse_time",
]

FORMAT = "aragora.knowledge"
VERSION = 1
_ITEM_FIELDS = frozenset(
    {
        "id",
        "kind",
        "title",
        "content",
        "source",
        "confidence",
        "tags",
        "created_at",
        "updated_at",
        "provenance",
        "links",
    }
)


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    """A valid export document's items and links (every link's source is in ``items``)."""

    items: tuple[KnowledgeItem, ...]
    links: tuple[KnowledgeLink, ...]


def format_time(moment: datetime) -> str:
    """``moment`` as ISO 8601 in UTC with microseconds (naive times are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def parse_time(text: object, what: str) -> datetime:
    """An ISO 8601 time with a timezone, in UTC; :class:`InvalidInputError` naming ``what``."""
    if not isinstance(text, str):
        raise InvalidInputError(f"{what} must be an ISO 8601 time")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInputError(f"{what} is not an ISO 8601 time: {text[:40]!r}") from exc
    if moment.tzinfo is None:
        raise InvalidInputError(f"{what} must carry a timezone: {text[:40]!r}")
    return moment.astimezone(UTC)


def link_json(link: KnowledgeLink) -> dict[str, Any]:
    """A link as it appears in its source item's ``links``."""
    return {"kind": link.kind, "target": link.target_id, "created_at": format_time(link.created_at)}


def item_json(item: KnowledgeItem, links: Sequence[KnowledgeLink] = ()) -> dict[str, Any]:
    """The export form of ``item`` with its outgoing ``links``."""
    return {
        "id": item.id,
        "kind": item.kind,
        "title": item.title,
        "content": item.content,
        "source": {"debate_id": item.source_debate_id, "agent": item.source_agent},
        "confidence": item.confidence,
        "tags": list(item.tags),
        "created_at": format_time(item.created_at),
        "updated_at": format_time(item.updated_at),
        "provenance": dict(item.provenance),
        "links": [link_json(link) for link in links],
    }


async def export_chunks(
    index: KnowledgeIndex, *, exported_at: datetime, batch: int = 1000
) -> AsyncIterator[bytes]:
    """The export document as bytes chunks (about ``batch`` items each), read from the
    index's scans so that only one batch is held at a time.

    Items and links are both scanned in id order, so each item's outgoing links are the
    next run of links with that source: one pass over each, no lookups."""
    links = aiter(index.scan_links(batch=batch))
    items = aiter(index.scan_items(batch=batch))
    # Both scans start before the first chunk, so a caller that awaits it learns of an
    # unreachable database before it has sent a status line.
    pending: KnowledgeLink | None = await anext(links, None)
    item: KnowledgeItem | None = await anext(items, None)
    head = {"format": FORMAT, "version": VERSION, "exported_at": format_time(exported_at)}
    yield orjson.dumps(head)[:-1] + b',"items":['
    count = 0
    buffer: list[bytes] = []
    while item is not None:
        outgoing: list[KnowledgeLink] = []
        while pending is not None and pending.source_id == item.id:
            outgoing.append(pending)
            pending = await anext(links, None)
        buffer.append(orjson.dumps(item_json(item, outgoing)))
        count += 1
        item = await anext(items, None)
        if len(buffer) >= batch:
            yield (b"," if count > len(buffer) else b"") + b",".join(buffer)
            buffer.clear()
    if buffer:
        yield (b"," if count > len(buffer) else b"") + b",".join(buffer)
    yield b'],"count":' + str(count).encode("ascii") + b"}\n"


def parse_document(body: bytes | str) -> ParsedDocument:
    """Read an export document; :class:`InvalidInputError` for anything wrong, naming the
    first bad item as ``items[INDEX] (id 'ID')``. Line breaks anywhere are tolerated
    (``curl -d @file`` strips them, which leaves valid JSON valid)."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInputError(f"the body is not a JSON document: {exc}") from exc
    if not isinstance(document, dict):
        raise InvalidInputError("the document must be a JSON object")
    if document.get("format") != FORMAT:
        raise InvalidInputError(f"the document's format must be {FORMAT!r}")
    if document.get("version") != VERSION:
        raise InvalidInputError(f"unsupported version {document.get('version')!r} (expected 1)")
    raw_items = document.get("items")
    if not isinstance(raw_items, list):
        raise InvalidInputError("the document must have an 'items' list")
    count = document.get("count")
    if count is not None and count != len(raw_items):
        raise InvalidInputError(f"count is {count!r} but the document has {len(raw_items)} items")
    items: list[KnowledgeItem] = []
    links: list[KnowledgeLink] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_items):
        where = _where(index, raw)
        try:
            item, outgoing = _parse_item(raw)
        except InvalidInputError as exc:
            raise InvalidInputError(f"{where}: {_strip_item_name(exc.message)}") from exc
        if item.id in seen:
            raise InvalidInputError(f"{where}: the id appears twice in the document")
        seen.add(item.id)
        items.append(item)
        links.extend(outgoing)
    return ParsedDocument(tuple(items), tuple(links))


def _where(index: int, raw: object) -> str:
    item_id = raw.get("id") if isinstance(raw, dict) else None
    if isinstance(item_id, str):
        return f"items[{index}] (id {item_id[:200]!r})"
    return f"items[{index}]"


def _strip_item_name(message: str) -> str:
    # check_item names the item itself ("item 'x': ..."); the caller's prefix is better.
    if message.startswith("item ") and ": " in message:
        return message.split(": ", 1)[1]
    return message


def _parse_item(raw: object) -> tuple[KnowledgeItem, list[KnowledgeLink]]:
    if not isinstance(raw, dict):
        raise InvalidInputError("an item must be a JSON object")
    unknown = sorted(set(raw) - _ITEM_FIELDS)
    if unknown:
        raise InvalidInputError(f"unknown field {unknown[0]!r}")
    item_id = _text(raw, "id")
    source = _or(raw.get("source"), {})
    if not isinstance(source, dict):
        raise InvalidInputError("source must be an object {debate_id, agent}")
    confidence = raw.get("confidence")
    if confidence is not None and (
        isinstance(confidence, bool)
        or not isinstance(confidence, int | float)
        or not math.isfinite(confidence)
    ):
        raise InvalidInputError("confidence must be a number between 0 and 1, or null")
    tags = _or(raw.get("tags"), [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise InvalidInputError("tags must be a list of strings")
    provenance = _or(raw.get("provenance"), {})
    if not isinstance(provenance, dict):
        raise InvalidInputError("provenance must be an object")
    created_at = parse_time(raw.get("created_at"), "created_at")
    updated_at = parse_time(raw.get("updated_at", raw.get("created_at")), "updated_at")
    item = check_item(
        KnowledgeItem(
            id=item_id,
            kind=_text(raw, "kind"),
            title=_text(raw, "title"),
            content=_text(raw, "content", default=""),
            created_at=created_at,
            updated_at=updated_at,
            source_debate_id=_optional_text(source, "debate_id", "source.debate_id"),
            source_agent=_optional_text(source, "agent", "source.agent"),
            confidence=None if confidence is None else float(confidence),
            tags=tuple(tags),
            provenance=provenance,
        )
    )
    raw_links = _or(raw.get("links"), [])
    if not isinstance(raw_links, list):
        raise InvalidInputError("links must be a list of {kind, target}")
    links = []
    for position, raw_link in enumerate(raw_links):
        if not isinstance(raw_link, dict):
            raise InvalidInputError(f"links[{position}] must be an object {{kind, target}}")
        when = raw_link.get("created_at")
        link = KnowledgeLink(
            source_id=item.id,
            target_id=_text(raw_link, "target", f"links[{position}].target"),
            kind=_text(raw_link, "kind", f"links[{position}].kind"),
            created_at=created_at
            if when is None
            else parse_time(when, f"links[{position}].created_at"),
        )
        try:
            links.append(check_link(link))
        except InvalidInputError as exc:
            raise InvalidInputError(f"links[{position}]: {exc.message}") from exc
    return item, links


def _or(value: Any, default: Any) -> Any:
    return default if value is None else value


def _text(
    raw: Mapping[str, Any], key: str, what: str | None = None, default: str | None = None
) -> str:
    value = raw.get(key, default)
    if not isinstance(value, str):
        raise InvalidInputError(f"{what or key} must be a string")
    return value


def _optional_text(raw: Mapping[str, Any], key: str, what: str) -> str | None:
    value = raw.get(key)
    if value is not None and not isinstance(value, str):
        raise InvalidInputError(f"{what} must be a string or null")
    return value
