"""Following one debate to its end, for a face that answers only once it is decided (the MCP
``deliberate`` tool, ``POST /v1/chat/completions``).

    created = await service.create(body)
    document = await follow_debate(service, created["debate_id"], on_frame=report)

The caller sees every frame of the stream as it comes (progress, keep-alives) and gets the
settled document: receipt and knowledge items included. A caller that stops waiting (its
task is cancelled: the client went away) cancels the debate, since nobody else asked for it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from aragora.errors import ConflictError
from aragora.runtime.bus import Frame
from aragora.runtime.service import DebateService

__all__ = ["SETTLE_WITHIN", "FrameCallback", "follow_debate"]

FrameCallback = Callable[[Frame], Awaitable[None]]
"""Called with each frame of the debate's stream (events and token deltas), in order."""

SETTLE_WITHIN = 30.0
"""Seconds to wait after ``debate_end`` for the record's final status (receipt issued,
knowledge ingested) before answering with the document as it stands."""


async def follow_debate(
    service: DebateService,
    debate_id: str,
    *,
    on_frame: FrameCallback | None = None,
    settle_within: float = SETTLE_WITHIN,
) -> dict[str, Any]:
    """Stream ``debate_id`` to its end through ``on_frame``; then its settled document.

    If this coroutine is cancelled before the debate ends, the debate is cancelled too
    (shielded, so the cancel reaches the service) and the cancellation goes on."""
    try:
        async for frame in service.stream(debate_id):
            if on_frame is not None:
                await on_frame(frame)
    except asyncio.CancelledError:
        await asyncio.shield(_cancel(service, debate_id))
        raise
    return await service.settled(debate_id, within=settle_within)


async def _cancel(service: DebateService, debate_id: str) -> None:
    with contextlib.suppress(ConflictError):  # it ended meanwhile
        await service.cancel(debate_id)
