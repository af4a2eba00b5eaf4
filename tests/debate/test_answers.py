"""Reading agents' replies: the formats they are asked for, and everything else they return."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aragora.debate import answers
from aragora.debate.answers import (
    DEFAULT_CONFIDENCE,
    DEFAULT_SCORE,
    MAX_ANSWER_CHARS,
    ParsedAnswer,
    ParsedCritique,
    ParsedVote,
    format_answer,
    format_critique,
    format_vote,
    parse_answer,
    parse_critique,
    parse_vote,
)

ANSWER_FORMAT_PROBLEM = "reply did not follow the ANSWER/CONFIDENCE/REASONING format"
VOTE_FORMAT_PROBLEM = "reply did not follow the CHOICE/CONFIDENCE/REASONING format"

# Pieces models really produce, so generated replies look like near-misses of the formats.
FRAGMENTS = [
    *("ANSWER:", "Answer", "**Answer:**", "## Answer", "CONFIDENCE:", "confidence", "REASONING:"),
    *("CRITIQUE:", "SCORE:", "CHOICE:", "Option", "#", "option #", "VOTE:", "final answer"),
    *("0.8", "80%", "8/10", "80/100", "high", "NaN", "inf", "1e999", "-3", "150%", "0/0", "2."),
    *("42", "99999999999999999999", "yes", "no", "PostgreSQL", "```", "```json", "{", "}", "["),
    *('"answer":', '"confidence":', '"choice":', ":", "**", "__", "`", "*", "-", ">", "\n"),
    *("\n\n", " ", "\t", "\r\n", "<think>", "</think>", "\u2028", "\x00", "é", "İ", "ſ", "K"),
]
replies = st.one_of(
    st.text(),
    st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=5), max_size=30).map("".join),
)
line_text = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9 ,.'()-]{0,60}", fullmatch=True)


def test_public_api_is_pinned() -> None:
    assert sorted(answers.__all__) == sorted(
        [
            "DEFAULT_CONFIDENCE",
            "DEFAULT_SCORE",
            "MAX_ANSWER_CHARS",
            "ParsedAnswer",
            "ParsedCritique",
            "ParsedVote",
            "format_answer",
            "format_critique",
            "format_vote",
            "parse_answer",
            "parse_critique",
            "parse_vote",
        ]
    )


# --- the formats round-trip -----------------------------------------------------------------


@given(line_text, st.floats(0, 1), line_text)
def test_a_formatted_answer_parses_back(answer: str, confidence: float, reasoning: str) -> None:
    parsed = parse_answer(format_answer(answer, confidence, reasoning))
    assert parsed == ParsedAnswer(answer.strip(), round(confidence, 2), reasoning.strip())


@given(line_text, st.floats(0, 1))
def test_a_formatted_critique_parses_back(content: str, score: float) -> None:
    parsed = parse_critique(format_critique(content, score))
    assert parsed == ParsedCritique(content.strip(), round(score, 2))


@given(st.integers(1, 9), st.integers(0, 9), st.floats(0, 1), line_text)
def test_a_formatted_vote_parses_back(
    number: int, extra: int, confidence: float, reasoning: str
) -> None:
    count = number + extra
    parsed = parse_vote(format_vote(number, confidence, reasoning), count)
    assert parsed == ParsedVote(number - 1, str(number), round(confidence, 2), reasoning.strip())


# --- parse_answer: tolerance ----------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "ANSWER: Paris\nCONFIDENCE: 0.9\nREASONING: It is the capital.",
        "answer: Paris\nconfidence: 0.9\nreasoning: It is the capital.",
        "**Answer:** Paris\n**Confidence:** 0.9\n**Reasoning:** It is the capital.",
        "**Answer**: Paris\n**Confidence**: 90%\n**Reasoning**: It is the capital.",
        "## Answer\nParis\n\n## Confidence\n0.9\n\n## Reasoning\nIt is the capital.",
        "## Answer\n\nParis\n## Confidence\n9/10\n## Reasoning\n\nIt is the capital.",
        "Sure, here you go.\n\nANSWER: Paris\nCONFIDENCE: 0.9\nREASONING: It is the capital.",
        "```\nANSWER: Paris\nCONFIDENCE: 0.9\nREASONING: It is the capital.\n```",
        "- ANSWER: Paris\n- CONFIDENCE: 0.9\n- REASONING: It is the capital.",
        "ANSWER: Paris CONFIDENCE: 0.9 REASONING: It is the capital.",
        "Final answer: Paris\nConfidence level: 90/100\nRationale: It is the capital.",
        "ANSWER: `Paris`\r\nCONFIDENCE: 0.90\r\nREASONING: It is the capital.\r\n",
        '{"answer": "Paris", "confidence": 0.9, "reasoning": "It is the capital."}',
        '```json\n{"Answer": "Paris", "Confidence": "90%", "Reasoning": "It is the capital."}\n```',
        'Here is JSON: {"answer": "Paris", "confidence": "0.9", "reasoning": "It is the capital."}',
        "<think>Maybe ANSWER: Lyon?</think>\nANSWER: Paris\nCONFIDENCE: 0.9\n"
        "REASONING: It is the capital.",
    ],
)
def test_answer_formats_models_actually_use(text: str) -> None:
    parsed = parse_answer(text)
    assert parsed.answer == "Paris"
    assert parsed.confidence == pytest.approx(0.9)
    assert parsed.reasoning == "It is the capital."
    assert parsed.problems == ()


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("0.8", 0.8),
        ("0.80.", 0.8),
        (".8", 0.8),
        ("80%", 0.8),
        ("80 %", 0.8),
        ("80/100", 0.8),
        ("8/10", 0.8),
        ("4 out of 5", 0.8),
        ("8", 0.8),
        ("80", 0.8),
        ("1", 1.0),
        ("0", 0.0),
        ("about 0.8, fairly sure", 0.8),
        ("high", 0.85),
        ("High (I am fairly sure)", 0.85),
        ("medium", 0.6),
        ("moderate", 0.6),
        ("LOW", 0.35),
        ("very high", 0.95),
        ("very low", 0.15),
    ],
)
def test_confidence_in_the_ways_models_write_it(written: str, expected: float) -> None:
    parsed = parse_answer(f"ANSWER: x\nCONFIDENCE: {written}\nREASONING: r")
    assert parsed.confidence == pytest.approx(expected)
    assert parsed.problems == ()


@pytest.mark.parametrize(
    ("written", "expected"),
    [("150%", 1.0), ("-0.5", 0.0), ("250", 1.0), ("12/10", 1.0), ("1e5", 1.0)],
)
def test_out_of_range_confidence_is_clamped_with_a_problem(written: str, expected: float) -> None:
    parsed = parse_answer(f"ANSWER: x\nCONFIDENCE: {written}")
    assert parsed.confidence == expected
    assert any("out of range" in problem for problem in parsed.problems)


@pytest.mark.parametrize("written", ["NaN", "inf", "-Infinity", "1e999", "8/0", "sure", "????"])
def test_unreadable_confidence_means_the_default_with_a_problem(written: str) -> None:
    parsed = parse_answer(f"ANSWER: x\nCONFIDENCE: {written}")
    assert parsed.confidence == DEFAULT_CONFIDENCE
    assert any("not understood" in problem for problem in parsed.problems)


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "true", "null", '"?"', "[1]"])
def test_unreadable_json_confidence_means_the_default(value: str) -> None:
    parsed = parse_answer(f'{{"answer": "x", "confidence": {value}}}')
    assert parsed.answer == "x"
    assert parsed.confidence == DEFAULT_CONFIDENCE
    assert parsed.problems


def test_json_confidence_may_be_a_number_on_any_scale() -> None:
    assert parse_answer('{"answer": "x", "confidence": 85}').confidence == pytest.approx(0.85)
    assert parse_answer('{"answer": "x", "confidence": 0.3}').confidence == pytest.approx(0.3)


def test_json_answer_values_that_are_not_strings_become_text() -> None:
    assert parse_answer('{"answer": 42}').answer == "42"
    assert parse_answer('{"answer": true}').answer == "true"
    assert parse_answer('{"answer": ["a", "b"]}').answer == '["a", "b"]'


def test_missing_confidence_means_the_default_with_a_problem() -> None:
    parsed = parse_answer("ANSWER: Paris\nREASONING: capital")
    assert (parsed.answer, parsed.confidence) == ("Paris", DEFAULT_CONFIDENCE)
    assert parsed.problems == ("no confidence given; using 0.5",)


def test_confidence_mentioned_in_prose_counts_without_a_label() -> None:
    parsed = parse_answer("Paris, I think (confidence: 70%).")
    assert parsed.confidence == pytest.approx(0.7)
    assert parsed.problems == (ANSWER_FORMAT_PROBLEM,)


def test_without_an_answer_label_the_first_meaningful_line_is_the_answer() -> None:
    parsed = parse_answer("Here is my answer:\n\n**Paris** is the capital.\nIt has been since 987.")
    assert parsed.answer == "Paris** is the capital."
    assert parsed.reasoning == "It has been since 987."
    assert ANSWER_FORMAT_PROBLEM in parsed.problems


def test_fallback_answer_drops_list_and_heading_markers() -> None:
    assert parse_answer("# Use PostgreSQL\nbecause").answer == "Use PostgreSQL"
    assert parse_answer("---\n- 1. Use PostgreSQL").answer == "Use PostgreSQL"
    assert parse_answer("-5 degrees").answer == "-5 degrees"


def test_fallback_answer_is_shortened_to_about_300_characters() -> None:
    parsed = parse_answer("word " * 200)
    assert len(parsed.answer) <= 301
    assert parsed.answer.endswith("…")


def test_a_long_labelled_answer_is_shortened_with_a_problem() -> None:
    parsed = parse_answer("ANSWER: " + "a" * (MAX_ANSWER_CHARS + 50) + "\nCONFIDENCE: 0.5")
    assert len(parsed.answer) == MAX_ANSWER_CHARS + 1
    assert any("shortened" in problem for problem in parsed.problems)


@pytest.mark.parametrize("text", ["", " ", "\n\n\t ", "\r\n", "<think></think>"])
def test_blank_reply_is_an_empty_answer(text: str) -> None:
    assert parse_answer(text) == ParsedAnswer(
        "", DEFAULT_CONFIDENCE, "", ("empty reply",), labelled=False
    )


@pytest.mark.parametrize("text", ["---\n***\n", "```\n```", "ANSWER:\nCONFIDENCE: 0.3"])
def test_a_reply_with_no_usable_answer_says_so(text: str) -> None:
    parsed = parse_answer(text)
    assert parsed.answer == ""
    assert "reply held no usable answer" in parsed.problems


def test_answer_on_the_line_after_its_label() -> None:
    parsed = parse_answer("ANSWER:\n\nParis\nCONFIDENCE: 0.9")
    assert parsed.answer == "Paris"


def test_the_answer_is_one_line_and_what_follows_it_is_reasoning_if_none_is_labelled() -> None:
    parsed = parse_answer("ANSWER: Paris\nThe capital since 987.\nCONFIDENCE: 0.9\nand famous.")
    assert parsed.answer == "Paris"
    assert parsed.reasoning == "The capital since 987.\n\nand famous."


def test_prose_mentioning_labels_mid_line_does_not_cut_the_reasoning() -> None:
    text = "ANSWER: yes\nCONFIDENCE: 0.7\nREASONING: the short answer: it depends, but yes."
    assert parse_answer(text).reasoning == "the short answer: it depends, but yes."


def test_the_first_non_empty_answer_wins_over_a_repeated_label() -> None:
    parsed = parse_answer("ANSWER:\nANSWER: Paris\nCONFIDENCE: 0.9\nANSWER: Lyon")
    assert parsed.answer == "Paris"


def test_reasoning_falls_back_to_the_rest_of_the_text() -> None:
    parsed = parse_answer("Preamble.\nANSWER: Paris\nCONFIDENCE: 0.9\nBecause it is.")
    assert parsed.reasoning == "Preamble.\n\nBecause it is."


def test_only_thinking_is_still_read() -> None:
    assert parse_answer("<think>ANSWER: Paris</think>").answer == "Paris"


def test_an_unclosed_think_tag_is_kept_as_text() -> None:
    assert parse_answer("<think>\nANSWER: Paris").answer == "Paris"


# --- parse_critique ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "CRITIQUE: Agent A ignores cost.\nAgent B is right.\nSCORE: 0.6",
        "**Critique:**\nAgent A ignores cost.\nAgent B is right.\n\n**Score:** 6/10",
        '{"critique": "Agent A ignores cost.\\nAgent B is right.", "score": "60%"}',
        '```json\n{"content": "Agent A ignores cost.\\nAgent B is right.", "score": 0.6}\n```',
    ],
)
def test_critique_formats(text: str) -> None:
    parsed = parse_critique(text)
    assert parsed.content == "Agent A ignores cost.\nAgent B is right."
    assert parsed.score == pytest.approx(0.6)
    assert parsed.problems == ()


def test_an_unlabelled_critique_is_the_whole_reply_but_the_score() -> None:
    parsed = parse_critique("Agent A ignores cost.\nScore: 0.4\nOtherwise fine.")
    assert parsed.content == "Agent A ignores cost.\n\nOtherwise fine."
    assert parsed.score == pytest.approx(0.4)
    assert parsed.problems == ("reply did not follow the CRITIQUE/SCORE format",)


def test_a_critique_without_score_gets_the_default() -> None:
    parsed = parse_critique("CRITIQUE: fine")
    assert (parsed.content, parsed.score) == ("fine", DEFAULT_SCORE)
    assert parsed.problems == ("no score given; using 0.5",)


def test_an_empty_critique_section_falls_back_to_the_rest() -> None:
    parsed = parse_critique("CRITIQUE:\nSCORE: 0.2\nAgent A is wrong.")
    assert parsed.content == "Agent A is wrong."
    assert parsed.score == pytest.approx(0.2)
    assert parsed.problems == ("the CRITIQUE section was empty",)


def test_an_empty_critique() -> None:
    assert parse_critique(" \n") == ParsedCritique("", DEFAULT_SCORE, ("empty reply",))


# --- parse_vote -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "choice",
    ["2", "2.", "Option 2", "option #2", "#2", "**2**", "(2)", "Option 2: SQLite", "No. 2", "2)"],
)
def test_choice_numbers_in_many_styles(choice: str) -> None:
    parsed = parse_vote(f"CHOICE: {choice}\nCONFIDENCE: 0.7\nREASONING: r", 3)
    assert parsed.option == 1
    assert parsed.problems == ()


@pytest.mark.parametrize(
    "text",
    [
        "**Choice:** 2\n**Confidence:** 70%\n**Reasoning:** r",
        "## Vote\n2\n## Confidence\n0.7\n## Reasoning\nr",
        "ANSWER: 2\nCONFIDENCE: 0.7\nREASONING: r",
        '{"choice": 2, "confidence": 0.7, "reasoning": "r"}',
        '```json\n{"option": "Option 2", "confidence": "70%", "reasoning": "r"}\n```',
    ],
)
def test_vote_formats(text: str) -> None:
    parsed = parse_vote(text, 3)
    assert (parsed.option, parsed.reasoning) == (1, "r")
    assert parsed.confidence == pytest.approx(0.7)
    assert parsed.problems == ()


@pytest.mark.parametrize("choice", ["0", "4", "Option 17", "-1"])
def test_out_of_range_choice_is_no_option_with_a_problem(choice: str) -> None:
    parsed = parse_vote(f"CHOICE: {choice}\nCONFIDENCE: 0.5", 3)
    assert parsed.option is None
    assert parsed.raw_choice == choice
    assert len(parsed.problems) == 1


def test_a_huge_choice_number_is_no_option() -> None:
    parsed = parse_vote("CHOICE: " + "9" * 5000 + "\nCONFIDENCE: 0.5", 3)
    assert parsed.option is None


def test_choice_text_is_matched_against_the_options() -> None:
    options = ["SQLite", "PostgreSQL", "Use PostgreSQL with read replicas"]
    assert parse_vote("CHOICE: postgresql.", 3, options).option == 1
    assert parse_vote("CHOICE: **The PostgreSQL**", 3, options).option == 1
    assert parse_vote("CHOICE: I pick Use PostgreSQL with read replicas!", 3, options).option == 2
    assert parse_vote("CHOICE: sqlite, clearly", 3, options).option == 0


def test_choice_text_contained_in_one_option_picks_it() -> None:
    parsed = parse_vote("CHOICE: replicas", 3, ["SQLite", "PostgreSQL", "PostgreSQL + replicas"])
    assert parsed.option == 2


def test_choice_text_matching_two_options_is_ambiguous() -> None:
    parsed = parse_vote("CHOICE: SQLite or PostgreSQL", 2, ["SQLite", "PostgreSQL"])
    assert parsed.option is None
    assert parsed.problems[-1] == "choice 'SQLite or PostgreSQL' matches more than one option"


def test_text_matching_uses_whole_words() -> None:
    parsed = parse_vote("CHOICE: SQL\nCONFIDENCE: 0.5", 2, ["PostgreSQL", "SQLite"])
    assert (parsed.option, parsed.raw_choice) == (None, "SQL")
    assert parsed.problems == ("choice 'SQL' names none of the options",)


def test_a_number_within_range_wins_over_option_text() -> None:
    assert parse_vote("CHOICE: 2\nCONFIDENCE: 1", 2, ["2", "1"]).option == 1


def test_an_out_of_range_number_that_is_an_option_text_picks_that_option() -> None:
    assert parse_vote("CHOICE: 2020\nCONFIDENCE: 1", 3, ["2019", "2020", "2021"]).option == 1


def test_options_beyond_option_count_are_ignored() -> None:
    assert parse_vote("CHOICE: SQLite\nCONFIDENCE: 1", 1, ["PostgreSQL", "SQLite"]).option is None


def test_an_unlabelled_vote_is_read_from_its_prose() -> None:
    parsed = parse_vote("After weighing them all,\nI vote for Option 3 because it is cheap.", 3)
    assert parsed.option == 2
    assert VOTE_FORMAT_PROBLEM in parsed.problems
    parsed = parse_vote("Let me think.\nOption 2 is the best.", 3)
    assert (parsed.option, parsed.raw_choice) == (1, "Option 2")


def test_an_unlabelled_vote_naming_an_option_by_text() -> None:
    parsed = parse_vote("PostgreSQL, without doubt.", 2, ["SQLite", "PostgreSQL"])
    assert parsed.option == 1
    assert parsed.raw_choice == "PostgreSQL, without doubt."


def test_no_options_offered() -> None:
    parsed = parse_vote("CHOICE: 1\nCONFIDENCE: 0.5", 0)
    assert parsed.option is None
    assert parsed.problems == ("no options were offered",)


def test_an_empty_vote() -> None:
    assert parse_vote("", 3) == ParsedVote(None, "", DEFAULT_CONFIDENCE, "", ("empty reply",))


def test_an_empty_choice_falls_back_to_the_text() -> None:
    parsed = parse_vote("CHOICE:\nCONFIDENCE: 0.5\nREASONING: undecided", 2)
    assert (parsed.option, parsed.raw_choice) == (None, "undecided")
    assert parsed.problems == (
        "the CHOICE line was empty",
        "choice 'undecided' names none of the options",
    )


def test_a_vote_naming_nothing() -> None:
    parsed = parse_vote("CHOICE:\n\n", 2)
    assert (parsed.option, parsed.raw_choice) == (None, "")
    assert parsed.problems[-1] == "reply named no option"


# --- never raise ----------------------------------------------------------------------------

ADVERSARIAL = [
    "{" * 100_000,
    "[" * 100_000 + "]" * 100_000,
    '{"answer": ' + "[" * 50_000 + "]" * 50_000 + "}",
    '{"answer": ' + "1" * 5000 + "}",
    '{"answer": "x", "confidence": ' + "9" * 400 + "}",
    '{"choice": ' + "9" * 5000 + "}",
    '{"answer": 1e999, "confidence": -1e999, "choice": NaN}',
    "CONFIDENCE: " + "9" * 100_000,
    "CHOICE: " + "9" * 100_000,
    "*" * 100_000,
    "#" * 50_000 + " Answer",
    "ANSWER:" * 20_000,
    "ANSWER: \n" * 20_000,
    "```" * 20_000,
    "```\n" * 20_000,
    "<think>" * 20_000,
    "<think></think>" * 20_000,
    "a" * 200_000,
    " " * 100_000 + "x",
    "\n" * 100_000,
    "\x00\x01\x02\ud800\udfff\ufeff\u202e",
    "ANSWER: \ud800\nCONFIDENCE: \udfff",
    "İ" * 1000 + "\nconfİdence: 1",
    "option " * 20_000 + "1",
    "confidence " * 20_000 + ": 1",
    "1" + ".1" * 20_000,
    "8" + "/8" * 20_000,
]


@pytest.mark.parametrize("text", ADVERSARIAL, ids=range(len(ADVERSARIAL)))
def test_adversarial_replies_do_not_raise(text: str) -> None:
    _check_answer(parse_answer(text))
    _check_critique(parse_critique(text))
    _check_vote(parse_vote(text, 3, ["a", "b", text]), 3)


@settings(max_examples=300)
@given(replies)
def test_parse_answer_never_raises(text: str) -> None:
    _check_answer(parse_answer(text))


@settings(max_examples=300)
@given(replies)
def test_parse_critique_never_raises(text: str) -> None:
    _check_critique(parse_critique(text))


@settings(max_examples=300)
@given(replies, st.integers(-3, 12), st.lists(st.text(max_size=30) | replies, max_size=12))
def test_parse_vote_never_raises(text: str, option_count: int, options: list[str]) -> None:
    _check_vote(parse_vote(text, option_count, options), option_count)


def _check_fraction(value: float) -> None:
    assert isinstance(value, float)
    assert math.isfinite(value)
    assert 0.0 <= value <= 1.0


def _check_problems(problems: tuple[str, ...]) -> None:
    assert isinstance(problems, tuple)
    assert all(isinstance(problem, str) and problem for problem in problems)


def _check_answer(parsed: ParsedAnswer) -> None:
    assert isinstance(parsed.answer, str)
    assert isinstance(parsed.reasoning, str)
    assert len(parsed.answer) <= MAX_ANSWER_CHARS + 1
    _check_fraction(parsed.confidence)
    _check_problems(parsed.problems)
    if not parsed.answer:
        assert parsed.problems


def _check_critique(parsed: ParsedCritique) -> None:
    assert isinstance(parsed.content, str)
    _check_fraction(parsed.score)
    _check_problems(parsed.problems)


def _check_vote(parsed: ParsedVote, option_count: int) -> None:
    assert parsed.option is None or 0 <= parsed.option < option_count
    assert isinstance(parsed.raw_choice, str)
    assert isinstance(parsed.reasoning, str)
    _check_fraction(parsed.confidence)
    _check_problems(parsed.problems)
    if parsed.option is None:
        assert parsed.problems
