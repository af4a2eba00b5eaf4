"""``/api/v1/webhooks``: admin only, bad input refused in the error shape (and nothing
stored), private targets refused without ARAGORA_WEBHOOK_ENDPOINTS, the secret shown once,
and a debate run through the API delivered to a receiver on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from ..runtime.webhook_receiver import running_receiver
from .support import ADMIN, make_settings, running_app, wait_for_status
from .test_auth import assert_401, assert_403, bearer, make_tokens

ADMIN_HEADERS = bearer(ADMIN)
ROUTES = [
    ("POST", "/api/v1/webhooks"),
    ("GET", "/api/v1/webhooks"),
    ("DELETE", "/api/v1/webhooks/wh_1"),
    ("GET", "/api/v1/webhooks/wh_1/deliveries"),
]


async def _call(
    client: httpx.AsyncClient, method: str, path: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    body: Any = {"url": "https://hooks.example/x", "events": ["debate.completed"]}
    return await client.request(
        method, path, json=body if method == "POST" else None, headers=headers
    )


@pytest.mark.parametrize("require_auth", ["true", "false"])
async def test_admin_only(tmp_path: Path, require_auth: str) -> None:
    settings = make_settings(tmp_path, ARAGORA_REQUIRE_AUTH=require_auth)
    async with running_app(settings) as (app, client):
        tokens = await make_tokens(app)
        for method, path in ROUTES:
            assert_401(await _call(client, method, path))
            assert_401(await _call(client, method, path, bearer("wrong")))
            assert_403(await _call(client, method, path, bearer(tokens["operator"])))
            assert_403(await _call(client, method, path, bearer(tokens["viewer"])))
        listed = await client.get("/api/v1/webhooks", headers=bearer(tokens["admin"]))
        assert listed.status_code == 200
        assert listed.json() == {"webhooks": [], "total": 0}


BAD_BODIES = [
    ({"url": "not a url", "events": ["debate.completed"]}, 400),
    ({"url": "ftp://hooks.example/x", "events": ["debate.completed"]}, 400),
    ({"url": "https://user:pw@hooks.example/x", "events": ["debate.completed"]}, 400),
    ({"url": "https://hooks.example/x#frag", "events": ["debate.completed"]}, 400),
    ({"url": "https://hooks.example/x", "events": []}, 422),
    ({"url": "https://hooks.example/x", "events": ["debate.started"]}, 422),
    ({"url": "https://hooks.example/x", "events": "debate.completed"}, 422),
    ({"url": "https://hooks.example/x"}, 422),
    ({"events": ["debate.completed"]}, 422),
    ({"url": "", "events": ["debate.completed"]}, 422),
    ({"url": "https://hooks.example/x", "events": ["debate.completed"], "format": "xml"}, 422),
    ({"url": "https://hooks.example/x", "events": ["debate.failed", "debate.failed"]}, 400),
]


async def test_bad_input_is_refused_and_changes_nothing(client: httpx.AsyncClient) -> None:
    for body, status in BAD_BODIES:
        response = await client.post("/api/v1/webhooks", json=body, headers=ADMIN_HEADERS)
        assert response.status_code == status, (body, response.text)
        error = response.json()
        assert set(error) >= {"error", "code", "trace_id"}, body
        assert error["error"]
    listed = await client.get("/api/v1/webhooks", headers=ADMIN_HEADERS)
    assert listed.json()["total"] == 0


PRIVATE_TARGETS = [
    "http://127.0.0.1:9/hook",
    "http://localhost:9/hook",
    "http://10.1.2.3/hook",
    "http://192.168.0.10/hook",
    "http://169.254.169.254/latest/meta-data",
    "http://[::1]:9/hook",
    "http://[fe80::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://100.64.0.1/hook",
    "http://0.0.0.0/hook",
]


async def test_private_targets_are_refused_without_the_allowlist(
    client: httpx.AsyncClient,
) -> None:
    for url in PRIVATE_TARGETS:
        body = {"url": url, "events": ["debate.completed"]}
        response = await client.post("/api/v1/webhooks", json=body, headers=ADMIN_HEADERS)
        assert response.status_code == 400, (url, response.text)
        assert "ARAGORA_WEBHOOK_ENDPOINTS" in response.json()["error"]
    assert (await client.get("/api/v1/webhooks", headers=ADMIN_HEADERS)).json()["total"] == 0


async def test_a_public_address_needs_no_allowlist(client: httpx.AsyncClient) -> None:
    body = {"url": "https://93.184.216.34/hook", "events": ["debate.completed"], "format": "slack"}
    created = await client.post("/api/v1/webhooks", json=body, headers=ADMIN_HEADERS)
    assert created.status_code == 201, created.text
    assert created.json()["secret"].startswith("whsec_")
    assert created.json()["format"] == "slack"


async def test_an_allowlisted_prefix_admits_only_what_lies_under_it(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, ARAGORA_WEBHOOK_ENDPOINTS="http://127.0.0.1:9/hooks")
    async with running_app(settings) as (_, client):
        ok = {"url": "http://127.0.0.1:9/hooks/a?x=1", "events": ["debate.failed"]}
        assert (await client.post("/api/v1/webhooks", json=ok, headers=ADMIN_HEADERS)).is_success
        for url in ("http://127.0.0.1:9/other", "http://127.0.0.1:9/hooks/../x"):
            bad = {"url": url, "events": ["debate.failed"]}
            response = await client.post("/api/v1/webhooks", json=bad, headers=ADMIN_HEADERS)
            assert response.status_code == 400, url


async def test_a_debate_is_delivered_signed_and_the_secret_is_shown_once(tmp_path: Path) -> None:
    async with running_receiver() as receiver:
        prefix = receiver.url.rsplit("/", 1)[0]
        settings = make_settings(tmp_path, ARAGORA_WEBHOOK_ENDPOINTS=prefix)
        async with running_app(settings) as (_, client):
            body = {
                "url": receiver.url,
                "events": ["debate.completed", "knowledge.conflict"],
                "description": "ci",
            }
            created = await client.post("/api/v1/webhooks", json=body, headers=ADMIN_HEADERS)
            assert created.status_code == 201, created.text
            webhook = created.json()
            assert set(webhook) >= {"id", "url", "events", "secret", "created_at"}
            assert webhook["events"] == body["events"]
            receiver.secret = webhook["secret"]
            listed = (await client.get("/api/v1/webhooks", headers=ADMIN_HEADERS)).json()
            assert [w["id"] for w in listed["webhooks"]] == [webhook["id"]]
            assert webhook["secret"] not in str(listed)

            started = await client.post("/api/v1/debates", json={"task": "What is 2+2?"})
            debate_id = started.json()["debate_id"]
            document = await wait_for_status(client, debate_id, ("completed", "failed"))
            [got] = await receiver.wait_for(1)
            assert got.signature_ok
            assert got.json["event"] == "debate.completed"
            assert got.json["data"]["id"] == debate_id
            assert got.json["data"]["status"] == document["status"] == "completed"
            assert got.json["data"]["final_answer"] == document["final_answer"]

            path = f"/api/v1/webhooks/{webhook['id']}/deliveries"
            for _ in range(200):
                deliveries = (await client.get(path, headers=ADMIN_HEADERS)).json()
                if deliveries["deliveries"][0]["state"] == "delivered":
                    break
            [delivery] = deliveries["deliveries"]
            assert delivery["id"] == got.headers["x-aragora-delivery"]
            assert delivery["state"] == "delivered"
            assert [a["status_code"] for a in delivery["attempts"]] == [200]
            assert webhook["secret"] not in str(deliveries)

            metrics = (await client.get("/metrics")).text
            assert 'aragora_webhook_deliveries_total{outcome="delivered"} 1.0' in metrics

            gone = await client.delete(f"/api/v1/webhooks/{webhook['id']}", headers=ADMIN_HEADERS)
            assert gone.json() == {"deleted": webhook["id"]}
            again = await client.delete(f"/api/v1/webhooks/{webhook['id']}", headers=ADMIN_HEADERS)
            assert again.status_code == 404
            assert (await client.get(path, headers=ADMIN_HEADERS)).status_code == 404
