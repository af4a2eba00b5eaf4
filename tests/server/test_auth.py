"""The access rules: tokens, roles, the local-operator rule, and the admin token file."""

from __future__ import annotations

import stat
from pathlib import Path

import httpx
import pytest

from aragora.errors import ConfigurationError, InvalidInputError
from aragora.runtime.auth import ensure_admin_token

from .support import ADMIN, client_for, make_settings, node_of, running_app


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def make_tokens(app: object) -> dict[str, str]:
    node = node_of(app)  # type: ignore[arg-type]
    secrets = {}
    for role in ("viewer", "operator", "admin"):
        secret = f"{role}-secret-token-value"
        await node.tokens.create(name=f"{role}-bot", role=role, secret=secret)
        secrets[role] = secret
    return secrets


def assert_401(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["code"] == "unauthorized"
    assert response.headers["www-authenticate"] == "Bearer"


def assert_403(response: httpx.Response) -> None:
    assert response.status_code == 403, response.text
    assert response.json()["code"] == "forbidden"


async def test_open_mode_reads_and_creates_without_a_token(tmp_path: Path) -> None:
    async with running_app(make_settings(tmp_path, ARAGORA_REQUIRE_AUTH="false")) as (app, client):
        tokens = await make_tokens(app)
        assert (await client.get("/api/v1/debates")).status_code == 200
        assert (await client.get("/api/v1/agents")).status_code == 200
        assert (await client.post("/api/v1/debates", json={"task": "t"})).status_code == 202
        # Admin routes still need an admin token.
        assert_401(await client.get("/api/admin/maintenance"))
        assert_401(await client.post("/api/admin/maintenance", json={"enabled": True}))
        assert_403(await client.get("/api/admin/maintenance", headers=bearer(tokens["operator"])))
        ok = await client.get("/api/admin/maintenance", headers=bearer(ADMIN))
        assert ok.status_code == 200
        assert ok.json() == {"enabled": False, "message": ""} or ok.json()["enabled"] is False
        ok = await client.get("/api/v1/admin/maintenance", headers=bearer(tokens["admin"]))
        assert ok.status_code == 200
        # A token given is validated even where none is needed.
        assert_401(await client.get("/api/v1/debates", headers=bearer("wrong")))
        assert_401(await client.get("/api/v1/debates", headers={"Authorization": "Basic eDp5"}))
        # ... but its role is not held against it where anonymous callers may go.
        viewer = bearer(tokens["viewer"])
        assert (
            await client.post("/api/v1/debates", json={"task": "t"}, headers=viewer)
        ).status_code == 202


async def test_required_auth_roles(tmp_path: Path) -> None:
    async with running_app(make_settings(tmp_path, ARAGORA_REQUIRE_AUTH="true")) as (app, client):
        tokens = await make_tokens(app)
        viewer, operator, admin = (bearer(tokens[r]) for r in ("viewer", "operator", "admin"))
        # Health and probes never need a token.
        assert (await client.get("/api/health")).status_code == 200
        assert (await client.get("/api/v1/health")).status_code == 200
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/readyz")).status_code == 200
        # Metrics are a read like any other: a viewer token (Prometheus gets one).
        for path in ("/metrics", "/api/v1/metrics/prometheus", "/api/metrics/prometheus"):
            assert_401(await client.get(path))
            scraped = await client.get(path, headers=viewer)
            assert scraped.status_code == 200
            assert "aragora_http_requests_total" in scraped.text
        assert_401(await client.get("/api/v1/debates"))
        assert_401(await client.get("/api/v1/agents"))
        assert_401(await client.get("/api/leaderboard"))
        assert_401(await client.post("/api/v1/debates", json={"task": "t"}))
        assert_401(await client.get("/api/v1/debates", headers=bearer("nope")))
        # ?token= is for the WebSocket only.
        assert_401(await client.get("/api/v1/debates", params={"token": ADMIN}))

        assert (await client.get("/api/v1/debates", headers=viewer)).status_code == 200
        assert (await client.get("/api/leaderboard", headers=viewer)).status_code == 200
        assert_403(await client.post("/api/v1/debates", json={"task": "t"}, headers=viewer))
        created = await client.post("/api/v1/debates", json={"task": "t"}, headers=operator)
        assert created.status_code == 202
        debate_id = created.json()["debate_id"]
        assert_403(await client.post(f"/api/v1/debates/{debate_id}/cancel", headers=viewer))
        assert_403(await client.get("/api/admin/maintenance", headers=operator))
        assert_403(await client.get("/api/admin/stats", headers=viewer))
        assert (await client.get("/api/admin/maintenance", headers=admin)).status_code == 200
        assert (
            await client.get("/api/admin/maintenance", headers=bearer(ADMIN))
        ).status_code == 200
        assert (
            await client.post("/api/v1/debates", json={"task": "t"}, headers=admin)
        ).status_code == 202

        # Revocation takes effect at once.
        node = node_of(app)
        listed = await node.tokens.list()
        await node.tokens.revoke(next(t.id for t in listed if t.role == "viewer"))
        assert_401(await client.get("/api/v1/debates", headers=viewer))


@pytest.mark.parametrize("require", ["true", "false"])
async def test_stats_local_operator_rule(tmp_path: Path, require: str) -> None:
    settings = make_settings(tmp_path, ARAGORA_REQUIRE_AUTH=require)
    async with running_app(settings) as (app, local):
        tokens = await make_tokens(app)
        response = await local.get("/api/admin/stats")
        assert response.status_code == 200
        assert response.json()["active_debates"] == 0
        assert (await local.get("/api/v1/admin/stats")).status_code == 200
        assert_401(await local.get("/api/admin/stats", headers={"X-Forwarded-For": "1.2.3.4"}))
        assert_401(await local.get("/api/admin/stats", headers={"Forwarded": "for=1.2.3.4"}))
        async with client_for(app, peer="10.1.2.3") as remote:
            assert_401(await remote.get("/api/admin/stats"))
            assert_403(await remote.get("/api/admin/stats", headers=bearer(tokens["viewer"])))
            ok = await remote.get("/api/admin/stats", headers=bearer(tokens["operator"]))
            assert ok.status_code == 200
            assert (await remote.get("/api/admin/stats", headers=bearer(ADMIN))).status_code == 200
        for peer in ("::1", "::ffff:127.0.0.1"):
            async with client_for(app, peer=peer) as other_local:
                assert (await other_local.get("/api/admin/stats")).status_code == 200
        async with client_for(app, peer="::ffff:10.0.0.1") as mapped_remote:
            assert_401(await mapped_remote.get("/api/admin/stats"))
        # A wrong token from the local operator is still refused.
        assert_401(await local.get("/api/admin/stats", headers=bearer("nope")))


def test_admin_token_file_is_generated_once_private(tmp_path: Path) -> None:
    data = tmp_path / "state"
    settings = make_settings(tmp_path, ARAGORA_ADMIN_TOKEN="", ARAGORA_DATA_DIR=str(data))
    first = ensure_admin_token(settings)
    assert first is not None
    assert first.generated
    assert first.path == data / "admin_token"
    assert stat.S_IMODE(first.path.stat().st_mode) == 0o600
    assert first.path.read_text().strip() == first.secret
    assert len(first.secret) >= 32
    again = ensure_admin_token(settings)
    assert again is not None
    assert again.secret == first.secret
    assert not again.generated


def test_admin_token_from_the_environment_writes_nothing(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, ARAGORA_ADMIN_TOKEN="from-env-token")
    token = ensure_admin_token(settings)
    assert token is not None
    assert token.secret == "from-env-token"
    assert token.path is None
    assert not (tmp_path / "admin_token").exists()


def test_no_admin_token_is_generated_for_postgresql(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, ARAGORA_ADMIN_TOKEN="", ARAGORA_DATABASE_URL="postgresql://u@localhost/db"
    )
    assert ensure_admin_token(settings) is None
    assert not (tmp_path / "admin_token").exists()


def test_unwritable_admin_token_path_is_a_configuration_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    settings = make_settings(tmp_path, ARAGORA_ADMIN_TOKEN="", ARAGORA_DATA_DIR=str(blocker))
    with pytest.raises(ConfigurationError, match="admin token file"):
        ensure_admin_token(settings)


async def test_generated_admin_token_authenticates(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, ARAGORA_ADMIN_TOKEN="")
    async with running_app(settings) as (_, client):
        secret = (tmp_path / "admin_token").read_text().strip()
        response = await client.get("/api/admin/maintenance", headers=bearer(secret))
        assert response.status_code == 200


@pytest.mark.parametrize("name", ["a\nb", "x" * 201, "bell\x07", "nul\x00", "rtl\u202e", " "])
async def test_token_names_are_checked_by_the_store_itself(tmp_path: Path, name: str) -> None:
    async with running_app(make_settings(tmp_path)) as (app, _):
        tokens = node_of(app).tokens
        with pytest.raises(InvalidInputError):
            await tokens.create(name=name, role="viewer", secret="a-secret-token-value")
        assert await tokens.list() == []
        made = await tokens.create(name="  ci bot  ", role="viewer", secret="another-secret")
        assert made.name == "ci bot"
