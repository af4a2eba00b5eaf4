"""Suites: generated arithmetic, the shipped GSM8K subset, and JSONL files."""

from __future__ import annotations

import ast
import json
from importlib import resources
from pathlib import Path

import pytest

from aragora.errors import InvalidInputError
from aragora.eval.suites import load_suite


def test_arith_is_seeded_and_right() -> None:
    first = load_suite("arith", n=20, seed=1)
    assert first == load_suite("arith", n=20, seed=1)
    assert first != load_suite("arith", n=20, seed=2)
    assert len(load_suite("arith", n=None, seed=0)) == 100
    for q in first:
        expr = q.question.removeprefix("What is the result of ").removesuffix("?")
        assert str(eval(compile(ast.parse(expr, mode="eval"), "", "eval"))) == q.answer
        assert q.kind == "number"
        assert q.task.endswith("Give the final answer as a single number.")


def test_gsm8k_ships_250_problems_with_licence_and_attribution() -> None:
    questions = load_suite("gsm8k", n=None, seed=0)
    assert len(questions) == 250
    assert len({q.id for q in questions}) == 250
    assert all(q.kind == "number" and float(q.answer) == float(q.answer) for q in questions)
    data = resources.files("aragora.eval").joinpath("data")
    assert "Copyright (c) 2021 OpenAI" in data.joinpath("GSM8K-LICENSE").read_text()
    assert "Cobbe et al." in data.joinpath("README.md").read_text()
    assert load_suite("gsm8k", n=5, seed=9) == questions[:5]


def test_jsonl_suites_of_every_type(tmp_path: Path) -> None:
    path = tmp_path / "mine.jsonl"
    rows = [
        {"question": "2+2?", "answer": 4, "type": "number"},
        {
            "id": "cap",
            "question": "Capital of France?",
            "answer": "B",
            "type": "choice",
            "choices": ["London", "Paris"],
        },
        {"question": "Is 7 prime?", "answer": True, "type": "yes/no"},
        {"question": "Tallest tower?", "answer": "Eiffel Tower", "type": "exact"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    questions = load_suite(str(path), n=None, seed=0)
    assert [q.kind for q in questions] == ["number", "choice", "yesno", "exact"]
    assert [q.id for q in questions] == ["mine-1", "cap", "mine-3", "mine-4"]
    assert questions[1].choices == ("London", "Paris")
    assert questions[2].answer == "yes"
    assert questions[2].task.endswith("Answer yes or no.")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "line 1: not JSON"),
        ("[1]", "line 1: expected a JSON object"),
        ('{"answer": "1", "type": "number"}', "'question' must be a non-empty string"),
        ('{"question": "q", "type": "number"}', "'answer' must be"),
        ('{"question": "q", "answer": "1", "type": "float"}', "'type' must be one of"),
        ('{"question": "q", "answer": "1", "type": "choice", "choices": "AB"}', "'choices'"),
    ],
)
def test_bad_jsonl_names_the_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(line + "\n")
    with pytest.raises(InvalidInputError, match=message):
        load_suite(str(path), n=None, seed=0)


def test_unknown_suites_duplicates_and_bad_n(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="unknown suite 'mmlu'"):
        load_suite("mmlu", n=None, seed=0)
    path = tmp_path / "dup.jsonl"
    row = json.dumps({"id": "a", "question": "q", "answer": "1", "type": "number"})
    path.write_text(f"{row}\n{row}\n")
    with pytest.raises(InvalidInputError, match="line 2: duplicate id 'a'"):
        load_suite(str(path), n=None, seed=0)
    with pytest.raises(InvalidInputError, match="--n must be at least 1"):
        load_suite("arith", n=0, seed=0)
