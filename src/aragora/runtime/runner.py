"""Running one claimed debate: fold its log, build its panel, drive the engine, and record
the outcome. Every append goes through the lease's fence first, then to the bus and the
local observers (metrics), in that order: nothing is published that is not stored."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from aragora.debate.engine import DebateEngine
from aragora.debate.events import Event, EventType, WarningCode
from aragora.debate.invariants import check_log
from aragora.debate.model import MAX_CONTEXT_CHARS, Participant, Task
from aragora.debate.ports import Clock, SystemClock
from aragora.debate.state import DebateSetup, fold
from aragora.errors import (
    AragoraError,
    DatabaseUnavailableError,
    InvalidInputError,
    StaleLeaseError,
)
from aragora.logs import log_event
from aragora.records.debates import (
    TERMINAL_STATUSES,
    DebateOutcome,
    DebateRecord,
    FencedEventSink,
    Lease,
    Storage,
)
from aragora.runtime.bus import EventBus, frame_of
from aragora.runtime.debate_request import DebateRequest, is_evaluation
from aragora.runtime.document import debate_document
from aragora.runtime.local import LocalDebates
from aragora.runtime.ports import ContextSource, EndCheck, EngineFactory, Finisher, PanelBuilder
from aragora.runtime.ratings import rate_debate, rating_keys
from aragora.runtime.webhook_payloads import outbox_events

__all__ = ["FOLLOWUPS_PENDING", "DebateRunner", "EventObserver"]

FOLLOWUPS_PENDING = "followups_pending"
"""The document field that says a finished debate's receipt, knowledge and ratings are
still to be stored (it is gone from the document once they are)."""

EventObserver = Callable[[Event], None]
Context = tuple[str, list[dict[str, Any]]]
"""A debate's background (its own context, with what the context sources added) and the
references of what they added."""
_log = logging.getLogger("aragora.runtime")


class _PublishingSink:
    """Appends through the fence, then publishes and tells the observers; ``log`` is the
    debate's stored log (what it held when the sink was made, and every append since), so
    the runner never reads back what it has just written.

    Token deltas are merged per call over ``token_window`` seconds (a quarter second:
    smooth to read, a fraction of the frames) before they are published: a streaming
    model sends a word at a time, and one frame per word to every subscriber would cost
    more than the whole debate. Pending deltas are flushed before
    any stored event, so a call's tokens always precede its result."""

    def __init__(
        self,
        fenced: FencedEventSink,
        bus: EventBus,
        observers: Sequence[EventObserver],
        *,
        stored: Sequence[Event] = (),
        token_window: float = 0.25,
        before_end: Callable[[Sequence[Event], Event], Awaitable[list[dict[str, Any]]]]
        | None = None,
        finishing: Callable[[Sequence[Event]], DebateOutcome] | None = None,
        stored_outcome: Callable[[DebateOutcome], None] | None = None,
    ) -> None:
        self._fenced = fenced
        self._stored_outcome = stored_outcome
        self.log: list[Event] = list(stored)
        self._bus = bus
        self._observers = observers
        self._before_end = before_end
        self._finishing = finishing
        self.outcome: DebateOutcome | None = None
        """The outcome stored with the debate's end, once it is."""
        self._window = token_window
        self._pending: dict[tuple[str | None, object, int | None], list[Event]] = {}
        self._timer: asyncio.TimerHandle | None = None

    async def append(self, event: Event) -> None:
        await self.append_many([event])

    async def append_many(self, events: Sequence[Event]) -> None:
        """Append ``events`` (consecutive, of one debate) in one durable write, then
        publish each and tell the observers."""
        events = list(events)
        end = events[-1]
        if end.type == EventType.DEBATE_END and self._before_end is not None:
            # Warnings about the outcome go in just before the end; the engine appends
            # nothing after debate_end, so renumbering the end is safe.
            warnings = [
                Event(EventType.WARNING, end.debate_id, None, end.timestamp, data=data)
                for data in await self._before_end(events[:-1], end)
            ]
            first = end.seq or 0
            events[-1:] = [
                replace(event, seq=first + n) for n, event in enumerate([*warnings, end])
            ]
        if events[-1].type == EventType.DEBATE_END and self._finishing is not None:
            # The end and the outcome it makes (status, document, webhook events) are
            # stored together, so no reader sees a debate ended in its log but running.
            outcome = self._finishing([*self.log, *events])
            await self._fenced.append_and_finish(events, outcome)
            self.outcome = outcome
            if self._stored_outcome is not None:
                self._stored_outcome(outcome)
        elif len(events) == 1:
            await self._fenced.append(events[0])
        else:
            await self._fenced.append_many(events)
        self.log.extend(events)
        self.flush_tokens()
        for event in events:
            await self._bus.publish(frame_of(event))
            self._observe(event)

    def publish_token(self, event: Event) -> None:
        if self._window <= 0:
            self._emit_token(event)
            return
        key = (event.agent, event.data.get("phase"), event.round)
        self._pending.setdefault(key, []).append(event)
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._window, self.flush_tokens)

    def flush_tokens(self) -> None:
        """Publish every pending delta now, merged per call."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        pending, self._pending = self._pending, {}
        for events in pending.values():
            if len(events) == 1:
                self._emit_token(events[0])
                continue
            last = events[-1]
            delta = "".join(str(e.data.get("delta", "")) for e in events)
            self._emit_token(replace(last, data={**last.data, "delta": delta}))

    def _emit_token(self, event: Event) -> None:
        self._bus.publish_nowait(frame_of(event))
        self._observe(event)

    def _observe(self, event: Event) -> None:
        for observer in self._observers:
            try:
                observer(event)
            except Exception:  # an observer's bug must not stop a debate
                _log.exception("event observer failed")


class DebateRunner:
    """Runs debates for a worker; one instance serves every debate of the process."""

    def __init__(
        self,
        *,
        storage: Storage,
        bus: EventBus,
        build_panel: PanelBuilder,
        build_engine: EngineFactory,
        observers: Sequence[EventObserver] = (),
        context_sources: Sequence[ContextSource] = (),
        end_checks: Sequence[EndCheck] = (),
        finishers: Sequence[Finisher] = (),
        clock: Clock | None = None,
        local: LocalDebates | None = None,
    ) -> None:
        self._storage = storage
        self._local = local if local is not None else LocalDebates()
        self._bus = bus
        self._build_panel = build_panel
        self._build_engine = build_engine
        self._observers = observers
        self._context_sources = context_sources
        self._end_checks = end_checks
        self._finishers = finishers
        self._clock = clock or SystemClock()  # stamps the events it appends itself

    async def run(
        self,
        record: DebateRecord,
        lease: Lease,
        cancel: asyncio.Event,
        *,
        stored: Sequence[Event] | None = None,
        context: asyncio.Future[Context] | None = None,
    ) -> str:
        """Run (or resume) the debate to its end and store its document; the final status.
        ``stored`` is its log as read (from the primary) after ``lease`` was claimed, when
        the caller has read it already; ``context`` its background, when gathered already
        (see :meth:`gather_context`).

        Raises :class:`StaleLeaseError` when fenced off and :class:`DatabaseUnavailableError`
        when the log cannot be written; the debate is then left for a later claim."""
        storage = self._storage
        if stored is None:
            stored = await storage.events.read(record.id, primary=True)

        async def before_end(unwritten: Sequence[Event], end: Event) -> list[dict[str, Any]]:
            if not self._end_checks:
                return []
            # The log as it will stand just before the end: what is stored, and what is
            # appended together with the end.
            events = [*sink.log, *unwritten]
            warnings: list[dict[str, Any]] = []
            for check in self._end_checks:
                warnings.extend(await check(record.id, events, end))
            return warnings

        evaluation = is_evaluation(record.request)
        sink = _PublishingSink(
            FencedEventSink(storage.events, lease.epoch),
            self._bus,
            self._observers,
            stored=stored,
            before_end=None if evaluation else before_end,
            finishing=lambda log: self._outcome(record, log, evaluation=evaluation),
            stored_outcome=lambda outcome: self._hold(record.id, outcome),
        )
        engine = self._build_engine(sink=sink, publish_token=sink.publish_token)
        self._local.running(record.id, sink.log, lease.expires_at)
        try:
            return await self._drive(
                record, sink, engine, cancel, evaluation=evaluation, context=context
            )
        finally:
            sink.flush_tokens()
            # Finished, or left to the next claim: the database says what it is now.
            self._local.release(record.id)

    def lease_renewed(self, lease: Lease) -> None:
        """The worker running ``lease``'s debate renewed it (reads of the debate are served
        from what this runner holds only while its lease is unexpired)."""
        self._local.renewed(lease.debate_id, lease.expires_at)

    def _hold(self, debate_id: str, outcome: DebateOutcome) -> None:
        """Hold the document just stored with the debate's end while its follow-ups run
        (see :mod:`aragora.runtime.local`); one that owes none is final, and readers
        cache it themselves."""
        if outcome.followups:
            self._local.hold(debate_id, outcome.document)

    def gather_context(self, request: DebateRequest) -> asyncio.Future[Context]:
        """Start gathering the background of a debate about to start, for :meth:`run`'s
        ``context``: a worker that takes a debate as it is queued gathers it meanwhile,
        not after."""
        return asyncio.ensure_future(self._background(request, evaluation=request.evaluation))

    async def _drive(
        self,
        record: DebateRecord,
        sink: _PublishingSink,
        engine: DebateEngine,
        cancel: asyncio.Event,
        *,
        evaluation: bool,
        context: asyncio.Future[Context] | None = None,
    ) -> str:
        # An evaluation debate is judged on its panel alone and leaves nothing behind but
        # its own record: no background from the knowledge base (answers would leak between
        # questions), no end checks or finishers (receipts, knowledge ingest), no rating.
        storage = self._storage
        events = list(sink.log)
        state = fold(events)
        if not state.ended:
            try:
                request = DebateRequest.from_stored(record.task, record.request)
                panel = self._build_panel(
                    request.agents, seed=request.seed, trusted=request.agents_from_operator
                )
                setup = None
                if not state.started:
                    gathering = (
                        context
                        if context is not None
                        else self._background(request, evaluation=evaluation)
                    )
                    background, references = await gathering
                    setup = _setup(
                        record.id, request, [p for p, _ in panel], background, references
                    )
            except InvalidInputError as exc:
                # A request valid when accepted can stop being so (a key removed, an
                # endpoint no longer allowed); the debate fails with the reason.
                await self._fail(record, sink, len(events), f"cannot start the debate: {exc}")
            else:
                agents = {participant.name: llm for participant, llm in panel}
                if record.status != "running":
                    await storage.debates.update(record.id, status="running")
                if setup is None:
                    log_event(_log, "debate_resumed", debate_id=record.id, events=len(events))
                    await engine.resume(events, agents, cancel=cancel)
                else:
                    await engine.start(setup, agents, cancel=cancel)
        outcome = sink.outcome
        if outcome is None:
            # The log had ended before this run (its worker stopped before storing the
            # outcome): store it now. Every append went through the lease's fence, so the
            # sink's log is the stored one.
            outcome = self._outcome(record, sink.log, evaluation=evaluation)
            await storage.debates.update(
                record.id,
                status=outcome.status,
                document=outcome.document,
                followups=outcome.followups,
                outbox=outcome.outbox,
            )
        if outcome.followups:
            await self.follow_up(record.id, sink.log, outcome.document)
        return outcome.status

    def _outcome(
        self, record: DebateRecord, events: Sequence[Event], *, evaluation: bool
    ) -> DebateOutcome:
        """What the ended log ``events`` makes of the debate: its document and status, the
        webhook events that report the end (stored with the status change itself), and
        whether follow-ups are owed.

        The outcome is visible first; the follow-ups (receipt, knowledge, ratings) come
        after it. The job stays held meanwhile, and the stored document says they are
        owed: a worker that dies before they are stored leaves the job to be claimed
        again, and the next worker runs them (each is idempotent)."""
        document = debate_document(record.id, events, created_at=record.created_at.isoformat())
        violations = check_log(events, document)
        if violations:  # a bug of ours; the log is what it is, so say so loudly
            log_event(
                _log,
                "invariant_violation",
                logging.ERROR,
                debate_id=record.id,
                count=len(violations),
                violations=violations[:20],
            )
        outbox = [] if evaluation else outbox_events(document)
        followups = not evaluation and bool(self._finishers or rating_keys(document))
        if followups:
            document[FOLLOWUPS_PENDING] = True
        return DebateOutcome(str(document["status"]), document, outbox, followups)

    async def follow_up(
        self, debate_id: str, events: Sequence[Event], document: Mapping[str, Any]
    ) -> None:
        """Run the follow-ups of a finished debate whose stored ``document`` says they are
        owed (:data:`FOLLOWUPS_PENDING`), then store the document with what they added and
        take the debate off the queue. Each finisher and the rating is idempotent, so this
        may run again after a crash. Raises :class:`DatabaseUnavailableError` (the job is
        then tried again later) and :class:`StaleLeaseError`."""
        final = {k: v for k, v in document.items() if k != FOLLOWUPS_PENDING}
        for finisher in self._finishers:
            try:
                extra = await finisher(debate_id, events, final)
            except DatabaseUnavailableError:
                raise
            except Exception:
                _log.exception("finishing debate %s failed in %r", debate_id, finisher)
                continue
            if extra:
                final.update(extra)
        # Ratings before the final store: once that is stored the job is done and the
        # lease ends, so nothing of the debate's own may still be running after it.
        await self._rate(debate_id, final)
        await self._storage.debates.update(debate_id, status=str(final["status"]), document=final)

    async def _background(self, request: DebateRequest, *, evaluation: bool) -> Context:
        """The debate's background: an evaluation debate's own context alone (answers
        would leak between questions), else what the context sources add to it."""
        return (request.context, []) if evaluation else await self._context(request)

    async def _context(self, request: DebateRequest) -> Context:
        context = request.context
        references: list[dict[str, Any]] = []
        for source in self._context_sources:
            try:
                extra, found = await source(request.task, context)
            except DatabaseUnavailableError:
                raise
            except Exception:  # background is a help, never a reason not to debate
                _log.exception("context source %r failed", source)
                continue
            if extra:
                room = MAX_CONTEXT_CHARS - len(context) - 2
                if room > 0:
                    context = f"{context}\n\n{extra[:room]}" if context else extra[:room]
            references.extend(found)
        return context, references

    async def _fail(
        self, record: DebateRecord, sink: _PublishingSink, last_seq: int, reason: str
    ) -> None:
        await _append_end(
            sink, record.id, last_seq, "failed", reason, "panel_unavailable", self._clock.now()
        )

    async def end(self, debate_id: str, lease: Lease | None, status: str, reason: str) -> None:
        """End a debate that cannot run on (``failed``) or must stop now (``cancelled``),
        whatever state its log is in, and store its document with ``reason``.

        With ``lease`` an ``error`` (or ``warning``) and a ``debate_end`` event are appended
        first, so the log tells what happened; when the log cannot take them (the same
        data error that stopped the debate), the stored status alone ends it, and fences
        off any writer still holding a lease. Raises :class:`DatabaseUnavailableError`
        when the status cannot be stored either."""
        storage = self._storage
        record = await storage.debates.get(debate_id, primary=True)
        if record.status in TERMINAL_STATUSES:
            return
        events = await storage.events.read(debate_id, primary=True)
        if lease is not None and not fold(events).ended:
            sink = _PublishingSink(
                FencedEventSink(storage.events, lease.epoch), self._bus, self._observers
            )
            code = "debate_failed" if status == "failed" else WarningCode.CANCELLED.value
            try:
                await _append_end(
                    sink, debate_id, len(events), status, reason, code, self._clock.now()
                )
            except StaleLeaseError:
                raise
            except AragoraError as exc:  # the status below still ends it
                log_event(
                    _log,
                    "end_not_logged",
                    debate_id=debate_id,
                    error=exc.message,
                    level=logging.WARNING,
                )
            events = await storage.events.read(debate_id, primary=True)
        created_at = record.created_at.isoformat()
        try:
            document = debate_document(debate_id, events, status=status, created_at=created_at)
        except Exception:  # a log the fold cannot read: describe the request alone
            _log.exception("debate %s: its log cannot be folded", debate_id)
            document = debate_document(debate_id, [], status=status, created_at=created_at)
        if document["task"] is None:  # it never started: describe the request
            document["task"] = record.task
            document["context"] = record.request.get("context")
            document["protocol"] = record.request.get("protocol")
        if status == "failed":
            document["error"] = document.get("error") or reason
        outbox = [] if is_evaluation(record.request) else outbox_events(document)
        await storage.debates.update(debate_id, status=status, document=document, outbox=outbox)
        self._bus.nudge(debate_id)  # streams waiting on the debate look at its status

    async def _rate(self, debate_id: str, document: Mapping[str, Any]) -> None:
        keys = list(rating_keys(document).values())
        if not keys or document.get("status") == "cancelled":
            return
        try:
            await self._storage.ratings.record(
                debate_id, keys, lambda current: rate_debate(document, current)
            )
        except (DatabaseUnavailableError, StaleLeaseError):
            raise  # the debate is tried again later, and rated then
        except AragoraError as exc:
            # A rating that cannot be stored must not cost the debate its outcome.
            log_event(
                _log,
                "rating_failed",
                debate_id=debate_id,
                error=exc.message,
                level=logging.WARNING,
            )


async def _append_end(
    sink: _PublishingSink,
    debate_id: str,
    last_seq: int,
    status: str,
    reason: str,
    code: str,
    at: datetime,
) -> None:
    now = at.isoformat()
    kind = EventType.ERROR if status == "failed" else EventType.WARNING
    data = (
        {"error": reason, "code": code}
        if status == "failed"
        else {
            "code": code,
            "message": reason,
        }
    )
    await sink.append(Event(kind, debate_id, last_seq + 1, now, data=data))
    await sink.append(
        Event(
            EventType.DEBATE_END,
            debate_id,
            last_seq + 2,
            now,
            data={
                "result": {"status": status, "error": reason, "consensus_reached": False},
                "total_rounds": 0,
                "duration_seconds": 0.0,
            },
        )
    )


def _setup(
    debate_id: str,
    request: DebateRequest,
    panel: Sequence[Participant],
    context: str,
    references: Sequence[Mapping[str, Any]],
) -> DebateSetup:
    # A judge named by the protocol is a panel member (checked when the request came in).
    return DebateSetup(
        debate_id=debate_id,
        task=Task(request.task, context),
        protocol=request.protocol,
        panel=tuple(panel),
        seed=request.seed,
        references=tuple(references),
    )
