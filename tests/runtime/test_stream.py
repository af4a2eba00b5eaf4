"""Streams: stored events after ``since`` then live ones, with no gap and no duplicate
while events are being appended; a consumer that falls behind is told where to resume."""

from __future__ import annotations

import asyncio
import random

import orjson
import pytest

from aragora.debate.events import Event, EventType
from aragora.errors import SlowConsumerError
from aragora.runtime.bus import Frame, LocalBus, frame_of
from aragora.runtime.node import Node
from aragora.runtime.stream import stream_frames
from tests.runtime.support import TASK, finish, running_node


def durable(seqs: list[int | None]) -> list[int]:
    return [s for s in seqs if s is not None]


async def frames_of(node: Node, debate_id: str) -> list[Frame]:
    """Every frame of the debate's stream, to its end."""
    return [frame async for frame in node.service.stream(debate_id, 0)]


async def test_a_late_subscriber_sees_the_whole_debate() -> None:
    async with running_node() as node:
        created = await node.service.create({"task": TASK})
        await finish(node, created["id"])
        seqs = durable(await finish(node, created["id"]))
        total = len(await node.storage.events.read(created["id"]))
        assert seqs == list(range(1, total + 1))
        frames = [f async for f in node.service.stream(created["id"], total - 1)]
        assert [f.seq for f in frames] == [total]
        assert frames[-1].type == "debate_end"


async def test_subscribers_joining_at_random_moments_get_no_gap_or_duplicate() -> None:
    rng = random.Random(7)
    async with running_node(demo_delay=0.02) as node:
        created = await node.service.create({"task": TASK, "mode": "debate", "rounds": 2})
        debate_id = created["id"]
        results: list[tuple[int, list[int]]] = []

        async def join_later(delay: float) -> None:
            await asyncio.sleep(delay)
            since = rng.randint(0, await node.storage.events.last_seq(debate_id))
            seqs = [f.seq async for f in node.service.stream(debate_id, since)]
            results.append((since, durable(seqs)))

        await asyncio.gather(*(join_later(rng.uniform(0, 1.0)) for _ in range(40)))
        total = await node.storage.events.last_seq(debate_id)
        assert (await node.service.get(debate_id))["status"] == "completed"
        for since, seqs in results:
            assert seqs == list(range(since + 1, total + 1)), since


async def test_appends_racing_the_replay_are_neither_lost_nor_repeated() -> None:
    """Events are appended while the replay is read: the subscription opened before the
    read catches them, and those also in the read are dropped by seq."""
    async with running_node(start=False) as node:
        created = await node.service.create({"task": TASK})
        debate_id = created["id"]
        node.start()
        for _ in range(20):  # subscribe over and over while the debate runs
            seqs = []
            async for frame in node.service.stream(debate_id, 0):
                if frame.seq is not None:
                    seqs.append(frame.seq)
            assert seqs == list(range(1, len(seqs) + 1))


async def test_a_consumer_that_falls_behind_is_told_where_to_resume() -> None:
    bus = LocalBus()
    subscription = bus.subscribe("d", maxsize=3)
    for seq in range(1, 4):
        await bus.publish(Frame("d", seq, "propose", "{}"))
    await bus.publish(Frame("d", None, "token", "{}"))  # dropped quietly when full
    assert (await subscription.get()).seq == 1  # type: ignore[union-attr]
    await bus.publish(Frame("d", 4, "propose", "{}"))
    await bus.publish(Frame("d", 5, "propose", "{}"))  # overflow
    with pytest.raises(SlowConsumerError):
        await subscription.get()
    subscription.close()
    assert bus.subscriber_count("d") == 0


async def test_the_stream_reports_the_last_seq_it_gave_when_overflowing() -> None:
    async with running_node(start=False, demo_delay=0.01) as node:
        node.service._stream_queue = 2  # a tiny queue so the debate overflows it
        created = await node.service.create({"task": TASK, "mode": "debate", "rounds": 1})
        stream = node.service.stream(created["id"], 0)
        node.start()
        seen: list[int] = []

        async def consume_slowly() -> None:
            async for frame in stream:
                if frame.seq is not None:
                    seen.append(frame.seq)
                if frame.seq == 1:
                    await asyncio.sleep(0.5)  # fall behind while the debate runs

        with pytest.raises(SlowConsumerError) as caught:
            await consume_slowly()
        last = seen[-1] if seen else 0
        assert caught.value.last_seq == last
        node.service._stream_queue = 1000
        resumed = [f.seq async for f in node.service.stream(created["id"], last)]
        assert durable(resumed)[0] == last + 1


async def test_get_returns_none_when_nothing_arrives_in_time() -> None:
    bus = LocalBus()
    subscription = bus.subscribe("d", maxsize=3)
    assert await subscription.get(0.01) is None


async def test_streams_of_a_debate_cancelled_before_it_started_end() -> None:
    async with running_node(start=False) as node:
        created = await node.service.create({"task": TASK})
        waiting = asyncio.create_task(frames_of(node, created["id"]))
        await asyncio.sleep(0.05)  # the stream is waiting for the first event
        await node.service.cancel(created["id"])
        # No debate_end in its log, yet each stream ends with one: not in the log, no seq.
        for frames in (await asyncio.wait_for(waiting, 5), await frames_of(node, created["id"])):
            assert [(f.seq, f.type) for f in frames] == [(None, "debate_end")]
            end = orjson.loads(frames[0].text)
            assert end["data"]["result"]["status"] == "cancelled"
            assert end["debate_id"] == created["id"]


async def test_an_end_logged_as_the_status_changes_wins_over_the_unlogged_one() -> None:
    """An end stored as ``ending`` looks at the status (they are stored together) is the
    debate's own: the log is read after ``ending``, and the stream gives the logged end,
    not the unlogged one."""
    async with running_node(start=False) as node:
        created = await node.service.create({"task": TASK})
        lease = await node.storage.leases.claim("test", 30)
        assert lease is not None
        logged = Event(EventType.DEBATE_END, created["id"], 1, "2026-12-05T00:00:00+00:00")
        unlogged = Frame(created["id"], None, EventType.DEBATE_END, "{}")

        async def ending() -> Frame:
            await node.storage.events.append(logged, epoch=lease.epoch)  # just too late
            return unlogged

        frames = [
            frame
            async for frame in stream_frames(
                node.storage.events, LocalBus(), created["id"], ending=ending, idle_check=0
            )
        ]
        assert frames == [frame_of(logged)]
