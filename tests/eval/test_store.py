"""The run directory: resumable results, refused mismatches, interrupted lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from aragora.errors import InvalidInputError
from aragora.eval.store import RESULTS, Outcome, ResultStore


def _outcome(question: str, mode: str = "vote", sample: int = 0) -> Outcome:
    return Outcome(question, mode, sample, "id", "completed", "4", "4", True, 10, 0.0, 3, 0.1)


def test_results_are_kept_and_reloaded(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "run")
    assert store.open({"suite": "arith", "seed": 1}) == {"suite": "arith", "seed": 1}
    store.append(_outcome("q1"))
    store.append(_outcome("q1", "sc", 2))
    store.close()
    again = ResultStore(tmp_path / "run")
    assert again.open({"suite": "arith", "seed": 1}) == {"suite": "arith", "seed": 1}
    assert set(again.load()) == {("q1", "vote", 0), ("q1", "sc", 2)}
    again.remember({"suite": "arith", "seed": 1, "sc_samples": 5})
    assert again.open({"suite": "arith", "seed": 1})["sc_samples"] == 5


def test_a_run_with_other_settings_is_refused(tmp_path: Path) -> None:
    ResultStore(tmp_path).open({"suite": "arith", "seed": 1})
    with pytest.raises(InvalidInputError, match=r"other settings \(seed\); pass another --out"):
        ResultStore(tmp_path).open({"suite": "arith", "seed": 2})


def test_a_line_cut_off_by_an_interruption_is_ignored_and_not_glued_to(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    store.open({})
    store.append(_outcome("q1"))
    store.close()
    with (tmp_path / RESULTS).open("a") as out:
        out.write('{"question": "q2", "mo')
    assert set(store.load()) == {("q1", "vote", 0)}
    store.append(_outcome("q3"))
    store.close()
    assert set(store.load()) == {("q1", "vote", 0), ("q3", "vote", 0)}
