"""A worker is unconditionally safe, on every backend: a debate that cannot be stored
fails with its reason and frees its slot (one log line, no retry loop); a transient
failure backs off; cancel ends a debate whatever state it is in."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

import pytest

from aragora import wiring
from aragora.agents.fakes.scripted import ScriptedLLM, reply_with
from aragora.debate.events import Event
from aragora.debate.model import Participant
from aragora.debate.ports import LLM, EventSink, FakeClock
from aragora.errors import DatabaseUnavailableError, DataRejectedError
from aragora.records.debates import DebateOutcome, NewDebate, Storage
from aragora.runtime.bus import LocalBus
from aragora.runtime.debate_request import RequestDefaults, parse_request
from aragora.runtime.runner import DebateRunner
from aragora.runtime.workers import MAX_TRANSIENT_FAILURES, WorkerPool
from aragora.settings import load_settings

SETTINGS = load_settings({"ARAGORA_DEMO_DELAY": "0"})
DEFAULTS = RequestDefaults(agents=("demo",), agent_timeout=30.0, debate_timeout=60.0)


def _scripted_panel(answer: str) -> Any:
    """A panel builder: one scripted agent per spec, each answering ``answer``."""

    def build(specs: Sequence[str], *, seed: int, trusted: bool) -> list[tuple[Participant, LLM]]:
        return [
            (Participant(f"agent{n}", spec, "scripted", "m"), ScriptedLLM(reply_with(answer)))
            for n, spec in enumerate(specs)
        ]

    return build


def _demo_panel(specs: Sequence[str], *, seed: int, trusted: bool) -> Any:
    return wiring.build_panel(specs, SETTINGS, seed=seed, trusted=trusted)


def _engine(*, sink: EventSink, publish_token: Any) -> Any:
    return wiring.build_engine(SETTINGS, sink=sink, publish_token=publish_token)


class _StuckEngine:
    """An engine that never ends and never looks at its cancel event."""

    async def start(self, *args: Any, **kwargs: Any) -> None:
        await asyncio.sleep(3600)

    resume = start


@asynccontextmanager
async def pool(
    store: Storage,
    *,
    panel: Any = _demo_panel,
    engine: Any = _engine,
    max_concurrent: int = 1,
    cancel_grace: float = 30.0,
    lease_ttl: float = 30.0,
    wall_clock: Any = None,
) -> AsyncIterator[WorkerPool]:
    runner = DebateRunner(storage=store, bus=LocalBus(), build_panel=panel, build_engine=engine)
    workers = WorkerPool(
        storage=store,
        runner=runner,
        owner="w1",
        max_concurrent=max_concurrent,
        lease_ttl=lease_ttl,
        poll_interval=0.01,
        cancel_grace=cancel_grace,
        **({"wall_clock": wall_clock} if wall_clock is not None else {}),
    )
    workers.start()
    try:
        yield workers
    finally:
        await workers.close()


async def queue(store: Storage, debate_id: str, agents: Sequence[str] = ("demo",)) -> None:
    request = parse_request({"task": "Which database?", "mode": "single"}, DEFAULTS, seed=1)
    request = replace(request, agents=tuple(agents))
    await store.debates.create(NewDebate(debate_id, request.task, request.to_stored()))


async def status_of(store: Storage, debate_id: str, wanted: set[str], within: float = 10) -> str:
    """The debate's status once it is one of ``wanted`` and its follow-ups are stored."""
    async with asyncio.timeout(within):
        while True:
            record = await store.debates.get(debate_id)
            pending = (record.document or {}).get("followups_pending")
            if record.status in wanted and not pending:
                return record.status
            await asyncio.sleep(0.01)


def logged(caplog: pytest.LogCaptureFixture, event: str) -> list[dict[str, Any]]:
    """The fields of each ``event`` logged."""
    return [
        dict(getattr(r, "aragora_fields", {})) for r in caplog.records if r.getMessage() == event
    ]


async def test_a_label_stored_before_the_limits_fails_and_frees_the_slot(
    store: Storage, caplog: pytest.LogCaptureFixture
) -> None:
    """A debate accepted before the limits existed, with a 300-character label (which
    PostgreSQL refused on every append while SQLite kept it): it fails with its reason on
    every backend, and the debate queued behind it runs on the one slot."""
    await queue(store, "poison", ["demo#" + "L" * 300])
    await queue(store, "ordinary")
    with caplog.at_level(logging.INFO, logger="aragora"):
        async with pool(store, max_concurrent=1):
            assert await status_of(store, "poison", {"failed", "completed"}) == "failed"
            assert await status_of(store, "ordinary", {"completed", "failed"}) == "completed"
    document = (await store.debates.get("poison")).document
    assert document is not None
    assert "label must be at most 100 characters" in document["error"]
    assert not any(record.exc_info for record in caplog.records)


async def test_a_value_the_database_refuses_fails_the_debate_once(
    store: Storage, caplog: pytest.LogCaptureFixture
) -> None:
    """An append the database refuses as data (no retry can fix it): the debate fails with
    the reason, logged once, and the slot is free for the next debate."""
    await queue(store, "poison")
    await queue(store, "ordinary")
    refusing = replace(store, events=_RefusingEvents(store.events, poison="poison"))
    with caplog.at_level(logging.INFO, logger="aragora"):
        async with pool(refusing) as workers:
            assert await status_of(store, "poison", {"failed", "completed"}) == "failed"
            # the slot is free again: the next debate is claimed and completes
            assert await status_of(store, "ordinary", {"failed", "completed"}) == "completed"
            async with asyncio.timeout(10):  # its follow-ups run after the status is stored
                while workers.active:  # noqa: ASYNC110 - the pool's own count
                    await asyncio.sleep(0.01)
    assert [fields["debate_id"] for fields in logged(caplog, "debate_failed")] == ["poison"]
    assert not any(record.exc_info for record in caplog.records)
    document = (await store.debates.get("poison")).document
    assert document is not None
    assert document["status"] == "failed"
    assert "refused a value" in document["error"]


async def test_text_no_database_can_store_is_replaced_and_the_debate_completes(
    store: Storage,
) -> None:
    """A model's reply with NUL and a lone surrogate (both arrive as JSON escapes) would stop
    every append on PostgreSQL; the engine stores U+FFFD in their place."""
    await queue(store, "odd")
    async with pool(store, panel=_scripted_panel("Post\u0000gre\ud800SQL")):
        assert await status_of(store, "odd", {"failed", "completed"}) == "completed"
    document = (await store.debates.get("odd")).document
    assert document is not None
    assert document["final_answer"] == "Post\ufffdgre\ufffdSQL"


@dataclass
class _RefusingEvents:
    """The event log refusing, as the database would refuse a value, every append of one
    debate after its first event."""

    inner: Any
    poison: str

    async def append(self, event: Event, *, epoch: int) -> None:
        if event.debate_id == self.poison and (event.seq or 0) > 1:
            raise DataRejectedError("the database refused a value: value too long")
        await self.inner.append(event, epoch=epoch)

    async def append_many(self, events: Sequence[Event], *, epoch: int) -> None:
        if any(e.debate_id == self.poison and (e.seq or 0) > 1 for e in events):
            raise DataRejectedError("the database refused a value: value too long")
        await self.inner.append_many(events, epoch=epoch)

    async def append_and_finish(
        self, events: Sequence[Event], *, epoch: int, outcome: DebateOutcome
    ) -> None:
        if any(e.debate_id == self.poison and (e.seq or 0) > 1 for e in events):
            raise DataRejectedError("the database refused a value: value too long")
        await self.inner.append_and_finish(events, epoch=epoch, outcome=outcome)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@dataclass
class _FlakyEvents:
    """The event log with every append failing as if the connection dropped."""

    inner: Any
    appends: int = 0

    async def append(self, event: Event, *, epoch: int) -> None:
        self.appends += 1
        raise DatabaseUnavailableError("database x unavailable: connection lost")

    async def append_many(self, events: Sequence[Event], *, epoch: int) -> None:
        self.appends += 1
        raise DatabaseUnavailableError("database x unavailable: connection lost")

    async def append_and_finish(
        self, events: Sequence[Event], *, epoch: int, outcome: DebateOutcome
    ) -> None:
        self.appends += 1
        raise DatabaseUnavailableError("database x unavailable: connection lost")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def test_transient_failures_back_off_and_a_debate_that_always_fails_them_ends(
    store: Storage, caplog: pytest.LogCaptureFixture
) -> None:
    """While the database answers pings, a debate whose every append is refused as if the
    connection dropped is retried with a growing wait, then failed: never a tight loop."""
    flaky = _FlakyEvents(store.events)
    broken = replace(store, events=flaky)
    await queue(store, "d1")
    loop = asyncio.get_running_loop()
    started = loop.time()
    with caplog.at_level(logging.INFO, logger="aragora"):
        async with pool(broken):
            assert await status_of(store, "d1", {"failed", "completed"}, within=20) == "failed"
    elapsed = loop.time() - started
    # waits of 0.01 s doubling: 0.01 + 0.02 + ... for the failures before the last
    assert elapsed >= 0.01 * (2 ** (MAX_TRANSIENT_FAILURES - 1) - 1)
    assert flaky.appends <= MAX_TRANSIENT_FAILURES + 2  # the failure's own end is tried too
    assert len(logged(caplog, "debate_interrupted")) == MAX_TRANSIENT_FAILURES - 1
    assert len(logged(caplog, "debate_failed")) == 1
    assert not any(record.exc_info for record in caplog.records)


async def test_cancel_ends_a_queued_debate_even_with_a_log(store: Storage) -> None:
    """A debate put back on the queue (its replica drained) has events; cancel ends it now."""
    await queue(store, "d1")
    lease = await store.leases.claim("gone", 30)
    assert lease is not None
    await store.events.append(
        Event("warning", "d1", 1, "2026-01-02T03:04:05+00:00", data={}), epoch=lease.epoch
    )
    await store.leases.release(lease, requeue=True)
    async with pool(store, max_concurrent=0) as workers:
        assert await workers.cancel("d1") == "cancelled"
    record = await store.debates.get("d1")
    assert record.status == "cancelled"
    assert record.document is not None
    assert record.document["task"] == "Which database?"


async def test_cancel_ends_a_debate_whose_worker_died(store: Storage, clock: FakeClock) -> None:
    """The lease of a dead replica has expired: nobody would ever see the cancel."""
    await queue(store, "d1")
    dead = await store.leases.claim("dead", 30)
    assert dead is not None
    clock.advance(60)
    async with pool(store, max_concurrent=0) as workers:
        assert await workers.cancel("d1") == "cancelled"
    assert (await store.debates.get("d1")).status == "cancelled"
    with pytest.raises(Exception, match=r"stale|lost"):  # the dead worker is fenced off
        await store.leases.renew(dead, 30)


async def test_cancel_of_a_stuck_worker_elsewhere_ends_it_after_the_grace(store: Storage) -> None:
    """Another replica holds a live lease but never stops: the first cancel asks, one
    after the grace ends it, and that replica's next append is refused."""
    await queue(store, "d1")
    other = await store.leases.claim("other", 30)
    assert other is not None
    wall = FakeClock()

    def seconds() -> float:
        return wall.now().timestamp()

    async with pool(store, max_concurrent=0, cancel_grace=15, wall_clock=seconds) as workers:
        assert await workers.cancel("d1") == "cancelling"
        wall.advance(14)
        assert await workers.cancel("d1") == "cancelling"
        wall.advance(1)
        assert await workers.cancel("d1") == "cancelled"
    assert (await store.debates.get("d1")).status == "cancelled"
    with pytest.raises(Exception, match=r"stale|lost"):
        await store.leases.renew(other, 30)


async def test_a_local_debate_that_ignores_its_cancel_is_stopped_by_force(
    store: Storage,
) -> None:
    await queue(store, "d1")
    stuck = _StuckEngine()
    async with pool(store, engine=lambda **_: stuck, cancel_grace=0.2, lease_ttl=3) as workers:
        await status_of(store, "d1", {"running"})
        assert await workers.cancel("d1") == "cancelling"
        assert await status_of(store, "d1", {"cancelled"}, within=5) == "cancelled"
        assert workers.active == 0
    events = await store.events.read("d1")
    assert [e.type for e in events][-2:] == ["warning", "debate_end"]


async def test_during_an_outage_a_debate_waits_longer_each_time_and_is_kept(
    store: Storage,
) -> None:
    """The database answers no ping: the failures are not the debate's, so it is never
    failed for them, and the waits double (no tight loop while the outage lasts)."""
    flaky = _FlakyEvents(store.events)

    async def down() -> None:
        raise DatabaseUnavailableError("database x unavailable: connection refused")

    broken = replace(store, events=flaky, ping=down)
    await queue(store, "d1")
    async with pool(broken):
        await asyncio.sleep(1.5)
    # waits of 0.01, 0.02, 0.04 ... s: about 8 tries in 1.5 s (a tight loop makes hundreds)
    assert 3 <= flaky.appends <= 10
    assert (await store.debates.get("d1")).status in ("queued", "running")


class _Gate:
    """An admission that refuses until opened, counting how often it was asked."""

    def __init__(self) -> None:
        self.open = False
        self.asked = 0

    def admits(self) -> bool:
        self.asked += 1
        return self.open

    def unused(self) -> None:
        pass


async def test_a_busy_replica_leaves_debates_queued_until_it_admits_them(store: Storage) -> None:
    runner = DebateRunner(
        storage=store, bus=LocalBus(), build_panel=_demo_panel, build_engine=_engine
    )
    gate = _Gate()
    workers = WorkerPool(
        storage=store,
        runner=runner,
        owner="w1",
        max_concurrent=4,
        lease_ttl=30.0,
        poll_interval=0.01,
        admission=gate,
    )
    await queue(store, "busy-1")
    workers.start()
    try:
        async with asyncio.timeout(5):
            while gate.asked < 5:  # noqa: ASYNC110 - the claim loop asks it
                await asyncio.sleep(0.005)
        assert (await store.debates.get("busy-1")).status == "queued"
        assert await store.leases.current("busy-1") is None
        assert workers.active == 0
        gate.open = True
        assert await status_of(store, "busy-1", {"completed"}) == "completed"
    finally:
        await workers.close()
