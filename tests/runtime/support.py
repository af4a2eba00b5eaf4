"""A runtime node on the in-memory store with offline demo agents, for runtime tests."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from aragora import wiring
from aragora.records.debates import Storage
from aragora.runtime.node import Node
from aragora.runtime.runner import FOLLOWUPS_PENDING
from aragora.settings import load_settings
from aragora.storage.memory.storage import memory_storage


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_storage() -> Storage:
    return memory_storage(now=utc_now)


@asynccontextmanager
async def running_node(
    *,
    storage: Storage | None = None,
    demo_delay: float = 0.0,
    start: bool = True,
    lease_ttl: float = 30.0,
    max_concurrent: int = 10,
) -> AsyncIterator[Node]:
    """A started node; closed (debates requeued) on exit."""
    data_dir = tempfile.mkdtemp(prefix="aragora-runtime-")  # keys and tokens land here
    settings = load_settings(
        {
            "ARAGORA_DATA_DIR": data_dir,
            "ARAGORA_DEMO_DELAY": str(demo_delay),
            "ARAGORA_LEASE_TTL": str(lease_ttl),
            "ARAGORA_MAX_CONCURRENT_DEBATES": str(max_concurrent),
        }
    )
    node = await wiring.open_node(settings, storage=storage or new_storage())
    if start:
        node.start()
    try:
        yield node
    finally:
        await node.close()
        shutil.rmtree(data_dir, ignore_errors=True)


async def finish(node: Node, debate_id: str, *, followed_up: bool = True) -> list[int | None]:
    """Follow the debate's stream to its end, then (``followed_up``) wait for its follow-ups
    (receipt, knowledge, ratings: stored after the end is visible); the seqs seen (tokens
    are None)."""
    seqs = [frame.seq async for frame in node.service.stream(debate_id, 0)]
    if not followed_up:
        return seqs

    async def done() -> bool:
        record = await node.storage.debates.get(debate_id, primary=True)
        return record.document is not None and FOLLOWUPS_PENDING not in record.document

    await wait_until(done)
    return seqs


TASK = "Should we use Postgres or MySQL?"


async def wait_until(check: Callable[[], Awaitable[bool]], *, within: float = 10.0) -> None:
    """Poll ``check`` until it holds; fail after ``within`` seconds."""
    async with asyncio.timeout(within):
        while not await check():  # noqa: ASYNC110 - the condition lives in the store
            await asyncio.sleep(0.01)


async def seq_reached(storage: Storage, debate_id: str, seq: int) -> None:
    """Wait until the debate's log holds ``seq``."""

    async def reached() -> bool:
        return await storage.events.last_seq(debate_id) >= seq

    await wait_until(reached)
