"""What an outside probe sees around the routes: proxies never pass for the local
operator, 405 lists every method, trailing-slash redirects stay on this server, the
OpenAPI document names every status and content type, and planned 503s are told apart
in the metrics."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from aragora.server.app import create_app

from .support import ADMIN, client_for, make_settings, running_app

PROXY_HEADERS = [
    ("X-Forwarded-For", "203.0.113.9"),
    ("Forwarded", "for=203.0.113.9"),
    ("X-Real-IP", "203.0.113.9"),
    ("X-Client-IP", "203.0.113.9"),
    ("CF-Connecting-IP", "203.0.113.9"),
    ("True-Client-IP", "203.0.113.9"),
    ("X-Cluster-Client-IP", "203.0.113.9"),
    ("Fastly-Client-IP", "203.0.113.9"),
    ("X-Forwarded-Host", "aragora.example"),
    ("X-Forwarded-Proto", "https"),
    ("Via", "1.1 nginx"),
]


@pytest.mark.parametrize(("name", "value"), PROXY_HEADERS)
async def test_a_proxied_request_is_not_the_local_operator(
    client: httpx.AsyncClient, name: str, value: str
) -> None:
    assert (await client.get("/api/admin/stats")).status_code == 200
    refused = await client.get("/api/admin/stats", headers={name: value})
    assert refused.status_code == 401, name
    assert refused.json()["code"] == "unauthorized"
    token = {"Authorization": f"Bearer {ADMIN}", name: value}
    assert (await client.get("/api/admin/stats", headers=token)).status_code == 200


async def test_405_lists_every_method_of_the_path(client: httpx.AsyncClient) -> None:
    for path, allowed in (
        ("/api/v1/debates", "GET, POST"),
        ("/api/admin/maintenance", "GET, POST"),
        ("/api/v1/admin/maintenance", "GET, POST"),
        ("/api/v1/debates/some-id/cancel", "POST"),
        ("/api/v1/debates/some-id", "GET"),
    ):
        response = await client.request("DELETE", path)
        assert response.status_code == 405, path
        assert response.headers["allow"] == allowed, path
        assert response.json()["code"] == "method_not_allowed"


async def test_trailing_slash_redirect_is_relative(client: httpx.AsyncClient) -> None:
    hostile = {"Host": "evil.example"}
    response = await client.get("/api/v1/debates/?limit=5&status=queued", headers=hostile)
    assert response.status_code == 307
    assert response.headers["location"] == "/api/v1/debates?limit=5&status=queued"
    response = await client.get("/api/v1/debates/abc%20def/", headers=hostile)
    assert response.status_code == 307
    assert response.headers["location"] == "/api/v1/debates/abc%20def"
    followed = await client.get("/api/v1/debates/", follow_redirects=True)
    assert followed.status_code == 200
    assert "debates" in followed.json()
    # No route there, with or without the slash: a plain 404, never a redirect elsewhere.
    for path in ("//evil.example/", "/nothing/here/", "/api/v1/nothing"):
        # the raw path as sent (httpx would merge "//evil.example/" into its base URL)
        request = client.build_request("GET", "/")
        request.url = request.url.copy_with(raw_path=path.encode())
        missing = await client.send(request)
        assert missing.status_code == 404, path
        assert "location" not in missing.headers


async def test_openapi_names_every_status_and_content_type(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    paths = spec["paths"]

    def statuses(path: str, method: str = "get") -> set[str]:
        return set(paths[path][method]["responses"])

    assert {"400", "404", "422", "429", "503"} <= statuses("/api/v1/debates/{debate_id}")
    assert {"400", "413", "422", "429", "503"} <= statuses("/api/v1/debates", "post")
    assert "413" in statuses("/api/v1/admin/maintenance", "post")
    assert "404" in statuses("/api/v2/receipts/{receipt_id}/export")
    assert "429" not in statuses("/api/v1/health")
    assert "429" not in statuses("/metrics")
    assert "503" not in statuses("/healthz")
    too_many = paths["/api/v1/debates"]["post"]["responses"]["429"]
    assert too_many["headers"]["Retry-After"]["required"] is True
    assert too_many["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")

    def content(path: str) -> set[str]:
        return set(paths[path]["get"]["responses"]["200"]["content"])

    assert content("/.well-known/aragora-odr-signing-key") == {"application/x-pem-file"}
    assert content("/api/v2/receipts/chain") == {"application/json", "application/x-ndjson"}
    assert content("/api/v2/receipts/{receipt_id}/export") == {
        "application/json",
        "text/markdown",
        "text/html",
    }
    assert paths["/metrics"]["get"]["security"] == [{"bearer": []}, {}]  # auth is off here


async def test_planned_503s_are_labelled_in_the_metrics(
    app_client: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    _, client = app_client
    admin = {"Authorization": f"Bearer {ADMIN}"}
    on = {"enabled": True, "message": "upgrading"}
    assert (await client.post("/api/admin/maintenance", json=on, headers=admin)).status_code == 200
    refused = await client.post("/api/v1/debates", json={"task": "t"})
    assert refused.status_code == 503
    assert refused.json()["code"] == "maintenance"
    text = (await client.get("/metrics")).text
    assert (
        'aragora_http_requests_total{maintenance="true",method="POST",'
        'route="/api/v1/debates",status="503"} 1.0'
    ) in text
    assert 'maintenance="false",method="POST",route="/api/admin/maintenance",status="200"' in text


async def test_a_starting_server_503_is_not_planned(tmp_path: Path) -> None:
    # Before the lifespan ran, routes answer 503 "starting": an outage, not maintenance.
    app = create_app(make_settings(tmp_path))
    async with client_for(app) as client:
        assert (await client.get("/api/v1/debates")).status_code == 503
        assert (await client.get("/metrics")).status_code == 503
    text = app.state.aragora.metrics.render().decode()
    assert 'maintenance="false",method="GET",route="/api/v1/debates",status="503"' in text


async def test_metrics_scrape_under_required_auth(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, ARAGORA_REQUIRE_AUTH="true")
    async with running_app(settings) as (_, client):
        assert (await client.get("/metrics")).status_code == 401
        assert (await client.get("/api/v1/metrics/prometheus")).status_code == 401
        admin = {"Authorization": f"Bearer {ADMIN}"}
        assert (await client.get("/metrics", headers=admin)).status_code == 200
