"""What a debate's end puts in the webhook outbox: ``debate.completed`` or
``debate.failed`` with the stored document, ``knowledge.conflict`` for the Knowledge
Mound's conflict warnings, nothing for a cancelled debate; and the egress rule."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from aragora.agents.egress import EgressGuard, is_public_address
from aragora.errors import InvalidInputError, UnavailableError
from aragora.records.debates import NewDebate, NewWebhook, Storage, new_webhook_id
from aragora.runtime.bus import LocalBus
from aragora.runtime.runner import DebateRunner
from aragora.runtime.webhook_payloads import outbox_events, slack_text

from .support import new_storage

CONFLICT = {
    "seq": 9,
    "code": "knowledge_conflict",
    "message": "the verdict '5' contradicts past decision dec_1",
    "item_id": "dec_1",
    "past_answer": "4",
    "new_answer": "5",
    "similarity": 0.93,
}


def test_events_of_a_document() -> None:
    completed = {"id": "d1", "status": "completed", "task": "2+2?", "final_answer": "5"}
    [event] = outbox_events(completed)
    assert (event.event, event.data) == ("debate.completed", completed)

    failed = {**completed, "status": "failed", "error": "panel down"}
    assert [e.event for e in outbox_events(failed)] == ["debate.failed"]
    assert outbox_events({**completed, "status": "cancelled"}) == []

    conflicted = {**completed, "warnings": [{"code": "other"}, CONFLICT]}
    first, conflict = outbox_events(conflicted)
    assert first.event == "debate.completed"
    assert conflict.event == "knowledge.conflict"
    assert conflict.data == {
        "debate_id": "d1",
        "task": "2+2?",
        "final_answer": "5",
        "conflicts": [CONFLICT],
    }
    assert "dec_1" in slack_text("knowledge.conflict", conflict.data)


def test_the_conflict_code_is_the_knowledge_mounds() -> None:
    from aragora.knowledge.ingest import CONFLICT_CODE
    from aragora.runtime.webhook_payloads import CONFLICT_CODE as SENT

    assert SENT == CONFLICT_CODE


async def _subscribed(storage: Storage) -> str:
    webhook = await storage.webhooks.create(
        NewWebhook(
            id=new_webhook_id(),
            url="https://hooks.example/x",
            events=("debate.completed", "debate.failed"),
            secret="s",
        )
    )
    return webhook.id


def _runner(storage: Storage) -> DebateRunner:
    def unused(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("not built when ending a debate")

    return DebateRunner(storage=storage, bus=LocalBus(), build_panel=unused, build_engine=unused)


async def test_ending_a_debate_as_failed_writes_debate_failed() -> None:
    storage = new_storage()
    webhook_id = await _subscribed(storage)
    await storage.debates.create(NewDebate("d1", "2+2?"))
    await _runner(storage).end("d1", None, "failed", "the panel is down")
    stored = await storage.debates.get("d1")
    assert stored.status == "failed"
    [delivery] = await storage.webhooks.deliveries(webhook_id)
    assert delivery.event == "debate.failed"
    [claimed] = await storage.outbox.claim("t", 30)
    assert claimed.data == stored.document
    assert claimed.data["error"] == "the panel is down"


async def test_a_cancelled_debate_sends_nothing() -> None:
    storage = new_storage()
    webhook_id = await _subscribed(storage)
    await storage.debates.create(NewDebate("d1", "2+2?"))
    await _runner(storage).end("d1", None, "cancelled", "stopped by the operator")
    assert await storage.webhooks.deliveries(webhook_id) == []


def _resolver(addresses: list[str]) -> Any:
    async def resolve(host: str, port: int) -> list[str]:
        if not addresses:
            raise OSError("no such host")
        return addresses

    return resolve


async def test_the_egress_rule_resolves_names() -> None:
    public = EgressGuard(resolver=_resolver(["93.184.216.34", "2606:2800:220:1::1"]))
    await public("https://hooks.example/x?token=1")
    mixed = EgressGuard(resolver=_resolver(["93.184.216.34", "10.0.0.7"]))
    with pytest.raises(InvalidInputError, match=r"10\.0\.0\.7"):
        await mixed("https://rebind.example/x")
    with pytest.raises(UnavailableError):
        await EgressGuard(resolver=_resolver([]))("https://nowhere.example/x")

    async def hang(host: str, port: int) -> list[str]:
        await asyncio.sleep(10)
        return []

    with pytest.raises(UnavailableError, match="timed out"):
        await EgressGuard(resolver=hang, resolve_timeout=0.05)("https://slow.example/x")
    allowed = EgressGuard(["https://internal.example/hooks"], resolver=_resolver(["10.0.0.7"]))
    await allowed("https://internal.example/hooks/a")
    with pytest.raises(InvalidInputError):
        await allowed("https://internal.example/other")


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("127.0.0.1", False),
        ("10.0.0.1", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("::1", False),
        ("fe80::1%eth0", False),
        ("fd00::1", False),
        ("::ffff:10.0.0.1", False),
        ("2606:2800:220:1::1", True),
        ("not an address", False),
    ],
)
def test_public_addresses(address: str, public: bool) -> None:
    assert is_public_address(address) is public
