"""A replica's debate workers: claim queued debates through leases, run at most
``max_concurrent`` at once, keep each lease alive by heartbeat, and give debates back on
drain so another worker (or this one after a restart) resumes them from their log.

Cancellation crosses replicas through the shared settings table (``cancel:<id>``): the
heartbeat of whichever worker runs the debate sees it. A cancel for a debate running here
also takes effect at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from aragora.errors import DatabaseUnavailableError, StaleLeaseError
from aragora.logs import log_event
from aragora.runtime.runner import DebateRunner
from aragora.storage.repository import TERMINAL_STATUSES, Lease, Storage

__all__ = ["CANCEL_KEY_PREFIX", "WorkerPool"]

CANCEL_KEY_PREFIX = "cancel:"
_log = logging.getLogger("aragora.runtime")


@dataclass(slots=True)
class _Running:
    lease: Lease
    cancel: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None


class WorkerPool:
    """Claims and runs debates until :meth:`drain` or :meth:`close`."""

    def __init__(
        self,
        *,
        storage: Storage,
        runner: DebateRunner,
        owner: str,
        max_concurrent: int,
        lease_ttl: float,
        poll_interval: float = 1.0,
    ) -> None:
        self._storage = storage
        self._runner = runner
        self.owner = owner
        self._max = max_concurrent
        self._ttl = lease_ttl
        self._poll = poll_interval
        self._running: dict[str, _Running] = {}
        self._wake = asyncio.Event()
        self._claiming = False
        self._loop_task: asyncio.Task[None] | None = None

    @property
    def active(self) -> int:
        """Debates running in this process now."""
        return len(self._running)

    @property
    def claiming(self) -> bool:
        """Whether new debates are being claimed (false once draining)."""
        return self._claiming

    def start(self) -> None:
        """Begin claiming debates."""
        if self._loop_task is None:
            self._claiming = True
            self._loop_task = asyncio.create_task(self._claim_loop(), name="aragora-claim")

    def wake(self) -> None:
        """A debate was queued: look for work now instead of at the next poll."""
        self._wake.set()

    def cancel_local(self, debate_id: str) -> bool:
        """Cancel the debate if it runs here; whether it did."""
        running = self._running.get(debate_id)
        if running is None:
            return False
        running.cancel.set()
        return True

    async def drain(self, grace: float) -> None:
        """Stop claiming; give running debates ``grace`` seconds to finish, then stop the
        rest and put them back on the queue (their logs keep every finished step)."""
        self._claiming = False
        self._wake.set()
        if self._loop_task is not None:
            await self._loop_task
        tasks = [r.task for r in self._running.values() if r.task is not None]
        if tasks:
            log_event(_log, "drain", running=len(tasks), grace_seconds=grace)
            _done, pending = await asyncio.wait(tasks, timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
                log_event(_log, "drain", left_resumable=len(pending), level=logging.WARNING)

    async def close(self) -> None:
        """Stop at once (no grace): running debates are put back on the queue."""
        await self.drain(0)

    async def _claim_loop(self) -> None:
        backoff = self._poll
        while self._claiming:
            if len(self._running) >= self._max:
                await self._wait(None)
                continue
            try:
                lease = await self._storage.leases.claim(self.owner, self._ttl)
            except DatabaseUnavailableError as exc:
                log_event(_log, "claim_failed", error=str(exc), level=logging.WARNING)
                await self._wait(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            except Exception:
                _log.exception("claiming a debate failed")
                await self._wait(self._poll)
                continue
            backoff = self._poll
            if lease is None:
                await self._wait(self._poll)
                continue
            running = _Running(lease)
            self._running[lease.debate_id] = running
            running.task = asyncio.create_task(
                self._run(running), name=f"aragora-debate-{lease.debate_id}"
            )

    async def _wait(self, seconds: float | None) -> None:
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    async def _run(self, running: _Running) -> None:
        lease = running.lease
        debate_id = lease.debate_id
        heartbeat = asyncio.create_task(self._heartbeat(running, asyncio.current_task()))
        requeue = False
        try:
            record = await self._storage.debates.get(debate_id, primary=True)
            if record.status in TERMINAL_STATUSES:
                return
            if await self._cancel_requested(debate_id):
                running.cancel.set()
            log_event(_log, "debate_claimed", debate_id=debate_id, epoch=lease.epoch)
            status = await self._runner.run(record, lease, running.cancel)
            log_event(_log, "debate_finished", debate_id=debate_id, status=status)
        except asyncio.CancelledError:
            requeue = True  # drained or fenced: the log holds every finished step
            if heartbeat.done() and not heartbeat.cancelled() and heartbeat.result():
                requeue = False  # the lease is gone; its new holder carries on
        except StaleLeaseError:
            log_event(_log, "lease_lost", debate_id=debate_id, level=logging.WARNING)
        except DatabaseUnavailableError as exc:
            requeue = True
            log_event(
                _log,
                "debate_interrupted",
                debate_id=debate_id,
                error=str(exc),
                level=logging.WARNING,
            )
        except Exception:
            requeue = True
            _log.exception("debate %s stopped on an unexpected error", debate_id)
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            self._running.pop(debate_id, None)
            self._wake.set()
            await self._release(running.lease, requeue)

    async def _release(self, lease: Lease, requeue: bool) -> None:
        try:
            await self._storage.leases.release(lease, requeue=requeue)
        except StaleLeaseError:
            pass  # someone else holds it now
        except Exception as exc:  # the lease expires by itself; another claim resumes it
            log_event(
                _log,
                "lease_release_failed",
                debate_id=lease.debate_id,
                error=str(exc),
                level=logging.WARNING,
            )

    async def _heartbeat(self, running: _Running, run_task: asyncio.Task[None] | None) -> bool:
        """Renew the lease every third of its life; ``True`` (and the run is stopped) when
        the lease was lost."""
        interval = self._ttl / 3
        debate_id = running.lease.debate_id
        while True:
            await asyncio.sleep(interval)
            try:
                running.lease = await self._storage.leases.renew(running.lease, self._ttl)
                if not running.cancel.is_set() and await self._cancel_requested(debate_id):
                    running.cancel.set()
            except StaleLeaseError:
                log_event(_log, "lease_lost", debate_id=debate_id, level=logging.WARNING)
                if run_task is not None:
                    run_task.cancel()
                return True
            except Exception as exc:  # keep trying until the lease would have expired
                log_event(
                    _log,
                    "lease_renew_failed",
                    debate_id=debate_id,
                    error=str(exc),
                    level=logging.WARNING,
                )

    async def _cancel_requested(self, debate_id: str) -> bool:
        return bool(await self._storage.settings.get(CANCEL_KEY_PREFIX + debate_id))
