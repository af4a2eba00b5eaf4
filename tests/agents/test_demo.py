"""The offline demo agents: determinism, plausible and varied answers, formats, streaming."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from collections import Counter

import pytest

from aragora.agents.demo import personas
from aragora.agents.demo.personas import PERSONAS, DemoLLM, persona_for, word_chunks
from aragora.agents.demo.questions import analyse
from aragora.debate.ports import LLM, CompletionRequest
from aragora.errors import InvalidInputError

STARTUP = "Should a five-person startup run PostgreSQL or SQLite?"
ANSWER_RE = re.compile(r"^ANSWER: (?P<answer>.+)\nCONFIDENCE: (?P<conf>[01]\.\d\d)\nREASONING: .+")
CRITIQUE_RE = re.compile(r"^CRITIQUE: \[demo \w+\] .+\nSCORE: [01]\.\d\d$")
VOTE_RE = re.compile(r"^CHOICE: (?P<choice>\d+)\nCONFIDENCE: [01]\.\d\d\nREASONING: .+")


def request(
    task: str,
    phase: str = "propose",
    *,
    choices: tuple[str, ...] = (),
    own: str | None = None,
    round_: int = 1,
) -> CompletionRequest:
    metadata = {"task": task, "agent": "someone", "round": str(round_)}
    if own is not None:
        metadata["own_answer"] = own
    return CompletionRequest(
        system="You are on a panel.",
        prompt=f"Task: {task}",
        phase=phase,
        choices=choices,
        metadata=metadata,
    )


def answer_of(text: str) -> str:
    match = ANSWER_RE.match(text)
    assert match, text
    return match["answer"]


def test_public_api() -> None:
    assert personas.__all__ == [
        "PERSONAS",
        "DemoLLM",
        "estimate_usage",
        "persona_for",
        "word_chunks",
    ]
    assert PERSONAS[:3] == ("pragmatist", "skeptic", "optimist")
    assert len(set(PERSONAS)) == len(PERSONAS) >= 5


def test_implements_the_llm_protocol() -> None:
    llm = DemoLLM("analyst")
    assert isinstance(llm, LLM)
    assert (llm.provider, llm.model) == ("demo", "analyst")


@pytest.mark.parametrize("persona", ["wizard", ""])
def test_unknown_persona_is_rejected(persona: str) -> None:
    with pytest.raises(InvalidInputError, match="pragmatist"):
        DemoLLM(persona)


@pytest.mark.parametrize("delay", [-1.0, float("nan"), float("inf")])
def test_bad_delay_is_rejected(delay: float) -> None:
    with pytest.raises(InvalidInputError):
        DemoLLM("skeptic", delay=delay)


def test_persona_for_is_stable() -> None:
    assert [persona_for(p) for p in PERSONAS] == list(PERSONAS)
    assert persona_for("Skeptic") == "skeptic"
    assert persona_for("alice") == persona_for("alice") in PERSONAS
    assert len({persona_for(name) for name in ("alice", "bob", "carol", "dave", "erin")}) > 1


# -- determinism -------------------------------------------------------------------------------


def test_same_request_same_reply_also_from_a_fresh_instance() -> None:
    for phase, choices in [("propose", ()), ("critique", ("SQLite",)), ("vote", ("A", "B"))]:
        req = request(STARTUP, phase, choices=choices, own="PostgreSQL")
        first = DemoLLM("contrarian", seed=7).reply(req)
        assert DemoLLM("contrarian", seed=7).reply(req) == first
        assert DemoLLM("contrarian", seed=7).reply(req) == first


def test_replies_do_not_depend_on_the_process_hash_seed() -> None:
    code = (
        "from aragora.agents.demo.personas import DemoLLM\n"
        "from aragora.debate.ports import CompletionRequest as R\n"
        f"req = R('', '', 'propose', metadata={{'task': {STARTUP!r}}})\n"
        "print(DemoLLM('analyst', seed=3).reply(req))"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
        ).stdout
        for hash_seed in ("1", "2")
    }
    local = DemoLLM("analyst", seed=3).reply(
        CompletionRequest("", "", "propose", metadata={"task": STARTUP})
    )
    assert outputs == {local + "\n"}


def test_seeds_vary_the_panel() -> None:
    panels = {
        tuple(answer_of(DemoLLM(p, seed=seed).reply(request(STARTUP))) for p in PERSONAS)
        for seed in range(20)
    }
    assert len(panels) > 3


# -- plausible, varied answers -----------------------------------------------------------------


def test_default_panel_disagrees_on_the_startup_question() -> None:
    answers = [answer_of(DemoLLM(p).reply(request(STARTUP))) for p in PERSONAS[:3]]
    assert set(answers) == {"PostgreSQL", "SQLite"}


@pytest.mark.parametrize(
    "task",
    [
        STARTUP,
        "Should we adopt Kubernetes?",
        "How can we reduce customer churn?",
        "Which is better for a CLI tool: Python, Go or Rust?",
        "Should we rewrite the backend in Go or keep it in Python?",
    ],
)
def test_default_panel_usually_disagrees_on_common_tasks(task: str) -> None:
    disagreements = sum(
        len({answer_of(DemoLLM(p, seed=seed).reply(request(task))) for p in PERSONAS[:3]}) > 1
        for seed in range(30)
    )
    assert disagreements >= 20


@pytest.mark.parametrize(
    ("task", "kind", "options"),
    [
        (STARTUP, "choice", ("PostgreSQL", "SQLite")),
        ("Tabs or spaces?", "choice", ("Tabs", "Spaces")),
        ("Which is better for a CLI tool: Python, Go or Rust?", "choice", ("Python", "Go", "Rust")),
        (
            "Should we rewrite the backend in Go or keep it in Python?",
            "choice",
            ("Rewrite the backend in Go", "Keep it in Python"),
        ),
        ("Should we adopt Kubernetes?", "yesno", ("Yes", "No", "It depends")),
        ("Should we do it or not?", "yesno", ("Yes", "No", "It depends")),
        ("What is 17 * 23?", "arithmetic", ("391", "392", "390", "401", "381")),
    ],
)
def test_questions_are_understood(task: str, kind: str, options: tuple[str, ...]) -> None:
    question = analyse(task)
    assert (question.kind, question.options) == (kind, options)


def test_open_questions_get_stances_built_from_the_key_phrase() -> None:
    question = analyse("How can we reduce customer churn?")
    assert question.kind == "open"
    assert question.topic == "customer churn"
    assert len(question.options) >= 3
    assert all("customer churn" in option for option in question.options)


@pytest.mark.parametrize(
    ("task", "value"),
    [
        ("What is 17 * 23?", "391"),
        ("What is (2 + 3) * 4?", "20"),
        ("Calculate 2^10", "1024"),
        ("What is 7 divided by 2?", "3.5"),
        ("What's 12 x 12?", "144"),
        ("What is 5 - 8?", "-3"),
        ("What is 1 / 0?", "Undefined"),
    ],
)
def test_arithmetic_is_computed(task: str, value: str) -> None:
    assert analyse(task).value == value


@pytest.mark.parametrize(
    "task",
    [
        "What is __import__('os').system('echo hi')?",
        "What is 9 ** 9 ** 9?",
        "What is 10**100000?",
        "What is 2024?",
        "Is a 10-15 minute standup too long?",
    ],
)
def test_not_arithmetic_or_too_big_is_never_evaluated(task: str) -> None:
    assert analyse(task).kind != "arithmetic"


def test_arithmetic_is_right_for_most_personas() -> None:
    answers = [
        answer_of(DemoLLM(p, seed=seed).reply(request("What is 17 * 23?")))
        for p in PERSONAS
        for seed in range(20)
    ]
    assert Counter(answers)["391"] >= 0.8 * len(answers)
    assert all(
        answer_of(DemoLLM("analyst", seed=seed).reply(request("What is 17 * 23?"))) == "391"
        for seed in range(20)
    )


# -- reply formats, per phase ------------------------------------------------------------------


@pytest.mark.parametrize("persona", PERSONAS)
def test_propose_uses_the_answer_format_and_says_it_is_a_demo(persona: str) -> None:
    text = DemoLLM(persona).reply(request(STARTUP))
    match = ANSWER_RE.match(text)
    assert match, text
    assert match["answer"] in {"PostgreSQL", "SQLite"}
    assert 0 < float(match["conf"]) < 1
    reasoning = text.split("REASONING: ", 1)[1]
    assert reasoning.startswith(f"[demo {persona}] ")
    assert "five-person startup" in reasoning
    assert 2 <= reasoning.count(". ") + 1 <= 5


def test_confidence_differs_by_persona() -> None:
    def confidence(persona: str) -> float:
        match = ANSWER_RE.match(DemoLLM(persona).reply(request("Should we adopt Kubernetes?")))
        assert match
        return float(match["conf"])

    assert confidence("optimist") > confidence("skeptic")


def test_critique_names_the_agents_and_their_answers() -> None:
    text = DemoLLM("skeptic").reply(
        request(STARTUP, "critique", choices=("PostgreSQL", "SQLite"), own="SQLite")
    )
    assert CRITIQUE_RE.match(text), text
    assert "Agent A" in text
    assert "'PostgreSQL'" in text
    assert "Agent B" in text


def test_critique_score_is_higher_when_the_others_agree() -> None:
    def score(choices: tuple[str, ...]) -> float:
        text = DemoLLM("analyst").reply(request(STARTUP, "critique", choices=choices, own="SQLite"))
        return float(text.rsplit("SCORE: ", 1)[1])

    assert score(("SQLite", "sqlite")) > score(("PostgreSQL", "PostgreSQL"))


def test_revise_sometimes_moves_to_the_majority() -> None:
    def moves(persona: str) -> int:
        return sum(
            answer_of(
                DemoLLM(persona, seed=seed).reply(
                    request(
                        STARTUP, "revise", choices=("SQLite", "SQLite"), own="PostgreSQL", round_=2
                    )
                )
            )
            == "SQLite"
            for seed in range(40)
        )

    assert 0 < moves("contrarian") < moves("pragmatist") < 40


def test_revise_keeps_a_majority_answer() -> None:
    for persona in PERSONAS:
        text = DemoLLM(persona).reply(
            request(STARTUP, "revise", choices=("SQLite", "PostgreSQL"), own="SQLite")
        )
        assert answer_of(text) == "SQLite"


def test_revise_corrects_arithmetic_slips() -> None:
    fixed = sum(
        answer_of(
            DemoLLM("optimist", seed=seed).reply(
                request("What is 17 * 23?", "revise", choices=("391", "391"), own="392")
            )
        )
        == "391"
        for seed in range(20)
    )
    assert fixed >= 15


@pytest.mark.parametrize("phase", ["vote", "judge"])
def test_vote_picks_the_option_matching_its_answer(phase: str) -> None:
    text = DemoLLM("pragmatist").reply(
        request(STARTUP, phase, choices=("PostgreSQL", "SQLite"), own="sqlite")
    )
    match = VOTE_RE.match(text)
    assert match, text
    assert match["choice"] == "2"


def test_vote_without_its_own_answer_picks_the_closest_option() -> None:
    text = DemoLLM("analyst").reply(
        request(
            "How can we reduce customer churn?",
            "judge",
            choices=("Hire more support staff", "Call customers who churned"),
            own="Call churned customers",
        )
    )
    assert text.startswith("CHOICE: 2\n")


# -- streaming and usage -----------------------------------------------------------------------


def test_word_chunks_concatenate_back() -> None:
    text = "ANSWER: Yes\nCONFIDENCE: 0.50\nREASONING: two  spaces "
    assert "".join(word_chunks(text)) == text
    assert word_chunks("") == []


async def test_streamed_chunks_concatenate_to_the_reply() -> None:
    chunks: list[str] = []
    completion = await DemoLLM("optimist").complete(request(STARTUP), chunks.append)
    assert len(chunks) > 5
    assert "".join(chunks) == completion.text == DemoLLM("optimist").reply(request(STARTUP))
    assert completion.model == "optimist"
    req = request(STARTUP)
    assert completion.usage.input_tokens == len(req.system + req.prompt) // 4
    assert completion.usage.output_tokens == len(completion.text) // 4
    assert completion.usage.cost_usd == 0.0


async def test_delay_zero_never_sleeps(monkeypatch: pytest.MonkeyPatch) -> None:
    async def forbidden(_: float) -> None:
        raise AssertionError("slept")

    monkeypatch.setattr(asyncio, "sleep", forbidden)
    await DemoLLM("skeptic", delay=0).complete(request(STARTUP))


async def test_delay_is_spread_over_the_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    pauses: list[float] = []

    async def record(seconds: float) -> None:
        pauses.append(seconds)

    monkeypatch.setattr(asyncio, "sleep", record)
    chunks: list[str] = []
    await DemoLLM("skeptic", delay=0.5).complete(request(STARTUP), chunks.append)
    assert len(pauses) == len(chunks) > 1
    assert sum(pauses) == pytest.approx(0.5)
