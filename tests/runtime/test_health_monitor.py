"""The health check says the database is down only when its ping fails, not when a read
of the maintenance flag waits behind a busy pool."""

from __future__ import annotations

import asyncio
from typing import Any

from aragora.runtime.health import HEALTHY, UNHEALTHY, HealthMonitor
from aragora.runtime.maintenance import MAINTENANCE_KEY


class Settings:
    """A settings store whose reads answer, or hang like a pool with no connection free."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.hang = False

    async def get(self, key: str) -> Any | None:
        if self.hang:
            await asyncio.sleep(3600)
        return self.values.get(key)

    async def set(self, key: str, value: Any) -> None:
        self.values[key] = value

    async def delete(self, key: str) -> None:
        self.values.pop(key, None)


async def test_a_maintenance_read_that_hangs_keeps_the_last_flag_and_a_healthy_database() -> None:
    settings = Settings()
    pings: list[bool] = []

    async def ping() -> None:
        pings.append(True)

    now = [0.0]
    monitor = HealthMonitor(
        ping_database=ping,
        settings=settings,
        agents_health=lambda: HEALTHY,
        timeout=0.05,
        clock=lambda: now[0],
    )
    settings.values[MAINTENANCE_KEY] = {"enabled": True, "message": "upgrading"}
    first = await monitor.report()
    assert first.components["database"] == HEALTHY
    assert first.maintenance is True
    settings.hang = True
    now[0] = 100.0  # the cached check is too old to answer from: this one is waited for
    second = await asyncio.wait_for(monitor.report(), 5)
    assert len(pings) == 2
    assert second.components["database"] == HEALTHY
    assert second.status == HEALTHY
    assert second.maintenance is True  # as last read
    assert second.ready


async def test_a_ping_that_fails_is_a_database_down() -> None:
    async def ping() -> None:
        raise ConnectionRefusedError("no database")

    monitor = HealthMonitor(ping_database=ping, settings=Settings(), agents_health=lambda: HEALTHY)
    report = await monitor.report()
    assert report.components["database"] == UNHEALTHY
    assert report.status == UNHEALTHY
    assert not report.ready
