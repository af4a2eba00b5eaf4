"""Knowledge import on every backend: what one backend exported, any other imports or
refuses with a 400-style error naming the item (never a database error), all or nothing,
streamed from a file."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from aragora.errors import InvalidInputError
from aragora.knowledge.service import KnowledgeService
from aragora.records.debates import Storage


def item(n: int, **fields: Any) -> dict[str, Any]:
    return {
        "id": f"it-{n}",
        "kind": "claim",
        "title": f"Claim {n}",
        "content": "text\nwith a line break and a tab\t",
        "source": {"debate_id": f"deb-{n}", "agent": "demo:skeptic"},
        "confidence": 0.5,
        "tags": ["t"],
        "created_at": "2026-01-20T12:00:00.000001+00:00",
        "updated_at": "2026-01-20T12:00:00.000001+00:00",
        "provenance": {"round": 1},
        "links": [],
        **fields,
    }


def document(*items: dict[str, Any]) -> bytes:
    body = {"format": "aragora.knowledge", "version": 1, "items": list(items)}
    return json.dumps({**body, "count": len(items)}).encode()


def service(store: Storage) -> KnowledgeService:
    return KnowledgeService(
        store.knowledge, store.knowledge_index, now=lambda: datetime(2026, 2, 1, tzinfo=UTC)
    )


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        ({"source": {"debate_id": "d", "agent": "L" * 300}}, "source.agent must be at most 200"),
        ({"source": {"debate_id": "d" * 201, "agent": None}}, "source.debate_id must be at most"),
        ({"source": {"debate_id": "d", "agent": "a\u001bb"}}, "source.agent must not contain"),
        ({"id": "x\u0000"}, "id must not contain NUL"),
        ({"tags": ["ok", "bad\nline"]}, "tags[1] must not contain control"),
        ({"content": "a\u0000b"}, "content must not contain NUL"),
        ({"provenance": {"note": "a\u0000b"}}, "provenance.note must not contain NUL"),
        ({"created_at": "9999-12-31T23:59:59-00:01"}, "created_at is out of range"),
        ({"links": [{"kind": "supports", "target": "y" * 201}]}, "links[0]"),
    ],
)
async def test_an_item_that_does_not_fit_every_backend_is_named(
    store: Storage, bad: dict[str, Any], problem: str
) -> None:
    body = document(item(0), item(1), item(2), {**item(3), **bad})
    with pytest.raises(InvalidInputError) as caught:
        await service(store).import_document(body)
    assert caught.value.message.startswith(f"items[3] (id {item(3, **bad)['id']!r}): ")
    assert problem in caught.value.message
    assert await store.knowledge.count() == 0


async def test_an_import_from_a_file_is_all_or_nothing_and_idempotent(
    store: Storage, tmp_path: Path
) -> None:
    items = [item(n, links=[{"kind": "supports", "target": f"it-{n + 1}"}]) for n in range(2500)]
    items[-1]["links"] = []
    path = tmp_path / "backup.json"
    path.write_bytes(document(*items))
    with path.open("rb") as source:
        assert await service(store).import_document(source) == {
            "imported": 2500,
            "unchanged": 0,
            "count": 2500,
        }
    with path.open("rb") as source:
        assert await service(store).import_document(source) == {
            "imported": 0,
            "unchanged": 2500,
            "count": 2500,
        }
    # a bad item after more than a write batch of good ones: nothing of it is stored
    later = [item(n + 5000) for n in range(2100)] + [item(9999, kind="rumour")]
    with pytest.raises(InvalidInputError, match=r"items\[2100\] \(id 'it-9999'\)"):
        await service(store).import_document(io.BytesIO(document(*later)))
    assert await store.knowledge.count() == 2500
    assert len(await store.knowledge.links("it-1")) == 2
