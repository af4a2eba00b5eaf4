"""The engine's appends in batches, written behind the engine: the steps between two waves
of calls are written in one append while the wave's calls leave; appends run in seq order,
so no answer is stored before the steps it was asked upon; an answer that arrives before
the rest of its wave is written while they come, answers that arrive together are stored
together; a failed write stops the wave at once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from aragora.agents.fakes.scripted import ScriptedLLM
from aragora.debate.convergence import lexical_similarity
from aragora.debate.engine import DebateEngine
from aragora.debate.events import Event, EventType
from aragora.debate.invariants import check_log
from aragora.debate.ports import BatchEventSink, CompletionRequest, SystemClock
from aragora.debate.protocol import DebateProtocol, Mode
from aragora.debate.state import DebateSetup
from aragora.errors import StaleLeaseError
from aragora.runtime.eventlog import MemoryEventLog

from .helpers import PROMPTS, engine_for, panel, setup_for, stance


class BatchLog(MemoryEventLog):
    """The in-memory log, taking several events at once and recording each append."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[str]] = []

    async def append(self, event: Event) -> None:
        await self.append_many([event])

    async def append_many(self, events: Sequence[Event]) -> None:
        self.batches.append([e.type for e in events])
        for event in events:
            await MemoryEventLog.append(self, event)


def two_rounds(
    agent: Callable[[Callable[[CompletionRequest], str]], ScriptedLLM],
) -> tuple[dict[str, ScriptedLLM], DebateSetup]:
    """Two rounds of a three-agent debate whose panel disagrees at first, each agent made
    by ``agent`` from its replies."""
    agents = panel(
        agent(stance(["PostgreSQL", "PostgreSQL"])),
        agent(stance(["SQLite", "SQLite"])),
        agent(stance(["PostgreSQL"])),
    )
    return agents, setup_for(agents, DebateProtocol(mode=Mode.DEBATE, rounds=2, early_stop=False))


async def test_the_steps_between_waves_are_one_append_started_with_the_next_calls() -> None:
    log = BatchLog()
    assert isinstance(log, BatchEventSink)
    agents, setup = two_rounds(ScriptedLLM)
    state = await engine_for(log).start(setup, agents)
    events = log.events("d-1")
    assert check_log(events) == []
    assert state.ended
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    # The start and the first phase go in together; a wave's answers (they all arrive at
    # once here) go in with the steps they lead to; the end goes in with the votes.
    assert log.batches[0] == [EventType.DEBATE_START, EventType.ROUND_START, "phase_change"]
    assert log.batches[1][:3] == [EventType.PROPOSE] * 3
    assert log.batches[1][-1] == "phase_change"
    assert log.batches[-1][:3] == [EventType.VOTE] * 3
    assert log.batches[-1][-1] == EventType.DEBATE_END
    assert len(log.batches) < len(events)


class SlowLog(BatchLog):
    """A log whose every append takes ``seconds`` (a database under load), recording when
    each append started and ended; ``fail_at`` makes the append holding that seq raise
    :class:`StaleLeaseError` (the worker's lease was taken over) instead."""

    def __init__(self, seconds: float, fail_at: int | None = None) -> None:
        super().__init__()
        self.seconds = seconds
        self.fail_at = fail_at
        self.spans: list[tuple[float, float, list[int]]] = []

    async def append_many(self, events: Sequence[Event]) -> None:
        started = time.monotonic()
        await asyncio.sleep(self.seconds)
        seqs = [e.seq or 0 for e in events]
        if self.fail_at is not None and self.fail_at in seqs:
            raise StaleLeaseError(f"lease lost at seq {self.fail_at}")
        await super().append_many(events)
        self.spans.append((started, time.monotonic(), seqs))


async def test_a_wave_leaves_while_its_steps_are_written_and_its_answers_are_stored_after() -> None:
    log = SlowLog(0.03)
    called: list[tuple[str, float]] = []

    def watched(reply: Callable[[CompletionRequest], str]) -> ScriptedLLM:
        async def answer(request: CompletionRequest) -> str:
            called.append((request.phase, time.monotonic()))
            await asyncio.sleep(0.05)
            return reply(request)

        return ScriptedLLM(answer)

    agents, setup = two_rounds(watched)
    state = await engine_for(log).start(setup, agents)
    events = log.events("d-1")
    assert state.ended
    assert check_log(events) == []
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    # The first wave was asked while debate_start and its steps were still being written.
    first_write_end = log.spans[0][1]
    assert called[0][0] == "propose"
    assert called[0][1] < first_write_end
    # Appends ran one after another, in seq order, each after the one before had ended.
    for (_, ended, seqs), (started, _, next_seqs) in zip(log.spans, log.spans[1:], strict=False):
        assert started >= ended
        assert next_seqs[0] == seqs[-1] + 1
    # Every answer is stored after the phase change it was asked upon.
    phase_seq = 0
    for event in events:
        if event.type == "phase_change":
            phase_seq = event.seq or 0
        if event.type in (EventType.PROPOSE, EventType.CRITIQUE, EventType.VOTE):
            assert (event.seq or 0) > phase_seq


async def test_a_failed_write_stops_the_wave_at_once_and_cancels_its_calls() -> None:
    # The first write (debate_start and the first steps) fails while the proposals are
    # being asked for: the engine raises it without waiting for the agents' answers.
    log = SlowLog(0.02, fail_at=1)
    cancelled: list[str] = []

    async def thinks_long(request: CompletionRequest) -> str:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.append(request.phase)
            raise
        return "never"

    agents = panel(*(ScriptedLLM(thinks_long) for _ in range(3)))
    setup = setup_for(agents, DebateProtocol(mode=Mode.DEBATE, rounds=1, early_stop=False))
    began = time.monotonic()
    with pytest.raises(StaleLeaseError):
        await engine_for(log).start(setup, agents)
    assert time.monotonic() - began < 5
    assert cancelled == ["propose"] * 3
    assert log.events("d-1") == []


async def test_a_write_failing_behind_an_answer_stops_the_debate_before_anything_after_it() -> None:
    # The quick agent's proposal is written alone while the others still think; that
    # write fails: nothing after it is stored, and the slow calls are cancelled.
    log = SlowLog(0.01)
    agents = panel(
        ScriptedLLM(stance(["PostgreSQL"])),
        ScriptedLLM(stance(["SQLite"]), latency=30),
        ScriptedLLM(stance(["PostgreSQL"]), latency=30),
    )
    setup = setup_for(agents, DebateProtocol(mode=Mode.DEBATE, rounds=1, early_stop=False))
    engine = engine_for(log)
    first = 4  # debate_start, round_start, phase_change, then the first proposal
    log.fail_at = first
    began = time.monotonic()
    with pytest.raises(StaleLeaseError):
        await engine.start(setup, agents)
    assert time.monotonic() - began < 5
    stored = log.events("d-1")
    assert [e.seq for e in stored] == list(range(1, first))
    assert EventType.PROPOSE not in [e.type for e in stored]


async def test_an_answer_ahead_of_its_wave_is_stored_before_the_rest_arrive() -> None:
    log = BatchLog()
    stored_at_answer: list[int] = []

    def slow(reply: Callable[[CompletionRequest], str]) -> ScriptedLLM:
        def answer(request: CompletionRequest) -> str:
            stored_at_answer.append(len(log.events("d-1")))
            return reply(request)

        return ScriptedLLM(answer, latency=0.05)

    agents = panel(
        ScriptedLLM(stance(["PostgreSQL"])),
        slow(stance(["SQLite"])),
        slow(stance(["PostgreSQL"])),
    )
    setup = setup_for(agents, DebateProtocol(mode=Mode.DEBATE, rounds=1, early_stop=False))
    await engine_for(log).start(setup, agents)
    events = log.events("d-1")
    assert check_log(events) == []
    # The quick agent's proposal is stored alone while the slow two still think; those
    # two arrive together and go in together, with the steps they lead to.
    assert log.batches[1] == [EventType.PROPOSE]
    assert log.batches[2][:2] == [EventType.PROPOSE] * 2
    assert log.batches[2][-1] == "phase_change"
    first_propose = next(e.seq or 0 for e in events if e.type == EventType.PROPOSE)
    assert stored_at_answer[0] >= first_propose


async def test_no_token_is_published_before_the_steps_its_call_was_made_upon() -> None:
    # Agents that stream at once, and a log that takes a while: each wave's first tokens
    # come while its steps are still being written, and are held until they are stored.
    log = SlowLog(0.02)
    tokens: list[Event] = []
    stored_at_token: list[tuple[Any, int]] = []

    def publish(event: Event) -> None:
        tokens.append(event)
        stored_at_token.append((event.data["phase"], len(log.events("d-1"))))

    agents, setup = two_rounds(lambda reply: ScriptedLLM(reply, stream=True))
    engine = DebateEngine(
        sink=log,
        clock=SystemClock(),
        similarity=lexical_similarity,
        prompts=PROMPTS,
        publish_token=publish,
    )
    await engine.start(setup, agents)
    events = log.events("d-1")
    assert check_log(events) == []
    assert tokens
    phase_changes = {
        (e.round, e.data.get("phase")): e.seq or 0 for e in events if e.type == "phase_change"
    }
    for token, (_, stored) in zip(tokens, stored_at_token, strict=True):
        upon = phase_changes.get((token.round, token.data["phase"]))
        assert upon is not None
        assert stored >= upon, (token.round, token.data["phase"], stored, upon)


async def test_an_engine_cancelled_mid_write_lets_the_write_finish() -> None:
    # A replica draining cancels its debates; the append then under way still lands, so
    # the steps it holds are not lost for nothing.
    log = SlowLog(0.1)
    agents = panel(
        ScriptedLLM(stance(["PostgreSQL"]), latency=30),
        ScriptedLLM(stance(["SQLite"]), latency=30),
        ScriptedLLM(stance(["PostgreSQL"]), latency=30),
    )
    setup = setup_for(agents, DebateProtocol(mode=Mode.DEBATE, rounds=1, early_stop=False))
    running = asyncio.ensure_future(engine_for(log).start(setup, agents))
    await asyncio.sleep(0.03)  # the calls are out, the first write is under way
    assert log.events("d-1") == []
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert [e.type for e in log.events("d-1")] == [
        EventType.DEBATE_START,
        EventType.ROUND_START,
        "phase_change",
    ]
