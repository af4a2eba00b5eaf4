"""The runner's extension points: context sources before a debate starts (with
references recorded for attribution), end checks that add warnings just before
``debate_end``, and finishers that add fields to the stored document."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from aragora import wiring
from aragora.debate.events import Event
from aragora.errors import DatabaseUnavailableError
from aragora.runtime.runner import FOLLOWUPS_PENDING
from aragora.settings import Settings, load_settings
from tests.runtime.support import (
    TASK,
    finish,
    new_storage,
    running_node,
    seq_reached,
    wait_until,
)


def instant_demo(tmp_path: Path) -> Settings:
    """Settings with the demo agents answering at once and data under ``tmp_path``."""
    return load_settings({"ARAGORA_DEMO_DELAY": "0", "ARAGORA_DATA_DIR": str(tmp_path)})


async def background(task: str, context: str) -> tuple[str, list[dict[str, Any]]]:
    return f"Past decision on {task!r}: use Postgres.", [{"id": "k1", "title": "Postgres"}]


async def broken_source(task: str, context: str) -> tuple[str, list[dict[str, Any]]]:
    raise RuntimeError("search index is corrupt")


calls: list[str] = []


async def conflict(debate_id: str, events: Sequence[Event], end: Event) -> list[dict[str, Any]]:
    calls.append(debate_id)
    if any(e.data.get("code") == "knowledge_conflict" for e in events):
        return []  # idempotent: already warned by an earlier attempt
    return [{"code": "knowledge_conflict", "message": "contradicts k1", "items": ["k1"]}]


async def receipt(
    debate_id: str, events: Sequence[Event], document: Mapping[str, Any]
) -> Mapping[str, Any] | None:
    return {"receipt": {"id": f"r-{debate_id}", "seq_count": len(events)}}


async def broken_finisher(
    debate_id: str, events: Sequence[Event], document: Mapping[str, Any]
) -> Mapping[str, Any] | None:
    raise ValueError("bug")


async def test_hooks_shape_the_log_and_the_document(tmp_path: Path) -> None:
    storage = new_storage()
    node = await wiring.open_node(
        instant_demo(tmp_path),
        storage=storage,
        context_sources=[broken_source, background],
        end_checks=[conflict],
        finishers=[broken_finisher, receipt],
    )
    node.start()
    try:
        created = await node.service.create({"task": TASK, "context": "We are five people."})
        seqs = [s for s in await finish(node, created["id"]) if s is not None]
        events = await storage.events.read(created["id"])
        assert seqs == list(range(1, len(events) + 1))
        start = events[0]
        assert start.data["references"] == [{"id": "k1", "title": "Postgres"}]
        assert start.data["context"].startswith("We are five people.\n\nPast decision")
        assert [e.type for e in events[-2:]] == ["warning", "debate_end"]
        assert events[-2].data["code"] == "knowledge_conflict"
        document = await node.service.get(created["id"])
        assert document["references"] == [{"id": "k1", "title": "Postgres"}]
        assert document["receipt"] == {"id": f"r-{created['id']}", "seq_count": len(events)}
        assert any(w["code"] == "knowledge_conflict" for w in document["warnings"])
        assert document["status"] == "completed"
    finally:
        await node.close()


async def failing_database(
    debate_id: str, events: Sequence[Event], document: Mapping[str, Any]
) -> Mapping[str, Any] | None:
    raise DatabaseUnavailableError("database at sqlite://x is unreachable")


async def test_a_finisher_that_cannot_reach_the_database_leaves_the_follow_ups_owed(
    tmp_path: Path,
) -> None:
    storage = new_storage()
    node = await wiring.open_node(
        instant_demo(tmp_path),
        storage=storage,
        finishers=[failing_database],
    )
    node.start()
    try:
        created = await node.service.create({"task": TASK})
        await finish(node, created["id"], followed_up=False)

        async def outcome_stored() -> bool:
            return (await storage.debates.get(created["id"])).status != "running"

        await wait_until(outcome_stored)
        record = await storage.debates.get(created["id"])
        # The outcome is visible at once; the follow-ups are owed (a later claim runs them).
        assert record.status == "completed"
        assert record.document is not None
        assert record.document[FOLLOWUPS_PENDING] is True
        assert "receipt" not in record.document
        assert (await node.service.get(created["id"]))[FOLLOWUPS_PENDING] is True
    finally:
        await node.close()


async def test_a_debate_being_finished_is_read_as_stored_with_its_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While its follow-ups run, a debate ended here is read from the document its end
    stored, without a database read; once they are stored, from the database again."""
    storage = new_storage()
    gate = asyncio.Event()

    async def slow_receipt(
        debate_id: str, events: Sequence[Event], document: Mapping[str, Any]
    ) -> Mapping[str, Any] | None:
        await gate.wait()
        return {"receipt": {"id": f"r-{debate_id}"}}

    node = await wiring.open_node(instant_demo(tmp_path), storage=storage, finishers=[slow_receipt])
    reads: list[str] = []
    read = storage.debates.get

    async def counted(debate_id: str, *, primary: bool = False) -> Any:
        reads.append(debate_id)
        return await read(debate_id, primary=primary)

    node.start()
    try:
        created = await node.service.create({"task": TASK})
        await finish(node, created["id"], followed_up=False)
        stored = (await storage.debates.get(created["id"])).document
        assert stored is not None
        assert stored[FOLLOWUPS_PENDING] is True
        monkeypatch.setattr(storage.debates, "get", counted)
        document = await node.service.get(created["id"])
        assert document == stored
        assert reads == []
        gate.set()
        await finish(node, created["id"])
        document = await node.service.get(created["id"])
        assert document["receipt"] == {"id": f"r-{created['id']}"}
        assert FOLLOWUPS_PENDING not in document
        assert reads  # let go: read from the database again
    finally:
        gate.set()
        await node.close()


async def test_a_debate_running_here_is_read_from_the_log_its_runner_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A debate running on this node is read from the stored log its runner holds (no
    read of the log back from the database), and reads the same as from a node that
    does not run it."""
    storage = new_storage()
    settings = load_settings({"ARAGORA_DEMO_DELAY": "30", "ARAGORA_DATA_DIR": str(tmp_path)})
    node = await wiring.open_node(settings, storage=storage)
    elsewhere = await wiring.open_node(settings, storage=storage)  # runs no debate
    read = storage.events.read
    reads: list[str] = []

    async def counted(debate_id: str, **options: Any) -> Any:
        reads.append(debate_id)
        return await read(debate_id, **options)

    node.start()
    try:
        created = await node.service.create({"task": TASK})
        await seq_reached(storage, created["id"], 1)
        await asyncio.sleep(0.2)  # the steps before the first calls are stored
        monkeypatch.setattr(storage.events, "read", counted)
        here = await node.service.get(created["id"])
        assert await node.service.get(created["id"]) == here
        assert reads == []
        there = await elsewhere.service.get(created["id"])
        assert reads == [created["id"]]
        assert here["status"] == "running"
        assert here == there
    finally:
        await node.close()
        await elsewhere.close()


async def test_a_debate_is_read_here_past_its_first_lease_while_it_is_renewed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Reads are served from what the runner holds only while its lease is unexpired;
    the heartbeat's renewals keep it so."""
    storage = new_storage()
    async with running_node(storage=storage, demo_delay=30, lease_ttl=0.6) as node:
        created = await node.service.create({"task": TASK})
        await seq_reached(storage, created["id"], 1)
        await asyncio.sleep(1.0)  # past the first lease's end: renewed meanwhile
        read = storage.events.read
        reads: list[str] = []

        async def counted(debate_id: str, **options: Any) -> Any:
            reads.append(debate_id)
            return await read(debate_id, **options)

        monkeypatch.setattr(storage.events, "read", counted)
        document = await node.service.get(created["id"])
        assert document["status"] == "running"
        assert document["awaiting_resumption"] is False
        assert reads == []


async def test_owed_follow_ups_run_once_on_the_next_claim(tmp_path: Path) -> None:
    """A worker that stopped between storing the outcome and its follow-ups (here: the
    database failed under the first finisher) leaves the job to a later claim, which runs
    them and stores the final document; each follow-up lands exactly once."""
    failures = [DatabaseUnavailableError("database at sqlite://x is unreachable")]
    issued: list[str] = []

    async def flaky_receipt(
        debate_id: str, events: Sequence[Event], document: Mapping[str, Any]
    ) -> Mapping[str, Any] | None:
        if failures:
            raise failures.pop()
        issued.append(debate_id)
        return {"receipt": {"id": f"r-{debate_id}"}}

    storage = new_storage()
    settings = instant_demo(tmp_path)
    node = await wiring.open_node(settings, storage=storage, finishers=[flaky_receipt])
    node.start()
    try:
        created = await node.service.create({"task": TASK})
        debate_id = created["id"]

        async def settled() -> bool:
            document = (await storage.debates.get(debate_id)).document or {}
            return "receipt" in document

        await wait_until(settled, within=20)
        document = await node.service.get(debate_id)
        assert document["status"] == "completed"
        assert document["receipt"] == {"id": f"r-{debate_id}"}
        assert FOLLOWUPS_PENDING not in document
        assert issued == [debate_id]
        ratings = await storage.ratings.leaderboard(limit=10)
        assert ratings
        assert all(r.debates == 1 for r in ratings)
        assert await storage.leases.current(debate_id) is None  # off the queue
    finally:
        await node.close()


async def test_a_debate_taken_as_it_is_queued_has_its_background_gathered_once_meanwhile(
    tmp_path: Path,
) -> None:
    gathered: list[str] = []
    storage = new_storage()

    async def background(task: str, context: str) -> tuple[str, list[dict[str, Any]]]:
        gathered.append(task)
        return "Past decision: use the boring option.", [{"id": "k-1"}]

    node = await wiring.open_node(
        instant_demo(tmp_path),
        storage=storage,
        context_sources=[background],
    )
    node.start()
    try:
        created = await node.service.create({"task": TASK})
        await finish(node, created["id"])
        start = (await storage.events.read(created["id"], limit=1))[0]
        assert "Past decision: use the boring option." in start.data["context"]
        assert gathered == [TASK]  # once: by the service as it queued the debate
        document = await node.service.get(created["id"])
        assert [r["id"] for r in document["references"]] == ["k-1"]
    finally:
        await node.close()
