"""The Redis bus between two "replicas" in one process, against the real Redis: frames
cross over, a replica's own frames are not delivered twice, and losing Redis degrades
to the log (streams are nudged) and recovers without a restart."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio.client import Pipeline

from aragora.runtime.bus import Frame
from aragora.runtime.redis_bus import DEGRADED_POLL, HEALTHY_POLL, RedisBus
from tests.tcp_proxy import TcpProxy


@pytest.fixture
async def proxy() -> AsyncIterator[TcpProxy]:
    proxy = TcpProxy(6379)
    await proxy.start()
    yield proxy
    await proxy.close()


async def healthy(bus: RedisBus) -> None:
    async with asyncio.timeout(10):
        while not bus.healthy:  # noqa: ASYNC110 - the listener sets it
            await asyncio.sleep(0.01)


def frame(debate_id: str, seq: int | None, kind: str = "propose") -> Frame:
    return Frame(debate_id, seq, kind, f'{{"seq": {seq}}}')


async def test_frames_cross_replicas_once() -> None:
    a, b = RedisBus("redis://127.0.0.1:6379/0"), RedisBus("redis://127.0.0.1:6379/0")
    debate = str(uuid.uuid4())
    try:
        on_a = a.subscribe(debate, maxsize=100)
        on_b = b.subscribe(debate, maxsize=100)
        await healthy(a)
        await healthy(b)
        await asyncio.sleep(0.2)  # b's channel subscription takes effect
        while await on_b.get(0.01) is not None:  # nudges from (re)subscribing
            pass
        while await on_a.get(0.01) is not None:
            pass
        await a.publish(frame(debate, 1))
        a.publish_nowait(frame(debate, None, "token"))
        got_b = [await on_b.get(2), await on_b.get(2)]
        assert [(f.seq, f.type) for f in got_b if f] == [(1, "propose"), (None, "token")]
        assert got_b[0] is not None
        assert got_b[0].text == '{"seq": 1}'
        got_a = [await on_a.get(0.5), await on_a.get(0.5), await on_a.get(0.3)]
        assert [f.seq for f in got_a if f] == [1, None]  # delivered locally, not echoed
        assert await a.health() == "healthy"
        assert a.poll_interval == HEALTHY_POLL
    finally:
        await a.close()
        await b.close()


async def test_a_burst_of_frames_crosses_in_order_in_few_round_trips(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Frames published faster than Redis answers leave together, a pipeline of publishes
    per round trip, and still arrive once each, in order."""
    executes = 0
    execute = Pipeline.execute

    async def counted(self: Pipeline, raise_on_error: bool = True) -> list[Any]:
        nonlocal executes
        executes += 1
        return await execute(self, raise_on_error)

    monkeypatch.setattr(Pipeline, "execute", counted)
    a, b = RedisBus("redis://127.0.0.1:6379/0"), RedisBus("redis://127.0.0.1:6379/0")
    debates = [str(uuid.uuid4()) for _ in range(2)]
    try:
        on_b = [b.subscribe(debate, maxsize=2000) for debate in debates]
        a.subscribe(debates[0], maxsize=2000)  # starts a's listener, which makes it healthy
        await healthy(a)
        await healthy(b)
        await asyncio.sleep(0.2)  # b's channel subscriptions take effect
        for subscription in on_b:
            while await subscription.get(0.01) is not None:  # nudges from subscribing
                pass
        for seq in range(1, 601):
            a.publish_nowait(frame(debates[seq % 2], seq))
        for n, subscription in enumerate(on_b):
            got = [await subscription.get(5) for _ in range(300)]
            assert [f.seq for f in got if f] == [seq for seq in range(1, 601) if seq % 2 == n]
        assert 1 <= executes < 600
    finally:
        await a.close()
        await b.close()


async def test_losing_redis_degrades_and_recovers(proxy: TcpProxy) -> None:
    bus = RedisBus(f"redis://127.0.0.1:{proxy.port}/0", reconnect_delay=0.1, timeout=0.5)
    debate = str(uuid.uuid4())
    try:
        subscription = bus.subscribe(debate, maxsize=100)
        await healthy(bus)
        await proxy.cut()
        await bus.publish(frame(debate, 1))  # local subscribers still get it
        got = await subscription.get(1)
        assert got is not None
        assert got.seq == 1
        async with asyncio.timeout(5):
            while bus.healthy:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        assert bus.poll_interval == DEGRADED_POLL
        assert await bus.health() == "degraded"
        assert await subscription.get(2) is None  # nudged: read the log
        await proxy.start()
        await healthy(bus)
        assert await bus.health() == "healthy"
    finally:
        await bus.close()


async def test_a_queued_debate_wakes_the_other_replicas() -> None:
    a, b = RedisBus("redis://127.0.0.1:6379/0"), RedisBus("redis://127.0.0.1:6379/0")
    woken = asyncio.Event()
    try:
        b.on_queued(woken.set)
        await healthy(b)
        woken.clear()  # (re)connecting wakes too: debates may have been queued meanwhile
        a.announce_queued()  # skipped (a is not connected yet), but connects a
        await healthy(a)
        await asyncio.sleep(0.2)  # b's subscription takes effect
        a.announce_queued()
        async with asyncio.timeout(2):
            await woken.wait()
    finally:
        await a.close()
        await b.close()
