"""Prompt templates (data files in ``prompts/``) rendered into requests for each phase.

Templates use ``string.Template`` placeholders (``$task``), compiled once; a missing,
unknown or malformed placeholder is an error when the book is loaded, not mid-debate.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from importlib import resources
from string import Template
from typing import NamedTuple

__all__ = ["PromptBook", "Shown"]

PHASES = ("system", "propose", "critique", "revise", "vote", "judge")
_REQUIRED: Mapping[str, frozenset[str]] = {
    "system": frozenset({"label"}),
    "propose": frozenset({"task", "context"}),
    "critique": frozenset({"task", "context", "own_answer", "others"}),
    "revise": frozenset(
        {"task", "context", "own_answer", "own_reasoning", "others", "critiques", "label"}
    ),
    "vote": frozenset({"task", "context", "options", "own_answer"}),
    "judge": frozenset({"task", "context", "options"}),
}
NO_ANSWER = "(you have not given an answer yet)"


class Shown(NamedTuple):
    """One item shown to an agent: its anonymised label and its text."""

    label: str
    text: str


class PromptBook:
    """Renders the prompts for every phase from a set of templates."""

    def __init__(self, templates: Mapping[str, str]) -> None:
        missing = [name for name in PHASES if name not in templates]
        if missing:
            raise ValueError(f"prompt templates missing: {', '.join(missing)}")
        self._templates: dict[str, tuple[tuple[str, str | None], ...]] = {}
        for name in PHASES:
            self._templates[name] = _compile(name, templates[name])
        self._systems: dict[str, str] = {}
        self._instructions = {
            name: "\n".join(literal for literal, _ in self._templates[name]) for name in PHASES
        }

    @classmethod
    def default(cls) -> PromptBook:
        """The book shipped in ``aragora/debate/prompts/``: one instance per process, read
        and compiled on first use (package data does not change while the process runs)."""
        return _shipped_book()

    def system(self, label: str) -> str:
        # The system prompt depends only on the label, and is asked for on every call.
        text = self._systems.get(label)
        if text is None:
            text = self._systems[label] = self._render("system", label=label)
        return text

    def instructions(self, phase: str) -> str:
        """The words this book itself writes into a ``phase`` prompt and the system prompt
        (the templates without their placeholders): what an agent must not hand back as
        its answer."""
        return f"{self._instructions['system']}\n{self._instructions[phase]}"

    def propose(self, task: str, context: str) -> str:
        return self._render("propose", task=task, context=_context(context))

    def critique(self, task: str, context: str, own_answer: str, others: Sequence[Shown]) -> str:
        return self._render(
            "critique",
            task=task,
            context=_context(context),
            own_answer=own_answer or NO_ANSWER,
            others=_listing(others),
        )

    def revise(
        self,
        task: str,
        context: str,
        *,
        label: str,
        own_answer: str,
        own_reasoning: str,
        others: Sequence[Shown],
        critiques: Sequence[Shown],
    ) -> str:
        return self._render(
            "revise",
            task=task,
            context=_context(context),
            label=label,
            own_answer=own_answer or NO_ANSWER,
            own_reasoning=own_reasoning or "(none given)",
            others=_listing(others),
            critiques=_listing(critiques) if critiques else "(no critiques this round)",
        )

    def vote(self, task: str, context: str, options: Sequence[Shown], own_answer: str) -> str:
        return self._render(
            "vote",
            task=task,
            context=_context(context),
            options=_listing(options),
            own_answer=own_answer or NO_ANSWER,
        )

    def judge(self, task: str, context: str, options: Sequence[Shown]) -> str:
        return self._render(
            "judge", task=task, context=_context(context), options=_listing(options)
        )

    def _render(self, name: str, **values: str) -> str:
        return "".join(
            literal + values[field] if field else literal
            for literal, field in self._templates[name]
        )


@functools.cache
def _shipped_book() -> PromptBook:
    folder = resources.files("aragora.debate").joinpath("prompts")
    return PromptBook({name: folder.joinpath(f"{name}.txt").read_text("utf-8") for name in PHASES})


def _compile(name: str, text: str) -> tuple[tuple[str, str | None], ...]:
    """Split a template into (literal, placeholder) parts once, checking that it uses
    exactly the placeholders its phase provides (``$$`` is a literal ``$``)."""
    parts: list[tuple[str, str | None]] = []
    used: set[str] = set()
    literal, position = "", 0
    for match in Template.pattern.finditer(text):
        literal += text[position : match.start()]
        position = match.end()
        if match["escaped"] is not None:
            literal += "$"
            continue
        field = match["named"] or match["braced"]
        if field is None:
            raise ValueError(f"prompt {name!r} has a malformed placeholder near {position}")
        parts.append((literal, field))
        used.add(field)
        literal = ""
    parts.append((literal + text[position:], None))
    absent = _REQUIRED[name] - used
    if absent:
        raise ValueError(f"prompt {name!r} lacks placeholders: {', '.join(sorted(absent))}")
    unknown = used - _REQUIRED[name]
    if unknown:
        raise ValueError(f"prompt {name!r} has unknown placeholders: {', '.join(sorted(unknown))}")
    return tuple(parts)


def _context(context: str) -> str:
    return f"\nBackground:\n{context.strip()}\n" if context.strip() else ""


def _listing(items: Sequence[Shown]) -> str:
    if not items:
        return "(none)"
    return "\n".join(f"{item.label}: {_indent(item.text)}" for item in items)


def _indent(text: str) -> str:
    return text.strip().replace("\n", "\n    ")
