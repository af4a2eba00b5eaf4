"""The OpenAPI document and the local docs page."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from aragora.server.app import create_app

from .support import make_settings

# Every HTTP route of CONTRACT.md but knowledge and receipts (other issues).
CONTRACT_ROUTES = [
    ("get", "/api/v1/health"),
    ("get", "/api/v1/admin/stats"),
    ("get", "/api/v1/admin/maintenance"),
    ("post", "/api/v1/admin/maintenance"),
    ("get", "/api/v1/metrics/prometheus"),
    ("get", "/metrics"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("post", "/api/v1/debates"),
    ("get", "/api/v1/debates"),
    ("get", "/api/v1/debates/{debate_id}"),
    ("get", "/api/v1/debates/{debate_id}/messages"),
    ("get", "/api/v1/debates/{debate_id}/events"),
    ("post", "/api/v1/debates/{debate_id}/cancel"),
    ("get", "/api/v1/agents"),
    ("get", "/api/v1/leaderboard"),
    ("get", "/api/v1/evals"),
    ("get", "/api/v1/evals/{name}"),
    ("get", "/api/v1/debates/{debate_id}/receipt"),
    ("get", "/api/v2/receipts/{receipt_id}"),
    ("get", "/api/v2/receipts/{receipt_id}/export"),
    ("get", "/api/v2/receipts/signing-key"),
    ("get", "/.well-known/aragora-odr-signing-key"),
]


@pytest.fixture
async def spec(client: httpx.AsyncClient) -> dict:  # type: ignore[type-arg]
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    document: dict = response.json()  # type: ignore[type-arg]
    return document


async def test_every_contract_route_is_documented(spec: dict) -> None:  # type: ignore[type-arg]
    assert spec["openapi"].startswith("3.")
    assert spec["info"]["title"] == "Aragora"
    for method, path in CONTRACT_ROUTES:
        assert method in spec["paths"].get(path, {}), f"{method.upper()} {path}"
    # The unversioned aliases are served but not documented twice.
    # The unversioned aliases are served but not documented twice; v2 is the receipts API.
    assert not [
        p
        for p in spec["paths"]
        if p.startswith("/api/") and not p.startswith(("/api/v1", "/api/v2"))
    ]


async def test_operations_are_complete(spec: dict) -> None:  # type: ignore[type-arg]
    schemas = spec["components"]["schemas"]
    assert {"ErrorBody", "HealthBody", "DebateDocument", "CreateDebateRequest"} <= set(schemas)
    operation_ids = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            operation_ids.append(op["operationId"])
            assert op.get("summary"), f"{method} {path}"
            for status, response in op["responses"].items():
                assert response.get("description"), f"{method} {path} {status}"
            if path.startswith("/api/v1/") and "health" not in path and "metrics" not in path:
                assert "401" in op["responses"], f"{method} {path}"
                error = op["responses"]["401"]["content"]["application/json"]["schema"]
                assert error["$ref"] == "#/components/schemas/ErrorBody"
            for ref in re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', str(op)):
                assert ref in schemas
    assert len(operation_ids) == len(set(operation_ids))
    create = spec["paths"]["/api/v1/debates"]["post"]
    assert "202" in create["responses"]
    assert "503" in create["responses"]
    assert create["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "CreateDebateRequest"
    )
    listing = {p["name"]: p for p in spec["paths"]["/api/v1/debates"]["get"]["parameters"]}
    assert listing["limit"]["schema"]["maximum"] == 1000
    assert listing["limit"]["schema"]["minimum"] == 1
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    # Bound to loopback, auth is off: a token is optional on reads and writes, required on
    # admin routes; the stats also answer the local operator without one.
    assert create["security"] == [{"bearer": []}, {}]
    assert spec["paths"]["/api/v1/admin/maintenance"]["post"]["security"] == [{"bearer": []}]
    assert spec["paths"]["/api/v1/admin/stats"]["get"]["security"] == [{"bearer": []}, {}]
    assert "security" not in spec["paths"]["/api/v1/health"]["get"]


async def test_security_follows_require_auth(tmp_path: Path) -> None:
    spec = create_app(make_settings(tmp_path, ARAGORA_REQUIRE_AUTH="true")).openapi()
    paths = spec["paths"]
    assert paths["/api/v1/debates"]["post"]["security"] == [{"bearer": []}]
    assert paths["/api/v1/debates"]["get"]["security"] == [{"bearer": []}]
    assert paths["/metrics"]["get"]["security"] == [{"bearer": []}]
    assert paths["/api/v1/admin/stats"]["get"]["security"] == [{"bearer": []}, {}]
    assert "security" not in paths["/api/v2/receipts/signing-key"]["get"]


async def test_docs_page_is_local_only(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "default-src 'none'" in csp
    assert "http://" not in page.text
    assert "https://" not in page.text
    for asset in ("/docs/docs.js", "/docs/docs.css"):
        response = await client.get(asset)
        assert response.status_code == 200
        assert "http://" not in response.text
        assert "https://" not in response.text
    assert (await client.get("/redoc")).status_code == 404
    assert (await client.get("/docs/oauth2-redirect")).status_code == 404
