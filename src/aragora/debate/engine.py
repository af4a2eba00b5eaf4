"""The debate engine: runs the planner's steps against agents and appends what happened.

The loop is: ``step = planner.next_step(state)``; execute it; append the resulting events
(each folded into the state at once, and appended in order behind the engine, see
:meth:`DebateEngine._write_behind`); repeat until the debate ends.
Only agent calls and three outside facts (the clock, cancellation, the debate deadline)
are not functions of the log, and each outside fact becomes an event before it has any
effect, so replaying the log always reaches the same place.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from aragora.debate.calls import AgentCall, CallBuilder
from aragora.debate.events import Event, EventType, WarningCode
from aragora.debate.normalize import Similarity
from aragora.debate.planner import Calls, Done, Emit, Planner
from aragora.debate.ports import (
    LLM,
    Clock,
    Completion,
    EventSink,
    estimates_cost,
    is_batch_sink,
    seconds_unavailable,
    times_own_calls,
)
from aragora.debate.prompting import PromptBook
from aragora.debate.results import (
    answer_data,
    critique_data,
    error_data,
    fallback_data,
    vote_data,
)
from aragora.debate.state import DebateSetup, DebateState, apply, fold
from aragora.errors import ProviderError, StaleLeaseError

__all__ = ["DebateEngine"]

log = logging.getLogger(__name__)

TokenPublisher = Callable[[Event], None]

SETTLE_WAIT = 2.0
"""Seconds the engine waits, as it leaves a debate, for an append still running."""

# Wake-up reasons a batch of calls can find in its queue besides a finished call.
_DEADLINE = object()
_CANCELLED = object()


class _Upon:
    """What a batch's calls are made upon: the append of the steps before them, set once
    the calls are scheduled and before any of them runs."""

    write: asyncio.Future[None] | None = None


class _WriteFailed:
    """A batch's queue item: a write behind the calls failed (see ``_write_behind``)."""

    def __init__(self, write: asyncio.Future[None]) -> None:
        self.write = write


class DebateEngine:
    """Runs debates. One engine may run many debates concurrently; it holds no debate state.

    ``agents`` maps participant names (and a named judge, if any) to their LLMs.
    ``publish_token`` receives ephemeral ``token`` events (``seq=None``) as agents stream.
    ``agent_wait`` is how long a step whose every agent is unavailable waits for one to
    come back (see :meth:`_await_agents`); 0 never waits.
    """

    def __init__(
        self,
        *,
        sink: EventSink,
        clock: Clock,
        similarity: Similarity,
        prompts: PromptBook,
        publish_token: TokenPublisher | None = None,
        agent_wait: float = 0.0,
    ) -> None:
        self._sink = sink
        self._clock = clock
        self._prompts = prompts
        self._planner = Planner(CallBuilder(prompts), similarity)
        self._publish_token = publish_token
        self._agent_wait = agent_wait
        self._unwritten: dict[str, list[Event]] = {}
        """Per debate: events folded into its state but not yet appended (see
        :meth:`_append` and :meth:`_flush`)."""
        self._writes: dict[str, asyncio.Future[None]] = {}
        """Per debate: the last append started behind the engine (see
        :meth:`_write_behind`); each waits for the one before it."""

    async def start(
        self,
        setup: DebateSetup,
        agents: Mapping[str, LLM],
        *,
        cancel: asyncio.Event | None = None,
    ) -> DebateState:
        """Append ``debate_start`` and run the debate to its end."""
        missing = [p.name for p in setup.panel if p.name not in agents]
        if setup.judge is not None and setup.judge.name not in agents:
            missing.append(setup.judge.name)
        if missing:
            raise ValueError(f"no LLM given for: {', '.join(missing)}")
        state = DebateState()
        await self._append(
            state, EventType.DEBATE_START, setup.to_data(), debate_id=setup.debate_id
        )
        return await self._drive(state, agents, cancel)

    async def resume(
        self,
        events: Sequence[Event],
        agents: Mapping[str, LLM],
        *,
        cancel: asyncio.Event | None = None,
    ) -> DebateState:
        """Continue a debate from its stored events (any prefix of a log, ``seq`` 1..n).

        Only the agent calls whose results are not in ``events`` are made."""
        state = fold(events)
        if not state.started:
            raise ValueError("cannot resume: the log has no debate_start event")
        return await self._drive(state, agents, cancel)

    # -- the loop -------------------------------------------------------------------------

    async def _drive(
        self, state: DebateState, agents: Mapping[str, LLM], cancel: asyncio.Event | None
    ) -> DebateState:
        cancel = cancel or asyncio.Event()
        watcher = asyncio.ensure_future(cancel.wait())
        try:
            while True:
                if not state.ended and state.stop is None and state.consensus is None:
                    outside = self._outside_stop(state, cancel)
                    if outside is not None:
                        await self._append(state, EventType.WARNING, outside)
                        continue
                step = self._planner.next_step(state)
                if isinstance(step, Done):
                    await self._flush(state)
                    return state
                if isinstance(step, Emit):
                    await self._append(
                        state, step.type, step.data, round_=step.round, agent=step.agent
                    )
                elif isinstance(step, Calls):
                    await self._run_calls(state, step, agents, cancel, watcher)
        finally:
            watcher.cancel()
            debate_id = state.require_setup().debate_id
            self._unwritten.pop(debate_id, None)
            await _settle(self._writes.pop(debate_id, None))

    def _outside_stop(self, state: DebateState, cancel: asyncio.Event) -> dict[str, Any] | None:
        if cancel.is_set():
            return {"code": WarningCode.CANCELLED.value, "message": "debate cancelled"}
        if self._remaining(state) <= 0:
            timeout = state.require_setup().protocol.debate_timeout
            return {
                "code": WarningCode.DEBATE_TIMEOUT.value,
                "message": f"debate timed out after {timeout:g} s; returning the partial result",
            }
        return None

    def _remaining(self, state: DebateState) -> float:
        timeout = state.require_setup().protocol.debate_timeout
        if timeout is None or state.started_at is None:
            return float("inf")
        elapsed = (self._clock.now() - _parse_time(state.started_at)).total_seconds()
        return timeout - elapsed

    async def _run_calls(
        self,
        state: DebateState,
        step: Calls,
        agents: Mapping[str, LLM],
        cancel: asyncio.Event,
        watcher: asyncio.Future[Any],
    ) -> None:
        """Make the calls concurrently; append each result as it arrives. Stops early (and
        cancels what is still running) on cancellation, the debate deadline, or a budget
        crossed by the results so far.

        The engine times a call itself (``agent_timeout`` from when the batch starts) only
        when its LLM does not (:class:`~aragora.debate.ports.SelfTimed`): a network agent
        counts its timeout from when the call leaves its own queue, and bounds the queueing
        separately, so waiting behind other calls for a one-slot server is not a timeout."""
        repeated = [call.key for call in step.calls if call.key in state.answered]
        if repeated:  # would loop forever re-asking; a planner bug, never a provider's
            raise RuntimeError(f"planner asked again for calls already in the log: {repeated}")
        refusal = self._budget_refusal(state, step, agents)
        if refusal is not None:
            await self._append(state, EventType.WARNING, refusal)
            return
        if not await self._await_agents(state, step, agents, watcher):
            return  # cancelled, or the debate's time ran out while waiting: the loop says
        # Each finished call (and a cancellation, and a failed write) lands in one queue, so
        # waiting costs O(1) per result however many calls are in flight. The calls of a
        # batch start together, so one deadline (per-call timeout) covers all the calls the
        # engine times itself.
        finished: asyncio.Queue[object] = asyncio.Queue()
        watched: asyncio.Future[None] | None = None

        def written(write: asyncio.Future[None]) -> None:
            if not write.cancelled() and write.exception() is not None:
                finished.put_nowait(_WriteFailed(write))

        def watch(write: asyncio.Future[None] | None) -> None:
            # The last append is enough to watch: each one fails when the one before did.
            nonlocal watched
            if write is not None and write is not watched:
                write.add_done_callback(written)
                watched = write

        pending: dict[asyncio.Future[Any], AgentCall] = {}
        timed: set[asyncio.Future[Any]] = set()
        upon = _Upon()
        for call in step.calls:
            llm = agents[call.key.agent]
            started = asyncio.ensure_future(self._call(state, call, llm, upon))
            started.add_done_callback(finished.put_nowait)
            pending[started] = call
            if not times_own_calls(llm):
                timed.add(started)
        everything = list(pending)
        # The steps the calls are made upon are written while the calls leave (the calls
        # are scheduled first: they wait on the network longest). No answer is stored
        # before those steps (appends run in order), no token is published before them
        # (see _token_forwarder), and a failed write stops the batch.
        upon.write = self._write_behind(state)
        watch(upon.write)

        def wake(_: object) -> None:
            finished.put_nowait(_CANCELLED)

        watcher.add_done_callback(wake)
        agent_timeout = state.require_setup().protocol.agent_timeout
        began = self._clock.monotonic()
        alarm: asyncio.TimerHandle | None = None
        try:
            while pending:
                debate_left = self._remaining(state)
                if debate_left <= 0:
                    break
                elapsed = self._clock.monotonic() - began
                late = [task for task in pending if task in timed]
                calls_left = (
                    float("inf") if agent_timeout is None or not late else agent_timeout - elapsed
                )
                if calls_left <= 0:
                    await self._time_out(state, {task: pending.pop(task) for task in late}, elapsed)
                    continue
                if alarm is None and min(debate_left, calls_left) != float("inf"):
                    # One timer at a time (not one per result) wakes the loop at a deadline.
                    # The deadlines are read from the injected clock (above); the event
                    # loop's timer only wakes the engine to read it again, and re-arms when
                    # that clock says the time is not up yet.
                    alarm = asyncio.get_running_loop().call_later(
                        min(debate_left, calls_left), finished.put_nowait, _DEADLINE
                    )
                # Answers so far are stored (and streamed) while waiting for the rest; the
                # wave's last answer is stored with the steps that follow it (see _append).
                # Answers that arrived together are stored together: no write while another
                # result is already waiting.
                if finished.empty():
                    watch(self._write_behind(state))
                item = await finished.get()
                if isinstance(item, _WriteFailed):
                    await item.write  # raises what stopped the write
                if item is _DEADLINE:
                    alarm = None
                    continue  # a deadline passed: the loop says which
                if item is _CANCELLED or cancel.is_set():
                    break
                assert isinstance(item, asyncio.Future)
                if item not in pending:
                    continue  # a call already recorded as timed out ended (cancelled)
                call = pending.pop(item)
                for event_type, data in item.result():
                    await self._append(
                        state, event_type, data, round_=call.key.round, agent=call.key.agent
                    )
                if state.budget_reached():
                    break
        finally:
            if alarm is not None:
                alarm.cancel()
            watcher.remove_done_callback(wake)
            for running in pending:
                running.cancel()
            await asyncio.gather(*everything, return_exceptions=True)

    async def _await_agents(
        self,
        state: DebateState,
        step: Calls,
        agents: Mapping[str, LLM],
        watcher: asyncio.Future[Any],
    ) -> bool:
        """Before a batch in which every agent says it cannot answer now (its circuit
        breaker is open after an outage), log a ``waiting_for_agents`` warning and wait for
        one to come back: at most ``agent_wait`` seconds, never past the debate's deadline
        or a cancellation. Then the calls are made whatever the agents' state (those still
        down fail and are recorded). False when cancelled or out of time while waiting."""
        if self._agent_wait <= 0:
            return True
        names = [call.key.agent for call in step.calls]
        since: float | None = None
        while True:
            waits = [seconds_unavailable(agents[name]) for name in names]
            if any(wait is None for wait in waits):
                return True
            now = self._clock.monotonic()
            shortest = min(wait for wait in waits if wait is not None)
            if since is None:
                since = now
                down = ", ".join(
                    f"{name}: back in {wait:.0f} s" for name, wait in zip(names, waits, strict=True)
                )
                await self._append(
                    state,
                    EventType.WARNING,
                    {
                        "code": WarningCode.WAITING_FOR_AGENTS.value,
                        "message": (
                            f"waiting for agents: none of {len(names)} can answer now ({down}); "
                            f"waiting up to {self._agent_wait:g} s"
                        ),
                        "agents": names,
                        "seconds": round(shortest, 3),
                    },
                )
            left = min(self._agent_wait - (now - since), self._remaining(state))
            if left <= 0:
                return self._remaining(state) > 0
            await self._flush(state)
            await asyncio.wait({watcher}, timeout=min(shortest, left) + 0.01)
            if watcher.done():
                return False

    async def _time_out(
        self, state: DebateState, pending: dict[asyncio.Future[Any], AgentCall], seconds: float
    ) -> None:
        """Record every call still running past the per-call timeout as timed out."""
        timeout = state.require_setup().protocol.agent_timeout
        for task, call in sorted(pending.items(), key=lambda item: item[1].key.agent):
            task.cancel()
            key = call.key
            log.warning("timeout agent=%s phase=%s after %.1fs", key.agent, key.phase, seconds)
            error = TimeoutError(f"no answer within {timeout:g} s")
            await self._append(
                state,
                EventType.AGENT_ERROR,
                error_data(key, error, seconds, "timeout"),
                round_=key.round,
                agent=key.agent,
            )

    def _budget_refusal(
        self, state: DebateState, step: Calls, agents: Mapping[str, LLM]
    ) -> dict[str, Any] | None:
        """A ``budget_exhausted`` warning when the calls about to be made could push the
        debate past its token or cost budget (by the agents' own estimates), else None."""
        protocol = state.require_setup().protocol
        if protocol.max_tokens is None and protocol.max_cost_usd is None:
            return None
        spent = state.total_usage()
        tokens, cost = spent.total_tokens, spent.cost_usd
        for call in step.calls:
            llm = agents[call.key.agent]
            if estimates_cost(llm):
                estimate = llm.estimate_usage(call.request)
                tokens += estimate.total_tokens
                cost += estimate.cost_usd
        over_tokens = protocol.max_tokens is not None and tokens > protocol.max_tokens
        over_cost = protocol.max_cost_usd is not None and cost > protocol.max_cost_usd
        if not (over_tokens or over_cost):
            return None
        return {
            "code": WarningCode.BUDGET_EXHAUSTED.value,
            "message": (
                f"budget would be exceeded by the next {len(step.calls)} call(s): "
                f"up to {tokens} tokens and ${cost:.4f} against limits of "
                f"{protocol.max_tokens} tokens and ${protocol.max_cost_usd}"
            ),
        }

    async def _call(
        self, state: DebateState, call: AgentCall, llm: LLM, upon: _Upon
    ) -> list[tuple[str, dict[str, Any]]]:
        """One agent call, turned into the events that record it. Never raises (but for
        cancellation): a failure becomes an ``agent_error`` event. ``upon`` holds the
        append of the steps the call is made upon."""
        key = call.key
        started = self._clock.monotonic()
        on_token = self._token_forwarder(state, call, upon.write) if self._publish_token else None
        try:
            completion = await llm.complete(call.request, on_token)
        except TimeoutError as exc:  # the adapter's own timeout
            seconds = self._clock.monotonic() - started
            log.warning("timeout agent=%s phase=%s after %.1fs", key.agent, key.phase, seconds)
            return [(EventType.AGENT_ERROR, error_data(key, exc, seconds, "timeout"))]
        except asyncio.CancelledError:
            raise
        except ProviderError as exc:
            seconds = self._clock.monotonic() - started
            return [(EventType.AGENT_ERROR, error_data(key, exc, seconds, exc.kind))]
        except Exception as exc:  # an adapter bug must not take the debate down
            seconds = self._clock.monotonic() - started
            log.exception("agent %s raised unexpectedly", key.agent)
            return [(EventType.AGENT_ERROR, error_data(key, exc, seconds, "error"))]
        seconds = self._clock.monotonic() - started
        hops = [(EventType.AGENT_FALLBACK, fallback_data(key, hop)) for hop in completion.fallbacks]
        return [*hops, self._interpret(state, call, completion, seconds)]

    def _interpret(
        self, state: DebateState, call: AgentCall, completion: Completion, seconds: float
    ) -> tuple[str, dict[str, Any]]:
        key = call.key
        same = self._planner.same_answer
        task = state.require_setup().task
        instructions = self._prompts.instructions(key.phase)
        if key.phase in ("propose", "revise"):
            latest = state.latest(key.agent)
            event_type = EventType.PROPOSE if key.phase == "propose" else EventType.REVISION
            return event_type, answer_data(
                key,
                completion,
                seconds,
                latest.answer if latest else None,
                same,
                task=task.question,
                background=task.context,
                instructions=instructions,
            )
        if key.phase == "critique":
            return EventType.CRITIQUE, critique_data(
                key,
                completion,
                seconds,
                call.targets,
                task=task.question,
                instructions=instructions,
            )
        options = state.options or ()
        own = state.members.get(key.agent)
        return EventType.VOTE, vote_data(key, completion, seconds, call.shown_options, options, own)

    def _token_forwarder(
        self, state: DebateState, call: AgentCall, upon: asyncio.Future[None] | None
    ) -> Callable[[str], None]:
        """The call's token callback. Deltas that come while ``upon`` (the append of the
        steps the call was made upon) still runs are held, and published once it has
        stored them (dropped if it failed): a live stream never shows a call's tokens
        before the steps that led to it."""
        publish = self._publish_token
        assert publish is not None
        debate_id = state.require_setup().debate_id
        held: list[Event] | None = None

        def send(event: Event) -> None:
            with contextlib.suppress(Exception):  # a broken listener must not break the call
                publish(event)

        def release(write: asyncio.Future[None]) -> None:
            nonlocal held
            waiting, held = held or [], None
            if not write.cancelled() and write.exception() is None:
                for event in waiting:
                    send(event)

        if upon is not None and not upon.done():
            held = []
            upon.add_done_callback(release)

        def forward(delta: str) -> None:
            event = Event(
                type=EventType.TOKEN,
                debate_id=debate_id,
                seq=None,
                timestamp=self._clock.now().isoformat(),
                round=call.key.round,
                agent=call.key.agent,
                data={"delta": delta, "phase": call.key.phase},
            )
            if held is not None:
                held.append(event)
            else:
                send(event)

        return forward

    async def _append(
        self,
        state: DebateState,
        event_type: str,
        data: dict[str, Any],
        *,
        round_: int | None = None,
        agent: str | None = None,
        debate_id: str | None = None,
    ) -> None:
        """Fold the event into ``state`` now and append it at the next :meth:`_flush`.

        The engine flushes before it waits on anything outside (before a wave's calls
        start, between a wave's answers, at the end), so every event is durable before
        anything is done upon it, and a crash loses only steps the planner derives again
        from the log; the steps between two waves are written together, in one append."""
        now = self._clock.now()
        event = Event(
            type=str(event_type),
            debate_id=debate_id or state.require_setup().debate_id,
            seq=state.next_seq,
            timestamp=now.isoformat(),
            round=round_,
            agent=agent,
            data=_storable(_with_duration(state, event_type, data, now)),
        )
        apply(state, event)
        self._unwritten.setdefault(event.debate_id, []).append(event)

    async def _flush(self, state: DebateState) -> None:
        """Append the debate's unwritten events and wait until every append of the debate
        is durable (raising what stopped one)."""
        write = self._write_behind(state)
        if write is not None:
            await write

    def _write_behind(self, state: DebateState) -> asyncio.Future[None] | None:
        """Start appending the debate's unwritten events behind the appends already
        started, and return the last append (``None``: nothing was ever written).

        The engine does not wait for a write before it acts on its events: a wave's calls
        leave while the steps they are made upon are written, and a wave's answers are
        written while it waits for the rest. Appends run one after another in seq order,
        each only once the one before it succeeded, so the stored log is always a prefix
        of the state, a call's answer is never stored before what it was asked upon, and
        nothing is published before it is stored (the sink publishes after each append).
        A crash loses at most the appends still running: a later run folds the log and
        makes again only the calls whose answers are not in it, as after any crash
        between a call and its answer. Raises at once what stopped an earlier append."""
        debate_id = state.require_setup().debate_id
        previous = self._writes.get(debate_id)
        if previous is not None and previous.done() and not previous.cancelled():
            failure = previous.exception()
            if failure is not None:
                raise failure
        events = self._unwritten.pop(debate_id, None)
        if events:
            previous = asyncio.ensure_future(self._write(previous, debate_id, events))
            self._writes[debate_id] = previous
        return previous

    async def _write(
        self, previous: asyncio.Future[None] | None, debate_id: str, events: list[Event]
    ) -> None:
        """Append ``events`` once ``previous`` (the append before them) succeeded; one
        append when the sink takes several at once."""
        if previous is not None:
            await previous
        try:
            if len(events) > 1 and is_batch_sink(self._sink):
                await self._sink.append_many(events)
            else:
                for event in events:
                    await self._sink.append(event)
        except StaleLeaseError:
            log.warning("lease lost for debate %s at seq %s; stopping", debate_id, events[0].seq)
            raise


async def _settle(write: asyncio.Future[None] | None) -> None:
    """Let a debate's last append finish as the engine leaves the debate, even when it
    leaves because it was cancelled (a write cut off halfway would lose its events for
    nothing), for at most :data:`SETTLE_WAIT` seconds (a database that stopped answering
    must not hold a replica's shutdown). A second cancellation cuts it off. Its failure is
    not raised here: the engine raised it already, or is leaving for another reason it
    raises."""
    if write is None:
        return
    if not write.done():
        try:
            await asyncio.wait_for(asyncio.shield(write), SETTLE_WAIT)
        except asyncio.CancelledError:
            write.cancel()
            raise
        except TimeoutError:
            write.cancel()
            return
        except Exception:
            return
    if not write.cancelled():
        write.exception()  # retrieved, so asyncio does not report it as never retrieved


def _storable(value: Any) -> Any:
    """``value`` with the characters no database can store in text replaced by U+FFFD: NUL
    (PostgreSQL text and JSON refuse it) and lone surrogates (not UTF-8). Models emit
    both ("\\u0000" or "\\ud800" in a JSON stream); stored as is, one reply would stop the
    debate on every append. Strings without them are returned as they are."""
    if isinstance(value, str):
        if "\x00" not in value:
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                pass
            else:
                return value
        cleaned = value.replace("\x00", "\ufffd")
        # UTF-16 with surrogatepass keeps a lone surrogate as one code unit, which the
        # decoder then replaces (and joins a split pair back into its character).
        return cleaned.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, dict):
        return {key: _storable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_storable(item) for item in value]
    return value


@lru_cache(maxsize=4096)
def _parse_time(timestamp: str) -> datetime:
    """``debate_start``'s timestamp, parsed once per debate rather than once per step."""
    return datetime.fromisoformat(timestamp)


def _with_duration(
    state: DebateState, event_type: str, data: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """``debate_end`` carries the wall time since ``debate_start``."""
    if event_type != EventType.DEBATE_END or state.started_at is None:
        return data
    elapsed = (now - datetime.fromisoformat(state.started_at)).total_seconds()
    return {**data, "duration_seconds": round(elapsed, 3)}
