"""The lexicon behind keys and positions: its data file and the word-level readings."""

from __future__ import annotations

from importlib import resources

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aragora.debate import lexicon as lexicon_module
from aragora.debate.lexicon import (
    canonical_decimal,
    lexicon,
    load_lexicon,
    negates,
    spelled_number,
    split_negation,
    stem,
)
from aragora.errors import SystemFailure

PACKAGED = resources.files("aragora.debate").joinpath("lexicon.toml").read_text("utf-8")


def test_public_api_is_pinned() -> None:
    assert sorted(lexicon_module.__all__) == sorted(
        [
            "Lexicon",
            "canonical_decimal",
            "lexicon",
            "load_lexicon",
            "negates",
            "spelled_number",
            "split_negation",
            "stem",
        ]
    )


def test_the_packaged_lexicon_loads_once() -> None:
    assert lexicon() is lexicon()
    assert lexicon() == load_lexicon(PACKAGED)


def test_negations_are_never_stopwords() -> None:
    words = lexicon()
    assert not (words.negators | words.negating_spellings) & words.stopwords
    assert "not" in words.negators


def test_opposites_go_both_ways() -> None:
    for word, opposites in lexicon().opposites.items():
        for other in opposites:
            assert word in lexicon().opposites[other]
    assert "decreas" in lexicon().opposites["increas"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("stopwords = [", "not valid TOML"),
        (PACKAGED.replace('stopwords = [\n    "a",', 'stopwords = [\n    "A",'), "'stopwords'"),
        (PACKAGED.replace("negators = [", "negators_ = ["), "'negators'"),
        (PACKAGED.replace('["accept", "reject"]', '["accept"]'), "pair of words"),
        (PACKAGED.replace('["accept", "reject"]', '["Accept", "reject"]'), "pair of words"),
        (PACKAGED.replace("opposites = [", "opposites_ = ["), "'opposites'"),
        (PACKAGED.replace("zero = 0", 'zero = "0"'), "[number_words]"),
        (PACKAGED.replace("zero = 0", "zero = true"), "[number_words]"),
        (PACKAGED.replace('"usd" = "$"', '"USD" = "$"'), "[currencies]"),
    ],
)
def test_a_broken_lexicon_is_refused_by_name(text: str, problem: str) -> None:
    assert text != PACKAGED
    with pytest.raises(SystemFailure, match=problem.replace("[", r"\[").replace("]", r"\]")):
        load_lexicon(text)


@pytest.mark.parametrize(
    ("words", "value"),
    [
        ("zero", 0),
        ("seven", 7),
        ("seventeen", 17),
        ("forty-two", 42),
        ("forty two", 42),
        ("one hundred", 100),
        ("one hundred and five", 105),
        ("two hundred thirty-four", 234),
        ("two thousand twenty", 2020),
        ("one thousand and one", 1001),
        ("one million two hundred thousand", 1_200_000),
        ("minus seven", -7),
        ("negative forty", -40),
    ],
)
def test_spelled_numbers(words: str, value: int) -> None:
    assert spelled_number(words.split()) == value


@pytest.mark.parametrize(
    "words",
    [
        "",
        "minus",
        "hundred",
        "thousand",
        "five twenty",
        "twenty ten",
        "twenty zero",
        "seven seven",
        "twelve hundred",
        "and five",
        "five and",
        "one and five",
        "thousand million",
        "one thousand two thousand",
        "forty-something",
        "lots",
    ],
)
def test_not_one_spelled_number(words: str) -> None:
    assert spelled_number(words.split()) is None


@given(st.integers(0, 999_999))
def test_spelled_numbers_read_back_what_was_written(value: int) -> None:
    units = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    units += ["ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen"]
    units += ["seventeen", "eighteen", "nineteen"]
    tens = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]

    def below_thousand(n: int) -> list[str]:
        words = []
        if n >= 100:
            words += [units[n // 100], "hundred"]
            n %= 100
            if n:
                words.append("and")
        if n >= 20:
            words.append(tens[n // 10] + (f"-{units[n % 10]}" if n % 10 else ""))
        elif n or not words:
            words.append(units[n])
        return words

    thousands, rest = divmod(value, 1000)
    words = [*below_thousand(thousands), "thousand"] if thousands else []
    if rest or not words:
        words += below_thousand(rest)
    assert spelled_number(words) == value


@pytest.mark.parametrize(
    ("word", "stemmed"),
    [
        ("migrate", "migrat"),
        ("migrates", "migrat"),
        ("migrated", "migrat"),
        ("migrating", "migrat"),
        ("use", "use"),
        ("uses", "use"),
        ("less", "less"),
        ("process", "process"),
        ("processes", "process"),
        ("go", "go"),
        ("postgresql", "postgresql"),
    ],
)
def test_stem(word: str, stemmed: str) -> None:
    assert stem(word) == stemmed


@pytest.mark.parametrize(
    ("word", "negating"),
    [
        ("not", True),
        ("never", True),
        ("without", True),
        ("don't", True),
        ("can’t", True),
        ("cannot", True),
        ("shouldnt", True),
        ("nothing", True),
        ("note", False),
        ("known", False),
        ("nt", False),
        ("now", False),
    ],
)
def test_negates(word: str, negating: bool) -> None:
    assert negates(word) is negating


@pytest.mark.parametrize(
    ("word", "parts"),
    [
        ("don't", ("do", "not")),
        ("can’t", ("can", "not")),
        ("cannot", ("can", "not")),
        ("won't", ("will", "not")),
        ("wont", ("will", "not")),
        ("shouldnt", ("should", "not")),
        ("ain't", ("is", "not")),
        ("n't", ("not",)),
        ("not", ("not",)),
        ("never", ("never",)),
        ("want", ("want",)),
        ("plant", ("plant",)),
    ],
)
def test_split_negation(word: str, parts: tuple[str, ...]) -> None:
    assert split_negation(word) == parts


@pytest.mark.parametrize(
    ("integer", "fraction", "negative", "text"),
    [
        ("0042", "500", False, "42.5"),
        ("1,000", "", False, "1000"),
        ("", "5", False, "0.5"),
        ("0", "0", True, "0"),
        ("5", "", True, "-5"),
        ("", "", False, "0"),
    ],
)
def test_canonical_decimal(integer: str, fraction: str, negative: bool, text: str) -> None:
    assert canonical_decimal(integer, fraction, negative=negative) == text
