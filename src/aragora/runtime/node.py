"""One replica's runtime: the debate service, its workers, the bus and health, started
and stopped together. Built by ``aragora.wiring.open_node``; the server's lifespan (or
``aragora worker``) owns it."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, Protocol, TypeVar

from aragora.debate.events import Event
from aragora.logs import log_event
from aragora.records.debates import Storage, TokenRepository
from aragora.runtime.bus import EventBus
from aragora.runtime.health import HealthMonitor, HealthReport
from aragora.runtime.runner import EventObserver
from aragora.runtime.service import DebateService
from aragora.runtime.workers import WorkerPool

__all__ = ["Background", "DrainFlag", "Node"]

_log = logging.getLogger("aragora.runtime")


class Background(Protocol):
    """A task a replica runs beside its workers (the webhook sender)."""

    def start(self) -> None: ...

    async def close(self) -> None: ...


class DrainFlag:
    """Whether this process is draining: set once by :meth:`Node.drain` (or
    :meth:`Node.close`), read by the service (no new debates) and by health (not ready).
    The composition root builds it before all three, so each gets it at construction."""

    def __init__(self) -> None:
        self._set = False

    def set(self) -> None:
        """Start draining; for good."""
        self._set = True

    def is_set(self) -> bool:
        """Whether draining has started."""
        return self._set


ServicesT = TypeVar("ServicesT")


class Node(Generic[ServicesT]):
    """Holds the replica's parts; see :meth:`start`, :meth:`drain` and :meth:`close`.

    ``services`` are the sub-services the faces reach besides the debate service (the
    knowledge, receipt and webhook services of :class:`aragora.wiring.Services`): the
    runtime cannot name the adapters' classes, so the composition root gives their type."""

    def __init__(
        self,
        *,
        services: ServicesT,
        draining: DrainFlag,
        storage: Storage,
        bus: EventBus,
        workers: WorkerPool,
        service: DebateService,
        health_monitor: HealthMonitor,
        observers: list[EventObserver],
        on_close: Callable[[], Awaitable[None]] | None = None,
        background: Sequence[Background] = (),
        webhook_observers: list[Callable[[str], None]] | None = None,
        loop_lag: Callable[[], float] = lambda: 0.0,
    ) -> None:
        self.storage = storage
        self.bus = bus
        self.workers = workers
        self.service = service
        self._health = health_monitor
        self._observers = observers
        self._on_close = on_close
        self._background = tuple(background)
        self._webhook_observers = webhook_observers if webhook_observers is not None else []
        self._loop_lag = loop_lag
        self._draining = draining
        self._closed = False
        self.services = services

    @property
    def tokens(self) -> TokenRepository:
        """API tokens (for authentication)."""
        return self.storage.tokens

    @property
    def draining(self) -> bool:
        """Whether this replica is shutting down (readiness 503, no new debates)."""
        return self._draining.is_set()

    @property
    def loop_lag(self) -> float:
        """Seconds this process's event loop runs late (see :mod:`aragora.runtime.loop_lag`)."""
        return self._loop_lag()

    def observe(self, callback: Callable[[Event], None]) -> None:
        """Call ``callback`` with every event this process appends (after it is stored)
        and every token delta it publishes."""
        self._observers.append(callback)

    def observe_webhooks(self, callback: Callable[[str], None]) -> None:
        """Call ``callback`` with the outcome of every webhook delivery attempt this process
        makes (``delivered``, ``retry`` or ``failed``)."""
        self._webhook_observers.append(callback)

    def start(self) -> None:
        """Start claiming debates, and the background tasks (webhook deliveries)."""
        self.workers.start()
        for task in self._background:
            task.start()

    async def health(self) -> HealthReport:
        """The replica's health (cached about a second)."""
        return await self._health.report()

    async def ready(self) -> bool:
        """Readiness: not draining and the database answers."""
        return (await self.health()).ready

    async def drain(self, grace: float) -> None:
        """Readiness turns false now; no new debates; running ones get ``grace`` seconds,
        the rest are put back on the queue for another replica or the next start."""
        if self._draining.is_set():
            return
        self._draining.set()
        log_event(_log, "draining", grace_seconds=grace, running=self.workers.active)
        await self.workers.drain(grace)

    async def close(self) -> None:
        """Drain at once if not yet drained, then release every connection."""
        if self._closed:
            return
        self._closed = True
        self._draining.set()
        await self.workers.close()
        for task in self._background:
            await task.close()
        await self._health.close()
        await self.bus.close()
        await self.storage.close()
        if self._on_close is not None:
            await self._on_close()
