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
whatever the number of items). Reading is streamed too: :func:`scan_document` validates
a document read from a file item by item (an incremental parser, so a backup of any size
never sits in memory whole) and keeps only the ids and links; :func:`read_items` then
reads the items again one at a time for storing. :func:`parse_document` does both for a
document already in memory. Errors name the first bad item by index and id.
"""

from __future__ import annotations

import io
import math
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

import ijson  # type: ignore[import-untyped]
import orjson

from aragora.errors import InvalidInputError
from aragora.records.knowledge import (
    KnowledgeIndex,
    KnowledgeItem,
    KnowledgeLink,
    check_item,
    check_link,
)

__all__ = [
    "FORMAT",
    "VERSION",
    "DocumentIndex",
    "ParsedDocument",
    "export_chunks",
    "format_time",
    "item_json",
    "link_json",
    "parse_document",
    "parse_time",
    "read_items",
    "scan_document",
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


@dataclass(frozen=True, slots=True)
class DocumentIndex:
    """What :func:`scan_document` keeps of a valid document: each item's id with its
    position (``items[N]``), and every link (each link's source is among the ids)."""

    positions: Mapping[str, int]
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
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:59:59-00:01 is past the year 9999 in UTC
        raise InvalidInputError(f"{what} is out of range in UTC: {text[:40]!r}") from None


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
    """Read a whole export document held in memory; :class:`InvalidInputError` for
    anything wrong, naming the first bad item as ``items[INDEX] (id 'ID')``. Line breaks
    anywhere are tolerated (``curl -d @file`` strips them, which leaves valid JSON valid)."""
    source = io.BytesIO(body.encode() if isinstance(body, str) else body)
    index = scan_document(source)
    source.seek(0)
    return ParsedDocument(tuple(read_items(source)), index.links)


def scan_document(source: IO[bytes]) -> DocumentIndex:
    """Validate the export document in ``source`` (a binary file, read from where it
    stands to the end; seekable, as it is read more than once) without holding its items:
    the header, then each item in turn. :class:`InvalidInputError` for anything wrong,
    naming the first bad item as ``items[INDEX] (id 'ID')``."""
    start = source.tell()
    count = _check_header(source, start)
    source.seek(start)
    positions: dict[str, int] = {}
    links: list[KnowledgeLink] = []
    total = 0
    for index, raw in _raw_items(source):
        total += 1
        where = _where(index, raw)
        try:
            item, outgoing = _parse_item(raw)
        except InvalidInputError as exc:
            raise InvalidInputError(f"{where}: {_strip_item_name(exc.message)}") from exc
        if item.id in positions:
            raise InvalidInputError(f"{where}: the id appears twice in the document")
        positions[item.id] = index
        links.extend(outgoing)
    if count is not None and count != total:
        raise InvalidInputError(f"count is {count!r} but the document has {total} items")
    return DocumentIndex(positions, tuple(links))


def read_items(source: IO[bytes]) -> Iterator[KnowledgeItem]:
    """The items of a document :func:`scan_document` accepted, read from ``source`` one at
    a time (memory holds one item, whatever the document's size); not checked again (the
    store checks what it is given)."""
    for _index, raw in _raw_items(source):
        item, _links = _parse_item(raw, check=False)
        yield item


def _raw_items(source: IO[bytes]) -> Iterator[tuple[int, Any]]:
    index = 0
    try:
        for raw in ijson.items(source, "items.item", use_float=True):
            yield index, raw
            index += 1
    except ijson.JSONError as exc:
        raise InvalidInputError(f"the body is not a JSON document: {_json_error(exc)}") from None


def _parsed(values: Iterator[Any]) -> Iterator[Any]:
    """``values`` of the incremental parser, its errors as :class:`InvalidInputError`."""
    try:
        yield from values
    except ijson.JSONError as exc:
        raise InvalidInputError(f"the body is not a JSON document: {_json_error(exc)}") from None


_VALUE_STARTS = frozenset({"start_map", "start_array", "string", "number", "boolean", "null"})
_MISSING = object()


def _first(source: IO[bytes], start: int, key: str) -> Any:
    """The top-level ``key``'s value (a scalar), or :data:`_MISSING`: the parser stops at
    it, so a key near the start costs nearly nothing and one at the end one pass in C."""
    source.seek(start)
    return next(_parsed(ijson.items(source, key, use_float=True)), _MISSING)


def _check_header(source: IO[bytes], start: int) -> int | None:
    """The document is one JSON object of the right format and version with an ``items``
    list; the ``count`` it states, if any (checked against the items later). Nothing of
    the items is built here."""
    events = _parsed(ijson.parse(source, use_float=True))
    first = next(events, None)
    if first is None or first[1] != "start_map":
        raise InvalidInputError("the document must be a JSON object")
    items_kind = None
    for prefix, event, _value in events:  # up to the top-level "items" value only
        if prefix == "items" and event in _VALUE_STARTS:
            items_kind = event
            break
    if _first(source, start, "format") != FORMAT:
        raise InvalidInputError(f"the document's format must be {FORMAT!r}")
    version = _first(source, start, "version")
    if version != VERSION or isinstance(version, bool):
        shown = None if version is _MISSING else version
        raise InvalidInputError(f"unsupported version {shown!r} (expected 1)")
    if items_kind != "start_array":
        raise InvalidInputError("the document must have an 'items' list")
    count = _first(source, start, "count")
    if count is _MISSING or count is None:
        return None
    if not isinstance(count, int) or isinstance(count, bool):
        raise InvalidInputError(f"count must be the number of items, got {count!r}")
    return count


def _json_error(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


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


def _parse_item(raw: object, *, check: bool = True) -> tuple[KnowledgeItem, list[KnowledgeLink]]:
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
    item = KnowledgeItem(
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
    if not check:  # read again after a scan: the store checks the item, links are known
        return item, []
    check_item(item)
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
