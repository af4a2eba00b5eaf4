"""A stand-in node for what a real one cannot easily be made to do on demand: a database
that is down, a subscriber that falls behind."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from aragora.debate.events import Event
from aragora.errors import DatabaseUnavailableError, NotFoundError, SlowConsumerError
from aragora.runtime.bus import Frame, frame_of
from aragora.runtime.health import HealthReport
from aragora.storage.memory.storage import memory_storage

DOWN = HealthReport(
    status="unhealthy",
    components={"database": "unhealthy", "redis": "disabled", "agents": "healthy"},
)


def event_frames(debate_id: str, count: int) -> list[Frame]:
    """``count`` stored frames of ``debate_id``: seq 1..count."""
    return [
        frame_of(Event("round_start", debate_id, seq, "2026-01-01T00:00:00+00:00", data={}))
        for seq in range(1, count + 1)
    ]


class FakeService:
    """Streams scripted frames, then falls behind (or not); the database is down."""

    def __init__(self, frames: Sequence[Frame], *, slow_after: bool) -> None:
        self.frames = list(frames)
        self.slow_after = slow_after

    def uptime(self) -> float:
        return 1.5

    async def stats(self) -> dict[str, Any]:
        raise DatabaseUnavailableError("database down")

    async def debate_counts(self) -> dict[str, int]:
        raise DatabaseUnavailableError("database down")

    def stream(self, debate_id: str, since: int = 0) -> AsyncIterator[Frame]:
        return self._stream(debate_id, since)

    async def _stream(self, debate_id: str, since: int) -> AsyncIterator[Frame]:
        if debate_id != "known":
            raise NotFoundError(f"debate {debate_id} not found")
        last = since
        for frame in self.frames:
            if frame.seq is not None and frame.seq > since:
                yield frame
                last = frame.seq
        if self.slow_after:
            raise SlowConsumerError(last)


class FakeNode:
    """The parts of ``aragora.runtime.node.Node`` the server uses."""

    def __init__(
        self,
        report: HealthReport = DOWN,
        frames: Sequence[Frame] = (),
        *,
        slow_after: bool = False,
    ) -> None:
        self.report = report
        self.service = FakeService(frames, slow_after=slow_after)
        self.tokens = memory_storage(now=lambda: datetime.now(UTC)).tokens
        self.draining = False
        self.loop_lag = 0.0
        self.observers: list[Callable[[Event], None]] = []
        self.webhook_observers: list[Callable[[str], None]] = []

    async def health(self) -> HealthReport:
        return self.report

    async def ready(self) -> bool:
        return self.report.ready and not self.draining

    def observe(self, callback: Callable[[Event], None]) -> None:
        self.observers.append(callback)

    def observe_webhooks(self, callback: Callable[[str], None]) -> None:
        self.webhook_observers.append(callback)
