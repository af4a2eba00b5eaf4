"""The repository contract, one suite for every backend: memory, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import pytest

from aragora.debate.events import Event
from aragora.debate.model import MAX_AGENT_NAME_CHARS, MAX_MODEL_CHARS, MAX_PROVIDER_CHARS
from aragora.debate.ports import FakeClock
from aragora.errors import (
    ConflictError,
    DataRejectedError,
    InvalidInputError,
    NotFoundError,
    StaleLeaseError,
)
from aragora.records.debates import (
    Claimant,
    DebateOutcome,
    FencedEventSink,
    Lease,
    NewDebate,
    NewReceipt,
    NewWebhook,
    Rating,
    RatingKey,
    Storage,
    new_webhook_id,
)
from aragora.records.webhooks import OutboxEvent


def event(debate_id: str, seq: int, **data: Any) -> Event:
    return Event(
        type="propose",
        debate_id=debate_id,
        seq=seq,
        timestamp=f"2026-01-02T03:04:{seq % 60:02d}.123456+00:00",
        round=1,
        agent="demo:skeptic",
        data=data or {"content": f"answer {seq}", "nested": {"list": [1, 2.5, None, "ü"]}},
    )


async def running(store: Storage, debate_id: str = "d1") -> Lease:
    """Create ``debate_id`` and claim it (it must be the only queued debate)."""
    await store.debates.create(NewDebate(debate_id, f"task {debate_id}", {"agents": ["demo"]}))
    lease = await store.leases.claim("worker-1", 30)
    assert lease is not None
    assert lease.debate_id == debate_id
    return lease


# --- debates --------------------------------------------------------------------------------
async def test_a_debate_round_trips(store: Storage) -> None:
    created = await store.debates.create(
        NewDebate("d1", "Which database?", {"agents": ["demo", "demo"], "rounds": 2})
    )
    assert created.record.status == "queued"
    assert created.queue_position == 1
    got = await store.debates.get("d1")
    assert got == created.record
    assert got.request == {"agents": ["demo", "demo"], "rounds": 2}
    assert got.document is None
    assert got.created_at.tzinfo is not None


async def test_debate_errors(store: Storage) -> None:
    await store.debates.create(NewDebate("d1", "task"))
    with pytest.raises(ConflictError):
        await store.debates.create(NewDebate("d1", "another"))
    with pytest.raises(NotFoundError):
        await store.debates.get("nope")
    with pytest.raises(NotFoundError):
        await store.debates.update("nope", status="running")
    with pytest.raises(InvalidInputError):
        await store.debates.update("d1", status="exploded")
    with pytest.raises(InvalidInputError):
        await store.debates.create(NewDebate("d2", "  "))


async def test_update_stores_status_and_document(store: Storage) -> None:
    await store.debates.create(NewDebate("d1", "task"))
    document = {"id": "d1", "status": "running", "messages": [{"content": "ü", "n": 1.5}]}
    await store.debates.update("d1", status="running", document=document)
    got = await store.debates.get("d1")
    assert (got.status, got.document) == ("running", document)
    assert got.updated_at > got.created_at
    await store.debates.update("d1", status="completed")  # document kept
    got = await store.debates.get("d1")
    assert (got.status, got.document) == ("completed", document)


async def test_list_pages_newest_first_with_totals(store: Storage) -> None:
    for n in range(7):
        await store.debates.create(NewDebate(f"d{n}", f"task number {n}"))
    first = await store.debates.list(limit=3)
    assert [d.id for d in first.items] == ["d6", "d5", "d4"]
    assert (first.total, first.limit, first.offset, first.has_more) == (7, 3, 0, True)
    assert all(d.document is None for d in first.items)
    last = await store.debates.list(limit=3, offset=6)
    assert [d.id for d in last.items] == ["d0"]
    assert not last.has_more
    beyond = await store.debates.list(limit=3, offset=10)
    assert (beyond.items, beyond.total, beyond.has_more) == ((), 7, False)
    with pytest.raises(InvalidInputError):
        await store.debates.list(limit=0)
    with pytest.raises(InvalidInputError):
        await store.debates.list(offset=-1)


async def test_list_filters_by_status_and_text(store: Storage) -> None:
    for n, task in enumerate(["Use PostgreSQL?", "Use SQLite?", "100% sure_thing", "pick A"]):
        await store.debates.create(NewDebate(f"d{n}", task))
    await store.debates.update("d1", status="completed", document={"x": 1})
    await store.debates.update("d3", status="failed")
    completed = await store.debates.list(status="completed")
    assert [d.id for d in completed.items] == ["d1"]
    assert completed.total == 1
    queued = await store.debates.list(status="queued")
    assert [d.id for d in queued.items] == ["d2", "d0"]
    assert [d.id for d in (await store.debates.list(query="use ")).items] == ["d1", "d0"]
    assert [d.id for d in (await store.debates.list(query="SQL")).items] == ["d1", "d0"]
    # LIKE wildcards in the text are literal characters
    assert [d.id for d in (await store.debates.list(query="0% s")).items] == ["d2"]
    assert [d.id for d in (await store.debates.list(query="e_t")).items] == ["d2"]
    assert [d.id for d in (await store.debates.list(query="use_")).items] == []
    assert (await store.debates.list(query="sql", status="queued")).total == 1
    with pytest.raises(InvalidInputError):
        await store.debates.list(status="unknown")


async def test_counts_cover_every_status(store: Storage) -> None:
    assert await store.debates.counts() == {
        "queued": 0, "running": 0, "completed": 0, "failed": 0, "cancelled": 0,
    }  # fmt: skip
    for n in range(3):
        await store.debates.create(NewDebate(f"d{n}", "t"))
    await store.debates.update("d0", status="running")
    await store.debates.update("d0", status="running")  # no change, no double count
    await store.debates.update("d1", status="cancelled")
    counts = await store.debates.counts()
    assert (counts["queued"], counts["running"], counts["cancelled"]) == (1, 1, 1)
    await asyncio.gather(*(store.debates.update(f"d{n}", status="completed") for n in range(3)))
    counts = await store.debates.counts()
    assert counts["completed"] == 3
    assert sum(counts.values()) == 3
    for status, n in counts.items():
        assert (await store.debates.list(status=status)).total == n


# --- events ---------------------------------------------------------------------------------
async def test_events_round_trip_in_order(store: Storage) -> None:
    lease = await running(store)
    written = [event("d1", seq) for seq in range(1, 6)]
    for item in written:
        await store.events.append(item, epoch=lease.epoch)
    assert await store.events.read("d1") == written
    assert await store.events.read("d1", since=3) == written[3:]
    assert await store.events.read("d1", since=1, limit=2) == written[1:3]
    assert await store.events.read("d1", since=5) == []
    assert await store.events.read("other") == []
    assert await store.events.last_seq("d1") == 5
    assert await store.events.last_seq("other") == 0
    assert await store.events.read("d1", primary=True) == written


async def test_appends_must_be_contiguous(store: Storage) -> None:
    lease = await running(store)
    with pytest.raises(ConflictError, match="expected 1"):
        await store.events.append(event("d1", 2), epoch=lease.epoch)
    await store.events.append(event("d1", 1), epoch=lease.epoch)
    with pytest.raises(ConflictError):
        await store.events.append(event("d1", 1, content="again"), epoch=lease.epoch)
    with pytest.raises(ConflictError, match="expected 2"):
        await store.events.append(event("d1", 3), epoch=lease.epoch)
    with pytest.raises(InvalidInputError):
        await store.events.append(Event("token", "d1", None, "t"), epoch=lease.epoch)
    assert [e.seq for e in await store.events.read("d1")] == [1]


async def test_events_appended_together_are_stored_all_or_none(store: Storage) -> None:
    lease = await running(store)
    await store.events.append_many([event("d1", 1)], epoch=lease.epoch)
    batch = [event("d1", seq) for seq in (2, 3, 4)]
    await store.events.append_many(batch, epoch=lease.epoch)
    assert await store.events.read("d1") == [event("d1", 1), *batch]
    with pytest.raises(ConflictError, match="expected 5"):  # not the next one: nothing
        await store.events.append_many([event("d1", 6), event("d1", 7)], epoch=lease.epoch)
    with pytest.raises(ConflictError):  # its first is already stored: nothing
        await store.events.append_many([event("d1", 4), event("d1", 5)], epoch=lease.epoch)
    with pytest.raises(InvalidInputError, match="consecutive"):
        await store.events.append_many([event("d1", 5), event("d1", 7)], epoch=lease.epoch)
    with pytest.raises(InvalidInputError, match="consecutive"):
        await store.events.append_many([event("d1", 5), event("d2", 6)], epoch=lease.epoch)
    with pytest.raises(InvalidInputError):
        await store.events.append_many([], epoch=lease.epoch)
    with pytest.raises(StaleLeaseError):
        await store.events.append_many([event("d1", 5), event("d1", 6)], epoch=lease.epoch + 1)
    too_long = replace(event("d1", 6), agent="a" * (MAX_AGENT_NAME_CHARS + 1))
    with pytest.raises(InvalidInputError):  # one event no backend stores: none stored
        await store.events.append_many([event("d1", 5), too_long], epoch=lease.epoch)
    assert [e.seq for e in await store.events.read("d1", primary=True)] == [1, 2, 3, 4]
    await FencedEventSink(store.events, lease.epoch).append_many([event("d1", 5)])
    assert await store.events.last_seq("d1") == 5


async def test_the_end_and_the_outcome_are_stored_together_or_not_at_all(
    store: Storage, clock: FakeClock
) -> None:
    lease = await running(store)
    await store.events.append(event("d1", 1), epoch=lease.epoch)
    document = {"id": "d1", "status": "completed", "final_answer": "42"}
    outcome = DebateOutcome("completed", document, followups=True)
    with pytest.raises(StaleLeaseError):
        await store.events.append_and_finish(
            [event("d1", 2)], epoch=lease.epoch + 1, outcome=outcome
        )
    with pytest.raises(ConflictError):
        await store.events.append_and_finish([event("d1", 3)], epoch=lease.epoch, outcome=outcome)
    with pytest.raises(InvalidInputError):
        await store.events.append_and_finish(
            [event("d1", 2)], epoch=lease.epoch, outcome=replace(outcome, status="nope")
        )
    with pytest.raises(InvalidInputError):  # an outbox event no webhook knows: nothing
        await store.events.append_and_finish(
            [event("d1", 2)],
            epoch=lease.epoch,
            outcome=replace(outcome, outbox=[OutboxEvent("nope", {})]),
        )
    assert await store.events.last_seq("d1") == 1
    record = await store.debates.get("d1", primary=True)
    assert (record.status, record.document) == ("running", None)
    sink = FencedEventSink(store.events, lease.epoch)
    await sink.append_and_finish([event("d1", 2), event("d1", 3)], outcome)
    assert [e.seq for e in await store.events.read("d1", primary=True)] == [1, 2, 3]
    record = await store.debates.get("d1", primary=True)
    assert (record.status, record.document) == ("completed", document)
    assert (await store.debates.counts())["completed"] == 1
    assert await store.leases.current("d1") is not None  # follow-ups owed: still held
    await store.debates.update("d1", status="completed", document=document)
    assert await store.leases.current("d1") is None


async def test_a_refused_batch_stores_none_of_its_events(store: Storage, clock: FakeClock) -> None:
    """Each check refuses a whole batch: a stale lease, a gap, a first event already
    stored; the log and the lease are as they were, and the next batch goes in."""
    lease = await running(store)
    await store.events.append_many([event("d1", seq) for seq in (1, 2, 3)], epoch=lease.epoch)
    refused: list[tuple[type[Exception], str, list[int], int]] = [
        (StaleLeaseError, "epoch", [4, 5, 6], lease.epoch - 1),
        (StaleLeaseError, "epoch", [4, 5, 6], lease.epoch + 1),
        (ConflictError, "append of seq 5, expected 4", [5, 6, 7], lease.epoch),
        (ConflictError, "seq 3", [3, 4, 5], lease.epoch),
        (ConflictError, "seq 1", [1, 2], lease.epoch),
    ]
    for error, message, seqs, epoch in refused:
        with pytest.raises(error, match=message):
            await store.events.append_many([event("d1", seq) for seq in seqs], epoch=epoch)
        assert await store.events.last_seq("d1") == 3
    assert await store.leases.current("d1") == lease
    assert [e.seq for e in await store.events.read("d1", primary=True)] == [1, 2, 3]
    await store.events.append_many([event("d1", seq) for seq in (4, 5, 6)], epoch=lease.epoch)
    assert await store.events.read("d1", primary=True) == [event("d1", n) for n in range(1, 7)]


async def test_racing_batches_store_exactly_one_whole(store: Storage) -> None:
    """Writers racing with batches for the same seqs: one batch is stored whole, every
    other gets ConflictError and stores nothing."""
    lease = await running(store)
    await store.events.append(event("d1", 1), epoch=lease.epoch)
    batches = [[event("d1", seq, by=n) for seq in (2, 3, 4)] for n in range(8)]
    results = await asyncio.gather(
        *(store.events.append_many(batch, epoch=lease.epoch) for batch in batches),
        return_exceptions=True,
    )
    winners = [n for n, result in enumerate(results) if result is None]
    assert len(winners) == 1
    assert all(isinstance(r, ConflictError) for r in results if r is not None)
    assert await store.events.read("d1", primary=True) == [event("d1", 1), *batches[winners[0]]]


async def test_a_finish_moves_the_counts_and_reports_once(store: Storage) -> None:
    """The end of a debate moves it from running to completed in the counts and writes
    its webhook event once: its follow-ups' update (same status) and concurrent updates
    to the same status neither count it nor report it again."""
    hook = await store.webhooks.create(
        NewWebhook(new_webhook_id(), "https://hooks.example/x", ("debate.completed",), "s")
    )
    lease = await running(store)
    await store.events.append(event("d1", 1), epoch=lease.epoch)
    document = {"id": "d1", "status": "completed", "final_answer": "ü 42"}
    reported = [OutboxEvent("debate.completed", document)]
    outcome = DebateOutcome("completed", document, reported, followups=True)
    await store.events.append_and_finish(
        [event("d1", 2), event("d1", 3)], epoch=lease.epoch, outcome=outcome
    )
    counts = await store.debates.counts()
    assert (counts["running"], counts["completed"]) == (0, 1)
    [delivery] = await store.webhooks.deliveries(hook.id)
    assert (delivery.event, delivery.state) == ("debate.completed", "pending")
    [claimed] = await store.outbox.claim("sender", 30)
    assert claimed.data == document
    assert await store.leases.current("d1") == lease  # follow-ups owed: still held
    await asyncio.gather(
        *(
            store.debates.update(
                "d1", status="completed", document={**document, "n": n}, outbox=reported
            )
            for n in range(4)
        )
    )
    assert await store.debates.counts() == {**counts, "completed": 1}
    assert len(await store.webhooks.deliveries(hook.id)) == 1
    assert await store.leases.current("d1") is None  # done: off the queue
    assert (await store.debates.get("d1", primary=True)).document in [
        {**document, "n": n} for n in range(4)
    ]
    await store.debates.update("d1", status="completed")  # no document: the stored one kept
    assert (await store.debates.get("d1", primary=True)).document is not None


async def test_a_claim_marks_a_queued_debate_running(store: Storage, clock: FakeClock) -> None:
    lease = await running(store)
    assert (await store.debates.get("d1", primary=True)).status == "running"
    assert (await store.debates.counts())["running"] == 1
    assert (await store.debates.counts())["queued"] == 0
    await store.debates.update("d1", status="completed", document={"status": "completed"})
    assert (await store.debates.counts())["running"] == 0
    await store.leases.release(lease)


async def test_a_terminal_status_with_follow_ups_keeps_the_job(
    store: Storage, clock: FakeClock
) -> None:
    lease = await running(store)
    await store.debates.update(
        "d1", status="completed", document={"followups_pending": True}, followups=True
    )
    assert (await store.debates.get("d1")).status == "completed"
    assert (await store.debates.counts())["completed"] == 1
    assert await store.leases.current("d1") is not None  # still held by its worker
    clock.advance(31)  # the worker died: the job is claimed again
    again = await store.leases.claim("worker-2", 30)
    assert again is not None
    assert (again.debate_id, again.epoch) == ("d1", lease.epoch + 1)
    assert (await store.debates.get("d1")).status == "completed"  # a claim leaves it
    await store.debates.update("d1", status="completed", document={"receipt": "r"})
    assert await store.leases.current("d1") is None  # done: off the queue
    assert await store.leases.claim("worker-3", 30) is None
    assert (await store.debates.counts())["completed"] == 1


async def test_an_append_needs_the_current_lease(store: Storage, clock: FakeClock) -> None:
    await store.debates.create(NewDebate("d1", "t"))
    with pytest.raises(StaleLeaseError):  # queued: nobody holds it
        await store.events.append(event("d1", 1), epoch=0)
    first = await store.leases.claim("worker-1", 10)
    assert first is not None
    await store.events.append(event("d1", 1), epoch=first.epoch)
    clock.advance(11)
    second = await store.leases.claim("worker-2", 10)
    assert second is not None
    assert (second.debate_id, second.epoch) == ("d1", first.epoch + 1)
    with pytest.raises(StaleLeaseError):
        await store.events.append(event("d1", 2), epoch=first.epoch)
    assert await store.events.last_seq("d1") == 1  # the stale append wrote nothing
    sink = FencedEventSink(store.events, second.epoch)
    await sink.append(event("d1", 2))
    with pytest.raises(StaleLeaseError):
        await FencedEventSink(store.events, first.epoch).append(event("d1", 3))
    await store.leases.release(second)
    with pytest.raises(StaleLeaseError):  # released: nobody may append
        await sink.append(event("d1", 3))
    with pytest.raises(StaleLeaseError):
        await store.events.append(event("unknown", 1), epoch=1)


async def test_concurrent_writers_keep_the_log_contiguous(store: Storage) -> None:
    lease = await running(store)
    per_writer, writers = 8, 5
    conflicts = 0

    async def writer(name: int) -> None:
        nonlocal conflicts
        written = 0
        while written < per_writer:
            seq = await store.events.last_seq("d1") + 1
            try:
                await store.events.append(event("d1", seq, by=name), epoch=lease.epoch)
            except ConflictError:
                conflicts += 1
                continue
            written += 1

    await asyncio.gather(*(writer(n) for n in range(writers)))
    stored = await store.events.read("d1", primary=True)
    assert [e.seq for e in stored] == list(range(1, per_writer * writers + 1))
    assert sorted(e.data["by"] for e in stored) == sorted(
        n for n in range(writers) for _ in range(per_writer)
    )


async def test_racing_for_one_seq_exactly_one_wins(store: Storage) -> None:
    lease = await running(store)
    results = await asyncio.gather(
        *(store.events.append(event("d1", 1, by=n), epoch=lease.epoch) for n in range(8)),
        return_exceptions=True,
    )
    assert sum(r is None for r in results) == 1
    assert all(isinstance(r, ConflictError) for r in results if r is not None)
    assert len(await store.events.read("d1")) == 1


# --- leases ---------------------------------------------------------------------------------
async def test_claims_are_fifo_and_exclusive(store: Storage) -> None:
    for n in range(5):
        await store.debates.create(NewDebate(f"d{n}", "t"))
    leases = await asyncio.gather(*(store.leases.claim(f"w{n}", 30) for n in range(7)))
    claimed = [lease for lease in leases if lease is not None]
    assert sorted(lease.debate_id for lease in claimed) == [f"d{n}" for n in range(5)]
    assert all(lease.epoch == 1 for lease in claimed)
    assert await store.leases.claim("late", 30) is None


async def test_claim_order_is_oldest_first(store: Storage) -> None:
    for n in range(3):
        await store.debates.create(NewDebate(f"d{n}", "t"))
    order = []
    for _ in range(3):
        lease = await store.leases.claim("w", 30)
        assert lease is not None
        order.append(lease.debate_id)
    assert order == ["d0", "d1", "d2"]


async def test_higher_priority_is_claimed_first_then_oldest(store: Storage) -> None:
    for name, priority in [("low", -1), ("a", 0), ("urgent", 5), ("b", 0), ("urgent2", 5)]:
        await store.debates.create(NewDebate(name, "t", priority=priority))
    expected = ["urgent", "urgent2", "a", "b", "low"]
    assert [await store.leases.position(name) for name in expected] == [1, 2, 3, 4, 5]
    order = []
    for _ in expected:
        lease = await store.leases.claim("w", 30)
        assert lease is not None
        order.append(lease.debate_id)
        assert await store.leases.position(lease.debate_id) is None  # running now
    assert order == expected


async def test_create_says_where_the_debate_stands_as_position_does(
    store: Storage, clock: FakeClock
) -> None:
    positions: dict[str, int] = {}
    for name, priority in [("a", 0), ("low", -1), ("urgent", 5), ("b", 0), ("urgent2", 5)]:
        created = await store.debates.create(NewDebate(name, "t", priority=priority))
        assert created.queue_position == await store.leases.position(name)
        positions[name] = created.queue_position
    # Each counted the queue as it found it: later arrivals ahead of it are not counted.
    assert positions == {"a": 1, "low": 2, "urgent": 1, "b": 3, "urgent2": 2}
    # Off the queue (running, finished) debates are not counted; expired leases neither.
    lease = await store.leases.claim("w", 30)
    assert lease is not None
    assert lease.debate_id == "urgent"
    await store.debates.update("urgent2", status="cancelled")
    clock.advance(31)
    created = await store.debates.create(NewDebate("c", "t"))
    assert created.queue_position == await store.leases.position("c") == 3  # after a and b


@pytest.mark.parametrize("clock", [FakeClock(tick=0)])  # every debate queued at one instant
async def test_create_and_position_order_equal_times_by_id(store: Storage) -> None:
    for name in ["m", "z", "a"]:
        created = await store.debates.create(NewDebate(name, "t"))
        assert created.queue_position == await store.leases.position(name)
    assert [await store.leases.position(name) for name in ["a", "m", "z"]] == [1, 2, 3]
    created = await store.debates.create(NewDebate("b", "t"))
    assert created.queue_position == await store.leases.position("b") == 2


async def test_a_claimant_takes_a_new_debate_that_would_be_claimed_next(store: Storage) -> None:
    created = await store.debates.create(NewDebate("d1", "t"), claimant=Claimant("w-1", 30))
    lease = created.lease
    assert lease is not None
    assert (lease.debate_id, lease.owner, lease.epoch) == ("d1", "w-1", 1)
    assert created.record.status == "running"
    assert created.queue_position == 1
    assert (await store.debates.get("d1")).status == "running"
    assert await store.leases.current("d1") == lease
    assert await store.leases.position("d1") is None
    assert await store.leases.claim("w-2", 30) is None  # nothing left to claim
    counts = await store.debates.counts()
    assert (counts["queued"], counts["running"]) == (0, 1)
    # The lease is a claim's lease: it fences appends, renews and releases like one.
    await FencedEventSink(store.events, lease.epoch).append(event("d1", 1))
    renewed = await store.leases.renew(lease, 60)
    await store.leases.release(renewed)
    assert await store.leases.current("d1") is None


async def test_a_claimant_leaves_a_debate_queued_behind_another(
    store: Storage, clock: FakeClock
) -> None:
    # Behind a queued debate of the same (or higher) priority: queued, in its place.
    await store.debates.create(NewDebate("first", "t"))
    created = await store.debates.create(NewDebate("second", "t"), claimant=Claimant("w", 30))
    assert created.lease is None
    assert created.record.status == "queued"
    assert created.queue_position == 2
    # Ahead of a lower priority: taken, since a claim would take it first.
    created = await store.debates.create(
        NewDebate("urgent", "t", priority=5), claimant=Claimant("w", 30)
    )
    assert created.lease is not None
    # A lease has expired (its worker died): that debate is claimed first, so the new one
    # waits.
    for name in ("first", "second"):
        await store.debates.update(name, status="cancelled")
    clock.advance(31)  # the urgent debate's lease expired
    created = await store.debates.create(NewDebate("late", "t"), claimant=Claimant("w", 30))
    assert created.lease is None
    assert created.queue_position == 1
    lease = await store.leases.claim("w2", 30)
    assert lease is not None
    assert lease.debate_id == "urgent"
    counts = await store.debates.counts()
    assert (counts["queued"], counts["running"]) == (1, 1)


async def test_a_claimant_with_no_lease_time_is_refused(store: Storage) -> None:
    with pytest.raises(InvalidInputError):
        await store.debates.create(NewDebate("d1", "t"), claimant=Claimant("w", 0))
    with pytest.raises(NotFoundError):
        await store.debates.get("d1")


async def test_queue_position_moves_up_and_is_none_off_the_queue(store: Storage) -> None:
    for n in range(3):
        await store.debates.create(NewDebate(f"d{n}", "t"))
    assert await store.leases.position("d2") == 3
    await store.leases.claim("w", 30)
    assert await store.leases.position("d2") == 2
    await store.debates.update("d1", status="cancelled")
    assert await store.leases.position("d2") == 1
    assert await store.leases.position("d1") is None
    assert await store.leases.position("nope") is None


async def test_renew_release_and_requeue(store: Storage, clock: FakeClock) -> None:
    lease = await running(store)
    renewed = await store.leases.renew(lease, 60)
    assert renewed.expires_at > lease.expires_at
    assert renewed.epoch == lease.epoch
    clock.advance(45)
    assert await store.leases.claim("thief", 30) is None  # renewal kept it
    await store.leases.release(renewed, requeue=True)
    with pytest.raises(StaleLeaseError):
        await store.leases.renew(renewed, 10)
    with pytest.raises(StaleLeaseError):
        await store.leases.release(renewed)
    again = await store.leases.claim("worker-2", 30)
    assert again is not None
    assert (again.debate_id, again.epoch, again.owner) == ("d1", lease.epoch + 1, "worker-2")
    await store.leases.release(again)
    assert await store.leases.claim("worker-3", 30) is None  # done
    with pytest.raises(InvalidInputError):
        await store.leases.claim("w", 0)


async def test_an_expired_lease_is_claimed_again(store: Storage, clock: FakeClock) -> None:
    lease = await running(store)
    clock.advance(31)
    stolen = await store.leases.claim("worker-2", 30)
    assert stolen is not None
    assert (stolen.debate_id, stolen.epoch) == ("d1", lease.epoch + 1)
    with pytest.raises(StaleLeaseError):
        await store.leases.renew(lease, 30)


async def test_a_dead_workers_debate_is_claimed_before_the_queue(
    store: Storage, clock: FakeClock
) -> None:
    lease = await running(store)
    await store.debates.create(NewDebate("urgent", "t", priority=50))
    clock.advance(31)
    first = await store.leases.claim("worker-2", 30)
    second = await store.leases.claim("worker-2", 30)
    assert first is not None
    assert second is not None
    assert (first.debate_id, first.epoch) == ("d1", lease.epoch + 1)
    assert second.debate_id == "urgent"
    assert await store.leases.claim("worker-2", 30) is None


async def test_a_claim_for_one_debate_takes_only_that_one(store: Storage, clock: FakeClock) -> None:
    # A process running only its own debate (``aragora debate`` beside a server on the
    # same database) must leave everyone else's queued and abandoned debates alone.
    dead = await running(store, "theirs-running")
    await store.debates.create(NewDebate("theirs-queued", "t", priority=50))
    await store.debates.create(NewDebate("mine", "t"))
    clock.advance(31)  # the other worker died: its debate is claimable again
    assert await store.leases.claim("cli", 30, debate_id="nonexistent") is None
    mine = await store.leases.claim("cli", 30, debate_id="mine")
    assert mine is not None
    assert (mine.debate_id, mine.owner, mine.epoch) == ("mine", "cli", 1)
    assert await store.leases.claim("cli", 30, debate_id="mine") is None  # held now
    # The rest is still there for an ordinary claim, dead worker's debate first.
    first = await store.leases.claim("server", 30)
    second = await store.leases.claim("server", 30)
    assert first is not None
    assert second is not None
    assert (first.debate_id, first.epoch) == ("theirs-running", dead.epoch + 1)
    assert second.debate_id == "theirs-queued"
    clock.advance(31)  # a claim for one debate also takes it over once its lease expired
    again = await store.leases.claim("cli-2", 30, debate_id="mine")
    assert again is not None
    assert (again.debate_id, again.epoch) == ("mine", 2)


async def test_holder_is_the_live_lease_or_none(store: Storage, clock: FakeClock) -> None:
    await store.debates.create(NewDebate("q", "t"))
    assert await store.leases.current("q") is None  # queued: nobody holds it
    assert await store.leases.current("unknown") is None
    lease = await store.leases.claim("worker-1", 30, debate_id="q")
    assert lease is not None
    held = await store.leases.current("q")
    assert held is not None
    assert (held.debate_id, held.owner, held.epoch) == ("q", "worker-1", lease.epoch)
    clock.advance(31)  # the worker stopped renewing: the debate awaits resumption
    assert await store.leases.current("q") is None
    renewed = await store.leases.claim("worker-2", 30)
    assert renewed is not None
    await store.leases.release(renewed, requeue=True)  # drained: back on the queue
    assert await store.leases.current("q") is None
    taken = await store.leases.claim("worker-3", 30)
    assert taken is not None
    await store.debates.update("q", status="completed")
    assert await store.leases.current("q") is None  # finished


async def test_a_finished_debate_leaves_the_queue(store: Storage) -> None:
    await store.debates.create(NewDebate("d1", "t"))
    await store.debates.update("d1", status="cancelled")
    assert await store.leases.claim("w", 30) is None
    lease = await running(store, "d2")
    await store.debates.update("d2", status="completed")
    with pytest.raises(StaleLeaseError):  # finished: no more events
        await store.events.append(event("d2", 1), epoch=lease.epoch)
    await store.leases.release(lease, requeue=True)  # its worker's release still succeeds
    assert await store.leases.claim("w", 30) is None  # and does not requeue it


# --- values every backend stores alike -------------------------------------------------------
@pytest.mark.parametrize(
    "agent", ["x" * (MAX_AGENT_NAME_CHARS + 1), "a\x00b", "line\nbreak", "esc\x1b[31m"]
)
async def test_an_agent_name_no_backend_could_store_is_refused_alike(
    store: Storage, agent: str
) -> None:
    """SQLite would keep a 300-character name that PostgreSQL refuses; both refuse it."""
    lease = await running(store)
    with pytest.raises(InvalidInputError, match="agent name"):
        await store.events.append(replace(event("d1", 1), agent=agent), epoch=lease.epoch)
    assert await store.events.last_seq("d1") == 0
    await store.events.append(
        replace(event("d1", 1), agent="x" * MAX_AGENT_NAME_CHARS), epoch=lease.epoch
    )


@pytest.mark.parametrize("task", ["a\x00b", "a\ud800b"])
async def test_a_task_no_backend_could_store_is_refused_alike(store: Storage, task: str) -> None:
    with pytest.raises(InvalidInputError, match="task"):
        await store.debates.create(NewDebate("d1", task))
    assert (await store.debates.counts())["queued"] == 0


async def test_a_value_the_database_cannot_encode_is_a_data_error(store: Storage) -> None:
    """What validation missed and the database refuses is a DataRejectedError (retrying
    cannot help), never a generic error a worker would retry."""
    lease = await running(store)
    with pytest.raises(DataRejectedError):
        await store.events.append(event("d1", 1, content="a\ud800b"), epoch=lease.epoch)
    assert await store.events.last_seq("d1") == 0


async def test_the_live_lease_of_a_running_debate(store: Storage, clock: FakeClock) -> None:
    await store.debates.create(NewDebate("d1", "t"))
    assert await store.leases.current("d1") is None
    assert await store.leases.current("nope") is None
    lease = await store.leases.claim("w1", 30)
    assert lease is not None
    assert await store.leases.current("d1") == lease
    renewed = await store.leases.renew(lease, 30)
    assert await store.leases.current("d1") == renewed
    await store.leases.release(renewed, requeue=True)
    assert await store.leases.current("d1") is None
    again = await store.leases.claim("w2", 30)
    assert again is not None
    clock.advance(60)  # its worker died: no live lease
    assert await store.leases.current("d1") is None


# --- tokens, settings, ratings, receipts -------------------------------------------------------
async def test_tokens(store: Storage) -> None:
    admin = await store.tokens.create(name="ops laptop", role="admin", secret="s3cret-admin")
    viewer = await store.tokens.create(name="grafana", role="viewer", secret="s3cret-viewer")
    assert admin.id != viewer.id
    assert admin.last_used_at is None
    used = await store.tokens.authenticate("s3cret-admin")
    assert used is not None
    assert (used.id, used.role, used.name) == (admin.id, "admin", "ops laptop")
    assert used.last_used_at is not None
    assert await store.tokens.authenticate("wrong") is None
    listed = await store.tokens.list()
    assert [t.id for t in listed] == [admin.id, viewer.id]
    assert listed[0].last_used_at == used.last_used_at
    revoked = await store.tokens.revoke(admin.id)
    assert revoked.revoked
    assert (await store.tokens.revoke(admin.id)).revoked_at == revoked.revoked_at
    assert await store.tokens.authenticate("s3cret-admin") is None
    with pytest.raises(NotFoundError):
        await store.tokens.revoke("tok_missing")
    with pytest.raises(InvalidInputError):
        await store.tokens.create(name="x", role="root", secret="abc")
    with pytest.raises(ConflictError):
        await store.tokens.create(name="dup", role="viewer", secret="s3cret-viewer")


async def test_settings(store: Storage) -> None:
    assert await store.settings.get("maintenance") is None
    await store.settings.set("maintenance", {"enabled": True, "message": "upgrade ü"})
    assert await store.settings.get("maintenance") == {"enabled": True, "message": "upgrade ü"}
    await store.settings.set("maintenance", {"enabled": False})
    assert await store.settings.get("maintenance") == {"enabled": False}
    await store.settings.delete("maintenance")
    await store.settings.delete("maintenance")
    assert await store.settings.get("maintenance") is None
    with pytest.raises(InvalidInputError):
        await store.settings.set("x", None)


def _key(name: str, model: str = "m") -> RatingKey:
    return ("p", model, name)


def _rating(name: str, elo: float = 1500.0, model: str = "m", **record: int) -> Rating:
    return Rating(name, elo, provider="p", model=model, **record)


async def test_ratings(store: Storage) -> None:
    assert await store.ratings.leaderboard() == []
    await store.ratings.put(
        [_rating("a", 1510.5, wins=1, debates=1), _rating("b", 1489.5, losses=1, debates=1)]
    )
    await store.ratings.put([_rating("c", 1510.5, draws=1, debates=1), _rating("b", 1400.0)])
    assert [r.agent for r in await store.ratings.leaderboard()] == ["a", "c", "b"]
    assert [r.agent for r in await store.ratings.leaderboard(limit=1)] == ["a"]
    got = await store.ratings.get([_key("a"), _key("b"), _key("zz")])
    assert got == {
        _key("a"): _rating("a", 1510.5, wins=1, debates=1),
        _key("b"): _rating("b", 1400.0),
    }
    assert await store.ratings.get([]) == {}


async def test_one_name_under_two_models_is_two_ratings(store: Storage) -> None:
    await store.ratings.put([_rating("a", 1600.0, model="m1"), _rating("a", 1400.0, model="m2")])
    board = await store.ratings.leaderboard()
    assert [(r.agent, r.model, r.elo) for r in board] == [("a", "m1", 1600.0), ("a", "m2", 1400.0)]
    got = await store.ratings.get([_key("a", "m2")])
    assert got == {_key("a", "m2"): _rating("a", 1400.0, model="m2")}


@pytest.mark.parametrize(
    "rating",
    [
        Rating("x" * (MAX_AGENT_NAME_CHARS + 1), provider="p", model="m"),
        Rating("a", provider="p" * (MAX_PROVIDER_CHARS + 1), model="m"),
        Rating("a", provider="p", model="m" * (MAX_MODEL_CHARS + 1)),
        Rating("a\x00b", provider="p", model="m"),
    ],
)
async def test_a_rating_that_does_not_fit_is_refused_on_every_backend(
    store: Storage, rating: Rating
) -> None:
    with pytest.raises(InvalidInputError):
        await store.ratings.put([rating])
    with pytest.raises(InvalidInputError):
        await store.ratings.record("d", [rating.key], lambda current: [rating])
    assert await store.ratings.leaderboard() == []
    assert await store.ratings.record("d", [_key("a")], lambda current: []) is True


def _one_more(current: Mapping[RatingKey, Rating], agents: Sequence[str]) -> list[Rating]:
    return [
        replace(
            current.get(_key(a)) or _rating(a),
            debates=(current.get(_key(a)) or _rating(a)).debates + 1,
        )
        for a in agents
    ]


async def test_each_debate_is_rated_once_and_no_update_is_lost(store: Storage) -> None:
    agents = ["a", "b", "c"]
    keys = [_key(a) for a in agents]
    new = await asyncio.gather(  # first ratings of new agents, at once
        *(
            store.ratings.record(f"n{n}", [_key("x")], lambda c: _one_more(c, ["x"]))
            for n in range(5)
        )
    )
    assert all(new)
    assert (await store.ratings.get([_key("x")]))[_key("x")].debates == 5
    first = await store.ratings.record("d1", keys, lambda c: _one_more(c, agents))
    again = await store.ratings.record("d1", keys, lambda c: _one_more(c, agents))
    assert (first, again) == (True, False)
    # twenty debates finishing at once, each reading and writing the same three rows
    results = await asyncio.gather(
        *(store.ratings.record(f"d{n}", keys, lambda c: _one_more(c, agents)) for n in range(2, 22))
    )
    assert all(results)
    board = {r.agent: r.debates for r in await store.ratings.leaderboard()}
    assert board == {**dict.fromkeys(agents, 21), "x": 5}


async def test_receipts_form_a_chain(store: Storage) -> None:
    assert await store.receipts.head() is None
    first = await store.receipts.append(NewReceipt("r1", "d1", "h1", None, {"v": "0.2"}))
    assert (first.position, first.previous_digest) == (1, None)
    with pytest.raises(ConflictError):  # not chained to the head
        await store.receipts.append(NewReceipt("r2", "d1", "h2", None, {}))
    with pytest.raises(ConflictError):  # the id exists
        await store.receipts.append(NewReceipt("r1", "d2", "h9", "h1", {}))
    second = await store.receipts.append(NewReceipt("r2", "d2", "h2", "h1", {"n": [1, 2]}))
    third = await store.receipts.append(NewReceipt("r3", "d1", "h3", "h2", {}))
    assert second.position == 2
    assert await store.receipts.head() == third
    assert await store.receipts.get("r2") == second
    assert [r.id for r in await store.receipts.for_debate("d1")] == ["r1", "r3"]
    with pytest.raises(NotFoundError):
        await store.receipts.get("r9")
    assert [r.id for r in await store.receipts.chain()] == ["r1", "r2", "r3"]
    assert [r.id for r in await store.receipts.chain(after=1, limit=1)] == ["r2"]
    assert await store.receipts.chain(after=3) == []
    for limit in (0, 1001):
        with pytest.raises(InvalidInputError):
            await store.receipts.chain(limit=limit)


async def test_racing_receipts_never_fork_the_chain(store: Storage) -> None:
    await store.receipts.append(NewReceipt("r0", "d", "h0", None, {}))
    results = await asyncio.gather(
        *(store.receipts.append(NewReceipt(f"r{n}", "d", f"x{n}", "h0", {})) for n in range(1, 6)),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert all(isinstance(r, ConflictError) for r in results if isinstance(r, BaseException))
    head = await store.receipts.head()
    assert head is not None
    assert head.position == 2
