"""The export document: exact round trips, streaming, and validation that names the first
bad item."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from aragora.errors import InvalidInputError
from aragora.knowledge.format import export_chunks, parse_document
from aragora.records.knowledge import KnowledgeItem, KnowledgeLink

from .mound import Mound

T0 = datetime(2026, 1, 20, 12, 0, 0, 123456, tzinfo=UTC)


def item(n: int, **fields: Any) -> KnowledgeItem:
    values: dict[str, Any] = {
        "id": f"it-{n:03d}",
        "kind": "decision",
        "title": f"Question {n} — ünïcode “quotes”\nand a newline",
        "content": f"Answer {n}\n\nbecause {n}",
        "created_at": T0 + timedelta(microseconds=n),
        "updated_at": T0 + timedelta(seconds=n, microseconds=7),
        "source_debate_id": f"deb-{n}",
        "source_agent": None,
        "confidence": 0.1 * (n % 10) + 0.0333,
        "tags": ("mode:auto", f"t{n}"),
        "provenance": {"rounds": n, "agents": ["a", "b"], "nested": {"x": [1, 2.5, None]}},
    }
    values.update(fields)
    return KnowledgeItem(**values)


async def exported(store: Mound, batch: int = 1000) -> bytes:
    chunks = [c async for c in export_chunks(store, exported_at=T0, batch=batch)]
    return b"".join(chunks)


async def filled(n: int) -> Mound:
    store = Mound()
    items = [item(i) for i in range(n)]
    links = [KnowledgeLink(f"it-{i:03d}", "it-000", "supports", T0) for i in range(1, n, 2)]
    links += [KnowledgeLink("it-001", f"it-{i:03d}", "contradicts", T0) for i in range(2, n, 3)]
    await store.put(items, links)
    return store


@pytest.mark.parametrize("batch", [1, 2, 1000])
async def test_export_import_export_is_identical(batch: int) -> None:
    source = await filled(7)
    body = await exported(source, batch)
    document = json.loads(body)
    assert document["format"] == "aragora.knowledge"
    assert document["version"] == 1
    assert document["count"] == len(document["items"]) == 7
    assert [i["id"] for i in document["items"]] == sorted(i["id"] for i in document["items"])
    first = document["items"][1]
    assert first["created_at"] == "2026-01-20T12:00:00.123457+00:00"
    assert first["source"] == {"debate_id": "deb-1", "agent": None}
    assert {"kind": "supports", "target": "it-000"} in [
        {k: v for k, v in link.items() if k != "created_at"} for link in first["links"]
    ]

    parsed = parse_document(body)
    assert list(parsed.items) == list((await source.items()).values())
    assert set(parsed.links) == {link async for link in source.scan_links()}

    target = Mound()
    assert await target.put(parsed.items, parsed.links) == 7
    again = json.loads(await exported(target, batch))
    assert again["items"] == document["items"]


async def test_empty_export_is_a_valid_document() -> None:
    document = json.loads(await exported(Mound()))
    assert document == {
        "format": "aragora.knowledge",
        "version": 1,
        "exported_at": "2026-01-20T12:00:00.123456+00:00",
        "items": [],
        "count": 0,
    }
    assert parse_document(json.dumps(document)).items == ()


async def test_line_breaks_stripped_by_curl_leave_the_document_intact() -> None:
    body = await exported(await filled(3))
    pretty = json.dumps(json.loads(body), indent=2).encode()
    stripped = pretty.replace(b"\r", b"").replace(b"\n", b"")
    assert parse_document(stripped) == parse_document(body)


def document_with(*items: Any) -> bytes:
    return orjson.dumps({"format": "aragora.knowledge", "version": 1, "items": list(items)})


def good(n: int) -> dict[str, Any]:
    return {
        "id": f"ok-{n}",
        "kind": "note",
        "title": "A note",
        "content": "text",
        "source": {"debate_id": None, "agent": None},
        "confidence": None,
        "tags": [],
        "created_at": "2026-01-20T12:00:00.000001+00:00",
        "updated_at": "2026-01-20T12:00:00.000001+00:00",
        "provenance": {},
        "links": [],
    }


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"kind": "rumour"}, "kind must be one of"),
        ({"title": "  "}, "title must be"),
        ({"confidence": 1.5}, "confidence must be between 0 and 1"),
        ({"confidence": True}, "confidence must be a number"),
        ({"created_at": "yesterday"}, "created_at is not an ISO 8601 time"),
        ({"created_at": "2026-01-20T12:00:00"}, "created_at must carry a timezone"),
        ({"tags": "a,b"}, "tags must be a list of strings"),
        ({"links": [{"kind": "likes", "target": "ok-0"}]}, "links[0]"),
        ({"links": [{"kind": "supports", "target": "bad-1"}]}, "cannot link to itself"),
        ({"colour": "red"}, "unknown field 'colour'"),
        ({"provenance": []}, "provenance must be an object"),
    ],
)
def test_the_first_bad_item_is_named_by_index_and_id(change: dict[str, Any], problem: str) -> None:
    bad = {**good(1), "id": "bad-1", **change}
    worse = {**good(3), "kind": "nonsense", "id": "bad-3"}
    with pytest.raises(InvalidInputError) as caught:
        parse_document(document_with(good(0), bad, good(2), worse))
    assert caught.value.message.startswith("items[1] (id 'bad-1'): "), caught.value.message
    assert problem in caught.value.message


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"{not json", "not a JSON document"),
        (b"[]", "must be a JSON object"),
        (b'{"format": "other", "version": 1, "items": []}', "format must be"),
        (b'{"format": "aragora.knowledge", "version": 2, "items": []}', "unsupported version"),
        (b'{"format": "aragora.knowledge", "version": 1}', "'items' list"),
        (b'{"format": "aragora.knowledge", "version": 1, "items": [], "count": 3}', "count is 3"),
    ],
)
def test_a_malformed_document_is_refused(body: bytes, problem: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_document(body)
    assert problem in caught.value.message


def test_duplicate_ids_and_non_objects_are_named() -> None:
    with pytest.raises(InvalidInputError, match=r"items\[1\] \(id 'ok-0'\): the id appears twice"):
        parse_document(document_with(good(0), good(0)))
    with pytest.raises(InvalidInputError, match=r"items\[1\]: an item must be a JSON object"):
        parse_document(document_with(good(0), "nope"))


def test_times_in_other_zones_are_read_as_utc() -> None:
    other = {**good(0), "created_at": "2026-01-20T14:00:00.5+02:00"}
    parsed = parse_document(document_with(other))
    assert parsed.items[0].created_at == datetime(2026, 1, 20, 12, 0, 0, 500000, tzinfo=UTC)
    assert parsed.items[0].created_at.tzinfo == UTC
