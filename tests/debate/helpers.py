"""Shared builders for engine tests: panels of scripted agents and a recording sink."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from aragora.agents.fakes.scripted import ScriptedLLM
from aragora.debate.answers import format_answer, format_critique, format_vote
from aragora.debate.convergence import lexical_similarity
from aragora.debate.engine import DebateEngine
from aragora.debate.events import Event
from aragora.debate.invariants import check_log
from aragora.debate.model import Participant, Task
from aragora.debate.ports import Clock, CompletionRequest, SystemClock
from aragora.debate.prompting import PromptBook
from aragora.debate.protocol import ConsensusRule, DebateProtocol, Mode
from aragora.debate.state import DebateSetup
from aragora.errors import ProviderError
from aragora.runtime.eventlog import MemoryEventLog

PROMPTS = PromptBook.default()


def stance(
    answers: Sequence[str] | str,
    *,
    confidence: float = 0.8,
    vote_for: str | None = None,
) -> Callable[[CompletionRequest], str]:
    """A deterministic agent: ``answers[0]`` as its proposal, ``answers[r]`` after round r's
    revision (the last one repeats); votes for ``vote_for`` or its current answer."""
    script = [answers] if isinstance(answers, str) else list(answers)

    def reply(request: CompletionRequest) -> str:
        round_number = int(request.metadata.get("round", "1"))
        if request.phase == "propose":
            return format_answer(script[0], confidence, f"I think {script[0]}.")
        if request.phase == "critique":
            return format_critique("Agent A overlooks the costs.", 0.5)
        if request.phase == "revise":
            answer = script[min(round_number, len(script) - 1)]
            return format_answer(answer, confidence, f"After round {round_number}: {answer}.")
        own = vote_for or request.metadata.get("own_answer", script[-1])
        lowered = [choice.lower() for choice in request.choices]
        number = lowered.index(own.lower()) + 1 if own.lower() in lowered else 1
        return format_vote(number, confidence, f"{request.choices[number - 1]} is best.")

    return reply


def panel(*agents: ScriptedLLM | Callable[[CompletionRequest], str]) -> dict[str, ScriptedLLM]:
    """Agents named a1, a2, ... in order."""
    built: dict[str, ScriptedLLM] = {}
    for index, agent in enumerate(agents, start=1):
        built[f"a{index}"] = agent if isinstance(agent, ScriptedLLM) else ScriptedLLM(agent)
    return built


def setup_for(
    agents: dict[str, ScriptedLLM],
    protocol: DebateProtocol,
    *,
    task: str = "Should we use PostgreSQL or SQLite?",
    seed: int = 7,
    debate_id: str = "d-1",
) -> DebateSetup:
    return DebateSetup(
        debate_id=debate_id,
        task=Task(task),
        protocol=protocol,
        panel=tuple(
            Participant(name, f"scripted#{name}", "scripted", "scripted") for name in agents
        ),
        seed=seed,
    )


def engine_for(
    log: MemoryEventLog,
    tokens: list[Event] | None = None,
    *,
    agent_wait: float = 0.0,
    clock: Clock | None = None,
) -> DebateEngine:
    return DebateEngine(
        sink=log,
        clock=clock or SystemClock(),
        similarity=lexical_similarity,
        prompts=PROMPTS,
        publish_token=tokens.append if tokens is not None else None,
        agent_wait=agent_wait,
    )


async def run(
    agents: dict[str, ScriptedLLM], protocol: DebateProtocol, **kwargs: object
) -> tuple[dict[str, object], list[Event]]:
    """Run a debate to its end; returns (result, events)."""
    log = MemoryEventLog()
    setup = setup_for(agents, protocol, **kwargs)  # type: ignore[arg-type]
    state = await engine_for(log).start(setup, agents)
    assert state.result is not None
    events = log.events(setup.debate_id)
    assert check_log(events) == []
    return state.result.to_wire(), events


def types(events: Sequence[Event]) -> list[str]:
    return [e.type for e in events]


def _down(request: CompletionRequest) -> ProviderError:
    return ProviderError("503 from provider", kind="server_error")


def _cut_in_critique(answer: str) -> ScriptedLLM:
    def reply(request: CompletionRequest) -> str | Exception:
        if request.phase == "critique":
            return RuntimeError("adapter bug")
        return stance(answer)(request)

    return ScriptedLLM(reply)


SAMPLE_DEBATES: dict[str, tuple[Callable[[], dict[str, ScriptedLLM]], DebateProtocol]] = {
    "debate": (
        lambda: panel(stance(["PostgreSQL", "PostgreSQL"]), stance("SQLite"), stance("PostgreSQL")),
        DebateProtocol(mode=Mode.DEBATE, rounds=2, early_stop=False),
    ),
    "tie": (
        lambda: panel(stance("Red", confidence=0.6), stance("Blue", confidence=0.9)),
        DebateProtocol(mode=Mode.VOTE),
    ),
    "judge": (
        lambda: panel(stance("Red"), stance("Blue"), stance("Green")),
        DebateProtocol(mode=Mode.DEBATE, rounds=1, consensus=ConsensusRule.JUDGE, judge="a1"),
    ),
    "all_failed": (
        lambda: panel(*(ScriptedLLM(_down) for _ in range(3))),
        DebateProtocol(mode=Mode.DEBATE),
    ),
    "quorum_lost": (
        lambda: panel(stance("Red"), _cut_in_critique("Blue"), _cut_in_critique("Green")),
        DebateProtocol(mode=Mode.DEBATE),
    ),
}
"""Debates of every ending (consensus after rounds, a tie, a judge, every agent failed, the
quorum lost mid-debate): name -> (a fresh panel, the protocol)."""
