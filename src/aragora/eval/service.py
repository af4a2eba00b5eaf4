"""How the evaluation runs one debate: through the runtime service, like every face.

:class:`Debates` is the seam (one method); :func:`open_debates` opens the real one: a runtime
node of this process (:func:`aragora.wiring.open_node`) that claims only the debates it
creates, with the evaluation's answer key for simulated agents, on an in-memory store by
default (``memory=False``: the configured database, where the debates are kept, tagged
as evaluation debates).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from aragora import wiring
from aragora.agents.demo.sim import AnswerKey
from aragora.migrations.runner import ensure_schema
from aragora.records.debates import TERMINAL_STATUSES
from aragora.runtime.node import Node
from aragora.settings import Settings
from aragora.storage.memory.storage import memory_storage

__all__ = ["Debates", "NodeDebates", "open_debates"]


class Debates(Protocol):
    """Runs one debate to its end."""

    async def run(self, body: Mapping[str, Any], *, seed: int) -> dict[str, Any]:
        """Create the debate ``body`` describes (a ``POST /api/v1/debates`` body) with
        ``seed``, wait for its end and return its final document."""
        ...


class NodeDebates:
    """:class:`Debates` on a runtime node that claims only the debates it creates."""

    def __init__(self, node: Node[wiring.Services], own: set[str], *, settle: float = 30.0) -> None:
        self._node = node
        self._own = own
        self._settle = settle

    async def run(self, body: Mapping[str, Any], *, seed: int) -> dict[str, Any]:
        service = self._node.service
        created = await service.create(body, seed=seed)
        debate_id = str(created["debate_id"])
        self._own.add(debate_id)
        self._node.workers.wake()
        async for _ in service.stream(debate_id):
            pass
        # The terminal status is stored just after debate_end; read the final record.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._settle):
                while True:
                    record = await self._node.storage.debates.get(debate_id, primary=True)
                    if record.status in TERMINAL_STATUSES:
                        break
                    await asyncio.sleep(0.005)
        document = dict(await service.get(debate_id))
        self._own.discard(debate_id)
        return document


@contextlib.asynccontextmanager
async def open_debates(
    settings: Settings, *, answer_key: AnswerKey, memory: bool = True
) -> AsyncIterator[NodeDebates]:
    """A :class:`NodeDebates` for the duration of the ``async with``."""
    own: set[str] = set()
    node = await wiring.open_node(
        settings,
        check_schema=None
        if memory
        else functools.partial(ensure_schema, auto_migrate=settings.effective_auto_migrate),
        storage=memory_storage(now=_utc_now) if memory else None,
        own_debates=own,
        answer_key=answer_key,
    )
    try:
        node.start()
        yield NodeDebates(node, own)
    finally:
        await node.close()


def _utc_now() -> datetime:
    return datetime.now(UTC)
