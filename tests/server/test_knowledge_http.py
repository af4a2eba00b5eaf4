"""The Knowledge Mound over HTTP: access rules, export/import (all or nothing, idempotent,
exact round trips, any content type), the UI's routes, and past decisions in new debates."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from .support import ADMIN, live_server, make_settings, node_of, running_app, wait_for_status

KNOWLEDGE_EXPORT = """curl -X POST http://localhost:8080/api/knowledge/export \\
-H "Authorization: Bearer $ADMIN_TOKEN" \\
-o knowledge_backup.json"""
KNOWLEDGE_IMPORT = """curl -X POST http://localhost:8080/api/knowledge/import \\
-H "Authorization: Bearer $ADMIN_TOKEN" \\
-d @knowledge_backup.json"""
ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN}"}
QUESTION = "Should we use PostgreSQL or MySQL for our new service?"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def item(n: int, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": f"note-{n:02d}",
        "kind": "note",
        "title": f"Note {n} about caching",
        "content": f"Line one\nline two of note {n}",
        "source": {"debate_id": None, "agent": None},
        "confidence": 0.5,
        "tags": ["ops"],
        "created_at": f"2026-01-20T12:00:{n:02d}.000123+00:00",
        "updated_at": f"2026-01-20T12:00:{n:02d}.000123+00:00",
        "provenance": {"author": "ops"},
        "links": [],
    }
    body.update(fields)
    return body


def document(*items: dict[str, Any]) -> dict[str, Any]:
    return {
        "format": "aragora.knowledge",
        "version": 1,
        "exported_at": "2026-01-21T00:00:00.000000+00:00",
        "count": len(items),
        "items": list(items),
    }


SAMPLE = document(
    item(1),
    item(2, links=[{"kind": "supports", "target": "note-01"}]),
    item(3, kind="evidence", links=[{"kind": "contradicts", "target": "note-02"}]),
)


async def export(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.post("/api/knowledge/export", headers=ADMIN_HEADERS)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    return body


async def import_(client: httpx.AsyncClient, body: Any, **headers: str) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await client.post(
        "/api/knowledge/import", content=content, headers={**ADMIN_HEADERS, **headers}
    )


async def make_tokens(app: FastAPI) -> dict[str, str]:
    tokens = {}
    for role in ("viewer", "operator", "admin"):
        secret = f"{role}-knowledge-token"
        await node_of(app).tokens.create(name=f"{role}-bot", role=role, secret=secret)
        tokens[role] = secret
    return tokens


async def test_admin_routes_need_an_admin_token(tmp_path: Path) -> None:
    async with running_app(make_settings(tmp_path)) as (app, client):
        tokens = await make_tokens(app)
        admin_calls = [
            ("POST", "/api/knowledge/export"),
            ("GET", "/api/v1/knowledge/export?format=json"),
            ("POST", "/api/knowledge/import"),
            ("DELETE", "/api/v1/knowledge/items/note-01"),
        ]
        for method, path in admin_calls:
            missing = await client.request(method, path, content=json.dumps(SAMPLE))
            assert missing.status_code == 401, (path, missing.text)
            assert missing.json()["code"] == "unauthorized"
            assert set(missing.json()) == {"error", "code", "trace_id"}
            wrong = await client.request(method, path, headers=bearer("not-a-token"))
            assert wrong.status_code == 401, (path, wrong.text)
            for role in ("viewer", "operator"):
                weak = await client.request(method, path, headers=bearer(tokens[role]))
                assert weak.status_code == 403, (path, role, weak.text)
                assert weak.json()["code"] == "forbidden"
        assert await node_of(app).storage.knowledge.count() == 0  # nothing got through
        ok = await client.get("/api/v1/knowledge/export", headers=bearer(tokens["admin"]))
        assert ok.status_code == 200


async def test_reads_and_notes_follow_the_read_and_write_rules(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, ARAGORA_REQUIRE_AUTH="true")
    async with running_app(settings) as (app, client):
        tokens = await make_tokens(app)
        assert (await client.get("/api/v1/knowledge/search?q=x")).status_code == 401
        viewer = bearer(tokens["viewer"])
        assert (await client.get("/api/v1/knowledge/search?q=x", headers=viewer)).status_code == 200
        note = {"title": "Caching policy", "content": "Use Redis."}
        assert (await client.post("/api/v1/knowledge/items", json=note)).status_code == 401
        denied = await client.post("/api/v1/knowledge/items", json=note, headers=viewer)
        assert denied.status_code == 403
        created = await client.post(
            "/api/v1/knowledge/items", json=note, headers=bearer(tokens["operator"])
        )
        assert created.status_code == 201, created.text
        assert created.json()["provenance"] == {"author": "operator-bot"}


async def test_export_then_import_into_an_empty_server_gives_identical_items(
    tmp_path: Path,
) -> None:
    async with running_app(make_settings(tmp_path / "a")) as (_, client):
        first = await import_(client, SAMPLE)
        assert first.status_code == 200, first.text
        assert first.json() == {"imported": 3, "unchanged": 0, "count": 3}
        backup = await export(client)
        assert backup["count"] == 3
        assert [i["id"] for i in backup["items"]] == ["note-01", "note-02", "note-03"]
        assert backup["items"][0]["created_at"] == "2026-01-20T12:00:01.000123+00:00"
        assert backup["items"][1]["links"][0]["target"] == "note-01"
        via_get = await client.get("/api/v1/knowledge/export?format=json", headers=ADMIN_HEADERS)
        assert via_get.json()["items"] == backup["items"]
        bad_format = await client.get("/api/v1/knowledge/export?format=xml", headers=ADMIN_HEADERS)
        assert bad_format.status_code == 422

    async with running_app(make_settings(tmp_path / "b")) as (_, client):
        assert (await export(client))["items"] == []
        restored = await import_(client, backup)
        assert restored.json() == {"imported": 3, "unchanged": 0, "count": 3}
        again = await import_(client, backup)  # importing twice changes nothing
        assert again.json() == {"imported": 0, "unchanged": 3, "count": 3}
        assert (await export(client))["items"] == backup["items"]


async def test_the_body_is_json_whatever_the_content_type_says(tmp_path: Path) -> None:
    pretty = json.dumps(SAMPLE, indent=2).encode()
    as_curl_sends_it = pretty.replace(b"\r", b"").replace(b"\n", b"")
    async with running_app(make_settings(tmp_path)) as (_, client):
        response = await import_(
            client, as_curl_sends_it, **{"Content-Type": "application/x-www-form-urlencoded"}
        )
        assert response.status_code == 200, response.text
        assert response.json()["imported"] == 3
        plain = await import_(client, pretty, **{"Content-Type": "text/plain"})
        assert plain.json() == {"imported": 0, "unchanged": 3, "count": 3}


async def test_a_bad_document_imports_nothing_and_names_the_first_bad_item(
    tmp_path: Path,
) -> None:
    async with running_app(make_settings(tmp_path)) as (app, client):
        bad = document(item(1), item(2), item(3, kind="gossip"), item(4, kind="rumour"))
        response = await import_(client, bad)
        assert response.status_code == 400
        body = response.json()
        assert body["code"] == "invalid_input"
        assert body["error"].startswith("items[2] (id 'note-03'): kind must be one of")
        assert set(body) == {"error", "code", "trace_id"}

        dangling = document(item(1), item(2, links=[{"kind": "supports", "target": "nowhere"}]))
        response = await import_(client, dangling)
        assert response.status_code == 400
        assert response.json()["error"].startswith("items[1] (id 'note-02'): links to 'nowhere'")

        for junk in (b"", b"payload=%7B%7D", b"[1, 2]", b'{"format": "zip"}'):
            response = await import_(client, junk)
            assert response.status_code == 400, junk
        assert await node_of(app).storage.knowledge.count() == 0


async def test_an_import_may_exceed_the_general_body_limit(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, ARAGORA_MAX_BODY_BYTES="2048")
    big = document(*(item(n, content="x" * 500) for n in range(20)))
    async with running_app(settings) as (_, client):
        debate = await client.post("/api/v1/debates", json={"task": "t", "context": "x" * 4000})
        assert debate.status_code == 413
        response = await import_(client, big)
        assert response.status_code == 200, response.text
        assert response.json()["count"] == 20


async def test_search_get_note_and_delete(tmp_path: Path) -> None:
    async with running_app(make_settings(tmp_path)) as (_, client):
        await import_(client, SAMPLE)
        found = await client.get("/api/v1/knowledge/search", params={"q": "caching", "limit": 2})
        assert found.status_code == 200
        body = found.json()
        assert body["query"] == "caching"
        assert body["total"] == len(body["results"]) == 2
        assert {"id", "kind", "title", "score", "snippet"} <= set(body["results"][0])
        only = await client.get(
            "/api/knowledge/search", params={"q": "caching", "kind": "evidence"}
        )
        assert [r["id"] for r in only.json()["results"]] == ["note-03"]
        assert (await client.get("/api/v1/knowledge/search?q=x&limit=0")).status_code == 422

        got = await client.get("/api/v1/knowledge/items/note-02")
        assert got.status_code == 200
        assert got.json()["links"][0]["target"] == "note-01"
        assert got.json()["backlinks"][0] == {
            "kind": "contradicts",
            "source": "note-03",
            "created_at": "2026-01-20T12:00:03.000123+00:00",
        }
        missing = await client.get("/api/v1/knowledge/items/nope")
        assert missing.status_code == 404
        assert missing.json()["code"] == "not_found"

        note = {
            "title": "Prefer Redis",
            "content": "Our caching choice.",
            "tags": ["ops"],
            "links": [{"kind": "supports", "target": "note-01"}],
        }
        created = await client.post("/api/v1/knowledge/items", json=note)
        assert created.status_code == 201, created.text
        note_id = created.json()["id"]
        assert created.json()["kind"] == "note"
        assert created.json()["links"][0]["target"] == "note-01"
        dangling = {**note, "links": [{"kind": "supports", "target": "nowhere"}]}
        assert (await client.post("/api/v1/knowledge/items", json=dangling)).status_code == 400

        deleted = await client.delete(f"/api/v1/knowledge/items/{note_id}", headers=ADMIN_HEADERS)
        assert deleted.json() == {"deleted": note_id}
        assert (await client.get(f"/api/v1/knowledge/items/{note_id}")).status_code == 404
        gone = await client.delete(f"/api/v1/knowledge/items/{note_id}", headers=ADMIN_HEADERS)
        assert gone.status_code == 404


async def test_a_debate_on_a_close_question_is_shown_the_earlier_decision(tmp_path: Path) -> None:
    async with running_app(make_settings(tmp_path)) as (app, client):
        first = await _debate(client, QUESTION)
        decision = f"dec-{first['id']}"
        assert decision in first["knowledge_items"]
        got = await client.get(f"/api/v1/knowledge/items/{decision}")
        assert got.json()["provenance"]["answer"] == first["final_answer"]

        second = await _debate(
            client, "Should we use PostgreSQL or MySQL for our new billing service?"
        )
        assert [r["id"] for r in second["references"]] == [decision]
        assert second["references"][0]["debate_id"] == first["id"]
        assert f"[{decision}]" in second["context"]
        assert first["final_answer"] in second["context"]
        events = await node_of(app).storage.events.read(second["id"])
        assert events[0].data["references"] == second["references"]


async def _debate(client: httpx.AsyncClient, task: str) -> dict[str, Any]:
    created = await client.post("/api/v1/debates", json={"task": task})
    assert created.status_code == 202, created.text
    debate_id = created.json()["id"]
    document = await wait_for_status(client, debate_id, ("completed", "failed"))
    for _ in range(500):  # its knowledge is stored with the final document
        if "knowledge_items" in document:
            return document
        await asyncio.sleep(0.02)
        document = (await client.get(f"/api/v1/debates/{debate_id}")).json()
    raise AssertionError(f"debate {debate_id} was not ingested: {document}")


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl on PATH")
async def test_the_runbook_commands_restore_a_pretty_printed_backup(tmp_path: Path) -> None:
    # The runbook's lines verbatim against a live server; the backup file is pretty-printed
    # (as an operator's tools may leave it), which curl -d sends with its newlines stripped.
    (tmp_path / "knowledge_backup.json").write_text(json.dumps(SAMPLE, indent=2))
    settings = make_settings(tmp_path)
    async with running_app(settings) as (app, _), live_server(app) as base_url:
        port = base_url.rsplit(":", 1)[1]

        async def run(command: str) -> str:
            done = await asyncio.to_thread(
                subprocess.run,
                ["bash", "-c", command.replace("localhost:8080", f"127.0.0.1:{port}")],
                cwd=tmp_path,
                env={"PATH": "/usr/bin:/bin", "ADMIN_TOKEN": ADMIN, "NO_PROXY": "*"},
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
            assert done.returncode == 0, done.stderr
            return done.stdout

        assert json.loads(await run(KNOWLEDGE_IMPORT)) == {
            "imported": 3,
            "unchanged": 0,
            "count": 3,
        }
        assert json.loads(await run(KNOWLEDGE_IMPORT))["imported"] == 0
        await run(KNOWLEDGE_EXPORT)
        backup = json.loads((tmp_path / "knowledge_backup.json").read_text())
        assert [i["id"] for i in backup["items"]] == ["note-01", "note-02", "note-03"]
        assert backup["items"] == [
            {**i, "links": backup["items"][n]["links"]} for n, i in enumerate(SAMPLE["items"])
        ]


async def test_the_routes_are_documented(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    for method, path in [
        ("post", "/api/v1/knowledge/export"),
        ("get", "/api/v1/knowledge/export"),
        ("post", "/api/v1/knowledge/import"),
        ("get", "/api/v1/knowledge/search"),
        ("post", "/api/v1/knowledge/items"),
        ("get", "/api/v1/knowledge/items/{item_id}"),
        ("delete", "/api/v1/knowledge/items/{item_id}"),
    ]:
        assert method in paths.get(path, {}), f"{method.upper()} {path}"
    assert "/api/knowledge/export" not in paths  # the alias is served, not documented twice


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        # taken on SQLite, which kept a 300-character name; PostgreSQL cannot hold it
        ({"source": {"debate_id": "d", "agent": "L" * 300}}, "source.agent must be at most 200"),
        # valid ISO 8601, but past the year 9999 once in UTC
        ({"created_at": "9999-12-31T23:59:59-00:01"}, "created_at is out of range"),
        ({"title": "nul \u0000 in a title"}, "title must not contain NUL"),
    ],
)
async def test_an_item_no_backend_could_store_is_a_400_naming_it(
    tmp_path: Path, bad: dict[str, Any], problem: str
) -> None:
    async with running_app(make_settings(tmp_path)) as (app, client):
        response = await import_(client, document(item(1), item(2), item(3), {**item(4), **bad}))
        assert response.status_code == 400, response.text
        assert response.json()["error"].startswith(f"items[3] (id 'note-04'): {problem}")
        assert await node_of(app).storage.knowledge.count() == 0


async def test_a_large_import_streams_in_chunks(tmp_path: Path) -> None:
    """The body arrives in many chunks (as a large upload does) and is read from a spool
    file, item by item: the result is the same as a small one's."""
    body = json.dumps(document(*(item(n, content="y" * 2000) for n in range(60)))).encode()

    async def chunks() -> Any:
        for start in range(0, len(body), 1000):
            yield body[start : start + 1000]

    async with running_app(make_settings(tmp_path)) as (_, client):
        response = await client.post(
            "/api/knowledge/import",
            content=chunks(),
            headers={**ADMIN_HEADERS, "Content-Type": "application/x-www-form-urlencoded"},
        )
        assert response.status_code == 200, response.text
        assert response.json() == {"imported": 60, "unchanged": 0, "count": 60}
