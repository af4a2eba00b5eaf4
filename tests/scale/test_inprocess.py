"""The cheap parts of scale-out, in this process: concurrent claimers on PostgreSQL never
share a debate, the Redis bus is steady after a Redis restart and recovers from a failed
publish, and the document comparison the process tests rely on."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError

from aragora import wiring
from aragora.records.debates import Lease, NewDebate
from aragora.runtime.bus import Frame
from aragora.runtime.redis_bus import RedisBus
from aragora.settings import load_settings
from aragora.storage.memory.storage import memory_storage
from aragora.storage.sql.database import Database
from aragora.storage.sql.storage import sql_storage
from tests.storage.support import FAST, migrate_async, pg_database

from .support import PrivateRedis, comparable, uninterrupted_document

CLAIMERS = 4
QUEUED = 120


async def test_concurrent_claimers_on_postgresql_never_share_a_debate() -> None:
    with pg_database("aragora_scale") as url:
        await migrate_async(url)
        databases = [Database(url, options=FAST) for _ in range(CLAIMERS)]
        try:
            stores = [sql_storage(d) for d in databases]
            ids = [str(uuid.uuid4()) for _ in range(QUEUED)]
            for debate_id in ids:
                await stores[0].debates.create(NewDebate(debate_id, "Tabs or spaces?"))

            async def drain(n: int) -> list[Lease]:
                got = []
                while (lease := await stores[n].leases.claim(f"claimer-{n}", 30)) is not None:
                    got.append(lease)
                return got

            claimed = await asyncio.gather(*(drain(n) for n in range(CLAIMERS)))
        finally:
            for database in databases:
                await database.dispose()
    every = [lease.debate_id for leases in claimed for lease in leases]
    assert sorted(every) == sorted(ids), "every debate claimed, none twice"
    assert {lease.epoch for leases in claimed for lease in leases} == {1}
    assert sum(1 for leases in claimed if leases) >= 2, [len(c) for c in claimed]


async def test_the_redis_bus_is_steady_after_a_redis_restart(tmp_path: Path) -> None:
    """Redis restarts: once the listener is back, publishing must not trip over pooled
    connections from before the restart (each would fail once and flap the bus)."""
    with PrivateRedis(tmp_path) as redis:
        bus, other = RedisBus(redis.url, reconnect_delay=0.1), RedisBus(redis.url)
        debate_id = str(uuid.uuid4())
        mine, theirs = (
            bus.subscribe(debate_id, maxsize=100),
            other.subscribe(debate_id, maxsize=100),
        )
        try:
            await _until(lambda: bus.healthy and other.healthy)
            for seq in range(1, 4):  # fill the publishing pool
                await bus.publish(Frame(debate_id, seq, "propose", "{}"))
            redis.kill()
            redis.start()
            await _until(lambda: not bus.healthy)  # the listener noticed
            await _until(lambda: bus.healthy and other.healthy)  # and both came back
            await asyncio.sleep(0.3)  # the other replica's channel subscription is in place
            steady = []
            for seq in range(10, 20):
                await bus.publish(Frame(debate_id, seq, "propose", "{}"))
                steady.append(bus.healthy)
            assert all(steady), steady
            got: list[int] = []
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):  # a None is a nudge (read the log): go on
                    while len(got) < 10:
                        frame = await theirs.get(1.0)
                        if frame is not None and frame.seq is not None and frame.seq >= 10:
                            got.append(frame.seq)
            assert got == list(range(10, 20))
        finally:
            mine.close()
            theirs.close()
            await bus.close()
            await other.close()


class _FailingOnce(aioredis.Redis):
    """A Redis client whose first publish fails as a dropped connection would."""

    failed = False

    async def publish(self, channel: Any, message: Any, **kwargs: Any) -> Any:
        if not self.failed:
            self.failed = True
            raise RedisConnectionError("Connection closed by server.")
        return await super().publish(channel, message, **kwargs)


async def test_the_redis_bus_reconnects_after_a_failed_publish(tmp_path: Path) -> None:
    """A publish fails while the subscription stays up: the bus reports degraded, then
    reconnects and reports healthy again rather than staying degraded for good."""
    with PrivateRedis(tmp_path) as redis:
        bus = RedisBus(
            redis.url, reconnect_delay=0.1, client_factory=lambda url: _FailingOnce.from_url(url)
        )
        debate_id = str(uuid.uuid4())
        subscription = bus.subscribe(debate_id, maxsize=100)
        try:
            await _until(lambda: bus.healthy)
            await bus.publish(Frame(debate_id, 1, "propose", "{}"))
            async with asyncio.timeout(5):
                while bus.healthy:  # noqa: ASYNC110 - the bus's sender task publishes it
                    await asyncio.sleep(0)
            await _until(lambda: bus.healthy)
            assert await bus.health() == "healthy"
        finally:
            subscription.close()
            await bus.close()


async def test_documents_compare_equal_across_paces_and_processes(tmp_path: Path) -> None:
    """The same stored request (same seed) gives the same comparable document whatever
    the agents' pace, though the order in which concurrent answers land may differ."""
    settings = load_settings({"ARAGORA_DEMO_DELAY": "0", "ARAGORA_DATA_DIR": str(tmp_path)})
    node = await wiring.open_node(settings, storage=memory_storage(now=lambda: datetime.now(UTC)))
    try:
        body = {"task": "Should a startup use Kubernetes or a PaaS?", "mode": "debate", "rounds": 2}
        created = await node.service.create(body)
        record = await node.storage.debates.get(created["id"])
    finally:
        await node.close()
    first = await uninterrupted_document(tmp_path, record.id, record.task, record.request)
    second = await uninterrupted_document(
        tmp_path, record.id, record.task, record.request, demo_delay=0.02
    )
    assert first["status"] == "completed"
    assert comparable(first) == comparable(second)
    other_seed = {**record.request, "seed": int(record.request["seed"]) + 1}
    third = await uninterrupted_document(tmp_path, record.id, record.task, other_seed)
    assert comparable(third) != comparable(first), "the comparison does see a different run"


async def _until(condition: object, within: float = 10.0) -> None:
    assert callable(condition)
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 - the bus's listener flips it
            await asyncio.sleep(0.02)
