"""Evaluation suites: the questions, their right answers and how answers are compared.

- ``arith`` — generated from the seed: Du et al.'s (2023) ``a+b*c+d-e*f`` task, six
  integers drawn uniformly from 0..30;
- ``gsm8k`` — 250 fixed GSM8K test problems shipped in ``aragora/eval/data`` (MIT licence
  and attribution beside them);
- any JSONL file: one object a line with ``question``, ``answer`` and ``type`` (``number``,
  ``choice``, ``yes/no`` or ``exact``), optionally ``id`` and, for ``choice``, ``choices``
  (the option letters or texts; A..E by default).
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from aragora.errors import InvalidInputError

__all__ = ["ANSWER_TYPES", "SUITES", "Question", "load_suite"]

ANSWER_TYPES = ("number", "choice", "yesno", "exact")
_TYPE_ALIASES = {
    "yes/no": "yesno",
    "yes_no": "yesno",
    "boolean": "yesno",
    "multiple_choice": "choice",
}
SUITES = ("arith", "gsm8k")
DEFAULT_CHOICES = ("A", "B", "C", "D", "E")
_INSTRUCTIONS = {
    "number": "Give the final answer as a single number.",
    "choice": "Answer with the letter of one option.",
    "yesno": "Answer yes or no.",
    "exact": "Answer with the exact answer only.",
}


@dataclass(frozen=True, slots=True)
class Question:
    """One question: ``answer`` is the right one, ``kind`` one of :data:`ANSWER_TYPES`."""

    id: str
    question: str
    answer: str
    kind: str
    choices: tuple[str, ...] = ()

    @property
    def task(self) -> str:
        """The debate's task: the question and how to state the answer."""
        return f"{self.question.strip()}\n\n{_INSTRUCTIONS[self.kind]}"


def load_suite(name: str, *, n: int | None, seed: int) -> list[Question]:
    """The first ``n`` questions (all when ``None``) of the suite ``name`` or of the JSONL
    file at that path; :class:`InvalidInputError` naming the problem (and the line)."""
    if n is not None and n < 1:
        raise InvalidInputError(f"--n must be at least 1, got {n}")
    if name == "arith":
        return arith(n if n is not None else 100, seed=seed)
    if name == "gsm8k":
        text = resources.files("aragora.eval").joinpath("data/gsm8k.jsonl").read_text("utf-8")
        questions = parse_jsonl(text.splitlines(), source="gsm8k")
    else:
        path = Path(name)
        if not path.is_file():
            raise InvalidInputError(
                f"unknown suite {name!r}: expected {', '.join(SUITES)} or a .jsonl file"
            )
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInputError(f"cannot read {path}: {exc}") from exc
        questions = parse_jsonl(lines, source=str(path))
    return questions if n is None else questions[:n]


def arith(n: int, *, seed: int) -> list[Question]:
    """``n`` questions "What is the result of a+b*c+d-e*f?" with integers from 0..30."""
    rng = random.Random(f"arith:{seed}")
    questions = []
    for index in range(n):
        a, b, c, d, e, f = (rng.randint(0, 30) for _ in range(6))
        questions.append(
            Question(
                id=f"arith-{seed}-{index}",
                question=f"What is the result of {a}+{b}*{c}+{d}-{e}*{f}?",
                answer=str(a + b * c + d - e * f),
                kind="number",
            )
        )
    return questions


def parse_jsonl(lines: Sequence[str], *, source: str) -> list[Question]:
    """Questions from JSONL lines (blank lines skipped); ids default to ``<source>-<line>``
    and must be unique."""
    questions: list[Question] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{source} line {number}"
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise InvalidInputError(f"{where}: not JSON ({exc})") from None
        if not isinstance(row, dict):
            raise InvalidInputError(f"{where}: expected a JSON object")
        question = _question(row, where, default_id=f"{Path(source).stem}-{number}")
        if question.id in seen:
            raise InvalidInputError(f"{where}: duplicate id {question.id!r}")
        seen.add(question.id)
        questions.append(question)
    if not questions:
        raise InvalidInputError(f"{source}: no questions")
    return questions


def _question(row: dict[str, object], where: str, *, default_id: str) -> Question:
    text, answer = row.get("question"), row.get("answer")
    if not isinstance(text, str) or not text.strip():
        raise InvalidInputError(f"{where}: 'question' must be a non-empty string")
    if isinstance(answer, bool):
        answer = "yes" if answer else "no"
    if isinstance(answer, int | float):
        answer = f"{answer:g}" if isinstance(answer, float) else str(answer)
    if not isinstance(answer, str) or not answer.strip():
        raise InvalidInputError(f"{where}: 'answer' must be a non-empty string or number")
    raw_kind = row.get("type", row.get("answer_type"))
    kind = _TYPE_ALIASES.get(str(raw_kind).lower(), str(raw_kind).lower())
    if kind not in ANSWER_TYPES:
        raise InvalidInputError(
            f"{where}: 'type' must be one of number, choice, yes/no, exact; got {raw_kind!r}"
        )
    choices: tuple[str, ...] = ()
    if kind == "choice":
        given = row.get("choices")
        if given is None:
            choices = DEFAULT_CHOICES
        elif isinstance(given, list) and given and all(isinstance(c, str) for c in given):
            choices = tuple(str(c) for c in given)
        else:
            raise InvalidInputError(f"{where}: 'choices' must be a list of strings")
    identifier = row.get("id", default_id)
    if not isinstance(identifier, str | int) or not str(identifier).strip():
        raise InvalidInputError(f"{where}: 'id' must be a non-empty string")
    return Question(str(identifier), text.strip(), answer.strip(), kind, choices)
