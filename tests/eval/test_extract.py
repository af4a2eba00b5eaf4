"""Answer extraction per type, as verdicts of real and weak models read."""

from __future__ import annotations

import pytest

from aragora.errors import InvalidInputError
from aragora.eval.extract import extract, is_correct


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("18", "18"),
        ("$18", "18"),
        ("18.00", "18"),
        ("1,000", "1000"),
        ("-5", "-5"),
        ("0.50", "0.5"),
        ("forty-two", "42"),
        ("42 km", "42"),
        ("50%", "50"),
        ("The answer is 18.", "18"),
        ("She makes 9 * 2 = $18 every day, so 18 dollars", "18"),
        ("9 eggs a day.\n#### 72", "72"),
        ("no number here", None),
        ("", None),
        (None, None),
    ],
)
def test_numbers(text: str | None, key: str | None) -> None:
    assert extract(text, "number") == key


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("B", "B"),
        ("(c)", "C"),
        ("D)", "D"),
        ("Option A", "A"),
        ("The answer is E.", "E"),
        ("I think the answer is (b) because", "B"),
        ("Z", None),
        ("none of them", None),
    ],
)
def test_choices_by_letter(text: str, key: str | None) -> None:
    assert extract(text, "choice") == key


def test_choices_by_text_and_letter_of_text_options() -> None:
    options = ["London", "Paris", "Rome"]
    assert extract("Paris", "choice", options) == "B"
    assert extract("the Paris.", "choice", options) == "B"
    assert extract("C", "choice", options) == "C"
    assert extract("D", "choice", options) is None  # only three options
    assert is_correct("Option 2 is wrong; answer: B", "Paris", "choice", options)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("Yes", "yes"),
        ("NO — it is not prime", "no"),
        ("True.", "yes"),
        ("Nope", "no"),
        ("I would say yes", "yes"),
        ("Yes and no", None),
        ("It depends", None),
    ],
)
def test_yes_no(text: str, key: str | None) -> None:
    assert extract(text, "yesno") == key


def test_exact_answers_ignore_case_wrapping_and_articles() -> None:
    assert is_correct("**The Eiffel Tower.**", "eiffel tower", "exact")
    assert not is_correct("Big Ben", "eiffel tower", "exact")
    assert extract("  ", "exact") is None


def test_correctness_compares_keys_and_unknown_types_are_refused() -> None:
    assert is_correct("$1,000.00", "1000", "number")
    assert not is_correct("1001", "1000", "number")
    assert not is_correct(None, "1000", "number")
    with pytest.raises(InvalidInputError, match="unknown answer type 'float'"):
        extract("1", "float")
