"""The webhook sender against a real receiver on 127.0.0.1: signed deliveries, retries on
500 then success, give-up after the last attempt, restart survival (the outbox is in the
database), the egress rule at send time, and the Slack body."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from aragora.agents.egress import EgressGuard, guarded_client
from aragora.records.debates import NewDebate, OutboxEvent, Storage
from aragora.runtime.webhook_payloads import sign, verify
from aragora.runtime.webhook_sender import DeliveryPolicy, WebhookSender
from aragora.runtime.webhooks import WebhookService
from aragora.storage.sql.database import Database
from aragora.storage.sql.storage import sql_storage

from ..storage.support import FAST, migrate_async, pg_database
from .support import new_storage
from .webhook_receiver import Receiver, running_receiver

FAST_RETRY = DeliveryPolicy(base_delay=0.05, max_delay=0.2, poll_interval=0.05, claim_ttl=5)
DOCUMENT = {"id": "d1", "status": "completed", "task": "2+2?", "final_answer": "4"}


def sender(
    storage: Storage,
    receiver: Receiver,
    *,
    policy: DeliveryPolicy = FAST_RETRY,
    allow: bool = True,
    owner: str = "test-sender",
    guard: EgressGuard | None = None,
) -> WebhookSender:
    """The sender as a replica builds it (the guarded client), with ``guard`` (default: the
    receiver's base URL allowed, or nothing allowed)."""
    if guard is None:
        guard = EgressGuard([receiver.url.rsplit("/", 1)[0]] if allow else [])
    return WebhookSender(
        outbox=storage.outbox,
        client=guarded_client(guard),
        guard=guard,
        owner=owner,
        policy=policy,
    )


async def register(storage: Storage, receiver: Receiver, **options: str) -> str:
    service = WebhookService(storage.webhooks, EgressGuard([receiver.url]))
    created = await service.add(receiver.url, ["debate.completed", "debate.failed"], **options)
    receiver.secret = created["secret"]
    return str(created["id"])


async def finish_debate(storage: Storage, debate_id: str = "d1") -> None:
    await storage.debates.create(NewDebate(debate_id, "2+2?"))
    document = {**DOCUMENT, "id": debate_id}
    await storage.debates.update(
        debate_id,
        status="completed",
        document=document,
        outbox=[OutboxEvent("debate.completed", document)],
    )


async def wait_state(storage: Storage, webhook_id: str, state: str, within: float = 20) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        deliveries = await storage.webhooks.deliveries(webhook_id)
        if deliveries and all(d.state == state for d in deliveries):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"deliveries not {state}: {await storage.webhooks.deliveries(webhook_id)}")


async def test_a_delivery_is_signed_and_carries_the_document() -> None:
    storage = new_storage()
    async with running_receiver() as receiver:
        webhook_id = await register(storage, receiver)
        await finish_debate(storage)
        running = sender(storage, receiver)
        running.start()
        try:
            [got] = await receiver.wait_for(1)
            await wait_state(storage, webhook_id, "delivered")
        finally:
            await running.close()
    assert got.signature_ok
    body = got.json
    assert body["event"] == "debate.completed"
    assert body["data"] == DOCUMENT
    assert set(body) == {"id", "event", "created_at", "data"}
    assert got.headers["x-aragora-event"] == "debate.completed"
    assert got.headers["x-aragora-delivery"] == body["id"]
    assert got.headers["content-type"] == "application/json"
    [delivery] = await storage.webhooks.deliveries(webhook_id)
    assert delivery.id == body["id"]
    [attempt] = delivery.attempts
    assert attempt.status_code == 200
    assert attempt.error is None
    assert attempt.duration_ms > 0


async def test_500_is_retried_with_the_same_delivery_id_then_delivered() -> None:
    storage = new_storage()
    outcomes: list[str] = []
    async with running_receiver(Receiver(statuses=[500, 503])) as receiver:
        webhook_id = await register(storage, receiver)
        await finish_debate(storage)
        guard = EgressGuard([receiver.url])
        running = WebhookSender(
            outbox=storage.outbox,
            client=guarded_client(guard),
            guard=guard,
            owner="test-sender",
            policy=FAST_RETRY,
            observers=[outcomes.append],
        )
        running.start()
        try:
            got = await receiver.wait_for(3)
            await wait_state(storage, webhook_id, "delivered")
        finally:
            await running.close()
    assert len({r.headers["x-aragora-delivery"] for r in got}) == 1
    assert all(r.signature_ok for r in got)
    [delivery] = await storage.webhooks.deliveries(webhook_id)
    assert [a.status_code for a in delivery.attempts] == [500, 503, 200]
    assert delivery.attempts[0].error == "HTTP 500: boom"
    assert outcomes == ["retry", "retry", "delivered"]


async def test_gives_up_after_max_attempts() -> None:
    storage = new_storage()
    policy = DeliveryPolicy(
        max_attempts=2, base_delay=0.05, max_delay=0.1, poll_interval=0.05, claim_ttl=5
    )
    async with running_receiver(Receiver(statuses=[500] * 5)) as receiver:
        webhook_id = await register(storage, receiver)
        await finish_debate(storage)
        running = sender(storage, receiver, policy=policy)
        running.start()
        try:
            await wait_state(storage, webhook_id, "failed")
            await asyncio.sleep(0.3)  # nothing more is tried
        finally:
            await running.close()
    assert len(receiver.received) == 2
    [delivery] = await storage.webhooks.deliveries(webhook_id)
    assert [a.status_code for a in delivery.attempts] == [500, 500]
    assert delivery.next_attempt_at is None


async def test_the_egress_rule_is_applied_again_when_sending() -> None:
    """Registered under the allowlist, then the operator removed it: the delivery is
    refused (failed at once, nothing sent)."""
    storage = new_storage()
    async with running_receiver() as receiver:
        webhook_id = await register(storage, receiver)
        await finish_debate(storage)
        running = sender(storage, receiver, allow=False)
        try:
            assert await running.deliver_due() == 1
        finally:
            await running.close()
    assert receiver.received == []
    [delivery] = await storage.webhooks.deliveries(webhook_id)
    assert delivery.state == "failed"
    [attempt] = delivery.attempts
    assert attempt.status_code is None
    assert attempt.error is not None
    assert "not a public address" in attempt.error
    assert "ARAGORA_WEBHOOK_ENDPOINTS" in attempt.error


async def test_a_name_that_rebinds_after_the_check_reaches_nothing() -> None:
    """DNS rebinding: the name resolves to a public address when the egress rule checks it
    and to loopback a moment later, when the connection is made. The connection goes only
    to an address the rule approved, so nothing reaches the server on 127.0.0.1."""
    storage = new_storage()
    answers = iter([["93.184.216.34"]])

    async def rebinding(host: str, port: int) -> list[str]:
        return next(answers, ["127.0.0.1"])  # public once, loopback ever after

    async with running_receiver() as receiver:
        url = receiver.url.replace("127.0.0.1", "rebind.test")
        service = WebhookService(storage.webhooks, EgressGuard([url]))
        created = await service.add(url, ["debate.completed"])
        await finish_debate(storage)
        running = sender(storage, receiver, guard=EgressGuard(resolver=rebinding))
        try:
            assert await running.deliver_due() == 1
        finally:
            await running.close()
    assert receiver.received == []
    [delivery] = await storage.webhooks.deliveries(str(created["id"]))
    [attempt] = delivery.attempts
    assert attempt.status_code is None
    assert attempt.error is not None
    assert "refused" in attempt.error
    assert "127.0.0.1" in attempt.error


async def test_slack_format_sends_text() -> None:
    storage = new_storage()
    async with running_receiver() as receiver:
        await register(storage, receiver, format="slack")
        await finish_debate(storage)
        running = sender(storage, receiver)
        try:
            await running.deliver_due()
        finally:
            await running.close()
    [got] = receiver.received
    assert got.signature_ok
    assert got.json == {"text": "*Debate d1 completed*: 2+2?\n> 4"}


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{(tmp_path / 'restart.db').as_posix()}"
        return
    with pg_database("aragora_webhooks") as url:
        yield url


async def test_the_outbox_survives_a_restart(database_url: str) -> None:
    """Written with the debate's end while no sender runs; a sender that claims and dies
    loses nothing either: after the process restarts (new pools, new sender), every
    delivery arrives."""
    await migrate_async(database_url)
    async with running_receiver() as receiver:
        first = Database(database_url, options=FAST)
        storage = sql_storage(first)
        webhook_id = await register(storage, receiver)
        await finish_debate(storage, "d1")
        await finish_debate(storage, "d2")
        # A sender claims d1's delivery and dies before sending it.
        claimed = await storage.outbox.claim("dead-sender", 0.5, limit=1)
        assert len(claimed) == 1
        await first.dispose()  # the process stops

        second = Database(database_url, options=FAST)
        restarted = sql_storage(second)
        running = sender(restarted, receiver, owner="new-sender")
        running.start()
        try:
            got = await receiver.wait_for(2)
            await wait_state(restarted, webhook_id, "delivered")
        finally:
            await running.close()
            await second.dispose()
    assert sorted(r.json["data"]["id"] for r in got) == ["d1", "d2"]
    assert all(r.signature_ok for r in got)


def test_signature_format_and_replay_window() -> None:
    body = b'{"id":"dlv_1"}'
    header = sign("whsec_x", 1_700_000_000, body)
    timestamp, mac = header.split(",")
    assert timestamp == "t=1700000000"
    assert mac.startswith("v1=")
    assert len(mac) == 3 + 64
    assert verify("whsec_x", header, body, now=1_700_000_100)
    assert not verify("whsec_x", header, body, now=1_700_000_301)  # a replay, 5 min later
    assert not verify("whsec_y", header, body, now=1_700_000_000)
    assert not verify("whsec_x", header, body + b" ", now=1_700_000_000)
    assert not verify("whsec_x", "v1=" + mac[3:], body, now=1_700_000_000)


def _readme_receiver() -> dict[str, object]:
    """The Python receiver of the README's Webhooks section, loaded (not served)."""
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Webhooks", 1)[1].split("\n## ", 1)[0]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, object] = {"__name__": "readme_example"}
    exec(compile(code, "README.md", "exec"), namespace)
    return namespace


def test_the_readme_receiver_accepts_our_signature_and_refuses_replays() -> None:
    verify_signature = _readme_receiver()["verify_signature"]
    assert callable(verify_signature)
    body = b'{"id":"dlv_1","event":"debate.completed","created_at":"x","data":{}}'
    now = int(time.time())
    assert verify_signature("whsec_x", sign("whsec_x", now, body), body)
    assert not verify_signature("whsec_x", sign("whsec_x", now - 301, body), body)  # replay
    assert not verify_signature("whsec_x", sign("whsec_x", now, body), body + b"x")
    assert not verify_signature("whsec_y", sign("whsec_x", now, body), body)
    assert not verify_signature("whsec_x", "", body)
