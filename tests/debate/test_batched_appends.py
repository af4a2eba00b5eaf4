"""The engine's appends in batches: the steps between two waves of calls are written in one
append, and nothing is acted upon before it is durable (each call starts after every event
before it is stored; an answer that arrives before the rest of its wave is stored before
they arrive, and answers that arrive together are stored together)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from aragora.agents.fakes.scripted import ScriptedLLM
from aragora.debate.events import Event, EventType
from aragora.debate.invariants import check_log
from aragora.debate.ports import BatchEventSink, CompletionRequest
from aragora.debate.protocol import DebateProtocol, Mode
from aragora.runtime.eventlog import MemoryEventLog

from .helpers import engine_for, panel, setup_for, stance


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


async def test_the_steps_between_waves_are_one_append_made_before_the_next_calls() -> None:
    log = BatchLog()
    assert isinstance(log, BatchEventSink)
    stored_when_called: list[tuple[str, int]] = []

    def watched(reply: Callable[[CompletionRequest], str]) -> ScriptedLLM:
        def answer(request: CompletionRequest) -> str:
            # What the log held when this call was made: everything before it, stored.
            stored_when_called.append((request.phase, len(log.events("d-1"))))
            return reply(request)

        return ScriptedLLM(answer)

    agents = panel(
        watched(stance(["PostgreSQL", "PostgreSQL"])),
        watched(stance(["SQLite", "SQLite"])),
        watched(stance(["PostgreSQL"])),
    )
    setup = setup_for(agents, DebateProtocol(mode=Mode.DEBATE, rounds=2, early_stop=False))
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
    # Every call saw the whole log up to its wave: nothing acted upon was unwritten.
    for phase, seen in stored_when_called:
        before = events[:seen]
        assert before[-1].type == "phase_change", (phase, [e.type for e in before[-3:]])


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
