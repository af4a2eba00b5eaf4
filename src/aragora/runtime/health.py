"""Health of one replica: the database (a ping), Redis (when configured), the agents
(circuit breakers), the maintenance flag and whether it drains.

Checks are coalesced and cached for ``ttl`` seconds: however many probes and health
requests arrive at once, the database sees at most one ping per ``ttl``, so health stays
cheap under load and answers fast when the database hangs (the ping has its own timeout,
and the storage gives it a connection of its own: a pool busy with requests is not a
database down).
A request that finds the last check older than ``ttl`` starts the next one and answers
from the last meanwhile, so no probe waits on a busy pool; only a check older than
``ttl`` plus the longest a check can take (its three timeouts) is waited for, so a report is
never staler than that.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aragora.records.debates import SettingsRepository
from aragora.runtime.maintenance import read_maintenance

__all__ = ["HealthMonitor", "HealthReport"]

HEALTHY, DEGRADED, UNHEALTHY, DISABLED = "healthy", "degraded", "unhealthy", "disabled"


@dataclass(frozen=True, slots=True)
class HealthReport:
    """``status`` is ``unhealthy`` when the database is down, ``degraded`` when any other
    component is not healthy, else ``healthy``."""

    status: str
    components: dict[str, str] = field(default_factory=dict)
    maintenance: bool = False
    draining: bool = False

    @property
    def ready(self) -> bool:
        """Whether this replica should receive traffic (readiness)."""
        return not self.draining and self.components.get("database") == HEALTHY


class HealthMonitor:
    """Builds (and caches) :class:`HealthReport` for the health and readiness probes."""

    def __init__(
        self,
        *,
        ping_database: Callable[[], Awaitable[None]],
        settings: SettingsRepository,
        agents_health: Callable[[], str],
        redis_health: Callable[[], Awaitable[str]] | None = None,
        is_draining: Callable[[], bool] = lambda: False,
        ttl: float = 1.0,
        timeout: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ping = ping_database
        self._settings = settings
        self._agents_health = agents_health
        self._redis_health = redis_health
        self._is_draining = is_draining
        self._ttl = ttl
        self._timeout = timeout
        self._clock = clock
        self._cached: tuple[float, dict[str, Any]] | None = None
        self._maintenance = False  # as last read
        self._inflight: asyncio.Future[dict[str, Any]] | None = None
        self._refresh: asyncio.Task[None] | None = None

    async def report(self) -> HealthReport:
        """The current report (checked at most ``ttl`` + three ``timeout`` seconds ago, and
        usually at most ``ttl``; draining always current)."""
        cached = self._cached
        age = 0.0 if cached is None else self._clock() - cached[0]
        if cached is None or age >= self._ttl + 3 * self._timeout:
            checked = await self._check_once()
        else:
            if age >= self._ttl and self._refresh is None and self._inflight is None:
                self._refresh = asyncio.create_task(self._refresh_cache())
            checked = cached[1]
        components = {
            "database": checked["database"],
            "redis": checked["redis"],
            "agents": self._agents_health(),
        }
        if components["database"] != HEALTHY:
            status = UNHEALTHY
        elif any(v not in (HEALTHY, DISABLED) for v in components.values()):
            status = DEGRADED
        else:
            status = HEALTHY
        return HealthReport(
            status=status,
            components=components,
            maintenance=checked["maintenance"],
            draining=self._is_draining(),
        )

    async def close(self) -> None:
        """Stop a check under way in the background."""
        task, self._refresh = self._refresh, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _refresh_cache(self) -> None:
        try:
            with contextlib.suppress(Exception):  # _check reports failures as states
                await self._check_once()
        finally:
            self._refresh = None

    async def _check_once(self) -> dict[str, Any]:
        if self._inflight is not None:
            return await asyncio.shield(self._inflight)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._inflight = future
        try:
            checked = await self._check()
            self._cached = (self._clock(), checked)
            future.set_result(checked)
            return checked
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it, nobody else must log it
            raise
        finally:
            self._inflight = None

    async def _check(self) -> dict[str, Any]:
        database = HEALTHY
        maintenance = self._maintenance
        try:
            await asyncio.wait_for(self._ping(), self._timeout)
        except Exception:
            database = UNHEALTHY
        else:
            # The flag is read like any request's read (through the shared pool): one that
            # waits too long under load says nothing about the database, which has just
            # answered its ping; the last value read stands.
            with contextlib.suppress(Exception):
                state = await asyncio.wait_for(read_maintenance(self._settings), self._timeout)
                self._maintenance = bool(state["enabled"])
            maintenance = self._maintenance
        redis = DISABLED
        if self._redis_health is not None:
            try:
                redis = await asyncio.wait_for(self._redis_health(), self._timeout)
            except Exception:
                redis = DEGRADED
        return {"database": database, "redis": redis, "maintenance": maintenance}
