"""Running an evaluation: every question in every mode, through :class:`~.service.Debates`.

Modes ``single``, ``vote``, ``debate`` and ``auto`` are the debate modes of the same name,
one debate per question (``single`` with the first agent only). ``sc`` (self-consistency)
is ``k`` debates in ``single`` mode with the first agent, each its own sample (its own
seed), and the majority of their extracted answers (a tie for the most votes is no
answer, as in a ``vote`` debate). ``k`` is ``--samples`` (default: the number of agents,
so ``sc`` makes as many calls as ``vote``); with a token budget (``--budget-tokens T``, or
``--match debate``: T = the mean tokens of this run's ``debate`` questions) it is
``floor(T / mean tokens of one sample)``, measured on the first sample of every question,
so ``sc`` is compared with debate at equal compute.

Seeds: a question's debates all use one seed drawn from (run seed, question id), and
``sc``'s sample ``j`` that seed plus ``j``: the agents of a ``vote`` panel of copies of one
spec get those same seeds, so modes are compared on common random numbers (a simulated
``vote`` panel's first answers are ``sc``'s samples and ``debate``'s first proposals).
"""

from __future__ import annotations

import asyncio
import hashlib
import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from aragora.agents.demo.sim import KeyedAnswer, MemoryAnswerKey
from aragora.errors import InvalidInputError
from aragora.eval.extract import extract
from aragora.eval.service import Debates
from aragora.eval.store import Outcome, ResultStore
from aragora.eval.suites import Question
from aragora.runtime.debate_request import EVALUATION_KEY

__all__ = [
    "MODES",
    "EvalConfig",
    "Evaluation",
    "ModeResult",
    "Progress",
    "answer_key",
    "mode_results",
    "question_seed",
]

MODES = ("single", "sc", "vote", "debate", "auto")
MAX_SC_SAMPLES = 64


@dataclass(frozen=True, slots=True)
class EvalConfig:
    """What one run asks: ``suite`` (name or path), agent specs, modes and the knobs."""

    suite: str
    agents: tuple[str, ...]
    modes: tuple[str, ...]
    n: int | None = None
    seed: int = 0
    rounds: int | None = None
    concurrency: int = 4
    budget_tokens: int | None = None
    match: str | None = None
    samples: int | None = None

    def __post_init__(self) -> None:
        if not self.agents:
            raise InvalidInputError("--agents must name at least one agent spec")
        unknown = [m for m in self.modes if m not in MODES]
        if unknown or not self.modes:
            raise InvalidInputError(
                f"unknown mode(s) {', '.join(unknown) or '(none)'}; expected some of "
                + ", ".join(MODES)
            )
        if len(set(self.modes)) != len(self.modes):
            raise InvalidInputError("--modes names a mode twice")
        if self.concurrency < 1:
            raise InvalidInputError("--concurrency must be at least 1")
        if self.match not in (None, "debate"):
            raise InvalidInputError("--match takes only 'debate'")
        if self.match is not None and self.budget_tokens is not None:
            raise InvalidInputError("give --budget-tokens or --match, not both")
        if self.match == "debate" and "debate" not in self.modes:
            raise InvalidInputError("--match debate needs the debate mode in --modes")
        if self.budget_tokens is not None and self.budget_tokens < 1:
            raise InvalidInputError("--budget-tokens must be a positive number of tokens")
        if self.samples is not None and not 1 <= self.samples <= MAX_SC_SAMPLES:
            raise InvalidInputError(f"--samples must be from 1 to {MAX_SC_SAMPLES}")

    def identity(self) -> dict[str, Any]:
        """The settings a resumed run must share with the stored one."""
        return {
            "suite": self.suite,
            "agents": list(self.agents),
            "modes": list(self.modes),
            "n": self.n,
            "seed": self.seed,
            "rounds": self.rounds,
            "budget_tokens": self.budget_tokens,
            "match": self.match,
            "samples": self.samples,
        }


class Progress(Protocol):
    """Told about the debates as they end (the terminal's progress bar, or nothing)."""

    def add(self, total: int, label: str) -> None:
        """``total`` more debates are planned (``label`` says which)."""
        ...

    def advance(self, outcome: Outcome) -> None:
        """One debate ended."""
        ...


def question_seed(seed: int, question_id: str) -> int:
    """The seed of a question's debates in a run with ``seed`` (below 2**31 - 2**8, so
    sample seeds stay within 31 bits)."""
    digest = hashlib.sha256(f"{seed}:{question_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % (2**31 - 2**8)


def answer_key(questions: Sequence[Question], seed: int) -> MemoryAnswerKey:
    """The answer key simulated agents read: each question's task, answer and kind, salted
    with the run's seed so shared draws differ between runs."""
    key = MemoryAnswerKey()
    for q in questions:
        key.add(q.task, KeyedAnswer(q.answer, q.kind, q.choices, salt=f"{seed}:{q.id}"))
    return key


@dataclass(frozen=True, slots=True)
class ModeResult:
    """One question under one mode: right or not, and what it took (``sc``: its samples
    summed; wall time the slowest sample's, as they run side by side)."""

    correct: bool
    tokens: int
    cost_usd: float
    calls: int
    wall_s: float
    failed: bool = False


@dataclass(slots=True)
class Evaluation:
    """One run: ``questions`` under ``config``, debates through ``debates``, outcomes in
    ``store`` (resumed from what it holds)."""

    config: EvalConfig
    questions: Sequence[Question]
    debates: Debates
    store: ResultStore
    progress: Progress
    outcomes: dict[tuple[str, str, int], Outcome] = field(default_factory=dict)
    sc_samples: int | None = None

    async def run(self) -> dict[tuple[str, str, int], Outcome]:
        """Run (or resume) every debate still missing; the outcomes by (question, mode,
        sample)."""
        stored = self.store.open(self.config.identity())
        self.outcomes = self.store.load()
        self.sc_samples = stored.get("sc_samples")
        try:
            plain = [m for m in self.config.modes if m != "sc"]
            await self._jobs([(q, m, 0) for q in self.questions for m in plain], "debates")
            if "sc" in self.config.modes:
                await self._self_consistency(stored)
        finally:
            self.store.close()
        return self.outcomes

    async def _self_consistency(self, stored: dict[str, Any]) -> None:
        if self.sc_samples is None:
            if self.config.budget_tokens is None and self.config.match is None:
                self.sc_samples = self.config.samples or len(self.config.agents)
            else:
                await self._jobs([(q, "sc", 0) for q in self.questions], "sc sample 1")
                self.sc_samples = self._budgeted_samples()
            self.store.remember({**stored, "sc_samples": self.sc_samples})
        jobs = [(q, "sc", j) for j in range(self.sc_samples) for q in self.questions]
        await self._jobs(jobs, f"sc ({self.sc_samples} samples)")

    def _budgeted_samples(self) -> int:
        firsts = [o.tokens for o in self.outcomes.values() if o.mode == "sc" and o.sample == 0]
        per_sample = sum(firsts) / len(firsts) if firsts else 0.0
        if self.config.budget_tokens is not None:
            budget = float(self.config.budget_tokens)
        else:
            debated = [o.tokens for o in self.outcomes.values() if o.mode == "debate"]
            budget = sum(debated) / len(debated) if debated else 0.0
        if per_sample <= 0:
            return 1
        return max(1, min(MAX_SC_SAMPLES, math.floor(budget / per_sample)))

    async def _jobs(self, jobs: Sequence[tuple[Question, str, int]], label: str) -> None:
        todo = [j for j in jobs if (j[0].id, j[1], j[2]) not in self.outcomes]
        if not todo:
            return
        self.progress.add(len(todo), label)
        queue: asyncio.Queue[tuple[Question, str, int]] = asyncio.Queue()
        for job in todo:
            queue.put_nowait(job)

        async def worker() -> None:
            while not queue.empty():
                question, mode, sample = queue.get_nowait()
                outcome = await self._one(question, mode, sample)
                self.outcomes[outcome.key] = outcome
                self.store.append(outcome)
                self.progress.advance(outcome)

        workers = [asyncio.create_task(worker()) for _ in range(self.config.concurrency)]
        try:
            await asyncio.gather(*workers)
        finally:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    async def _one(self, q: Question, mode: str, sample: int) -> Outcome:
        config = self.config
        engine_mode = "single" if mode == "sc" else mode
        agents = config.agents[:1] if engine_mode == "single" else config.agents
        body: dict[str, Any] = {
            "task": q.task,
            "agents": list(agents),
            "mode": engine_mode,
            "metadata": {
                EVALUATION_KEY: {
                    "suite": config.suite,
                    "question": q.id,
                    "mode": mode,
                    "sample": sample,
                    "seed": config.seed,
                }
            },
        }
        if config.rounds is not None:
            body["rounds"] = config.rounds
        document = await self.debates.run(body, seed=question_seed(config.seed, q.id) + sample)
        return outcome_of(document, q, mode, sample)


def outcome_of(document: Mapping[str, Any], q: Question, mode: str, sample: int) -> Outcome:
    """The :class:`Outcome` a finished debate's document gives for question ``q``."""
    answer = document.get("final_answer")
    answer = None if answer is None else str(answer)
    found = extract(answer, q.kind, q.choices)
    cost = document.get("cost") or {}
    per_agent = cost.get("per_agent") or {}
    status = str(document.get("status"))
    error = document.get("error") or (document.get("outcome_reason") if answer is None else None)
    return Outcome(
        question=q.id,
        mode=mode,
        sample=sample,
        debate_id=str(document.get("id")),
        status=status,
        answer=answer,
        extracted=found,
        correct=found is not None and found == extract(q.answer, q.kind, q.choices),
        tokens=int(cost.get("tokens") or 0),
        cost_usd=float(cost.get("usd") or 0.0),
        calls=sum(int(a.get("calls") or 0) for a in per_agent.values()),
        wall_s=float(document.get("duration_seconds") or 0.0),
        error=None if error is None else str(error)[:500],
    )


def mode_results(
    outcomes: Mapping[tuple[str, str, int], Outcome],
    questions: Sequence[Question],
    mode: str,
    *,
    sc_samples: int | None = None,
    majority: Callable[[Sequence[str | None]], str | None] | None = None,
) -> dict[str, ModeResult]:
    """Each question's result under ``mode`` (only questions with every debate done)."""
    results: dict[str, ModeResult] = {}
    for q in questions:
        if mode != "sc":
            o = outcomes.get((q.id, mode, 0))
            if o is not None:
                results[q.id] = ModeResult(
                    o.correct, o.tokens, o.cost_usd, o.calls, o.wall_s, o.status == "failed"
                )
            continue
        if not sc_samples:
            continue
        samples = [outcomes.get((q.id, "sc", j)) for j in range(sc_samples)]
        done = [s for s in samples if s is not None]
        if len(done) < sc_samples:
            continue
        voted = (majority or majority_answer)([s.extracted for s in done])
        gold = extract(q.answer, q.kind, q.choices)
        results[q.id] = ModeResult(
            correct=voted is not None and voted == gold,
            tokens=sum(s.tokens for s in done),
            cost_usd=sum(s.cost_usd for s in done),
            calls=sum(s.calls for s in done),
            wall_s=max(s.wall_s for s in done),
            failed=all(s.status == "failed" for s in done),
        )
    return results


def majority_answer(answers: Sequence[str | None]) -> str | None:
    """The answer given most often (``None`` answers do not vote); ``None`` on a tie."""
    counts = Counter(a for a in answers if a is not None)
    ranked = counts.most_common(2)
    if not ranked or (len(ranked) == 2 and ranked[0][1] == ranked[1][1]):
        return None
    return ranked[0][0]
