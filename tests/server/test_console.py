"""The routes the web console needs beyond the SDK's: API tokens over HTTP (admin), the
maintenance notice for readers, and task search on the debate list."""

from __future__ import annotations

from pathlib import Path

import httpx

from .support import ADMIN, make_settings, running_app


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_tokens_create_list_revoke(tmp_path: Path) -> None:
    async with running_app(make_settings(tmp_path, ARAGORA_REQUIRE_AUTH="true")) as (_, client):
        created = await client.post(
            "/api/v1/admin/tokens",
            json={"name": " ci-bot ", "role": "viewer"},
            headers=bearer(ADMIN),
        )
        assert created.status_code == 201
        token = created.json()
        assert token["name"] == "ci-bot"
        assert token["role"] == "viewer"
        assert token["secret"].startswith("arg_")
        assert token["revoked"] is False
        # The secret works at once and is never listed.
        assert (
            await client.get("/api/v1/debates", headers=bearer(token["secret"]))
        ).status_code == 200
        listed = await client.get("/api/admin/tokens", headers=bearer(ADMIN))
        assert listed.status_code == 200
        assert [t["id"] for t in listed.json()["tokens"]] == [token["id"]]
        assert token["secret"] not in listed.text
        assert listed.json()["tokens"][0]["last_used_at"] is not None
        # A viewer may not manage tokens.
        refused = await client.get("/api/v1/admin/tokens", headers=bearer(token["secret"]))
        assert refused.status_code == 403
        revoked = await client.post(
            f"/api/v1/admin/tokens/{token['id']}/revoke", headers=bearer(ADMIN)
        )
        assert revoked.status_code == 200
        assert revoked.json()["revoked"] is True
        again = await client.post(
            f"/api/v1/admin/tokens/{token['id']}/revoke", headers=bearer(ADMIN)
        )
        assert again.json()["revoked_at"] == revoked.json()["revoked_at"]
        assert (
            await client.get("/api/v1/debates", headers=bearer(token["secret"]))
        ).status_code == 401


async def test_token_routes_need_an_admin_and_valid_input(client: httpx.AsyncClient) -> None:
    # Open mode (loopback) still keeps admin routes for admins.
    assert (await client.get("/api/v1/admin/tokens")).status_code == 401
    assert (
        await client.post("/api/v1/admin/tokens", json={"name": "x", "role": "viewer"})
    ).status_code == 401
    for body in ({"name": "", "role": "viewer"}, {"name": "x", "role": "root"}, {"name": "x"}):
        response = await client.post("/api/v1/admin/tokens", json=body, headers=bearer(ADMIN))
        assert response.status_code == 422, body
    listed = await client.get("/api/v1/admin/tokens", headers=bearer(ADMIN))
    assert listed.json() == {"tokens": [], "total": 0}
    missing = await client.post("/api/v1/admin/tokens/nope/revoke", headers=bearer(ADMIN))
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"


async def test_maintenance_notice_is_readable_without_admin(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/maintenance")).json() == {"enabled": False, "message": ""}
    await client.post(
        "/api/admin/maintenance",
        json={"enabled": True, "message": "back at 14:00"},
        headers=bearer(ADMIN),
    )
    notice = await client.get("/api/maintenance")
    assert notice.status_code == 200
    assert notice.json() == {"enabled": True, "message": "back at 14:00"}


async def test_maintenance_notice_needs_a_reader_when_auth_is_required(tmp_path: Path) -> None:
    async with running_app(make_settings(tmp_path, ARAGORA_REQUIRE_AUTH="true")) as (_, client):
        assert (await client.get("/api/v1/maintenance")).status_code == 401
        assert (await client.get("/api/v1/maintenance", headers=bearer(ADMIN))).status_code == 200


async def test_debate_list_searches_tasks(client: httpx.AsyncClient) -> None:
    for task in ("Should we use PostgreSQL?", "Tabs or spaces?", "PostgreSQL or SQLite?"):
        assert (await client.post("/api/v1/debates", json={"task": task})).status_code == 202
    found = (await client.get("/api/v1/debates", params={"q": "postgresql"})).json()
    assert sorted(d["task"] for d in found["debates"]) == [
        "PostgreSQL or SQLite?",
        "Should we use PostgreSQL?",
    ]
    assert found["total"] == 2
    assert (await client.get("/api/v1/debates", params={"q": "100%_"})).json()["total"] == 0
    assert (await client.get("/api/v1/debates", params={"q": ""})).json()["total"] == 3
    too_long = await client.get("/api/v1/debates", params={"q": "x" * 501})
    assert too_long.status_code == 422
