"""Helpers for receipt tests: a node that issues receipts, and the public verifier run as
its users run it (``aragora-verify FILE --pubkey PEM --require-issuer NAME --json``)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aragora import wiring
from aragora.receipts.service import ReceiptService
from aragora.records.debates import Storage
from aragora.runtime.node import Node
from aragora.runtime.runner import FOLLOWUPS_PENDING
from aragora.settings import load_settings
from aragora.storage.memory.storage import memory_storage

VERIFIER = Path(sys.executable).with_name("aragora-verify")
ISSUER = "aragora-tests"
AGENTS = ["demo:a", "demo:b", "demo:c", "demo:d"]


def new_storage() -> Storage:
    return memory_storage(now=lambda: datetime.now(UTC))


@asynccontextmanager
async def receipt_node(
    data_dir: Path, *, storage: Storage | None = None, **env: str
) -> AsyncIterator[Node[wiring.Services]]:
    """A started node on ``storage`` (default: a fresh in-memory one) whose receipts are
    signed by the key in ``data_dir`` (or ``ARAGORA_RECEIPT_SIGNING_KEY_FILE`` in env)."""
    settings = load_settings(
        {
            "ARAGORA_DEMO_DELAY": "0",
            "ARAGORA_DATA_DIR": str(data_dir),
            "ARAGORA_RECEIPT_ISSUER": ISSUER,
            **env,
        }
    )
    node = await wiring.open_node(settings, storage=storage or new_storage())
    node.start()
    try:
        yield node
    finally:
        await node.close()


def receipts_of(node: Node[wiring.Services]) -> ReceiptService:
    return node.services.receipts


async def run_debate(
    node: Node[wiring.Services],
    *,
    mode: str = "debate",
    task: str | None = None,
    agents: Sequence[str] = AGENTS,
) -> dict[str, Any]:
    """Run a demo debate to its end; its stored document."""
    created = await node.service.create(
        {"task": task or "Tabs or spaces for Python?", "agents": list(agents), "mode": mode}
    )
    async for _ in node.service.stream(created["id"], 0):
        pass
    for _ in range(500):
        record = await node.storage.debates.get(created["id"])
        done = record.document is not None and FOLLOWUPS_PENDING not in record.document
        if done and record.status in ("completed", "failed", "cancelled"):
            return dict(record.document or {})
        await asyncio.sleep(0.01)
    raise AssertionError(f"debate {created['id']} was not recorded")


def run_verifier(
    receipt: Mapping[str, Any],
    pem: str,
    tmp_path: Path,
    *,
    issuer: str = ISSUER,
    extra: Sequence[str] = (),
) -> tuple[int, dict[str, Any]]:
    """``aragora-verify`` on ``receipt``: its exit status and JSON result."""
    receipt_file = tmp_path / "receipt.odr.json"
    key_file = tmp_path / "key.pem"
    receipt_file.write_text(json.dumps(receipt), encoding="utf-8")
    key_file.write_text(pem, encoding="utf-8")
    done = subprocess.run(
        [
            str(VERIFIER),
            str(receipt_file),
            "--pubkey",
            str(key_file),
            "--require-issuer",
            issuer,
            "--json",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    result: dict[str, Any] = json.loads(done.stdout) if done.stdout.strip() else {}
    return done.returncode, result


def assert_verifies(receipt: Mapping[str, Any], pem: str, tmp_path: Path) -> None:
    """The public verifier accepts ``receipt`` under ``pem`` from :data:`ISSUER`."""
    code, result = run_verifier(receipt, pem, tmp_path)
    failed = [c for c in result.get("checks", []) if c["status"] == "fail"]
    assert code == 0, failed or result
    assert result["ok"] is True
