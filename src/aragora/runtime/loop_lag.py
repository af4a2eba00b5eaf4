"""How far behind this process's event loop runs, and whether to take on more work.

One event loop serves a replica's HTTP requests, WebSockets and every debate it runs. A
loop given more than it can do answers everything late, health probes included, and makes
every running debate slower; claiming more debates then adds to the wait and to nothing
else. :class:`LoopLag` measures the lag (how late a timer of ``interval`` seconds fires)
and :meth:`LoopLag.admits` tells the workers whether to claim one more debate:

- never while the lag is above ``limit``;
- while it is above half of ``limit``, one debate per measurement (a debate just claimed
  shows in the lag only once it runs, so claiming freely would overshoot);
- otherwise up to :data:`MAX_PER_SAMPLE` per measurement, which a lone debate or a small
  burst never reaches.

A debate not claimed stays queued: for this replica a moment later, or for another replica
now. ``limit`` 0 turns the check off (every claim is admitted).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

__all__ = ["MAX_PER_SAMPLE", "LoopLag"]

MAX_PER_SAMPLE = 8
"""Debates admitted per measurement while the loop keeps up (at the default interval,
320 a second)."""


class LoopLag:
    """Samples the loop's lag every ``interval`` seconds once started; see the module."""

    def __init__(
        self,
        *,
        limit: float,
        interval: float = 0.025,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 0 or interval <= 0:
            raise ValueError("limit must be >= 0 and interval > 0")
        self.limit = limit
        self._interval = interval
        self._clock = clock
        self._lag = 0.0
        self._admitted = 0
        self._task: asyncio.Task[None] | None = None

    @property
    def lag(self) -> float:
        """Seconds behind: the latest measurement if higher than before, else an average
        that halves the distance to it at every measurement (it rises at once and falls
        over a few measurements)."""
        return self._lag

    def admits(self) -> bool:
        """Whether one more debate may be claimed now (counted as claimed if so). Until
        :meth:`start` (or after :meth:`close`) nothing is measured, and nothing refused."""
        if self.limit == 0 or self._task is None:
            return True
        if self._lag > self.limit:
            return False
        allowed = 1 if self._lag > self.limit / 2 else MAX_PER_SAMPLE
        if self._admitted >= allowed:
            return False
        self._admitted += 1
        return True

    def unused(self) -> None:
        """An admission not used after all (the debate was queued instead)."""
        self._admitted = max(0, self._admitted - 1)

    def measured(self, late: float) -> None:
        """Take one measurement: the timer fired ``late`` seconds after it was due."""
        late = max(late, 0.0)
        self._lag = late if late >= self._lag else (self._lag + late) / 2
        self._admitted = 0

    def start(self) -> None:
        """Begin measuring (in the running loop)."""
        if self._task is None:
            self._task = asyncio.create_task(self._sample(), name="aragora-loop-lag")

    async def close(self) -> None:
        """Stop measuring."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _sample(self) -> None:
        while True:
            due = self._clock() + self._interval
            await asyncio.sleep(self._interval)
            self.measured(self._clock() - due)
