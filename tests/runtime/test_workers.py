"""Workers: the concurrency limit, FIFO order, draining (the rest resumable), and a
worker that lost its lease stopping while the new holder finishes the debate."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from typing import Any, cast

import pytest

from aragora import wiring
from aragora.debate.events import Event
from aragora.debate.model import Task
from aragora.debate.state import DebateSetup
from aragora.errors import StaleLeaseError
from aragora.records.debates import (
    FencedEventSink,
    Lease,
    LeaseRepository,
    NewDebate,
    Storage,
)
from aragora.runtime.debate_request import DebateRequest
from aragora.runtime.document import debate_document
from aragora.settings import load_settings
from tests.runtime.support import TASK, finish, new_storage, running_node, seq_reached, wait_until


async def test_no_more_than_the_limit_run_at_once_and_the_rest_wait_in_order() -> None:
    async with running_node(demo_delay=0.05, max_concurrent=2) as node:
        ids = [(await node.service.create({"task": f"{TASK} {i}"}))["id"] for i in range(5)]
        peak = 0

        async def all_done() -> bool:
            nonlocal peak
            counts = await node.storage.debates.counts()
            peak = max(peak, counts["running"], node.workers.active)
            return counts["completed"] == 5

        await wait_until(all_done, within=30)
        assert peak == 2
        started = [(await node.storage.events.read(i, limit=1))[0].timestamp for i in ids]
        assert started == sorted(started)


async def test_drain_stops_claiming_and_leaves_unfinished_debates_resumable() -> None:
    storage = new_storage()
    async with running_node(storage=storage, demo_delay=0.3) as node:
        created = await node.service.create({"task": TASK, "mode": "debate", "rounds": 2})
        debate_id = created["id"]
        await seq_reached(storage, debate_id, 3)
        await node.drain(0.0)
        assert node.draining
        assert not (await node.health()).ready
        queued_later = None
        try:
            await node.service.create({"task": TASK})
        except Exception as exc:
            queued_later = exc
        assert type(queued_later).__name__ == "MaintenanceError"
        cut = await storage.events.last_seq(debate_id)
        assert (await storage.debates.get(debate_id)).status != "completed"
    # a new process on the same store picks the debate up and finishes it
    async with running_node(storage=storage) as node:
        seqs = [s for s in await finish(node, debate_id) if s is not None]
        events = await storage.events.read(debate_id)
        assert seqs == list(range(1, len(events) + 1))
        assert len(events) > cut
        assert [e.type for e in events].count("debate_end") == 1
        assert (await node.service.get(debate_id))["status"] == "completed"


async def test_a_dead_workers_debate_is_resumed_after_its_lease_expires() -> None:
    """A worker that dies mid-debate leaves a held lease and part of a log; once the
    lease expires another worker claims it, folds the log and finishes, and the dead
    worker's epoch can no longer append."""
    storage = new_storage()
    settings = load_settings({"ARAGORA_DEMO_DELAY": "0.05"})
    async with running_node(storage=storage, start=False) as node:
        created = await node.service.create({"task": TASK, "mode": "debate", "rounds": 1})
    debate_id = created["id"]
    record = await storage.debates.get(debate_id)
    request = DebateRequest.from_stored(record.task, record.request)
    dead = await storage.leases.claim("dead-worker", 0.5)
    assert dead is not None
    assert dead.debate_id == debate_id
    panel = wiring.build_panel(request.agents, settings, seed=request.seed)
    engine = wiring.build_engine(settings, sink=FencedEventSink(storage.events, dead.epoch))
    setup = DebateSetup(
        debate_id, Task(request.task), request.protocol, tuple(p for p, _ in panel), request.seed
    )
    run = asyncio.create_task(engine.start(setup, {p.name: llm for p, llm in panel}))
    await seq_reached(storage, debate_id, 4)
    run.cancel()  # the process dies here
    with contextlib.suppress(asyncio.CancelledError):
        await run
    cut = await storage.events.last_seq(debate_id)
    async with running_node(storage=storage, lease_ttl=5) as node:
        await asyncio.wait_for(finish(node, debate_id), 15)
        events = await storage.events.read(debate_id)
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        assert len(events) > cut
        assert [e.type for e in events].count("debate_end") == 1
        assert debate_document(debate_id, events)["status"] == "completed"
        late = Event("warning", debate_id, len(events) + 1, events[-1].timestamp)
        with pytest.raises(StaleLeaseError):
            await storage.events.append(late, epoch=dead.epoch)


class CountingLeases:
    """The store's leases, counting claims (and how many found a debate) and releases."""

    def __init__(self, leases: LeaseRepository) -> None:
        self._leases = leases
        self.claims: list[bool] = []
        self.releases: list[tuple[str, bool]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._leases, name)

    async def claim(self, owner: str, ttl: float, *, debate_id: str | None = None) -> Lease | None:
        lease = await self._leases.claim(owner, ttl, debate_id=debate_id)
        self.claims.append(lease is not None)
        return lease

    async def release(self, lease: Lease, *, requeue: bool = False) -> None:
        self.releases.append((lease.debate_id, requeue))
        await self._leases.release(lease, requeue=requeue)


def _counting_storage() -> tuple[CountingLeases, Storage]:
    base = new_storage()
    leases = CountingLeases(base.leases)
    return leases, dataclasses.replace(base, leases=cast(LeaseRepository, leases))


async def test_a_finished_debate_needs_no_release_and_a_drained_one_is_requeued() -> None:
    # The write storing a debate's end takes its job off the queue: the worker then sends
    # no release (it would change nothing). A debate stopped unfinished is released,
    # back onto the queue.
    leases, storage = _counting_storage()
    async with running_node(storage=storage, demo_delay=0.05) as node:
        done = await node.service.create({"task": TASK})
        await finish(node, done["id"])
        await wait_until(lambda: _true(node.workers.active == 0))
        assert leases.releases == []
        assert await storage.leases.current(done["id"]) is None
        assert await storage.leases.claim("another", 30, debate_id=done["id"]) is None
        cut = await node.service.create({"task": TASK, "mode": "debate", "rounds": 3})
        await seq_reached(storage, cut["id"], 3)
        await node.drain(0.0)
    assert leases.releases == [(cut["id"], True)]
    assert await storage.leases.claim("another", 30, debate_id=cut["id"]) is not None


async def test_a_debate_posted_to_a_pool_with_a_free_slot_starts_with_no_claim() -> None:
    leases, storage = _counting_storage()
    async with running_node(storage=storage) as node:
        await wait_until(lambda: _true(bool(leases.claims)))  # the first look: nothing
        leases.claims.clear()
        created = await node.service.create({"task": TASK})
        assert created["status"] == "queued"  # accepted; as the contract words it
        assert created["queue_position"] == 1
        # Taken by this pool in the write that queued it: running, leased, no claim made.
        assert (await storage.debates.get(created["id"])).status == "running"
        lease = await storage.leases.current(created["id"])
        assert lease is not None
        assert (lease.owner, lease.epoch) == (node.workers.owner, 1)
        await finish(node, created["id"])
        assert (await storage.debates.get(created["id"])).status == "completed"
        assert leases.claims == []


async def test_a_full_pool_queues_new_debates_and_claims_each_once_as_slots_free() -> None:
    leases, storage = _counting_storage()
    async with running_node(
        storage=storage, start=False, max_concurrent=1, demo_delay=0.05
    ) as node:
        node.workers._poll = 30.0  # no poll within the test: only announcements count
        node.start()
        await wait_until(lambda: _true(bool(leases.claims)))
        leases.claims.clear()
        first = await node.service.create({"task": TASK})  # taken at once
        second = await node.service.create({"task": TASK + " again"})  # waits: pool full
        third = await node.service.create({"task": TASK + " and again"})
        assert (second["queue_position"], third["queue_position"]) == (1, 2)
        for created in (first, second, third):
            await finish(node, created["id"])
        # The two queued ones were claimed once each, in order, as the slot freed up; a
        # claim finding nothing may follow the last (the freed slot looks once more).
        assert leases.claims[:2] == [True, True]
        assert not any(leases.claims[2:])


async def test_each_announcement_makes_one_claim_and_no_claim_follows_it() -> None:
    # Debates queued elsewhere (another replica, announced through the bus): one claim
    # each, and no claim finding nothing right after (it would share the loop with their
    # start).
    leases, storage = _counting_storage()
    async with running_node(storage=storage, start=False) as node:
        node.workers._poll = 30.0  # no poll within the test: only announcements count
        node.start()
        await wait_until(lambda: _true(bool(leases.claims)))  # the first look: nothing
        assert leases.claims == [False]
        leases.claims.clear()
        for name in ("elsewhere-1", "elsewhere-2"):
            await storage.debates.create(NewDebate(name, TASK, {"task": TASK}))
            node.workers.wake()
        await wait_until(lambda: _true(len(leases.claims) >= 2))
        await asyncio.sleep(0.2)
        assert leases.claims == [True, True]


async def test_a_debate_queued_with_no_announcement_is_found_by_the_poll() -> None:
    leases, storage = _counting_storage()
    async with running_node(storage=storage, start=False) as node:
        node.workers._poll = 0.2
        node.start()
        await wait_until(lambda: _true(bool(leases.claims)))
        # Queued as by another process with no bus to announce it.
        await storage.debates.create(
            NewDebate(id="quiet-1", task=TASK, request={"task": TASK}, priority=0)
        )
        await wait_until(lambda: _true(True in leases.claims), within=5)
        assert (await storage.debates.get("quiet-1")).status != "queued"


async def _true(value: bool) -> bool:
    return value


async def test_no_slot_is_offered_while_announced_debates_wait_for_a_claim() -> None:
    async with running_node() as node:
        await asyncio.sleep(0.05)  # the first look: the queue is empty
        claimant = node.workers.offer()
        assert claimant is not None
        node.workers.withdraw()
        await node.storage.debates.create(NewDebate("elsewhere", TASK, {"task": TASK}))
        node.workers.wake()  # announced: the next debate posted here queues behind it
        assert node.workers.offer() is None
