"""Receipts issued for real debates: the public verifier accepts them, any change breaks
them, the debate document links to them, and only completed debates get one."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aragora_verify import load_public_key as verifier_key
from aragora_verify import validate_structure, verify
from aragora_verify.schema import load_bundled_schema
from jsonschema import Draft202012Validator

from aragora.receipts.odr import content_digest
from aragora.receipts.verify import verify_receipt

from .support import ISSUER, assert_verifies, receipt_node, receipts_of, run_debate, run_verifier


@pytest.mark.parametrize("mode", ["debate", "vote", "single", "auto"])
async def test_every_mode_gets_a_receipt_the_public_verifier_accepts(
    tmp_path: Path, mode: str
) -> None:
    async with receipt_node(tmp_path / "data") as node:
        receipts = receipts_of(node)
        document = await run_debate(node, mode=mode)
        assert document["status"] == "completed"
        link = document["receipt"]
        stored = await receipts.get(link["id"])
        assert link == {
            "id": stored.id,
            "digest": stored.digest,
            "key_id": receipts.key.key_id,
            "url": f"/api/v2/receipts/{stored.id}",
            "odr_url": f"/api/v2/receipts/{stored.id}/export?format=odr",
        }
        receipt = dict(stored.document)
    assert stored.digest == content_digest(receipt)
    assert validate_structure(receipt) == []
    assert list(Draft202012Validator(load_bundled_schema()).iter_errors(receipt)) == []
    assert_verifies(receipt, receipts.key.public.pem, tmp_path)
    assert verify_receipt(receipt, receipts.key.public, require_issuer=ISSUER).ok


async def test_the_receipt_says_what_the_debate_decided(tmp_path: Path) -> None:
    async with receipt_node(tmp_path / "data") as node:
        # Three agents and two possible answers: always a decision, never a tie.
        document = await run_debate(
            node,
            mode="vote",
            task="Tabs or spaces? <script>x</script>",
            agents=["demo:a", "demo:b", "demo:c"],
        )
        receipt = dict((await receipts_of(node).get(document["receipt"]["id"])).document)
    assert document["final_answer"] in ("Tabs", "Spaces")
    assert receipt["odr_version"] == "0.2"
    assert receipt["subject"]["identifier"] == document["id"]
    assert receipt["subject"]["summary"] == document["task"]
    assert receipt["claim"]["statement"] == document["final_answer"]
    assert receipt["claim"]["verdict"] == (
        "CONSENSUS" if document["consensus_reached"] else "NO_CONSENSUS"
    )
    quorum = receipt["quorum"]
    assert quorum["reached"] is document["consensus_reached"]
    assert [p["agent"] for p in quorum["participants"]] == [a["name"] for a in document["agents"]]
    assert {p["model_family"] for p in quorum["participants"]} == {"aragora-demo"}
    assert [p["model_id"] for p in quorum["participants"]] == [
        a["model"] for a in document["agents"]
    ]
    dissenters = [d["agent"] for d in document["dissent"]]
    assert quorum["dissent"]["dissenting_agents"] == dissenters
    assert quorum["dissent"]["present"] is bool(dissenters)
    assert len(quorum["dissent"]["views"]) == len(dissenters)
    assert set(quorum["supporting_agents"]).isdisjoint(dissenters)
    assert receipt["confidence"]["value"] == document["confidence"]
    assert receipt["confidence"]["calibration"]["status"] == "absent"
    assert receipt["attestation"] == {"disposition": "autonomous"}
    assert receipt["routing"] == {"status": "reserved"}
    [signature] = receipt["signatures"]
    assert signature["issuer"] == ISSUER
    assert signature["role"] == "emitter"
    assert signature["key_id"].startswith("ed25519-")


async def test_a_debate_is_issued_one_receipt_however_often_it_finishes(tmp_path: Path) -> None:
    async with receipt_node(tmp_path / "data") as node:
        receipts = receipts_of(node)
        document = await run_debate(node)
        events = await node.storage.events.read(document["id"])
        again = await receipts.finish(document["id"], events, document)
        assert again == {"receipt": document["receipt"]}
        assert len(await node.storage.receipts.for_debate(document["id"])) == 1
        assert (await receipts.for_debate(document["id"])).id == document["receipt"]["id"]


async def test_only_completed_debates_get_receipts(tmp_path: Path) -> None:
    async with receipt_node(tmp_path / "data") as node:
        receipts = receipts_of(node)
        document = await run_debate(node)
        events = await node.storage.events.read(document["id"])
        for status in ("failed", "cancelled", "running"):
            changed = {**document, "id": f"other-{status}", "status": status}
            assert await receipts.finish(changed["id"], events, changed) is None
        assert await node.storage.receipts.chain() == [
            await node.storage.receipts.get(document["receipt"]["id"])
        ]


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(receipt: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = receipt
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value

    return change


TAMPERING = {
    "receipt_id": _set("receipt_id", "rcpt_forged"),
    "issued_at": _set("issued_at", "2020-01-01T00:00:00+00:00"),
    "subject.identifier": _set("subject.identifier", "another-debate"),
    "subject.summary": _set("subject.summary", "A different question?"),
    "subject.digest": _set("subject.digest.value", "0" * 64),
    "claim.verdict": lambda r: r["claim"].update(
        verdict="NO_CONSENSUS" if r["claim"]["verdict"] == "CONSENSUS" else "CONSENSUS"
    ),
    "claim.statement": _set("claim.statement", "Something else"),
    "reasoning.summary": _set("reasoning.summary", "Because."),
    "quorum.reached": lambda r: r["quorum"].update(reached=not r["quorum"]["reached"]),
    "quorum.method": _set("quorum.method", "unanimous"),
    "quorum.participant": _set("quorum.participants.0.model_id", "gpt-5"),
    "quorum.dissent": lambda r: r["quorum"]["dissent"]["views"].append("x: no"),
    "quorum.independence": _set("quorum.independence.distinct_model_families", 3),
    "confidence.value": _set("confidence.value", 0.99),
    "cruxes": _set("cruxes.reason", "nothing to see"),
    "attestation": _set("attestation.disposition", "human_attested"),
    "source.artifact_hash": _set("source.artifact_hash", "sha256:" + "0" * 64),
    "signature.issuer": _set("signatures.0.issuer", "someone-else"),
    "signature.role": _set("signatures.0.role", "notary"),
    "signature.signed_at": _set("signatures.0.signed_at", "2030-01-01T00:00:00+00:00"),
    "signature.bytes": lambda r: r["signatures"][0].update(
        signature=("B" if r["signatures"][0]["signature"][0] != "B" else "C")
        + r["signatures"][0]["signature"][1:]
    ),
    "signature.removed": _set("signatures", []),
    "member.removed": lambda r: r.pop("cruxes"),
    "member.added": _set("extra", 1),
}


async def test_any_changed_field_fails_verification(tmp_path: Path) -> None:
    async with receipt_node(tmp_path / "data") as node:
        receipts = receipts_of(node)
        document = await run_debate(node, mode="vote")
        receipt = dict((await receipts.get(document["receipt"]["id"])).document)
    pem = receipts.key.public.pem
    key = verifier_key(pem.encode())
    assert verify(receipt, public_key=key, require_issuer=ISSUER).ok
    for name, change in TAMPERING.items():
        forged = copy.deepcopy(receipt)
        change(forged)
        assert forged != receipt, name
        assert not verify(forged, public_key=key, require_issuer=ISSUER).ok, name
        assert not verify_receipt(forged, receipts.key.public, require_issuer=ISSUER).ok, name
    # And the command itself, on a few of them.
    for name in ("claim.statement", "quorum.dissent", "signature.issuer"):
        forged = copy.deepcopy(receipt)
        TAMPERING[name](forged)
        code, result = run_verifier(forged, pem, tmp_path)
        assert code == 1, name
        assert result["ok"] is False
