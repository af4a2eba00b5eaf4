"""The prompt book: the shipped templates load, render completely, and stay anonymous."""

from __future__ import annotations

import re

import pytest

from aragora.debate.calls import CallBuilder
from aragora.debate.convergence import lexical_similarity
from aragora.debate.events import Event, EventType
from aragora.debate.model import Participant, Task
from aragora.debate.planner import Calls, Planner
from aragora.debate.prompting import NO_ANSWER, PHASES, PromptBook, Shown
from aragora.debate.protocol import DebateProtocol, Mode
from aragora.debate.state import DebateSetup, fold

PLACEHOLDER = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*|\{)")
BOOK = PromptBook.default()
OTHERS = [Shown("Agent B", "SQLite\n(reasoning: it is one file)"), Shown("Agent C", "DuckDB")]


def minimal_templates() -> dict[str, str]:
    """A valid set: each phase uses exactly its required placeholders."""
    return {
        "system": "You are $label.",
        "propose": "$task $context",
        "critique": "$task $context $own_answer $others",
        "revise": "$task $context $own_answer $own_reasoning $others $critiques $label",
        "vote": "$task $context $options $own_answer",
        "judge": "$task $context $options",
    }


def rendered() -> dict[str, str]:
    """Every phase rendered from the default book with typical values."""
    return {
        "system": BOOK.system("Agent A"),
        "propose": BOOK.propose("Which database?", "We are a team of three."),
        "critique": BOOK.critique("Which database?", "", "PostgreSQL", OTHERS),
        "revise": BOOK.revise(
            "Which database?",
            "We are a team of three.",
            label="Agent A",
            own_answer="PostgreSQL",
            own_reasoning="It scales.",
            others=OTHERS,
            critiques=[Shown("Agent B", "Agent A ignores cost.")],
        ),
        "vote": BOOK.vote(
            "Which database?",
            "",
            [Shown("Option 1", "SQLite"), Shown("Option 2", "PostgreSQL")],
            "PostgreSQL",
        ),
        "judge": BOOK.judge("Which database?", "", [Shown("Option 1", "SQLite")]),
    }


def test_the_default_book_loads() -> None:
    assert isinstance(PromptBook.default(), PromptBook)


def test_the_default_book_is_read_once_and_shared() -> None:
    # Every debate's engine asks for it; the files are read and compiled only the first time.
    assert PromptBook.default() is PromptBook.default()


@pytest.mark.parametrize("phase", PHASES)
def test_every_phase_renders_with_no_leftover_placeholders(phase: str) -> None:
    text = rendered()[phase]
    assert text.strip()
    assert PLACEHOLDER.search(text) is None, text


def test_the_task_and_context_appear_in_every_task_prompt() -> None:
    prompts = rendered()
    for phase in ("propose", "critique", "revise", "vote", "judge"):
        assert "Which database?" in prompts[phase]
    assert "Background:\nWe are a team of three." in prompts["propose"]
    assert "Background:" not in prompts["critique"]


def test_user_text_that_looks_like_a_placeholder_is_left_alone() -> None:
    text = BOOK.propose("Is $others a variable? Costs $5.", "$task")
    assert "Is $others a variable? Costs $5." in text
    assert "Background:\n$task" in text


def test_system_prompt_names_the_agent_by_its_label() -> None:
    assert "Agent A" in BOOK.system("Agent A")


def test_listings_show_each_label_with_its_indented_text() -> None:
    text = BOOK.critique("Q?", "", "PostgreSQL", OTHERS)
    assert "Agent B: SQLite\n    (reasoning: it is one file)" in text
    assert "Agent C: DuckDB" in text
    assert "Your current answer: PostgreSQL" in text


def test_revise_shows_own_label_and_critiques() -> None:
    text = rendered()["revise"]
    assert "you are Agent A" in text
    assert "Agent B: Agent A ignores cost." in text
    assert "Your reasoning so far: It scales." in text


def test_revise_without_critiques_or_reasoning_says_so() -> None:
    text = BOOK.revise(
        "Q?", "", label="Agent A", own_answer="", own_reasoning="", others=[], critiques=[]
    )
    assert "(no critiques this round)" in text
    assert "(none given)" in text
    assert NO_ANSWER in text
    assert "(none)" in text


def test_vote_and_judge_list_numbered_options() -> None:
    prompts = rendered()
    assert "Option 1: SQLite" in prompts["vote"]
    assert "Option 2: PostgreSQL" in prompts["vote"]
    assert "Your own current answer: PostgreSQL" in prompts["vote"]
    assert "Option 1: SQLite" in prompts["judge"]


def test_a_vote_with_no_answer_of_ones_own_says_so() -> None:
    assert NO_ANSWER in BOOK.vote("Q?", "", [Shown("Option 1", "Yes")], "")


def test_a_complete_custom_book_loads() -> None:
    book = PromptBook(minimal_templates())
    assert book.system("Agent Q") == "You are Agent Q."


@pytest.mark.parametrize("phase", PHASES)
def test_a_template_missing_a_required_placeholder_is_rejected_at_load(phase: str) -> None:
    templates = minimal_templates()
    first = PLACEHOLDER.search(templates[phase])
    assert first is not None
    name = first.group()[1:]
    templates[phase] = templates[phase].replace(f"${name}", "", 1)
    with pytest.raises(ValueError, match=rf"prompt '{phase}' lacks placeholders: {name}"):
        PromptBook(templates)


def test_a_missing_template_is_rejected_at_load() -> None:
    templates = minimal_templates()
    del templates["judge"]
    with pytest.raises(ValueError, match="prompt templates missing: judge"):
        PromptBook(templates)


def test_prompts_built_by_the_planner_show_labels_not_names() -> None:
    names = ("alice", "bob", "carol")
    setup = DebateSetup(
        debate_id="d-1",
        task=Task("Which database?"),
        protocol=DebateProtocol(mode=Mode.DEBATE, rounds=1),
        panel=tuple(Participant(n, f"demo:{n}", "demo", n) for n in names),
        seed=3,
    )
    answers = {"alice": "PostgreSQL", "bob": "SQLite", "carol": "DuckDB"}
    events = [
        (EventType.DEBATE_START, setup.to_data()),
        (EventType.ROUND_START, {"round": 1}),
        (EventType.PHASE_CHANGE, {"phase": "propose", "round": 1}),
        *[
            (
                EventType.PROPOSE,
                {
                    "agent": name,
                    "phase": "propose",
                    "round_number": 1,
                    "answer": answer,
                    "confidence": 0.7,
                    "reasoning": f"{answer} is best",
                },
            )
            for name, answer in answers.items()
        ],
        (EventType.PHASE_CHANGE, {"phase": "critique", "round": 1}),
    ]
    state = fold(
        Event(str(kind), "d-1", seq, "2025-01-01T00:00:00+00:00", data=data)
        for seq, (kind, data) in enumerate(events, start=1)
    )
    step = Planner(CallBuilder(BOOK), lexical_similarity).next_step(state)
    assert isinstance(step, Calls)
    assert len(step.calls) == 3
    for call in step.calls:
        prompt = call.request.system + call.request.prompt
        assert re.search(r"\bAgent [ABC]\b", call.request.system)
        for name in names:
            assert name not in prompt
        own = answers[call.key.agent]
        others = [answer for name, answer in answers.items() if name != call.key.agent]
        assert f"Your current answer: {own}" in call.request.prompt
        for answer in others:
            assert re.search(rf"Agent [ABC]: {answer}", call.request.prompt)
