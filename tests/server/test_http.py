"""Request hygiene and the error contract: shapes, codes, request ids, body limit,
security headers, CORS."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from aragora.errors import DatabaseUnavailableError, UnavailableError

from .support import client_for, make_settings, running_app, wait_recorded


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, str]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) >= {"error", "code", "trace_id"}
    assert body["code"] == code
    assert isinstance(body["error"], str)
    assert body["error"]
    assert body["trace_id"] == response.headers["x-request-id"]
    return body


async def test_unknown_route_is_a_contract_404(client: httpx.AsyncClient) -> None:
    for path in ("/api/v1/nope", "/nope", "/api/v1/debates/x/nope"):
        assert_error(await client.get(path), 404, "not_found")


async def test_wrong_method_is_405_with_allow(client: httpx.AsyncClient) -> None:
    response = await client.delete("/api/v1/debates")
    assert_error(response, 405, "method_not_allowed")
    assert response.headers["allow"] in ("GET", "POST", "GET, POST")


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=1001", "offset=-1", "limit=abc", "status=bogus"],
)
async def test_bad_list_query_is_422(client: httpx.AsyncClient, query: str) -> None:
    body = assert_error(await client.get(f"/api/v1/debates?{query}"), 422, "validation_error")
    assert body["error"].startswith("query.")


async def test_list_bounds_are_accepted(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/debates?limit=1000&offset=0&status=completed")
    assert response.status_code == 200
    assert response.json()["limit"] == 1000


async def test_missing_task_is_422_and_bad_json_400(client: httpx.AsyncClient) -> None:
    assert_error(await client.post("/api/v1/debates", json={}), 422, "validation_error")
    assert_error(await client.post("/api/v1/debates", json={"task": ""}), 422, "validation_error")
    response = await client.post(
        "/api/v1/debates", content=b'{"task": ', headers={"content-type": "application/json"}
    )
    assert_error(response, 400, "invalid_json")


async def test_domain_errors_are_400_naming_the_problem(client: httpx.AsyncClient) -> None:
    body = assert_error(
        await client.post("/api/v1/debates", json={"task": "t", "agents": ["nosuch:model"]}),
        400,
        "invalid_agent_spec",
    )
    assert "nosuch:model" in body["error"]
    body = assert_error(
        await client.post("/api/v1/debates", json={"task": "t", "surprise": 1}),
        400,
        "invalid_input",
    )
    assert "surprise" in body["error"]


async def test_unknown_debate_is_404_and_finished_cancel_409(client: httpx.AsyncClient) -> None:
    for path in ("/api/v1/debates/missing", "/api/debates/missing/messages"):
        assert_error(await client.get(path), 404, "not_found")
    assert_error(await client.get("/api/v1/debates/missing/events"), 404, "not_found")
    assert_error(await client.post("/api/v1/debates/missing/cancel"), 404, "not_found")
    created = (await client.post("/api/v1/debates", json={"task": "Is 2+2 four?"})).json()
    assert await wait_recorded(client, created["debate_id"]) == "completed"
    response = await client.post(f"/api/v1/debates/{created['debate_id']}/cancel")
    assert_error(response, 409, "conflict")


async def test_request_id_is_echoed_when_sane(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/health", headers={"X-Request-ID": "abc.DEF_1-2"})
    assert response.headers["x-request-id"] == "abc.DEF_1-2"
    for bad in ("has space", "x" * 129, "semi;colon", ""):
        response = await client.get("/api/health", headers={"X-Request-ID": bad})
        generated = response.headers["x-request-id"]
        assert generated != bad
        assert len(generated) == 32
    first = (await client.get("/healthz")).headers["x-request-id"]
    second = (await client.get("/healthz")).headers["x-request-id"]
    assert first != second


async def test_error_trace_id_is_the_request_id(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/nope", headers={"X-Request-ID": "trace-42"})
    assert response.json()["trace_id"] == "trace-42"


async def test_security_headers_on_every_response(client: httpx.AsyncClient) -> None:
    for response in (
        await client.get("/api/health"),
        await client.get("/api/v1/nope"),
        await client.get("/api/v1/debates"),
    ):
        headers = response.headers
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["cache-control"] == "no-store"
        assert "default-src 'none'" in headers["content-security-policy"]


async def test_body_over_the_limit_is_413(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, ARAGORA_MAX_BODY_BYTES="2048")
    async with running_app(settings) as (_, client):
        big = {"task": "x" * 4000}
        response = await client.post("/api/v1/debates", json=big)
        assert_error(response, 413, "payload_too_large")

        async def chunks() -> AsyncIterator[bytes]:
            yield b'{"task": "'
            for _ in range(10):
                yield b"y" * 500
            yield b'"}'

        streamed = await client.post(
            "/api/v1/debates", content=chunks(), headers={"content-type": "application/json"}
        )
        assert "content-length" not in streamed.request.headers
        assert_error(streamed, 413, "payload_too_large")

        async def small() -> AsyncIterator[bytes]:
            yield b'{"task": "fits"}'

        accepted = await client.post(
            "/api/v1/debates", content=small(), headers={"content-type": "application/json"}
        )
        assert accepted.status_code == 202


async def test_unexpected_errors_are_generic_500s(
    app_client: tuple[FastAPI, httpx.AsyncClient], caplog: pytest.LogCaptureFixture
) -> None:
    app, client = app_client

    async def boom() -> None:
        raise RuntimeError("secret internals: password=hunter2")

    async def db_down() -> None:
        raise DatabaseUnavailableError("postgresql://u:***@db/aragora unreachable")

    async def busy() -> None:
        raise UnavailableError("busy", retry_after=7.2)

    app.add_api_route("/test/boom", boom)
    app.add_api_route("/test/db", db_down)
    app.add_api_route("/test/busy", busy)
    response = await client.get("/test/boom", headers={"X-Request-ID": "boom-1"})
    body = assert_error(response, 500, "internal_error")
    assert "hunter2" not in response.text
    assert "RuntimeError" not in response.text
    assert any("boom-1" in str(getattr(r, "aragora_fields", "")) for r in caplog.records)
    assert body["trace_id"] == "boom-1"

    response = await client.get("/test/db")
    assert_error(response, 503, "database_unavailable")
    assert int(response.headers["retry-after"]) <= 5
    assert "postgresql" not in response.text

    response = await client.get("/test/busy")
    assert_error(response, 503, "unavailable")
    assert response.headers["retry-after"] == "8"


async def test_cors_is_off_by_default(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/health", headers={"Origin": "https://ui.example"})
    assert "access-control-allow-origin" not in response.headers
    preflight = await client.options(
        "/api/v1/debates",
        headers={"Origin": "https://ui.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers


async def test_cors_allows_configured_origins(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, ARAGORA_CORS_ORIGINS="https://ui.example")
    async with running_app(settings) as (app, _), client_for(app) as client:
        response = await client.get("/api/health", headers={"Origin": "https://ui.example"})
        assert response.headers["access-control-allow-origin"] == "https://ui.example"
        assert "x-request-id" in response.headers["access-control-expose-headers"].lower()
        preflight = await client.options(
            "/api/v1/debates",
            headers={
                "Origin": "https://ui.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://ui.example"
        assert "x-request-id" in preflight.headers
        other = await client.get("/api/health", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


async def test_unversioned_alias_serves_the_same(client: httpx.AsyncClient) -> None:
    created = (await client.post("/api/debates", json={"task": "Alias?"})).json()
    assert created["status"] == "queued"
    a = await client.get(f"/api/debates/{created['debate_id']}")
    b = await client.get(f"/api/v1/debates/{created['debate_id']}")
    assert a.status_code == b.status_code == 200
    assert a.json()["id"] == b.json()["id"]
