"""``aragora eval`` end to end through the debate service, with simulated agents.

The large-n checks of the aggregation maths are in ``tests/agents/test_sim.py`` (in-process,
with the engine's own clustering and tally); here, at a small n, the service path must
give exactly the per-question verdicts that in-process aggregation gives, and the modes
must relate as the design says (sc of k copies = a vote of k copies on common seeds; auto
= debate's verdicts for fewer tokens; sycophantic debate = vote).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from aragora.agents.demo.sim import SimLLM
from aragora.agents.registry import default_registry
from aragora.cli.main import main
from aragora.debate.consensus import Ballot, tally
from aragora.debate.normalize import cluster_answers
from aragora.debate.ports import CompletionRequest
from aragora.debate.protocol import ConsensusRule
from aragora.eval.harness import PLOT, REPORT_JSON, REPORT_MD, evaluate
from aragora.eval.progress import Silent
from aragora.eval.runner import EvalConfig, answer_key, mode_results, question_seed
from aragora.eval.store import RESULTS, ResultStore
from aragora.eval.suites import load_suite
from aragora.settings import Settings, load_settings

SIM = ("sim:0.7", "sim:0.7", "sim:0.7")
N = 40


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings({"ARAGORA_DATA_DIR": str(tmp_path / "data"), "ARAGORA_DEMO_DELAY": "0"})


def _run(config: EvalConfig, settings: Settings, out: Path) -> dict[str, Any]:
    return asyncio.run(evaluate(config, settings, out, progress=Silent()))


def _per_question(config: EvalConfig, out: Path, mode: str) -> dict[str, bool]:
    questions = load_suite(config.suite, n=config.n, seed=config.seed)
    stored = json.loads((out / "run.json").read_text())
    results = mode_results(
        ResultStore(out).load(), questions, mode, sc_samples=stored.get("sc_samples")
    )
    return {q: r.correct for q, r in results.items()}


def _in_process_vote(config: EvalConfig) -> dict[str, bool]:
    """Each question's vote verdict from the same agents, aggregated here with the
    engine's clustering and tally, not through the service."""
    questions = load_suite(config.suite, n=config.n, seed=config.seed)
    registry = default_registry(answer_key=answer_key(questions, config.seed))
    verdicts = {}
    for q in questions:
        panel = registry.build_panel(config.agents, seed=question_seed(config.seed, q.id))
        answers = []
        for _, llm in panel:
            assert isinstance(llm, SimLLM)
            reply = llm.reply(
                CompletionRequest("", q.task, phase="propose", metadata={"task": q.task})
            )
            answers.append(reply.split("\n", 1)[0].removeprefix("ANSWER: "))
        clusters = cluster_answers(answers)
        ballots = [Ballot(str(i), c, 0.7) for c, members in enumerate(clusters) for i in members]
        counted = tally(ballots, ConsensusRule.MAJORITY)
        won = None if counted.tie else answers[clusters[counted.winner or 0][0]]
        verdicts[q.id] = won == q.answer
    return verdicts


def test_every_mode_through_the_service(settings: Settings, tmp_path: Path) -> None:
    config = EvalConfig(
        suite="arith",
        agents=SIM,
        modes=("single", "sc", "vote", "debate", "auto"),
        n=N,
        seed=3,
        concurrency=6,
    )
    out = tmp_path / "run"
    summary = _run(config, settings, out)

    assert {k: summary[k] for k in ("suite", "n", "seed", "agents")} == {
        "suite": "arith",
        "n": N,
        "seed": 3,
        "agents": list(SIM),
    }
    for mode, row in summary["modes"].items():
        assert set(row) >= {
            "accuracy",
            "ci_low",
            "ci_high",
            "tokens_mean",
            "cost_usd_mean",
            "calls_mean",
            "wall_mean_s",
            "n_scored",
        }, mode
        assert row["n_scored"] == N
        assert row["ci_low"] <= row["accuracy"] <= row["ci_high"]
    modes = summary["modes"]
    assert modes["single"]["calls_mean"] == 1
    assert modes["sc"]["calls_mean"] == modes["vote"]["calls_mean"] == 3
    assert len(summary["comparisons"]) == 10

    vote = _per_question(config, out, "vote")
    assert vote == _in_process_vote(config)  # the service aggregates as the engine does
    assert _per_question(config, out, "sc") == vote  # common seeds: sc's samples = the panel
    debate, auto = _per_question(config, out, "debate"), _per_question(config, out, "auto")
    assert auto == debate  # auto stops only where debate would change nothing
    assert modes["auto"]["tokens_mean"] < modes["debate"]["tokens_mean"]
    assert modes["vote"]["tokens_mean"] < modes["auto"]["tokens_mean"]

    assert (out / PLOT).read_bytes().startswith(b"\x89PNG")
    assert "| debate |" in (out / REPORT_MD).read_text()
    assert json.loads((out / REPORT_JSON).read_text()) == summary

    lines = (out / RESULTS).read_text().count("\n")
    assert _run(config, settings, out) == summary  # resumed: nothing left to run
    assert (out / RESULTS).read_text().count("\n") == lines


def test_an_interrupted_run_resumes_where_it_stopped(settings: Settings, tmp_path: Path) -> None:
    config = EvalConfig(suite="arith", agents=SIM, modes=("vote",), n=10, seed=4)
    out = tmp_path / "run"
    whole = _run(config, settings, tmp_path / "whole")
    _run(config, settings, out)
    kept = (out / RESULTS).read_text().splitlines()
    (out / RESULTS).write_text("\n".join(kept[:4]) + "\n" + kept[4][:20])  # killed mid-line
    resumed = _run(config, settings, out)["modes"]["vote"]
    assert resumed.pop("wall_mean_s") > 0  # the one timing that differs between runs
    assert resumed == {k: v for k, v in whole["modes"]["vote"].items() if k != "wall_mean_s"}
    assert len(ResultStore(out).load()) == 10


def test_sycophantic_panels_debate_to_the_vote(settings: Settings, tmp_path: Path) -> None:
    config = EvalConfig(
        suite="arith",
        agents=("sim:0.7/syc=1",) * 3,
        modes=("vote", "debate"),
        n=N,
        seed=5,
        concurrency=6,
    )
    _run(config, settings, tmp_path)
    assert _per_question(config, tmp_path, "debate") == _per_question(config, tmp_path, "vote")


def test_sc_samples_fit_the_token_budget(settings: Settings, tmp_path: Path) -> None:
    single = _run(EvalConfig("arith", SIM, ("single",), n=6, seed=1), settings, tmp_path / "a")
    per_sample = single["modes"]["single"]["tokens_mean"]
    budget = int(per_sample * 4.5)
    budgeted = _run(
        EvalConfig("arith", SIM, ("sc",), n=6, seed=1, budget_tokens=budget),
        settings,
        tmp_path / "b",
    )
    assert budgeted["sc_samples"] == 4
    matched = _run(
        EvalConfig("arith", SIM, ("debate", "sc"), n=6, seed=1, match="debate"),
        settings,
        tmp_path / "c",
    )
    debate_tokens = matched["modes"]["debate"]["tokens_mean"]
    assert matched["sc_samples"] == int(debate_tokens // per_sample)
    assert matched["modes"]["sc"]["tokens_mean"] <= debate_tokens


def test_bad_configurations_are_refused() -> None:
    from aragora.errors import InvalidInputError

    for changes, message in [
        ({"modes": ("vote", "jury")}, "unknown mode"),
        ({"modes": ("sc",), "match": "debate"}, "needs the debate mode"),
        ({"budget_tokens": 10, "match": "debate", "modes": ("debate",)}, "not both"),
        ({"agents": ()}, "at least one agent"),
        ({"samples": 0}, "--samples"),
    ]:
        with pytest.raises(InvalidInputError, match=message):
            EvalConfig(**{"suite": "arith", "agents": SIM, "modes": ("vote",), **changes})


def test_the_command_prints_one_json_document(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ARAGORA_DATA_DIR", str(tmp_path))
    out = tmp_path / "run"
    code = main(
        [
            "eval",
            "--suite",
            "arith",
            "--n",
            "5",
            "--agents",
            ",".join(SIM),
            "--modes",
            "single,vote",
            "--seed",
            "2",
            "--out",
            str(out),
            "--json",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0
    document = json.loads(captured.out)
    assert set(document["modes"]) == {"single", "vote"}
    assert document["n"] == 5
    assert "debates:" in captured.err  # the progress went to stderr

    code = main(["eval", "--suite", "nope", "--agents", "sim:0.7", "--out", str(tmp_path / "x")])
    assert code == 2
    assert "unknown suite 'nope'" in capsys.readouterr().err


def test_other_commands_do_not_import_the_evaluation() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from aragora.cli.main import main\n"
        "for argv in (['--version'], ['eval', '--help']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "    print(sorted(m for m in sys.modules if m.startswith('aragora.eval')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    listed = [line for line in done.stdout.splitlines() if line.startswith("[")]
    assert listed == ["[]", "[]"]  # not even `aragora eval --help` loads it
