"""How much the debate engine adds on top of the agents it waits for.

Run as ``python bench/engine_overhead.py``. It reports and never gates: the exit status is
0 whatever the figures are, and the last line says whether every target was met.

The workload: a panel of 5 simulated agents, ``debate`` mode, 3 rounds
(``early_stop=False``, so exactly 3 rounds run), majority rule. Each simulated call sleeps
for a latency drawn from a lognormal distribution with mean 200 ms; the draw is seeded by
(seed, agent, phase, round), so the same debate always sees the same latencies. The agents
disagree at first and partly converge (three answers become two), so every phase runs and
the final vote asks every agent.

Targets and how each figure is measured:

1. **wall time / critical path <= 1.05.** The critical path is the time the debate could
   not beat even with a free engine: the phases run one after another and the calls of a
   phase run concurrently, so it is the sum over phases of the longest latency among that
   phase's calls, computed from the latencies the simulated agents actually slept (each
   call records its own). Wall time is ``DebateEngine.start`` from call to return, the
   median of 3 runs.
2. **engine CPU per debate <= 20 ms, excluding the simulated waits.** The same debate is run
   with every latency set to zero (``asyncio.sleep(0)``: one trip through the event loop,
   no wait), 50 times in a row, and process CPU time (``time.process_time``) over the whole
   batch is divided by 50. With no waits, almost all CPU is the engine's: planning, prompt
   rendering, parsing, event building and appending to the in-memory log, plus the event
   loop's scheduling. The simulated agents' own work (formatting a canned reply) is
   included but negligible; a warm-up batch runs first so imports and caches are not
   counted.
3. **200 debates at once finish within 1.2x the wall time of one.** 200 copies of the
   debate (the same latencies, so each has the same critical path as the single run) are
   started together with ``asyncio.gather`` in one event loop and one process, sharing one
   engine and one :class:`MemoryEventLog`; the batch's wall time is divided by the single
   debate's wall time. The event loop runs on one thread and the copies' phases end at
   the same instants, so what lengthens the batch is the engine work that follows each
   phase's slowest call (append its result, plan the next phase, build and start its
   calls) times 200; the work on earlier results overlaps the wait for the slowest. The
   process CPU per debate during the batch is shown too (it includes the simulated
   agents' timers).
"""

from __future__ import annotations

import asyncio
import functools
import math
import random
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from aragora.debate.answers import format_answer, format_critique, format_vote
from aragora.debate.convergence import lexical_similarity
from aragora.debate.engine import DebateEngine
from aragora.debate.model import Participant, Task
from aragora.debate.ports import (
    LLM,
    Completion,
    CompletionRequest,
    SystemClock,
    TokenCallback,
    Usage,
)
from aragora.debate.prompting import PromptBook
from aragora.debate.protocol import ConsensusRule, DebateProtocol, Mode
from aragora.debate.state import DebateSetup
from aragora.runtime.eventlog import MemoryEventLog

MEAN_LATENCY = 0.200
"""Mean simulated latency of one agent call, in seconds."""
LATENCY_SIGMA = 0.5
"""Spread of the lognormal latency distribution (sigma of the underlying normal)."""
LATENCY_SEED = 2024
ROUNDS = 3
SINGLE_RUNS = 3
CPU_DEBATES = 50
CONCURRENT_DEBATES = 200

TARGET_WALL_RATIO = 1.05
TARGET_CPU_MS = 20.0
TARGET_CONCURRENT_RATIO = 1.2

TASK = "Which database should a small team start a new web service on?"

# Each agent's answer after propose (index 0) and after each round's revision (index r):
# three distinct answers at first, two at the end, so critique, revise and vote all run.
SCRIPTS: dict[str, tuple[str, ...]] = {
    "a1": ("PostgreSQL", "PostgreSQL", "PostgreSQL", "PostgreSQL"),
    "a2": ("PostgreSQL", "PostgreSQL", "PostgreSQL", "PostgreSQL"),
    "a3": ("SQLite", "SQLite", "PostgreSQL", "PostgreSQL"),
    "a4": ("SQLite", "SQLite", "SQLite", "SQLite"),
    "a5": ("DuckDB", "PostgreSQL", "PostgreSQL", "PostgreSQL"),
}


@dataclass(frozen=True, slots=True)
class Call:
    """One simulated call and the latency it slept."""

    phase: str
    round: int
    agent: str
    latency: float


@dataclass(slots=True)
class Recorder:
    """Collects the calls of one debate's agents."""

    calls: list[Call] = field(default_factory=list)

    def critical_path(self) -> float:
        """Sum over phases of the slowest call in that phase."""
        slowest: dict[tuple[str, int], float] = {}
        for call in self.calls:
            key = (call.phase, call.round)
            slowest[key] = max(slowest.get(key, 0.0), call.latency)
        return sum(slowest.values())


@functools.cache
def draw_latency(seed: int, agent: str, phase: str, round_number: int) -> float:
    """A lognormal latency with mean :data:`MEAN_LATENCY`, fixed by its arguments.

    Cached: drawing costs ~35 us (seeding a generator), which is the simulated agent's
    work, not the engine's, and would otherwise sit on every call's critical path."""
    mu = math.log(MEAN_LATENCY) - LATENCY_SIGMA**2 / 2
    return random.Random(f"{seed}:{agent}:{phase}:{round_number}").lognormvariate(mu, LATENCY_SIGMA)


class SimulatedAgent:
    """An :class:`~aragora.debate.ports.LLM` that sleeps a drawn latency, then answers
    from its script in the reply formats the engine asks for."""

    def __init__(self, name: str, recorder: Recorder, *, simulate_latency: bool) -> None:
        self._name = name
        self._script = SCRIPTS[name]
        self._recorder = recorder
        self._simulate_latency = simulate_latency

    @property
    def provider(self) -> str:
        return "simulated"

    @property
    def model(self) -> str:
        return self._name

    async def complete(
        self, request: CompletionRequest, on_token: TokenCallback | None = None
    ) -> Completion:
        """Wait the call's latency (or just yield, when latency is off) and reply."""
        round_number = int(request.metadata.get("round", "1"))
        latency = 0.0
        if self._simulate_latency:
            latency = draw_latency(LATENCY_SEED, self._name, request.phase, round_number)
        self._recorder.calls.append(Call(request.phase, round_number, self._name, latency))
        await asyncio.sleep(latency)
        return Completion(self._reply(request, round_number), Usage(900, 120), self._name)

    def _reply(self, request: CompletionRequest, round_number: int) -> str:
        if request.phase == "propose":
            answer = self._script[0]
            return format_answer(answer, 0.7, f"{answer} fits a small team best.")
        if request.phase == "critique":
            return format_critique("Agent B ignores operational cost; Agent C is sound.", 0.6)
        if request.phase == "revise":
            answer = self._script[min(round_number, len(self._script) - 1)]
            return format_answer(answer, 0.75, f"After round {round_number} I hold {answer}.")
        own = request.metadata.get("own_answer", self._script[-1]).lower()
        choices = [choice.lower() for choice in request.choices]
        number = choices.index(own) + 1 if own in choices else 1
        return format_vote(number, 0.8, "It is the soundest option on the table.")


def make_setup(debate_id: str) -> DebateSetup:
    protocol = DebateProtocol(
        mode=Mode.DEBATE,
        rounds=ROUNDS,
        consensus=ConsensusRule.MAJORITY,
        early_stop=False,
        agent_timeout=None,
        debate_timeout=None,
    )
    panel = tuple(Participant(name, f"simulated#{name}", "simulated", name) for name in SCRIPTS)
    return DebateSetup(debate_id=debate_id, task=Task(TASK), protocol=protocol, panel=panel, seed=7)


def make_agents(recorder: Recorder, *, simulate_latency: bool) -> dict[str, LLM]:
    return {
        name: SimulatedAgent(name, recorder, simulate_latency=simulate_latency) for name in SCRIPTS
    }


async def run_debate(
    engine: DebateEngine, debate_id: str, *, simulate_latency: bool
) -> tuple[float, Recorder]:
    """Run one debate to its end; returns (wall seconds, its calls)."""
    recorder = Recorder()
    agents = make_agents(recorder, simulate_latency=simulate_latency)
    started = time.perf_counter()
    state = await engine.start(make_setup(debate_id), agents)
    elapsed = time.perf_counter() - started
    result = state.result
    if result is None or result.status != "completed" or result.rounds_used != ROUNDS:
        raise RuntimeError(f"debate {debate_id} did not complete as scripted: {result!r}")
    return elapsed, recorder


@dataclass(frozen=True, slots=True)
class Figures:
    wall: float
    critical_path: float
    calls: int
    cpu_ms: float
    concurrent_wall: float
    concurrent_cpu_ms: float

    @property
    def wall_ratio(self) -> float:
        return self.wall / self.critical_path

    @property
    def concurrent_ratio(self) -> float:
        return self.concurrent_wall / self.wall


async def measure() -> Figures:
    log = MemoryEventLog()
    engine = DebateEngine(
        sink=log,
        clock=SystemClock(),
        similarity=lexical_similarity,
        prompts=PromptBook.default(),
    )

    # Warm-up: imports, caches and the event loop's first-use costs are not the engine's.
    for index in range(5):
        await run_debate(engine, f"warm-{index}", simulate_latency=False)

    # The latencies are the same every run, so the runs differ only by engine and loop
    # noise; the median of a few is the figure for "one debate".
    singles = [
        await run_debate(engine, f"single-{index}", simulate_latency=True)
        for index in range(SINGLE_RUNS)
    ]
    wall = statistics.median(elapsed for elapsed, _ in singles)
    recorder = singles[0][1]

    cpu_started = time.process_time()
    for index in range(CPU_DEBATES):
        await run_debate(engine, f"cpu-{index}", simulate_latency=False)
    cpu_ms = (time.process_time() - cpu_started) / CPU_DEBATES * 1000

    cpu_started = time.process_time()
    started = time.perf_counter()
    await asyncio.gather(
        *(
            run_debate(engine, f"many-{index}", simulate_latency=True)
            for index in range(CONCURRENT_DEBATES)
        )
    )
    concurrent_wall = time.perf_counter() - started
    concurrent_cpu_ms = (time.process_time() - cpu_started) / CONCURRENT_DEBATES * 1000

    return Figures(
        wall=wall,
        critical_path=recorder.critical_path(),
        calls=len(recorder.calls),
        cpu_ms=cpu_ms,
        concurrent_wall=concurrent_wall,
        concurrent_cpu_ms=concurrent_cpu_ms,
    )


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def table(rows: Sequence[tuple[str, str, str, str]]) -> str:
    header = ("measure", "value", "target", "result")
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(4)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in (header, *rows)
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in lines)


def report(f: Figures) -> tuple[str, str]:
    """The table of figures and the one-line summary."""
    checks = {
        "wall/critical path": f.wall_ratio <= TARGET_WALL_RATIO,
        "engine CPU per debate": f.cpu_ms <= TARGET_CPU_MS,
        f"{CONCURRENT_DEBATES} at once / one": f.concurrent_ratio <= TARGET_CONCURRENT_RATIO,
    }
    rows = [
        ("wall time, one debate", f"{f.wall * 1000:.1f} ms", "", ""),
        ("critical path", f"{f.critical_path * 1000:.1f} ms", "", ""),
        (
            "wall/critical path",
            f"{f.wall_ratio:.3f}",
            f"<= {TARGET_WALL_RATIO:.2f}",
            verdict(checks["wall/critical path"]),
        ),
        (
            "engine CPU per debate",
            f"{f.cpu_ms:.2f} ms",
            f"<= {TARGET_CPU_MS:.0f} ms",
            verdict(checks["engine CPU per debate"]),
        ),
        (f"wall time, {CONCURRENT_DEBATES} at once", f"{f.concurrent_wall * 1000:.1f} ms", "", ""),
        (
            f"{CONCURRENT_DEBATES} at once / one",
            f"{f.concurrent_ratio:.3f}",
            f"<= {TARGET_CONCURRENT_RATIO:.2f}",
            verdict(checks[f"{CONCURRENT_DEBATES} at once / one"]),
        ),
        (f"CPU per debate, {CONCURRENT_DEBATES} at once", f"{f.concurrent_cpu_ms:.2f} ms", "", ""),
    ]
    failed = [name for name, ok in checks.items() if not ok]
    if failed:
        summary = (
            f"SUMMARY: {len(checks) - len(failed)} of {len(checks)} targets met; "
            f"missed: {', '.join(failed)}"
        )
    else:
        summary = f"SUMMARY: all {len(checks)} targets met"
    return table(rows), summary


def main() -> int:
    print(
        f"engine overhead: {len(SCRIPTS)} simulated agents, debate mode, {ROUNDS} rounds, "
        f"lognormal latency (mean {MEAN_LATENCY * 1000:.0f} ms, sigma {LATENCY_SIGMA}, "
        f"seed {LATENCY_SEED})"
    )
    figures = asyncio.run(measure())
    print(
        f"calls per debate: {figures.calls}; CPU measured over {CPU_DEBATES} zero-latency debates"
    )
    text, summary = report(figures)
    print(text)
    print(summary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
