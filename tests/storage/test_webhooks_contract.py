"""The webhook repositories behave alike on every backend: registration, the outbox
written with a debate's terminal status (in the same transaction), claims that exclude
each other and expire, attempts and outcomes, removal."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from aragora.debate.ports import FakeClock
from aragora.errors import InvalidInputError, NotFoundError
from aragora.records.debates import (
    DeliveryAttempt,
    NewDebate,
    NewWebhook,
    OutboxEvent,
    Storage,
    new_webhook_id,
)


def _hook(events: tuple[str, ...] = ("debate.completed",), **extra: str) -> NewWebhook:
    return NewWebhook(
        id=new_webhook_id(), url="https://hooks.example/x", events=events, secret="s3cret", **extra
    )


def _attempt(
    clock: FakeClock, status: int | None = 200, error: str | None = None
) -> DeliveryAttempt:
    return DeliveryAttempt(1, clock.now(), status, error, 12.5)


async def test_register_list_delete(store: Storage) -> None:
    first = await store.webhooks.create(_hook(description="ops"))
    second = await store.webhooks.create(_hook(("debate.failed", "knowledge.conflict")))
    listed = await store.webhooks.list()
    assert [w.id for w in listed] == [first.id, second.id]
    assert listed[0].description == "ops"
    assert listed[0].format == "aragora"
    assert listed[1].events == ("debate.failed", "knowledge.conflict")
    assert not hasattr(listed[0], "secret")
    await store.webhooks.delete(first.id)
    assert [w.id for w in await store.webhooks.list()] == [second.id]
    with pytest.raises(NotFoundError):
        await store.webhooks.delete(first.id)
    with pytest.raises(NotFoundError):
        await store.webhooks.deliveries(first.id)


@pytest.mark.parametrize(
    "bad",
    [
        {"events": ()},
        {"events": ("debate.started",)},
        {"events": ("debate.failed", "debate.failed")},
        {"format": "teams"},
        {"url": ""},
        {"url": "https://x/" + "a" * 2000},
    ],
)
async def test_bad_webhooks_are_refused_and_change_nothing(
    store: Storage, bad: dict[str, object]
) -> None:
    hook = _hook()
    fields = {"id": hook.id, "url": hook.url, "events": hook.events, "secret": "s", **bad}
    with pytest.raises(InvalidInputError):
        await store.webhooks.create(NewWebhook(**fields))  # type: ignore[arg-type]
    assert await store.webhooks.list() == []


async def test_terminal_status_writes_the_outbox_in_its_transaction(
    store: Storage, clock: FakeClock
) -> None:
    completed = await store.webhooks.create(_hook(("debate.completed",)))
    both = await store.webhooks.create(_hook(("debate.completed", "knowledge.conflict")))
    await store.webhooks.create(_hook(("debate.failed",)))
    await store.debates.create(NewDebate("d1", "task"))
    document = {"id": "d1", "status": "completed", "final_answer": "42"}
    await store.debates.update(
        "d1",
        status="completed",
        document=document,
        outbox=[
            OutboxEvent("debate.completed", document),
            OutboxEvent("knowledge.conflict", {"debate_id": "d1"}),
        ],
    )
    assert (await store.debates.get("d1")).status == "completed"
    assert [d.event for d in await store.webhooks.deliveries(completed.id)] == ["debate.completed"]
    assert sorted(d.event for d in await store.webhooks.deliveries(both.id)) == [
        "debate.completed",
        "knowledge.conflict",
    ]
    claimed = await store.outbox.claim("w1", 30, limit=10)
    assert len(claimed) == 3
    by_event = {(c.webhook_id, c.event): c for c in claimed}
    delivered = by_event[(completed.id, "debate.completed")]
    assert delivered.data == document
    assert delivered.secret == "s3cret"
    assert delivered.url == "https://hooks.example/x"
    assert delivered.attempts == 0


async def test_a_debate_finished_twice_is_reported_once(store: Storage) -> None:
    hook = await store.webhooks.create(_hook())
    await store.debates.create(NewDebate("d1", "task"))
    for _ in range(2):
        await store.debates.update(
            "d1", status="completed", document={}, outbox=[OutboxEvent("debate.completed", {})]
        )
    assert len(await store.webhooks.deliveries(hook.id)) == 1


async def test_a_refused_outbox_leaves_the_status_unchanged(store: Storage) -> None:
    await store.webhooks.create(_hook())
    await store.debates.create(NewDebate("d1", "task"))
    with pytest.raises(InvalidInputError):
        await store.debates.update(
            "d1", status="completed", document={}, outbox=[OutboxEvent("nope", {})]
        )
    assert (await store.debates.get("d1")).status == "queued"
    assert await store.outbox.claim("w", 30) == []


async def test_claims_exclude_each_other_and_expire(store: Storage, clock: FakeClock) -> None:
    hook = await store.webhooks.create(_hook())
    assert await store.webhooks.enqueue([OutboxEvent("debate.completed", {"n": 1})]) == 1
    assert await store.webhooks.enqueue([OutboxEvent("debate.failed", {"n": 2})]) == 0
    first = await store.outbox.claim("a", 30)
    assert len(first) == 1
    assert await store.outbox.claim("b", 30) == []
    clock.advance(31)  # a died: its claim expires
    second = await store.outbox.claim("b", 30)
    assert [c.id for c in second] == [first[0].id]
    # a's late report does not count: b holds the claim now
    assert not await store.outbox.record(first[0].id, "a", _attempt(clock), outcome="delivered")
    assert await store.outbox.record(second[0].id, "b", _attempt(clock), outcome="delivered")
    [delivery] = await store.webhooks.deliveries(hook.id)
    assert delivery.state == "delivered"
    assert delivery.next_attempt_at is None
    assert [(a.number, a.status_code) for a in delivery.attempts] == [(1, 200)]
    clock.advance(100)
    assert await store.outbox.claim("c", 30) == []


async def test_retry_then_fail(store: Storage, clock: FakeClock) -> None:
    hook = await store.webhooks.create(_hook())
    await store.webhooks.enqueue([OutboxEvent("debate.completed", {})])
    [claimed] = await store.outbox.claim("a", 30)
    retry_at = clock.now() + timedelta(seconds=10)
    assert await store.outbox.record(
        claimed.id, "a", _attempt(clock, 500, "HTTP 500"), outcome="retry", retry_at=retry_at
    )
    assert await store.outbox.claim("a", 30) == []  # not due yet
    [listed] = await store.webhooks.deliveries(hook.id)
    assert listed.state == "pending"
    assert listed.next_attempt_at == retry_at
    clock.advance(11)
    [again] = await store.outbox.claim("a", 30)
    assert again.id == claimed.id
    assert again.attempts == 1
    assert await store.outbox.record(
        again.id, "a", _attempt(clock, None, "connection refused"), outcome="failed"
    )
    [listed] = await store.webhooks.deliveries(hook.id)
    assert listed.state == "failed"
    assert [(a.number, a.status_code, a.error) for a in listed.attempts] == [
        (1, 500, "HTTP 500"),
        (2, None, "connection refused"),
    ]
    assert listed.attempts[0].duration_ms == 12.5
    clock.advance(1000)
    assert await store.outbox.claim("a", 30) == []


async def test_deleting_a_webhook_drops_its_deliveries(store: Storage) -> None:
    hook = await store.webhooks.create(_hook())
    other = await store.webhooks.create(_hook())
    await store.webhooks.enqueue([OutboxEvent("debate.completed", {})])
    await store.webhooks.delete(hook.id)
    claimed = await store.outbox.claim("a", 30)
    assert [c.webhook_id for c in claimed] == [other.id]


async def test_claim_limit_and_order(store: Storage, clock: FakeClock) -> None:
    hook = await store.webhooks.create(_hook())
    for n in range(5):
        await store.webhooks.enqueue([OutboxEvent("debate.completed", {"n": n})])
    first = await store.outbox.claim("a", 30, limit=3)
    assert [c.data["n"] for c in first] == [0, 1, 2]
    rest = await store.outbox.claim("b", 30, limit=3)
    assert [c.data["n"] for c in rest] == [3, 4]
    assert len(await store.webhooks.deliveries(hook.id, limit=2)) == 2
    with pytest.raises(InvalidInputError):
        await store.webhooks.deliveries(hook.id, limit=0)


async def test_concurrent_claimers_never_share_a_delivery(store: Storage) -> None:
    """Replicas claiming at once (SKIP LOCKED on PostgreSQL, the writer lock on SQLite)."""
    await store.webhooks.create(_hook())
    for n in range(24):
        await store.webhooks.enqueue([OutboxEvent("debate.completed", {"n": n})])
    batches = await asyncio.gather(*(store.outbox.claim(f"r{i}", 30, limit=5) for i in range(6)))
    claimed = [c.id for batch in batches for c in batch]
    assert len(claimed) == len(set(claimed)) == 24
