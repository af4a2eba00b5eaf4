"""The debate service: what the HTTP API and the WebSocket do, independent of HTTP.

Create validates and queues (workers claim from the queue, see :mod:`.workers`); reads
serve the cached document of a finished debate and fold the log of a running one; the
stream merges the stored log with live frames (:mod:`.stream`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

from aragora.debate.events import Event
from aragora.debate.model import Participant
from aragora.debate.ports import LLM, seconds_unavailable
from aragora.errors import (
    ConflictError,
    InvalidInputError,
    MaintenanceError,
    RateLimitedError,
    UnavailableError,
)
from aragora.records.debates import (
    TERMINAL_STATUSES,
    DebateRecord,
    NewDebate,
    Storage,
    check_page,
    check_status,
)
from aragora.runtime.bus import EventBus, Frame
from aragora.runtime.debate_request import RequestDefaults, parse_request
from aragora.runtime.document import debate_document
from aragora.runtime.local import LocalDebates
from aragora.runtime.maintenance import read_maintenance, write_maintenance
from aragora.runtime.ports import AgentCatalog, PanelBuilder
from aragora.runtime.ratings import leaderboard_rows
from aragora.runtime.runner import FOLLOWUPS_PENDING
from aragora.runtime.stream import stream_frames, unlogged_end
from aragora.runtime.workers import WorkerPool

__all__ = ["DebateService"]

MAINTENANCE_RETRY_AFTER = 60.0
QUEUE_FULL_RETRY_AFTER = 30.0


def _refuse_if_all_down(panel: Sequence[tuple[Participant, LLM]]) -> None:
    """:class:`UnavailableError` when no agent of ``panel`` can answer now (every one's
    circuit breaker is open), with ``Retry-After`` the soonest one may again."""
    waits = []
    for participant, llm in panel:
        wait = seconds_unavailable(llm)
        if wait is None:
            return
        waits.append((participant.name, wait))
    down = ", ".join(f"{name} (back in {wait:.0f} s)" for name, wait in waits)
    raise UnavailableError(
        f"every agent of the panel is unavailable: {down}",
        retry_after=max(1.0, min(wait for _, wait in waits)),
        code="agents_unavailable",
    )


class DebateService:
    """Debates for the faces (HTTP, WebSocket); one per process."""

    def __init__(
        self,
        *,
        storage: Storage,
        bus: EventBus,
        workers: WorkerPool,
        build_panel: PanelBuilder,
        agent_catalog: AgentCatalog,
        defaults: RequestDefaults,
        is_draining: Callable[[], bool],
        refuse_when_agents_down: bool = False,
        stream_queue: int = 1000,
        cache_size: int = 1024,
        max_queued: int | None = None,
        announce_queued: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        local: LocalDebates | None = None,
    ) -> None:
        self._storage = storage
        self._local = local if local is not None else LocalDebates()
        self._bus = bus
        self._workers = workers
        self._build_panel = build_panel
        self._agent_catalog = agent_catalog
        self._defaults = defaults
        self._is_draining = is_draining
        self._refuse_when_agents_down = refuse_when_agents_down
        self._stream_queue = stream_queue
        self._clock = clock
        self._started = clock()
        self._cache_size = cache_size
        self._max_queued = max_queued
        self._announce_queued = announce_queued
        self._finished: OrderedDict[str, dict[str, Any]] = OrderedDict()

    # --- debates ----------------------------------------------------------------------------
    async def create(
        self,
        body: Mapping[str, Any],
        *,
        seed: int | None = None,
        operator_agents: bool = False,
    ) -> dict[str, Any]:
        """Validate and queue a debate: the 202 body of ``POST /api/v1/debates``.

        :class:`InvalidInputError` / :class:`InvalidAgentSpecError` name the first problem
        (nothing is stored); :class:`MaintenanceError` while maintenance is on or this
        replica drains; :class:`UnavailableError` (``agents_unavailable``) when the operator
        chose to refuse debates whose every agent is down (else such a debate is queued and
        waits for its agents, visibly); :class:`RateLimitedError` (code ``queue_full``)
        while ``max_queued`` debates already wait. ``seed`` fixes the panel's names, the
        anonymisation and demo agents (``aragora debate --seed``); by default it is random.
        ``operator_agents`` marks the body's agents as the operator's own configuration (a
        panel of ``ARAGORA_PANELS``), trusted like ``ARAGORA_DEFAULT_AGENTS``."""
        if self._is_draining():
            raise MaintenanceError(
                "this server is shutting down; retry on another replica",
                retry_after=5,
            )
        maintenance = await read_maintenance(self._storage.settings)
        if maintenance["enabled"]:
            message = maintenance["message"] or "maintenance mode: new debates are paused"
            raise MaintenanceError(message, retry_after=MAINTENANCE_RETRY_AFTER)
        request = parse_request(body, self._defaults, seed=seed)
        if operator_agents and not request.agents_from_operator:
            request = dataclasses.replace(request, agents_from_operator=True)
        # Build the panel once now so a bad spec is a 400 naming it, not a failed debate.
        # The operator's default agents are trusted; a caller's specs are not.
        panel = self._build_panel(
            request.agents, seed=request.seed, trusted=request.agents_from_operator
        )
        names = [participant.name for participant, _ in panel]
        judge = request.protocol.judge
        if judge is not None and judge not in names:
            raise InvalidInputError(f"judge {judge!r} is not on the panel ({', '.join(names)})")
        if self._refuse_when_agents_down:
            _refuse_if_all_down(panel)
        if self._max_queued is not None:
            # Counted across replicas; concurrent creates may pass it by a few.
            queued = (await self._storage.debates.counts()).get("queued", 0)
            if queued >= self._max_queued:
                raise RateLimitedError(
                    f"the queue is full ({queued} debates waiting); retry later",
                    retry_after=QUEUE_FULL_RETRY_AFTER,
                    code="queue_full",
                )
        debate_id = str(uuid.uuid4())
        # A worker of this replica with a free slot takes the debate in the write that
        # queues it, when a claim would take it next anyway: it starts with no claim of
        # its own. The queue position comes back from the same transaction: where the
        # debate stood when accepted.
        # Its background is gathered meanwhile, not after.
        stored = request.to_stored()
        claimant = self._workers.offer()
        context = None
        try:
            if claimant is not None:
                context = self._workers.gather_context(request)
            created = await self._storage.debates.create(
                NewDebate(
                    id=debate_id, task=request.task, request=stored, priority=request.priority
                ),
                claimant=claimant,
            )
        except BaseException:
            if claimant is not None:
                self._workers.withdraw(context)
            raise
        record = created.record
        if created.lease is not None:
            self._workers.adopt(record, created.lease, context)
        else:
            if claimant is not None:
                self._workers.withdraw(context)
            # This replica's workers look now; the others when the announcement reaches
            # them (through Redis), else at their next poll.
            self._workers.wake()
            if self._announce_queued is not None:
                self._announce_queued()
        return {
            "success": True,
            "debate_id": record.id,
            "id": record.id,
            "status": "queued",
            "task": record.task,
            "agents": names,
            "queue_position": created.queue_position,
            "priority": request.priority,
            "created_at": record.created_at.isoformat(),
        }

    async def get(self, debate_id: str) -> dict[str, Any]:
        """The debate document (CONTRACT.md); :class:`NotFoundError`. Callers must not
        change it: a finished debate's document is shared from a cache (it never changes
        once the debate has ended, so every replica may keep its own copy)."""
        cached = self._finished.get(debate_id)
        if cached is not None:
            self._finished.move_to_end(debate_id)
            return cached
        ended = self._local.ended(debate_id)
        if ended is not None:  # ended here, follow-ups running: as stored with the end
            return dict(ended)
        record = await self._storage.debates.get(debate_id)
        document = await self._document(record)
        if (
            record.status in TERMINAL_STATUSES
            and record.document is not None
            and not record.document.get(FOLLOWUPS_PENDING)
        ):
            self._finished[debate_id] = document
            if len(self._finished) > self._cache_size:
                self._finished.popitem(last=False)
        return document

    async def settled(self, debate_id: str, *, within: float, poll: float = 0.02) -> dict[str, Any]:
        """The document once the debate is final: its stored status terminal and its
        follow-ups (receipt, knowledge items, ratings; added just after that status is
        stored) done, so nothing more will be added; the document as it stands if that
        takes over ``within`` seconds. :class:`NotFoundError` for an unknown debate."""
        deadline = self._clock() + within
        while True:
            record = await self._storage.debates.get(debate_id, primary=True)
            final = record.status in TERMINAL_STATUSES and not (record.document or {}).get(
                FOLLOWUPS_PENDING
            )
            if final or self._clock() >= deadline:
                break
            await asyncio.sleep(poll)
        return await self.get(debate_id)

    async def _document(self, record: DebateRecord) -> dict[str, Any]:
        if record.status in TERMINAL_STATUSES and record.document is not None:
            return dict(record.document)

        def build(events: Sequence[Event]) -> dict[str, Any]:
            return debate_document(
                record.id,
                events,
                status=record.status if record.status != "running" or not events else None,
                created_at=record.created_at.isoformat(),
            )

        # A debate running here: its log as the runner holds it, folded once per event.
        here = None if record.status != "running" else self._local.document(record.id, build)
        document = build(await self._storage.events.read(record.id)) if here is None else here
        if document["task"] is None:  # nothing has run yet: describe the request
            document["task"] = record.task
            document["context"] = record.request.get("context")
            document["protocol"] = record.request.get("protocol")
        if record.status == "cancelled" and document["status"] != "cancelled":
            document["status"] = "cancelled"
        if record.status == "queued":
            document["queue_position"] = await self._storage.leases.position(record.id)
        elif record.status == "running":
            # A worker that died (or drained) leaves the debate "running" until another
            # claims it; say so rather than let it look alive until then.
            document["awaiting_resumption"] = (
                here is None and await self._storage.leases.current(record.id) is None
            )
        return document

    async def list(
        self, *, status: str | None, limit: int, offset: int, query: str | None = None
    ) -> dict[str, Any]:
        """One page of debates, newest first (CONTRACT's list body); ``query`` keeps only
        tasks containing it."""
        if status is not None:
            check_status(status)
        check_page(limit, offset)
        page = await self._storage.debates.list(
            status=status, query=query or None, limit=limit, offset=offset
        )
        items = [_summary(r) for r in page.items]
        return {
            "debates": items,
            "items": items,
            "total": page.total,
            "count": len(items),
            "limit": page.limit,
            "offset": page.offset,
            "has_more": page.has_more,
        }

    async def messages(self, debate_id: str) -> dict[str, Any]:
        """The debate's messages (proposals, critiques, revisions, votes) in order."""
        document = await self.get(debate_id)
        return {"debate_id": debate_id, "messages": document["messages"]}

    async def events(self, debate_id: str, *, since: int, limit: int) -> dict[str, Any]:
        """Stored events after ``since`` (polling fallback for the stream)."""
        if since < 0:
            raise InvalidInputError(f"since must not be negative, got {since}")
        check_page(limit, 0)
        await self._storage.debates.get(debate_id)
        events = await self._storage.events.read(debate_id, since=since, limit=limit)
        next_since = events[-1].seq if events else since
        return {
            "debate_id": debate_id,
            "events": [e.to_wire() for e in events],
            "next_since": next_since,
        }

    async def cancel(self, debate_id: str) -> dict[str, Any]:
        """Cancel a queued or running debate; :class:`ConflictError` once it has ended.

        A running debate stops at its next step with a ``cancelled`` warning and its
        partial result; one still queued, or whose worker died or does not stop it in
        time, is cancelled at once (see :meth:`WorkerPool.cancel`)."""
        record = await self._storage.debates.get(debate_id, primary=True)
        if record.status in TERMINAL_STATUSES:
            raise ConflictError(f"debate {debate_id} has already ended ({record.status})")
        status = await self._workers.cancel(debate_id)
        return {"success": True, "debate_id": debate_id, "id": debate_id, "status": status}

    def stream(self, debate_id: str, since: int = 0) -> AsyncIterator[Frame]:
        """Frames after ``since``, then live ones, ending after ``debate_end``. Raises
        :class:`NotFoundError` first if the debate does not exist."""
        return self._stream(debate_id, since)

    async def _stream(self, debate_id: str, since: int) -> AsyncIterator[Frame]:
        if since < 0:
            raise InvalidInputError(f"since must not be negative, got {since}")
        record = await self._storage.debates.get(debate_id)

        async def ending() -> Frame | None:
            current = await self._storage.debates.get(debate_id, primary=True)
            return unlogged_end(current) if current.status in TERMINAL_STATUSES else None

        async for frame in stream_frames(
            self._storage.events,
            self._bus,
            debate_id,
            since=since,
            maxsize=self._stream_queue,
            ending=ending,
            idle_check=0 if record.status in TERMINAL_STATUSES else 30.0,
        ):
            yield frame

    # --- operations -------------------------------------------------------------------------
    async def stats(self) -> dict[str, Any]:
        """``GET /api/admin/stats``: counts from the database (every replica's debates)."""
        maintenance = await read_maintenance(self._storage.settings)
        agents = self._agent_catalog()
        return {
            **await self.debate_counts(),
            "agents": {
                "total": len(agents),
                "by_status": _count_by(agents, "status"),
                "by_provider": _count_by(agents, "provider"),
            },
            "maintenance": maintenance["enabled"],
            "uptime_seconds": round(self.uptime(), 3),
            "local": {
                "running": self._workers.active,
                "claiming": self._workers.claiming,
                "worker": self._workers.owner,
            },
        }

    async def debate_counts(self) -> dict[str, int]:
        """Debates per state across every replica (the stats' counts, and what the
        metrics gauges show), one cheap query."""
        counts = await self._storage.debates.counts()
        return {
            "active_debates": counts.get("running", 0),
            "queued_debates": counts.get("queued", 0),
            "completed_debates": counts.get("completed", 0),
            "failed_debates": counts.get("failed", 0),
            "cancelled_debates": counts.get("cancelled", 0),
            "total_debates": sum(counts.values()),
        }

    def uptime(self) -> float:
        """Seconds since this service started."""
        return self._clock() - self._started

    async def leaderboard(self, *, limit: int, offset: int, min_debates: int) -> dict[str, Any]:
        """Agents by ELO, highest first."""
        check_page(limit, offset)
        if min_debates < 0:
            raise InvalidInputError(f"min_debates must not be negative, got {min_debates}")
        ratings = [
            r
            for r in await self._storage.ratings.leaderboard(limit=1000)
            if r.debates >= min_debates
        ]
        rows = leaderboard_rows(ratings)
        return {"rankings": rows[offset : offset + limit], "total": len(rows)}

    async def agents(self) -> dict[str, Any]:
        """The configured agents, their providers and status."""
        agents = self._agent_catalog()
        return {"agents": agents, "total": len(agents)}

    async def maintenance(self) -> dict[str, Any]:
        """The shared maintenance flag ``{"enabled", "message"}``."""
        return await read_maintenance(self._storage.settings)

    async def set_maintenance(self, enabled: bool, message: str | None = None) -> dict[str, Any]:
        """Turn maintenance on or off for every replica sharing the database."""
        return await write_maintenance(self._storage.settings, enabled, message)


def _summary(record: DebateRecord) -> dict[str, Any]:
    request = record.request
    protocol = request.get("protocol") or {}
    return {
        "id": record.id,
        "debate_id": record.id,
        "task": record.task,
        "status": record.status,
        "mode": protocol.get("mode"),
        "agents": list(request.get("agents") or []),
        "created_at": record.created_at.isoformat(),
        "updated_at": record.updated_at.isoformat(),
    }


def _count_by(rows: list[dict[str, Any]], key: str) -> dict[str, int]:
    return dict(Counter(str(row.get(key)) for row in rows))
