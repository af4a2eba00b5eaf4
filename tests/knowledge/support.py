"""A runtime node on the in-memory store, whose debates feed (and draw on) its knowledge."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from aragora import wiring
from aragora.debate.events import Event
from aragora.records.debates import Storage
from aragora.runtime.node import Node
from aragora.runtime.runner import FOLLOWUPS_PENDING
from aragora.settings import load_settings
from aragora.storage.memory.storage import memory_storage

from .mound import Mound


@asynccontextmanager
async def knowledge_node() -> AsyncIterator[tuple[Node, Storage, Mound]]:
    """A started node on the in-memory store (the composition root plugs the knowledge
    hooks in), and that store's knowledge."""
    storage = memory_storage(now=lambda: datetime.now(UTC))
    node = await wiring.open_node(load_settings({"ARAGORA_DEMO_DELAY": "0"}), storage=storage)
    node.start()
    try:
        yield node, storage, Mound(storage.knowledge, storage.knowledge_index)
    finally:
        await node.close()


async def run_debate(
    node: Node, storage: Storage, **request: Any
) -> tuple[dict[str, Any], list[Event]]:
    """Create a debate, follow it to its end; its stored document and events."""
    created = await node.service.create(request)
    async for _ in node.service.stream(created["id"], 0):
        pass
    # The stream ends with debate_end; the outcome is stored with it, and the finishers
    # (ingest among them) run after it: the document says so until they are done.
    async with asyncio.timeout(10):
        while True:
            stored = (await storage.debates.get(created["id"])).document
            if stored is not None and FOLLOWUPS_PENDING not in stored:
                break
            await asyncio.sleep(0.01)
    document = await node.service.get(created["id"])
    return document, await storage.events.read(created["id"])
