"""A replica's debate workers: claim queued debates through leases, run at most
``max_concurrent`` at once (fewer while :class:`Admission` says the replica is busy), keep
each lease alive by heartbeat, and give debates back on drain so another worker (or this
one after a restart) resumes them from their log.

Cancellation crosses replicas through the shared settings table (``cancel:<id>``): the
heartbeat of whichever worker runs the debate sees it. A cancel for a debate running here
also takes effect at once. A debate that has not stopped :data:`CANCEL_GRACE` seconds after
its cancel was seen is stopped by force and stored as cancelled.

Failures are told apart by whether trying again can help:

- the lease was lost (:class:`StaleLeaseError`): another worker carries on; stop quietly;
- the database is unreachable or rolled the work back (:class:`DatabaseUnavailableError`):
  hold on to the debate, wait (``poll_interval`` doubling per consecutive failure of that
  debate, at most :data:`MAX_BACKOFF` seconds) and put it back on the queue; while the
  database answers a ping, :data:`MAX_TRANSIENT_FAILURES` such failures in a row mean the
  trouble is the debate's own, and it fails;
- anything else (a value the database refuses, a bug): retrying gives the same result, so
  the debate fails at once with the reason and its slot is freed.

Each failure is one log line (a traceback only for an error Aragora did not expect).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from aragora.debate.events import Event
from aragora.errors import AragoraError, DatabaseUnavailableError, StaleLeaseError
from aragora.logs import log_event
from aragora.records.debates import TERMINAL_STATUSES, Claimant, DebateRecord, Lease, Storage
from aragora.runtime.debate_request import DebateRequest
from aragora.runtime.runner import FOLLOWUPS_PENDING, Context, DebateRunner

__all__ = [
    "ADMISSION_RECHECK",
    "CANCEL_GRACE",
    "CANCEL_KEY_PREFIX",
    "MAX_BACKOFF",
    "MAX_TRANSIENT_FAILURES",
    "Admission",
    "WorkerPool",
]

CANCEL_KEY_PREFIX = "cancel:"
CANCEL_GRACE = 15.0
"""Seconds a cancelled debate has to stop by itself before it is stopped by force."""
MAX_BACKOFF = 30.0
MAX_TRANSIENT_FAILURES = 8
ADMISSION_RECHECK = 0.02
"""Seconds between asking :class:`Admission` again after it refused a claim."""
_log = logging.getLogger("aragora.runtime")


class Admission(Protocol):
    """Whether the replica may take on one more debate now (below its concurrency limit);
    :class:`~aragora.runtime.loop_lag.LoopLag` says no while the event loop runs late."""

    def admits(self) -> bool:
        """Whether one more debate may start now; a yes counts as a debate taken on."""
        ...

    def unused(self) -> None:
        """A yes from :meth:`admits` that took on no debate after all (its offer was
        withdrawn): it no longer counts."""
        ...


@dataclass(slots=True)
class _Running:
    lease: Lease
    cancel: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    forced: bool = False
    """The run was stopped by force after its cancel grace ran out."""


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
        cancel_grace: float = CANCEL_GRACE,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        admission: Admission | None = None,
    ) -> None:
        self._storage = storage
        self._admission = admission
        self._runner = runner
        self.owner = owner
        self._max = max_concurrent
        self._ttl = lease_ttl
        self._poll = poll_interval
        self._cancel_grace = cancel_grace
        self._clock = clock
        self._wall_clock = wall_clock  # cancels are timed across replicas: wall time
        self._failures: dict[str, tuple[int, int]] = {}
        """Per debate (in this process): consecutive transient failures, and how many of
        them happened while the database answered a ping."""
        self._running: dict[str, _Running] = {}
        self._wake = asyncio.Event()
        self._offered = 0
        """Slots held by :meth:`offer` for debates being queued."""
        self._wakes = 0
        """Debates announced as queued (:meth:`wake`) that no claim has been made for yet."""
        self._scan = True
        """Whether the queue may hold claimable debates that no announcement is for: at
        start, after a poll's wait, once a slot frees up or admission held claims back, and
        after a failed claim. Then the pool claims until a claim finds nothing; otherwise it
        claims once per announcement, so a lone debate's start does not share the loop
        with a second claim that would find nothing."""
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
        self._wakes += 1
        self._wake.set()

    def offer(self) -> Claimant | None:
        """Hold a slot for a debate about to be queued, if this pool could run it now
        (claiming, below its limit, admitted) and expects to take it (its last look found
        the queue empty, and no debate has been announced since): the claimant to queue it
        with (see :meth:`DebateRepository.create`). The slot is the pool's until
        :meth:`adopt` or :meth:`withdraw`; ``None`` when the debate should simply be
        queued. Under a burst the queue is seldom empty, so debates are queued and
        claimed in order, and no offer's work (its context gathered) is wasted."""
        if not self._claiming or len(self._running) + self._offered >= self._max:
            return None
        if self._scan or self._wakes:
            return None
        if self._admission is not None and not self._admission.admits():
            return None
        self._offered += 1
        return Claimant(self.owner, self._ttl)

    def gather_context(self, request: DebateRequest) -> asyncio.Future[Context]:
        """Start gathering the background of a debate offered to this pool (see
        :meth:`DebateRunner.gather_context`), while it is being queued."""
        return self._runner.gather_context(request)

    def withdraw(self, context: asyncio.Future[Context] | None = None) -> None:
        """Give back a slot :meth:`offer` held: the debate was queued, not taken (its
        ``context`` being gathered is dropped)."""
        self._offered -= 1
        if context is not None:
            _drop(context)
        if self._admission is not None:
            self._admission.unused()  # else the claims that follow would be held back
        self._wake.set()  # the slot may have kept the claim loop waiting

    def adopt(
        self,
        record: DebateRecord,
        lease: Lease,
        context: asyncio.Future[Context] | None = None,
    ) -> None:
        """Run a debate leased to this pool as it was queued (:meth:`offer`'s slot): at
        once, with nothing to read first (it is new: no log, no cancel asked yet), on the
        ``context`` gathered meanwhile."""
        self._offered -= 1
        self._start(lease, known=record, context=context)

    def cancel_local(self, debate_id: str) -> bool:
        """Cancel the debate if it runs here; whether it did."""
        running = self._running.get(debate_id)
        if running is None:
            return False
        running.cancel.set()
        return True

    async def cancel(self, debate_id: str) -> str:
        """Ask for the debate to stop, on whichever replica runs it: ``"cancelled"`` when
        it was ended now, ``"cancelling"`` when a live worker will stop it.

        A queued debate, one whose lease has expired (its worker died) and one whose first
        cancel is :data:`CANCEL_GRACE` seconds old (its worker is stuck) end at once, which
        also fences off any worker still holding it; a debate running here is stopped by
        this process, by force once the grace has passed."""
        key = CANCEL_KEY_PREFIX + debate_id
        asked = await self._storage.settings.get(key)
        now = self._wall_clock()
        first = asked.get("at") if isinstance(asked, dict) else None
        if asked is None:
            await self._storage.settings.set(key, {"at": now})
            first = now
        log_event(_log, "cancel_requested", debate_id=debate_id, again=asked is not None)
        if self.cancel_local(debate_id):
            return "cancelling"
        alive = await self._storage.leases.current(debate_id) is not None
        overdue = isinstance(first, int | float) and now - first >= self._cancel_grace
        if alive and not overdue:
            return "cancelling"
        await self._runner.end(debate_id, None, "cancelled", "cancelled")
        log_event(_log, "debate_cancelled", debate_id=debate_id, forced=alive)
        return "cancelled"

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
            # Cleared before looking, never after: a debate queued while a claim is under
            # way (too late for its query) sets the flag again, so the wait below returns
            # at once and claims it instead of sleeping until the next poll.
            self._wake.clear()
            if len(self._running) + self._offered >= self._max:
                await self._wait(None)
                self._scan = True  # a slot is free: whatever waits in the queue comes next
                continue
            if self._admission is not None and not self._admission.admits():
                # Busy: the debate waits in the queue (for this replica a moment later, or
                # another replica now) rather than slowing every debate running here.
                await self._wait(ADMISSION_RECHECK)
                self._scan = True
                continue
            if not self._scan and self._wakes == 0:
                # Every announced debate has been claimed for, and the last look found the
                # queue empty: wait for the next announcement, or poll.
                if not await self._wait(self._poll):
                    self._scan = True
                continue
            try:
                lease = await self._storage.leases.claim(self.owner, self._ttl)
            except DatabaseUnavailableError as exc:
                log_event(_log, "claim_failed", error=str(exc), level=logging.WARNING)
                await self._wait(backoff)
                backoff = min(backoff * 2, 30.0)
                self._scan = True
                continue
            except Exception:
                _log.exception("claiming a debate failed")
                await self._wait(self._poll)
                self._scan = True
                continue
            backoff = self._poll
            if lease is None:
                self._wakes, self._scan = 0, False
                if not await self._wait(self._poll):
                    self._scan = True
                continue
            self._wakes = max(0, self._wakes - 1)
            self._start(lease)

    def _start(
        self,
        lease: Lease,
        *,
        known: DebateRecord | None = None,
        context: asyncio.Future[Context] | None = None,
    ) -> None:
        """Run the debate of ``lease`` here, counted against the limit (see :meth:`_run`)."""
        running = _Running(lease)
        self._running[lease.debate_id] = running
        running.task = asyncio.create_task(
            self._run(running, known=known, context=context),
            name=f"aragora-debate-{lease.debate_id}",
        )

    async def _wait(self, seconds: float | None) -> bool:
        """Wait for :meth:`wake` (or a freed slot, or a drain) at most ``seconds``
        (``None``: no limit); whether it came."""
        try:
            await asyncio.wait_for(self._wake.wait(), seconds)
        except TimeoutError:
            return False
        return True

    async def _run(
        self,
        running: _Running,
        *,
        known: DebateRecord | None = None,
        context: asyncio.Future[Context] | None = None,
    ) -> None:
        """Run a claimed debate; ``known`` is the record of one adopted as it was queued,
        ``context`` its background, gathered meanwhile."""
        lease = running.lease
        debate_id = lease.debate_id
        heartbeat = asyncio.create_task(self._heartbeat(running, asyncio.current_task()))
        requeue = False
        ended = False
        try:
            record, cancelled, stored = (
                (known, False, []) if known is not None else await self._read_claimed(debate_id)
            )
            if record.status in TERMINAL_STATUSES:
                document = record.document or {}
                if document.get(FOLLOWUPS_PENDING):
                    # Its worker stopped after storing the outcome, before the follow-ups.
                    log_event(_log, "debate_followups_resumed", debate_id=debate_id)
                    await self._runner.follow_up(debate_id, stored, document)
                return
            if cancelled:
                running.cancel.set()
            log_event(_log, "debate_claimed", debate_id=debate_id, epoch=lease.epoch)
            status = await self._runner.run(
                record, lease, running.cancel, stored=stored, context=context
            )
            self._failures.pop(debate_id, None)
            ended = status in TERMINAL_STATUSES
            log_event(_log, "debate_finished", debate_id=debate_id, status=status)
        except asyncio.CancelledError:
            if running.forced:
                task = asyncio.current_task()
                if task is not None:
                    task.uncancel()  # our own stop, handled here: nothing is cancelling us
                await self._end(running, "cancelled", "cancelled: the debate did not stop in time")
            else:
                requeue = True  # drained or fenced: the log holds every finished step
                if heartbeat.done() and not heartbeat.cancelled() and heartbeat.result():
                    requeue = False  # the lease is gone; its new holder carries on
        except StaleLeaseError:
            log_event(_log, "lease_lost", debate_id=debate_id, level=logging.WARNING)
        except DatabaseUnavailableError as exc:
            requeue = await self._back_off(running, exc)
        except Exception as exc:
            self._failures.pop(debate_id, None)
            await self._fail(running, exc)
        finally:
            if context is not None:
                _drop(context)  # unused when the run stopped before it started the debate
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            self._running.pop(debate_id, None)
            self._wake.set()
            await self._release(running.lease, requeue, ended=ended)

    async def _read_claimed(self, debate_id: str) -> tuple[DebateRecord, bool, list[Event]]:
        """A claimed debate's record, whether a cancel was asked, and its log: the three
        reads at once, as they are on the path from the claim to the first call. The log is
        read after the claim, so it holds every append of earlier holders (an append holds
        the job row against a claim until it commits)."""
        return await asyncio.gather(
            self._storage.debates.get(debate_id, primary=True),
            self._cancel_requested(debate_id),
            self._storage.events.read(debate_id, primary=True),
        )

    async def _back_off(self, running: _Running, error: DatabaseUnavailableError) -> bool:
        """Wait before the debate is tried again; whether to put it back on the queue
        (``False``: it failed for good, too many failures while the database answers)."""
        debate_id = running.lease.debate_id
        attempts, own = self._failures.get(debate_id, (0, 0))
        attempts += 1
        if await self._database_answers():
            own += 1  # a failure of this debate's own: the database works for the rest
        if own >= MAX_TRANSIENT_FAILURES:
            self._failures.pop(debate_id, None)
            await self._fail(running, error, attempts=attempts)
            return False
        self._failures[debate_id] = (attempts, own)
        delay = min(self._poll * 2 ** (attempts - 1), MAX_BACKOFF)
        log_event(
            _log,
            "debate_interrupted",
            debate_id=debate_id,
            error=error.message,
            failures=attempts,
            retry_in=delay,
            level=logging.WARNING,
        )
        with contextlib.suppress(TimeoutError):
            # The lease stays held (and renewed) meanwhile, so no other worker spins on it.
            await asyncio.wait_for(running.cancel.wait(), delay)
        return True

    async def _database_answers(self) -> bool:
        try:
            await self._storage.ping()
        except Exception:
            return False
        return True

    async def _fail(self, running: _Running, error: Exception, *, attempts: int = 1) -> None:
        """Fail the debate with the reason (retrying would not help): one log line, and a
        traceback only for an error Aragora did not expect."""
        debate_id = running.lease.debate_id
        if isinstance(error, AragoraError):
            reason = error.message
            log_event(
                _log,
                "debate_failed",
                debate_id=debate_id,
                error=reason,
                kind=type(error).__name__,
                attempts=attempts,
                level=logging.ERROR,
            )
        else:
            reason = f"internal error ({type(error).__name__})"
            log_event(
                _log,
                "debate_failed",
                debate_id=debate_id,
                error=reason,
                kind=type(error).__name__,
                attempts=attempts,
                level=logging.ERROR,
                exc_info=error,
            )
        await self._end(running, "failed", f"the debate cannot go on: {reason}")

    async def _end(self, running: _Running, status: str, reason: str) -> None:
        debate_id = running.lease.debate_id
        try:
            await self._runner.end(debate_id, running.lease, status, reason)
        except Exception as exc:  # the job ends anyway; a cancel ends the debate later
            log_event(
                _log,
                "debate_end_failed",
                debate_id=debate_id,
                status=status,
                error=str(exc),
                level=logging.ERROR,
            )

    async def _release(self, lease: Lease, requeue: bool, *, ended: bool = False) -> None:
        """Give the lease up. ``ended``: the run stored the debate's end, whose write took
        the job off the queue (done, no owner, no lease) in the same transaction; the
        release would change nothing, so it is not sent (a round trip and a transaction
        fewer per debate)."""
        try:
            if not ended:
                await self._storage.leases.release(lease, requeue=requeue)
            log_event(
                _log,
                "lease_released",
                level=logging.DEBUG,
                debate_id=lease.debate_id,
                epoch=lease.epoch,
                requeue=requeue,
            )
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
        """Renew the lease every third of its life and watch for a cancel; ``True`` (and the
        run is stopped) when the lease was lost. A run still going :data:`CANCEL_GRACE`
        seconds after its cancel was seen is stopped by force (``running.forced``)."""
        interval = min(self._ttl / 3, max(self._cancel_grace / 3, 0.01))
        debate_id = running.lease.debate_id
        renewed = self._clock()
        cancel_seen: float | None = None
        while True:
            await asyncio.sleep(interval)
            now = self._clock()
            if running.cancel.is_set():
                cancel_seen = now if cancel_seen is None else cancel_seen
                if now - cancel_seen >= self._cancel_grace and run_task is not None:
                    log_event(_log, "cancel_forced", debate_id=debate_id, level=logging.WARNING)
                    running.forced = True
                    run_task.cancel()
                    return False
            if now - renewed < self._ttl / 3:
                continue
            try:
                running.lease = await self._storage.leases.renew(running.lease, self._ttl)
                self._runner.lease_renewed(running.lease)
                renewed = now
                log_event(
                    _log,
                    "lease_renewed",
                    level=logging.DEBUG,
                    debate_id=debate_id,
                    epoch=running.lease.epoch,
                    ttl=self._ttl,
                )
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


def _drop(future: asyncio.Future[Any]) -> None:
    """Cancel ``future`` if it still runs; its failure, if it had one, is not reported as
    never retrieved (nothing waits for it any more)."""
    if not future.done():
        future.cancel()
    future.add_done_callback(_retrieve)


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()
