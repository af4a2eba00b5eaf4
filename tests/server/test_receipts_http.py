"""Receipts over HTTP: a completed debate links to its receipt, every receipt endpoint of
CONTRACT.md serves it, and the public verifier accepts it under the served key."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from aragora.receipts.chain import parse_chain
from aragora.receipts.signing import SigningKey

from .support import ADMIN, make_settings, running_app, wait_recorded

VERIFIER = Path(sys.executable).with_name("aragora-verify")
AGENTS = ["demo:a", "demo:b", "demo:c", "demo:d"]


async def completed_debate(client: httpx.AsyncClient, mode: str = "vote") -> dict[str, Any]:
    created = await client.post(
        "/api/v1/debates", json={"task": "Tabs or spaces?", "agents": AGENTS, "mode": mode}
    )
    assert created.status_code == 202, created.text
    debate_id = created.json()["id"]
    assert await wait_recorded(client, debate_id) == "completed"
    document: dict[str, Any] = (await client.get(f"/api/v1/debates/{debate_id}")).json()
    return document


def aragora_verify(receipt: bytes, pem: bytes, tmp_path: Path, issuer: str) -> dict[str, Any]:
    """``aragora-verify FILE --pubkey PEM --require-issuer ISSUER --json``; must exit 0."""
    (tmp_path / "receipt.odr.json").write_bytes(receipt)
    (tmp_path / "served.pem").write_bytes(pem)
    done = subprocess.run(
        [
            str(VERIFIER),
            str(tmp_path / "receipt.odr.json"),
            "--pubkey",
            str(tmp_path / "served.pem"),
            "--require-issuer",
            issuer,
            "--json",
        ],
        capture_output=True,
        timeout=60,
        check=False,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    assert done.returncode == 0, result
    return result


async def test_a_completed_debate_links_to_a_receipt_that_verifies(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    document = await completed_debate(client)
    link = document["receipt"]
    receipt_id = link["id"]
    assert link["url"] == f"/api/v2/receipts/{receipt_id}"

    by_debate = await client.get(f"/api/v1/debates/{document['id']}/receipt")
    assert by_debate.status_code == 200
    body = by_debate.json()
    assert body == (await client.get(f"/api/debates/{document['id']}/receipt")).json()
    assert body == (await client.get(link["url"])).json()
    assert body["receipt_id"] == receipt_id
    assert body["debate_id"] == document["id"]
    assert body["digest"] == link["digest"]
    assert body["dissenting_agents"] == [d["agent"] for d in document["dissent"]]
    assert body["consensus_reached"] is document["consensus_reached"]
    assert body["links"]["odr"] == link["odr_url"]

    exported = await client.get(link["odr_url"])
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("application/json")
    assert exported.json() == body["odr"]

    pem = await client.get("/.well-known/aragora-odr-signing-key")
    assert pem.status_code == 200
    assert pem.headers["content-type"].startswith("application/x-pem-file")
    assert pem.text.startswith("-----BEGIN PUBLIC KEY-----")
    key = (await client.get("/api/v2/receipts/signing-key")).json()
    assert key == {
        "algorithm": "Ed25519",
        "key_id": body["key_id"],
        "public_key_pem": pem.text,
    }
    result = aragora_verify(exported.content, pem.content, tmp_path, "aragora")
    assert result["ok"] is True
    assert result["odr_digest"] == link["digest"]
    assert result["key_id"] == key["key_id"]


async def test_exports_for_people(client: httpx.AsyncClient) -> None:
    document = await completed_debate(client)
    url = document["receipt"]["url"] + "/export"
    markdown = await client.get(url, params={"format": "md"})
    assert markdown.status_code == 200
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert markdown.text.startswith("# Decision receipt")
    page = await client.get(url, params={"format": "html"})
    assert page.headers["content-type"].startswith("text/html")
    assert "script-src" not in page.headers["content-security-policy"]
    assert document["receipt"]["digest"] in page.text
    assert (await client.get(url, params={"format": "json"})).json()["odr"]["receipt_id"]
    assert (await client.get(url, params={"format": "pdf"})).status_code == 422


async def test_the_chain_is_served_and_verifies(client: httpx.AsyncClient, tmp_path: Path) -> None:
    documents = [await completed_debate(client, mode) for mode in ("vote", "debate", "single")]
    page = (await client.get("/api/v2/receipts/chain", params={"limit": 2})).json()
    assert [link["receipt_id"] for link in page["links"]] == [
        d["receipt"]["id"] for d in documents[:2]
    ]
    assert page["next_after"] == 2
    rest = (await client.get("/api/v2/receipts/chain", params={"after": 2})).json()
    assert [link["position"] for link in rest["links"]] == [3]
    assert rest["next_after"] is None
    assert rest["links"][0]["prev_hash"] == page["links"][1]["hash"]
    jsonl = await client.get("/api/v2/receipts/chain", params={"format": "jsonl"})
    assert jsonl.headers["content-type"].startswith("application/x-ndjson")
    links = parse_chain(jsonl.text.splitlines())
    assert [link.digest for link in links] == [d["receipt"]["digest"] for d in documents]
    verified = (await client.get("/api/v2/receipts/chain/verify")).json()
    assert verified == {"valid": True, "length": 3, "head": links[-1].digest, "problems": []}


async def test_missing_receipts_are_404(client: httpx.AsyncClient) -> None:
    for path in (
        "/api/v2/receipts/rcpt_nope",
        "/api/v2/receipts/rcpt_nope/export",
        "/api/v1/debates/nope/receipt",
        "/api/v2/receipts/signing-key?key_id=ed25519-0000000000000000",
        "/.well-known/aragora-odr-signing-key?key_id=ed25519-0000000000000000",
    ):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert response.json()["code"] == "not_found"


async def test_receipts_need_a_token_but_the_keys_are_public(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, ARAGORA_REQUIRE_AUTH="true")
    async with running_app(settings) as (_, client):
        admin = {"Authorization": f"Bearer {ADMIN}"}
        created = await client.post(
            "/api/v1/debates", json={"task": "Tabs?", "agents": AGENTS}, headers=admin
        )
        client.headers.update(admin)
        assert await wait_recorded(client, created.json()["id"]) == "completed"
        del client.headers["Authorization"]
        document = (
            await client.get(f"/api/v1/debates/{created.json()['id']}", headers=admin)
        ).json()
        for path in (
            document["receipt"]["url"],
            document["receipt"]["odr_url"],
            f"/api/v1/debates/{document['id']}/receipt",
            "/api/v2/receipts/chain",
        ):
            assert (await client.get(path)).status_code == 401, path
            assert (await client.get(path, headers=admin)).status_code == 200, path
        for path in (
            "/.well-known/aragora-odr-signing-key",
            "/api/v2/receipts/signing-key",
            "/api/v2/receipts/signing-keys",
        ):
            assert (await client.get(path)).status_code == 200, path


async def test_rotated_keys_stay_published_and_old_receipts_verify(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    async with running_app(make_settings(data)) as (_, client):
        first = await completed_debate(client)
        old_pem = (await client.get("/.well-known/aragora-odr-signing-key")).text
    rotated = SigningKey.generate()
    key_file = tmp_path / "rotated.pem"
    key_file.write_bytes(rotated.private_pem())
    settings = make_settings(data, ARAGORA_RECEIPT_SIGNING_KEY_FILE=str(key_file))
    async with running_app(settings) as (_, client):
        second = await completed_debate(client)
        current = (await client.get("/api/v2/receipts/signing-key")).json()
        assert current["key_id"] == rotated.key_id == second["receipt"]["key_id"]
        old_id = first["receipt"]["key_id"]
        assert old_id != rotated.key_id
        old = await client.get("/.well-known/aragora-odr-signing-key", params={"key_id": old_id})
        assert old.text == old_pem
        listed = (await client.get("/api/v2/receipts/signing-keys")).json()
        assert [k["key_id"] for k in listed["keys"]] == [old_id, rotated.key_id]
        assert listed["current"] == rotated.key_id
        old_receipt = (await client.get(first["receipt"]["odr_url"])).content
        new_receipt = (await client.get(second["receipt"]["odr_url"])).content
        chain = (await client.get("/api/v2/receipts/chain/verify")).json()
    assert chain["valid"] is True
    assert chain["length"] == 2
    aragora_verify(old_receipt, old_pem.encode(), tmp_path, "aragora")
    aragora_verify(new_receipt, rotated.public.pem.encode(), tmp_path, "aragora")


@pytest.mark.parametrize("issuer", ["acme-decisions"])
async def test_the_issuer_setting_names_the_signer(tmp_path: Path, issuer: str) -> None:
    settings = make_settings(tmp_path, ARAGORA_RECEIPT_ISSUER=issuer)
    async with running_app(settings) as (_, client):
        document = await completed_debate(client, "single")
        receipt = (await client.get(document["receipt"]["odr_url"])).content
        pem = (await client.get("/.well-known/aragora-odr-signing-key")).content
    assert json.loads(receipt)["signatures"][0]["issuer"] == issuer
    aragora_verify(receipt, pem, tmp_path, issuer)
