"""``aragora debate`` as a user runs it: exit codes, JSON document, live progress."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from aragora import __version__
from aragora.cli.main import main

TASK = "Should a five-person startup run PostgreSQL or SQLite?"
DOCUMENT_KEYS = {
    "id", "debate_id", "task", "status", "mode", "agents", "rounds", "rounds_used",
    "consensus_reached", "final_answer", "confidence", "votes", "dissent", "messages", "cost",
    "created_at", "started_at", "completed_at", "duration_seconds", "error",
}  # fmt: skip


@pytest.fixture(autouse=True)
def _quick_demo(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.setenv("ARAGORA_DEMO_DELAY", "0")
    monkeypatch.setenv("ARAGORA_DATA_DIR", str(tmp_path))


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    code = main(["debate", TASK, "--agents", "demo,demo,demo", "--json", *args])
    out = capsys.readouterr().out
    assert code == 0, out
    document: dict[str, object] = json.loads(out)
    return document


def test_the_issue_example_gives_a_complete_document(capsys: pytest.CaptureFixture[str]) -> None:
    doc = run_json(capsys, "--mode", "debate", "--rounds", "2")
    assert doc.keys() >= DOCUMENT_KEYS
    assert doc["status"] == "completed"
    assert doc["final_answer"]
    assert 0 <= doc["confidence"] <= 1  # type: ignore[operator]
    assert len(doc["votes"]) == 3  # type: ignore[arg-type]
    assert isinstance(doc["dissent"], list)
    assert 1 <= doc["rounds_used"] <= 2  # type: ignore[operator]
    assert doc["messages"]
    assert isinstance(doc["consensus_reached"], bool)
    cost = doc["cost"]
    assert isinstance(cost, dict)
    assert cost["tokens"] > 0
    assert set(cost["per_agent"]) == {"demo:pragmatist", "demo:skeptic", "demo:optimist"}
    assert all(agent["demo"] for agent in doc["agents"])  # type: ignore[union-attr]


@pytest.mark.parametrize("mode", ["auto", "debate", "vote", "single"])
def test_every_mode_completes(capsys: pytest.CaptureFixture[str], mode: str) -> None:
    doc = run_json(capsys, "--mode", mode, "--rounds", "2", "--seed", "3")
    assert doc["status"] == "completed"
    assert doc["mode"] == mode
    assert doc["final_answer"]
    assert len(doc["votes"]) == (1 if mode == "single" else 3)  # type: ignore[arg-type]


@pytest.mark.parametrize("rule", ["majority", "supermajority", "unanimous", "judge", "weighted"])
def test_every_consensus_rule_completes(capsys: pytest.CaptureFixture[str], rule: str) -> None:
    doc = run_json(capsys, "--mode", "debate", "--consensus", rule, "--seed", "5")
    assert doc["status"] == "completed"
    assert doc["consensus_rule"] == rule
    if rule == "judge":
        assert doc["judge"] in {"demo:pragmatist", "demo:skeptic", "demo:optimist"}


def test_same_seed_same_debate(capsys: pytest.CaptureFixture[str]) -> None:
    first = run_json(capsys, "--seed", "11")
    second = run_json(capsys, "--seed", "11")
    assert first["final_answer"] == second["final_answer"]
    assert first["votes"] == second["votes"]


def test_live_progress_is_printed(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["debate", TASK, "--agents", "demo,demo,demo", "--mode", "debate"])
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith(f"Aragora: {TASK}\n")
    for fragment in (
        "Independent answers",
        "Round 1: critiques",
        "critiques",
        "Vote",
        "Verdict:",
        "Cost:",
        "(demo)",
    ):
        assert fragment in out


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["debate", TASK, "--mode", "shout"], "invalid choice: 'shout'"),
        (["debate", TASK, "--rounds", "0"], "must be at least 1"),
        (["debate", TASK, "--rounds", "many"], "expected a whole number"),
        (["debate", TASK, "--consensus", "dice"], "invalid choice: 'dice'"),
        (["debate", TASK, "--agents", "nope:model"], "'nope:model'"),
        (["debate", TASK, "--agents", "demo,openai"], "'openai'"),
        (["debate", "   ", "--agents", "demo"], "task must be a non-empty string"),
        (["debate", TASK, "--rounds", "11"], "rounds must be an integer from 1 to 10"),
        (["debate", TASK, "--consensus", "judge", "--judge", "nobody"], "'nobody' is not on"),
        (["debate"], "the following arguments are required: task"),
        (["debate", TASK, "--memory", "--server", "http://127.0.0.1:9"], "cannot go with"),
        (["debates", "list", "--limit", "0"], "limit must be between 1 and 1000"),
        (["debates", "show", "no-such-debate"], "debate no-such-debate not found"),
    ],
)
def test_bad_arguments_give_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], args: list[str], fragment: str
) -> None:
    try:
        code = main(args)
    except SystemExit as exc:  # argparse exits by itself
        code = int(exc.code or 0)
    err = capsys.readouterr().err
    assert code == 2
    assert fragment in err
    assert len(err.strip().splitlines()) == 1


def test_version_and_help() -> None:
    version = subprocess.run(
        [sys.executable, "-m", "aragora.cli.main", "--version"], capture_output=True, text=True
    )
    assert version.returncode == 0
    assert version.stdout.strip() == f"aragora {__version__}"
    helped = subprocess.run(
        [sys.executable, "-m", "aragora.cli.main", "debate", "--help"],
        capture_output=True,
        text=True,
    )
    assert helped.returncode == 0
    assert "--consensus" in helped.stdout
