"""The parsers' fast path for exactly-formatted replies agrees with the tolerant reader."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from aragora.debate import answers
from aragora.debate.answers import format_answer, format_critique, format_vote

values = st.text(min_size=1, max_size=80)
fractions = st.sampled_from(["0", "1", "0.5", "0.75", "0.8", "1.0", "0.05", "0.1234", "1.0000"])


@settings(max_examples=500)
@given(answer=values, confidence=fractions, reasoning=values)
@example(answer="PostgreSQL", confidence="0.80", reasoning="It scales.")
@example(answer="Yes REASONING", confidence="0.5", reasoning="ANSWER no")
def test_answer_fast_path_matches_tolerant_reader(
    answer: str, confidence: str, reasoning: str
) -> None:
    text = f"ANSWER: {answer}\nCONFIDENCE: {confidence}\nREASONING: {reasoning}"
    assert answers.parse_answer(text) == answers._parse_answer_tolerant(text)


@settings(max_examples=300)
@given(content=values, score=fractions)
def test_critique_fast_path_matches_tolerant_reader(content: str, score: str) -> None:
    text = f"CRITIQUE: {content}\nSCORE: {score}"
    assert answers.parse_critique(text) == answers._parse_critique_tolerant(text)


@settings(max_examples=300)
@given(choice=st.integers(0, 1200), count=st.integers(0, 5), conf=fractions, reasoning=values)
def test_vote_fast_path_matches_tolerant_reader(
    choice: int, count: int, conf: str, reasoning: str
) -> None:
    text = f"CHOICE: {choice}\nCONFIDENCE: {conf}\nREASONING: {reasoning}"
    options = [f"option text {i}" for i in range(count)]
    fast = answers.parse_vote(text, count, options)
    assert fast == answers._parse_vote_tolerant(text, count, options)


def test_the_formats_we_ask_for_take_the_fast_path() -> None:
    assert answers._CANONICAL_ANSWER.fullmatch(format_answer("SQLite", 0.8, "Simple. Cheap."))
    assert answers._CANONICAL_CRITIQUE.fullmatch(format_critique("Agent A is vague.", 0.4))
    assert answers._CANONICAL_VOTE.fullmatch(format_vote(2, 0.7, "Option 2 is best."))
