"""The debate service on a real node (memory store, demo agents): create, read, cancel,
maintenance, stats, leaderboard."""

from __future__ import annotations

import asyncio

import pytest

from aragora.errors import (
    ConflictError,
    InvalidAgentSpecError,
    InvalidInputError,
    MaintenanceError,
    NotFoundError,
)
from tests.runtime.support import TASK, finish, running_node, seq_reached


async def test_a_debate_is_queued_run_and_stored() -> None:
    async with running_node() as node:
        created = await node.service.create({"task": TASK, "agents": ["demo"] * 3})
        assert created["status"] == "queued"
        assert created["success"] is True
        assert created["debate_id"] == created["id"]
        assert created["queue_position"] >= 1
        await finish(node, created["id"])
        document = await node.service.get(created["id"])
        assert document["status"] == "completed"
        assert document["task"] == TASK
        assert document["final_answer"] in {"Postgres", "MySQL"}
        assert [a["name"] for a in document["agents"]] == created["agents"]
        record = await node.storage.debates.get(created["id"])
        assert record.status == "completed"
        assert record.document == document  # the cached document is what is served
        messages = await node.service.messages(created["id"])
        assert messages["messages"] == document["messages"]


async def test_bad_requests_name_the_problem_and_store_nothing() -> None:
    async with running_node(start=False) as node:
        for body, error, text in [
            ({"task": "  "}, InvalidInputError, "task"),
            ({"task": TASK, "colour": "red"}, InvalidInputError, "colour"),
            ({"task": TASK, "agents": "demo"}, InvalidInputError, "list"),
            ({"task": TASK, "agents": ["nonsense:model"]}, InvalidAgentSpecError, "nonsense"),
            (
                {"task": TASK, "agents": ["anthropic:claude-sonnet-4-5"]},
                InvalidAgentSpecError,
                "ANTHROPIC_API_KEY",
            ),
            ({"task": TASK, "rounds": 0}, InvalidInputError, "rounds"),
            ({"task": TASK, "mode": "shout"}, InvalidInputError, "mode"),
            ({"task": TASK, "protocol": {"bogus": 1}}, InvalidInputError, "bogus"),
            ({"task": TASK, "consensus": "judge", "judge": "nobody"}, InvalidInputError, "nobody"),
            ({"task": TASK, "metadata": [1]}, InvalidInputError, "metadata"),
            ([1, 2], InvalidInputError, "object"),
        ]:
            with pytest.raises(error, match=text):
                await node.service.create(body)  # type: ignore[arg-type]
        assert (await node.storage.debates.counts())["queued"] == 0


async def test_top_level_fields_override_the_protocol_object() -> None:
    async with running_node() as node:
        created = await node.service.create(
            {"task": TASK, "protocol": {"rounds": 3, "mode": "vote"}, "rounds": 1, "mode": "debate"}
        )
        await finish(node, created["id"])
        document = await node.service.get(created["id"])
        assert document["mode"] == "debate"
        assert document["rounds"] == 1


async def test_unknown_debates_are_not_found() -> None:
    async with running_node(start=False) as node:
        for call in (
            node.service.get("nope"),
            node.service.messages("nope"),
            node.service.events("nope", since=0, limit=10),
            node.service.cancel("nope"),
        ):
            with pytest.raises(NotFoundError):
                await call
        with pytest.raises(NotFoundError):
            await anext(node.service.stream("nope"))


async def test_maintenance_refuses_new_debates_and_shows_in_health_and_stats() -> None:
    async with running_node(start=False) as node:
        await node.service.set_maintenance(True, "upgrading the database")
        with pytest.raises(MaintenanceError, match="upgrading the database") as caught:
            await node.service.create({"task": TASK})
        assert caught.value.retry_after > 0
        assert (await node.service.stats())["maintenance"] is True
        assert (await node.service.maintenance())["enabled"] is True
        await node.service.set_maintenance(False, None)
        created = await node.service.create({"task": TASK})
        assert created["status"] == "queued"


async def test_a_queued_debate_is_cancelled_at_once_and_only_once() -> None:
    async with running_node(start=False) as node:
        created = await node.service.create({"task": TASK})
        cancelled = await node.service.cancel(created["id"])
        assert cancelled["status"] == "cancelled"
        document = await node.service.get(created["id"])
        assert document["status"] == "cancelled"
        assert document["task"] == TASK
        with pytest.raises(ConflictError):
            await node.service.cancel(created["id"])


async def test_a_running_debate_stops_with_its_partial_result() -> None:
    async with running_node(demo_delay=0.2) as node:
        created = await node.service.create({"task": TASK, "mode": "debate", "rounds": 3})
        seqs: list[int | None] = []

        async def follow() -> None:
            async for frame in node.service.stream(created["id"]):
                seqs.append(frame.seq)

        follower = asyncio.create_task(follow())
        await seq_reached(node.storage, created["id"], 4)
        assert (await node.service.cancel(created["id"]))["status"] == "cancelling"
        await asyncio.wait_for(follower, 10)
        document = await node.service.get(created["id"])
        assert document["status"] == "cancelled"
        assert any(w.get("code") == "cancelled" for w in document["warnings"])


async def test_stats_count_every_status() -> None:
    async with running_node() as node:
        created = await node.service.create({"task": TASK})
        await finish(node, created["id"])
        stats = await node.service.stats()
        assert stats["completed_debates"] == 1
        assert stats["total_debates"] == 1
        assert stats["active_debates"] == 0
        assert stats["queued_debates"] == 0
        assert stats["agents"]["total"] >= 1


async def test_the_leaderboard_counts_each_finished_debate() -> None:
    async with running_node() as node:
        for _ in range(2):
            created = await node.service.create({"task": TASK, "mode": "vote"})
            await finish(node, created["id"])
        board = await node.service.leaderboard(limit=10, offset=0, min_debates=0)
        assert board["total"] == 3
        assert all(row["debates"] == 2 for row in board["rankings"])
        assert all(row["wins"] + row["losses"] + row["draws"] == 2 for row in board["rankings"])
        assert await node.service.leaderboard(limit=10, offset=0, min_debates=3) == {
            "rankings": [],
            "total": 0,
        }


async def test_list_pages_newest_first_and_filters_by_status() -> None:
    async with running_node(start=False) as node:
        ids = [(await node.service.create({"task": f"{TASK} {i}"}))["id"] for i in range(3)]
        page = await node.service.list(status=None, limit=2, offset=0)
        assert [d["id"] for d in page["debates"]] == ids[::-1][:2]
        assert page["items"] == page["debates"]
        assert (page["total"], page["count"], page["has_more"]) == (3, 2, True)
        assert (await node.service.list(status="completed", limit=10, offset=0))["total"] == 0
        with pytest.raises(InvalidInputError):
            await node.service.list(status="bogus", limit=10, offset=0)
        with pytest.raises(InvalidInputError):
            await node.service.list(status=None, limit=0, offset=0)


async def test_events_page_through_the_log() -> None:
    async with running_node() as node:
        created = await node.service.create({"task": TASK})
        await finish(node, created["id"])
        first = await node.service.events(created["id"], since=0, limit=5)
        assert [e["seq"] for e in first["events"]] == [1, 2, 3, 4, 5]
        assert first["next_since"] == 5
        rest = await node.service.events(created["id"], since=5, limit=1000)
        assert rest["events"][-1]["type"] == "debate_end"
        done = await node.service.events(created["id"], since=rest["next_since"], limit=10)
        assert done == {"debate_id": created["id"], "events": [], "next_since": rest["next_since"]}


async def test_priority_orders_the_queue_and_positions_are_reported() -> None:
    async with running_node(start=False, max_concurrent=1) as node:
        first = await node.service.create({"task": f"{TASK} first"})
        second = await node.service.create({"task": f"{TASK} second"})
        urgent = await node.service.create({"task": f"{TASK} urgent", "priority": 10})
        assert [first["queue_position"], second["queue_position"]] == [1, 2]
        assert urgent["queue_position"] == 1
        assert (await node.service.get(first["id"]))["queue_position"] == 2
        assert (await node.service.get(second["id"]))["queue_position"] == 3
        node.start()
        for created in (urgent, first, second):
            await finish(node, created["id"])
        started = [
            (await node.storage.events.read(c["id"], limit=1))[0].timestamp
            for c in (urgent, first, second)
        ]
        assert started == sorted(started)
        assert "queue_position" not in await node.service.get(first["id"])
        with pytest.raises(InvalidInputError, match="priority"):
            await node.service.create({"task": TASK, "priority": 1000})
