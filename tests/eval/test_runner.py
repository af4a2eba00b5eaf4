"""The runner against a fake of its one seam (:class:`aragora.eval.service.Debates`):
what it asks for, how documents become outcomes, failures, and the progress bar."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aragora.eval.progress import Bar, Silent
from aragora.eval.report import markdown, summarise
from aragora.eval.runner import (
    EvalConfig,
    Evaluation,
    majority_answer,
    mode_results,
    question_seed,
)
from aragora.eval.store import ResultStore
from aragora.eval.suites import load_suite


class FakeDebates:
    """Answers every question right in ``single``, reaches no decision in ``vote`` and
    fails in ``debate``; records the bodies and seeds it was given."""

    def __init__(self) -> None:
        self.asked: list[tuple[dict[str, Any], int]] = []

    async def run(self, body: Mapping[str, Any], *, seed: int) -> dict[str, Any]:
        self.asked.append((dict(body), seed))
        expr = body["task"].split("result of ", 1)[1].split("?", 1)[0]
        right = str(sum_of(expr))
        mode = body["mode"]
        document: dict[str, Any] = {
            "id": f"d{len(self.asked)}",
            "status": "failed" if mode == "debate" else "completed",
            "final_answer": {"single": f"The answer is {right}.", "vote": None}.get(mode),
            "duration_seconds": 0.5,
            "cost": {"tokens": 100, "usd": 0.01, "per_agent": {"a": {"calls": 2}}},
        }
        if mode == "vote":
            document["outcome_reason"] = "no decision: a tie between '1' and '2'"
        if mode == "debate":
            document["error"] = "quorum lost: 0 of 3 agents working"
        return document


def sum_of(expr: str) -> int:
    import ast

    return int(eval(compile(ast.parse(expr, mode="eval"), "", "eval")))


def test_documents_become_scored_outcomes(tmp_path: Path) -> None:
    config = EvalConfig("arith", ("x:a", "x:b"), ("single", "vote", "debate", "sc"), n=4, seed=9)
    questions = load_suite("arith", n=4, seed=9)
    fake = FakeDebates()
    evaluation = Evaluation(config, questions, fake, ResultStore(tmp_path), Silent())
    outcomes = asyncio.run(evaluation.run())
    assert len(fake.asked) == 4 * 3 + 4 * 2  # sc: two samples, one per agent by default
    single = [b for b, _ in fake.asked if b["mode"] == "single"]
    assert all(b["agents"] == ["x:a"] for b in single)  # single and sc: the first agent
    votes = [(b, s) for b, s in fake.asked if b["mode"] == "vote"]
    assert all(b["agents"] == ["x:a", "x:b"] for b, _ in votes)
    assert all(b["metadata"]["evaluation"]["suite"] == "arith" for b, _ in fake.asked)
    q = questions[0]
    seeds = {
        (b["metadata"]["evaluation"]["mode"], b["metadata"]["evaluation"]["sample"]): s
        for b, s in fake.asked
        if b["metadata"]["evaluation"]["question"] == q.id
    }
    base = question_seed(9, q.id)
    assert seeds == {
        ("single", 0): base,
        ("vote", 0): base,
        ("debate", 0): base,
        ("sc", 0): base,
        ("sc", 1): base + 1,
    }

    first = outcomes[(q.id, "single", 0)]
    assert (first.correct, first.extracted, first.calls, first.tokens) == (True, q.answer, 2, 100)
    vote = outcomes[(q.id, "vote", 0)]
    assert (vote.correct, vote.answer, vote.error) == (
        False,
        None,
        "no decision: a tie between '1' and '2'",
    )
    failed = outcomes[(q.id, "debate", 0)]
    assert (failed.status, failed.error) == ("failed", "quorum lost: 0 of 3 agents working")

    results = {m: mode_results(outcomes, questions, m, sc_samples=2) for m in config.modes}
    summary = summarise(config, results, sc_samples=2)
    assert summary["modes"]["single"]["accuracy"] == 1.0
    assert (summary["modes"]["debate"]["accuracy"], summary["modes"]["debate"]["failed"]) == (
        0.0,
        4,
    )
    assert summary["modes"]["sc"]["tokens_mean"] == 200  # two samples summed
    assert summary["modes"]["sc"]["accuracy"] == 1.0
    assert "| debate | 0.000 |" in markdown(summary)


def test_majority_of_extracted_answers() -> None:
    assert majority_answer(["4", "4", "5"]) == "4"
    assert majority_answer(["4", "5"]) is None  # a tie is no answer
    assert majority_answer([None, None, "7"]) == "7"  # failed samples do not vote
    assert majority_answer([]) is None


def test_the_bar_prints_tenths_on_a_pipe() -> None:
    from aragora.eval.store import Outcome

    out = io.StringIO()
    bar = Bar(out)
    bar.add(20, "debates")
    for i in range(20):
        bar.advance(
            Outcome(f"q{i}", "vote", 0, "d", "completed", "1", "1", i % 2 == 0, 1, 0.0, 1, 0.1)
        )
    bar.finish()
    lines = out.getvalue().splitlines()
    assert len(lines) == 11  # 0 %, 10 %, ..., 100 %
    assert lines[-1].startswith("debates: [##############################] 20/20, 10 right")
