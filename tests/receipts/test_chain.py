"""The receipt chain: receipts link up in issue order, concurrent issuers never fork it,
and a removed, reordered or edited link is detected."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import subprocess
from pathlib import Path

import pytest

from aragora.errors import ConflictError
from aragora.receipts import service as service_module
from aragora.receipts.chain import ChainLink, link_of, parse_chain, verify_chain
from aragora.receipts.service import ReceiptService
from aragora.receipts.signing import SigningKey
from aragora.records.debates import NewReceipt, ReceiptRepository, StoredReceipt

from .support import (
    ISSUER,
    VERIFIER,
    assert_verifies,
    new_storage,
    receipt_node,
    receipts_of,
    run_debate,
)


async def _chain_of(service: ReceiptService) -> list[ChainLink]:
    return [link_of(stored) async for stored in service.walk(page=2)]


async def test_receipts_chain_in_issue_order_and_verify(tmp_path: Path) -> None:
    async with receipt_node(tmp_path / "data") as node:
        receipts = receipts_of(node)
        documents = [await run_debate(node, mode=mode) for mode in ("vote", "debate", "auto")]
        links = await _chain_of(receipts)
        report = await receipts.verify_chain()
    assert [link.receipt_id for link in links] == [d["receipt"]["id"] for d in documents]
    assert [link.position for link in links] == [1, 2, 3]
    assert links[0].previous_digest is None
    assert [link.previous_digest for link in links[1:]] == [link.digest for link in links[:-1]]
    assert report.ok, report.problems
    assert report.to_dict() == {
        "valid": True,
        "length": 3,
        "head": links[-1].digest,
        "problems": [],
    }
    for link in links:
        assert link.receipt is not None
        assert_verifies(link.receipt, receipts.key.public.pem, tmp_path)


async def test_a_removed_reordered_or_edited_link_is_detected(tmp_path: Path) -> None:
    async with receipt_node(tmp_path / "data") as node:
        receipts = receipts_of(node)
        for _ in range(4):
            await run_debate(node, mode="vote")
        links = await _chain_of(receipts)
    keys = {receipts.key.key_id: receipts.key.public}
    assert verify_chain(links, keys=keys).ok

    removed = verify_chain([links[0], links[1], links[3]], keys=keys)
    assert not removed.ok
    assert any("position 4" in p and "missing" in p for p in removed.problems)
    assert any("previous digest" in p for p in removed.problems)

    assert not verify_chain([links[0], links[2], links[1], links[3]]).ok
    assert not verify_chain(links[1:]).ok  # the first link is gone

    assert links[2].receipt is not None
    edited_receipt = json.loads(json.dumps(links[2].receipt))
    edited_receipt["claim"]["statement"] = "edited"
    edited = [*links[:2], dataclasses.replace(links[2], receipt=edited_receipt), links[3]]
    report = verify_chain(edited, keys=keys)
    assert any("hashes to" in p for p in report.problems)

    # Re-digesting the edit does not help: the signature no longer matches.
    from aragora.receipts.odr import content_digest

    forged = dataclasses.replace(links[2], receipt=edited_receipt)
    forged = dataclasses.replace(forged, digest=content_digest(edited_receipt))
    report = verify_chain([*links[:2], forged], keys=keys)
    assert any("does not verify" in p for p in report.problems)


async def test_the_chain_export_round_trips_and_the_public_verifier_anchors_it(
    tmp_path: Path,
) -> None:
    async with receipt_node(tmp_path / "data") as node:
        receipts = receipts_of(node)
        for _ in range(3):
            await run_debate(node)
        links = await _chain_of(receipts)
    lines = [json.dumps(link.to_line()) for link in links]
    assert parse_chain(["", *lines]) == links
    assert links[1].receipt is not None
    receipt_file = tmp_path / "r.json"
    receipt_file.write_text(json.dumps(links[1].receipt))
    key_file = tmp_path / "k.pem"
    key_file.write_text(receipts.key.public.pem)

    def run(chain_lines: list[str]) -> int:
        chain_file = tmp_path / "chain.jsonl"
        chain_file.write_text("\n".join(chain_lines) + "\n")
        command = [str(VERIFIER), str(receipt_file), "--pubkey", str(key_file)]
        command += ["--require-issuer", ISSUER, "--chain", str(chain_file), "--json"]
        return subprocess.run(command, capture_output=True, timeout=60, check=False).returncode

    assert run(lines) == 0
    assert run([lines[0], lines[2]]) == 1  # the receipt's own link removed: not anchored
    assert run([lines[1]]) == 0
    broken = [lines[0], lines[1], json.dumps({**links[2].to_line(), "prev_hash": "0" * 64})]
    assert run(broken) == 1


class _Interleaving:
    """The in-memory chain, yielding to other tasks between reading the head and
    appending, as a database round trip does; counts the appends refused."""

    def __init__(self, inner: ReceiptRepository) -> None:
        self.inner = inner
        self.conflicts = 0

    async def head(self) -> StoredReceipt | None:
        head = await self.inner.head()
        await asyncio.sleep(0)
        return head

    async def append(self, receipt: NewReceipt) -> StoredReceipt:
        try:
            return await self.inner.append(receipt)
        except ConflictError:
            self.conflicts += 1
            raise

    async def get(self, receipt_id: str) -> StoredReceipt:
        return await self.inner.get(receipt_id)

    async def for_debate(self, debate_id: str) -> list[StoredReceipt]:
        return await self.inner.for_debate(debate_id)

    async def chain(self, *, after: int = 0, limit: int = 100) -> list[StoredReceipt]:
        return await self.inner.chain(after=after, limit=limit)


async def test_concurrent_issuers_never_fork_the_chain(tmp_path: Path) -> None:
    storage = new_storage()
    async with receipt_node(tmp_path / "data", storage=storage) as node:
        document = await run_debate(node)
        events = await storage.events.read(document["id"])
    racing = _Interleaving(storage.receipts)
    services = [
        ReceiptService(
            receipts=racing,
            settings=storage.settings,
            key=SigningKey.generate(),
            issuer=ISSUER,
        )
        for _ in range(3)
    ]
    issued = await asyncio.gather(
        *(
            services[i % 3].issue(f"debate-{i}", events, {**document, "id": f"debate-{i}"})
            for i in range(12)
        )
    )
    chain = [link_of(stored) for stored in await storage.receipts.chain(limit=1000)]
    assert len(chain) == 13
    assert {stored.id for stored in issued} <= {link.receipt_id for link in chain}
    keys = {s.key.key_id: s.key.public for s in services}
    keys[document["receipt"]["key_id"]] = receipts_of(node).key.public
    report = verify_chain(chain, keys=keys)
    assert report.ok, report.problems
    assert racing.conflicts > 0  # the race happened, and was resolved


class _Hiding(_Interleaving):
    """The chain with one position removed, as if its row had been deleted."""

    def __init__(self, inner: ReceiptRepository, hidden: int) -> None:
        super().__init__(inner)
        self.hidden = hidden

    async def chain(self, *, after: int = 0, limit: int = 100) -> list[StoredReceipt]:
        found = await self.inner.chain(after=after, limit=limit + 1)
        return [s for s in found if s.position != self.hidden][:limit]


async def test_a_link_removed_from_the_store_is_detected_across_pages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service_module, "_PAGE", 2)
    storage = new_storage()
    async with receipt_node(tmp_path / "data", storage=storage) as node:
        for _ in range(5):
            await run_debate(node, mode="single")
        key = receipts_of(node).key
    intact = ReceiptService(
        receipts=storage.receipts, settings=storage.settings, key=key, issuer=ISSUER
    )
    assert (await intact.verify_chain()).to_dict()["length"] == 5
    assert (await intact.verify_chain()).ok
    for hidden in (1, 2, 3, 5):
        tampered = ReceiptService(
            receipts=_Hiding(storage.receipts, hidden),
            settings=storage.settings,
            key=key,
            issuer=ISSUER,
        )
        report = await tampered.verify_chain()
        assert report.length == 4
        if hidden == 5:
            assert report.ok  # the head itself removed: nothing after it to notice
        else:
            assert not report.ok, hidden
            assert any(f"position {hidden + 1}" in p for p in report.problems)
