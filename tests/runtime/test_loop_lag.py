"""The event loop's lag and admission by it: no claims while the loop runs late, one per
measurement near the limit, a handful per measurement when it keeps up; measured on a
real loop blocked by real work."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import pytest

from aragora.runtime.loop_lag import MAX_PER_SAMPLE, LoopLag


def admitted(lag: LoopLag, tries: int = 50) -> int:
    return sum(lag.admits() for _ in range(tries))


@contextlib.asynccontextmanager
async def measuring(limit: float) -> AsyncIterator[LoopLag]:
    """A started LoopLag whose own sampler waits an hour: the test gives the measurements."""
    lag = LoopLag(limit=limit, interval=3600)
    lag.start()
    try:
        yield lag
    finally:
        await lag.close()


async def test_lag_rises_at_once_and_falls_halfway_per_measurement() -> None:
    async with measuring(0.02) as lag:
        lag.measured(0.08)
        assert lag.lag == 0.08
        lag.measured(0.0)
        assert lag.lag == 0.04
        lag.measured(0.0)
        assert lag.lag == 0.02
        lag.measured(0.1)
        assert lag.lag == 0.1
        lag.measured(-0.001)  # a timer a hair early counts as on time
        assert lag.lag == 0.05


async def test_admission_follows_the_lag() -> None:
    async with measuring(0.02) as lag:
        assert admitted(lag) == MAX_PER_SAMPLE  # keeping up: a handful per measurement
        lag.measured(0.005)
        assert admitted(lag) == MAX_PER_SAMPLE
        lag.measured(0.015)  # above half the limit: one at a time
        assert admitted(lag) == 1
        lag.measured(0.015)
        assert admitted(lag) == 1
        lag.measured(0.05)  # late: none
        assert admitted(lag) == 0
        lag.measured(0.0)  # 0.025, still above the limit
        assert admitted(lag) == 0
        lag.measured(0.0)  # 0.0125
        assert admitted(lag) == 1
        lag.measured(0.0)  # 0.00625
        assert admitted(lag) == MAX_PER_SAMPLE


async def test_an_admission_not_used_is_given_back() -> None:
    async with measuring(0.02) as lag:
        lag.measured(0.015)  # near the limit: one per measurement
        assert lag.admits()
        assert not lag.admits()
        lag.unused()  # that debate was queued instead of taken
        assert lag.admits()
        assert not lag.admits()
        lag.measured(0.0)
        lag.unused()
        lag.unused()  # never below none counted
        assert admitted(lag) == MAX_PER_SAMPLE


async def test_limit_zero_admits_everything() -> None:
    async with measuring(0) as lag:
        lag.measured(5.0)
        assert admitted(lag) == 50


def test_nothing_is_refused_while_nothing_is_measured() -> None:
    lag = LoopLag(limit=0.02)  # never started: no measurement to refuse by
    lag.measured(5.0)
    assert admitted(lag) == 50


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="limit"):
        LoopLag(limit=-1)
    with pytest.raises(ValueError, match="interval"):
        LoopLag(limit=0.02, interval=0)


async def test_a_blocked_loop_is_measured_and_refuses_until_it_recovers() -> None:
    lag = LoopLag(limit=0.02, interval=0.005)
    lag.start()
    try:
        await asyncio.sleep(0.03)
        time.sleep(0.15)  # noqa: ASYNC251 - the point: work that holds the loop
        async with asyncio.timeout(5):
            while lag.lag < 0.1:  # noqa: ASYNC110 - the sampler task updates it
                await asyncio.sleep(0.001)
        assert not lag.admits()
        began = time.monotonic()
        async with asyncio.timeout(5):
            while not lag.admits():  # noqa: ASYNC110 - the sampler task updates it
                await asyncio.sleep(0.001)
        # 0.15 s halves below 0.02 in three measurements (a few intervals), not seconds
        assert time.monotonic() - began < 1.0
    finally:
        await lag.close()
    await lag.close()  # closing twice is harmless
