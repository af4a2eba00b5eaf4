"""Answer keys and clustering: when two answers are the same option."""

from __future__ import annotations

import ast
import math
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import aragora.debate
from aragora.debate import normalize
from aragora.debate.normalize import cluster_answers, lexical_similarity, normalize_answer
from aragora.errors import InvalidInputError

LONG_A = "Use PostgreSQL for everything because it scales, has mature tooling and supports JSON."
LONG_B = "Use PostgreSQL for everything, because it scales, has mature tooling and supports JSON!"
LONG_C = "Use SQLite for small deployments since it is embedded and needs no server process."

WORDS = ["yes", "No", "the", "a", "True", "42", "1,000", "$", "%", "km", "PostgreSQL", "-", "."]
PUNCT = ["**", '"', "'", "(", ")", "[", "]", "- ", "`", "#", ">", "—", ",", "!", "?", "“", "”"]
answer_like = st.lists(st.sampled_from(WORDS + PUNCT) | st.text(max_size=4), max_size=12).map(
    lambda parts: " ".join(parts) if len(parts) % 2 else "".join(parts)
)


def test_public_api_is_pinned() -> None:
    assert sorted(normalize.__all__) == sorted(
        [
            "SHORT_LABEL_WORDS",
            "Similarity",
            "cluster_answers",
            "lexical_similarity",
            "normalize_answer",
        ]
    )


@pytest.mark.parametrize(
    "module", ["answers", "normalize", "convergence", "_text"], ids=lambda name: name
)
def test_core_module_imports_only_the_stdlib_and_errors(module: str) -> None:
    source = Path(aragora.debate.__file__).with_name(f"{module}.py").read_text()
    imported: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
    for name in imported:
        top = name.split(".")[0]
        allowed = name == "aragora.errors" or name.startswith("aragora.debate")
        assert allowed or (top != "aragora" and top in sys.stdlib_module_names), name


# --- keys -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "key"),
    [
        ("Yes", "yes"),
        ("Yes.", "yes"),
        ("YES — because it is cheaper", "yes"),
        ("yes, definitely", "yes"),
        ("Yes because it is cheaper", "yes"),
        ("**Yes**", "yes"),
        ('"Yes"', "yes"),
        ("Y", "yes"),
        ("y.", "yes"),
        ("Yeah", "yes"),
        ("True", "yes"),
        ("true.", "yes"),
        ("Correct", "yes"),
        ("Correct, it is.", "yes"),
        ("No", "no"),
        ("Nope", "no"),
        ("false", "no"),
        ("N", "no"),
        ("No, because it costs more", "no"),
        ("no - too slow", "no"),
        ("Incorrect.", "no"),
    ],
)
def test_yes_no_family(answer: str, key: str) -> None:
    assert normalize_answer(answer) == key


@pytest.mark.parametrize(
    "answer",
    [
        "Nobody knows",
        "Yesterday",
        "No-code tools",
        "Not really",
        "True north",
        "Correct the schema first",
        "N.Y.C.",
        "Y combinator",
        "Yes/no depends",
        "Yes2",
    ],
)
def test_words_that_merely_start_like_yes_or_no_are_not(answer: str) -> None:
    assert normalize_answer(answer) not in ("yes", "no")


@pytest.mark.parametrize(
    ("answer", "key"),
    [
        ("42", "42"),
        ("42.0", "42"),
        ("+42", "42"),
        ("42 ", "42"),
        ("042", "42"),
        ("42.", "42"),
        ("1,000", "1000"),
        ("1000.00", "1000"),
        ("$1,000", "1000"),
        ("€ 1,000.50", "1000.5"),
        ("-5", "-5"),
        ("−5", "-5"),
        ("-$5", "-5"),
        ("-0.0", "0"),
        (".5", "0.5"),
        ("0.50", "0.5"),
        ("50%", "50%"),
        ("50.0 %", "50%"),
        ("42km", "42 km"),
        ("42 KM", "42 km"),
        ("3.50 dollars", "3.5 dollars"),
        ("100 km/h", "100 km/h"),
        ("12345678901234567890123456789012345.000", "12345678901234567890123456789012345"),
    ],
)
def test_numbers_get_a_canonical_decimal(answer: str, key: str) -> None:
    assert normalize_answer(answer) == key


@pytest.mark.parametrize(
    "answer", ["1,00", "1.2.3", "42 light years away", "$", "1e5", "+-5", "4 2"]
)
def test_things_that_are_not_a_sole_number_stay_text(answer: str) -> None:
    key = normalize_answer(answer)
    assert key == " ".join(answer.casefold().split()).strip(".")


@pytest.mark.parametrize(
    ("answer", "key"),
    [
        ("PostgreSQL", "postgresql"),
        ("postgresql.", "postgresql"),
        ("**PostgreSQL**", "postgresql"),
        ("`PostgreSQL`", "postgresql"),
        ('"PostgreSQL"', "postgresql"),
        ("“PostgreSQL”", "postgresql"),
        ("(PostgreSQL)", "postgresql"),
        ("- PostgreSQL", "postgresql"),
        ("# PostgreSQL", "postgresql"),
        ("  Postgre   SQL  ", "postgre sql"),
        ("The Eiffel Tower.", "eiffel tower"),
        ("an apple", "apple"),
        ('the "quoted" thing', 'quoted" thing'),
        ("The", "the"),
        ("C++", "c++"),
        ("C#", "c#"),
        ("node.js.", "node.js"),
        ("Why?", "why"),
        ("STRASSE", "strasse"),
        ("Straße", "strasse"),
    ],
)
def test_short_labels(answer: str, key: str) -> None:
    assert normalize_answer(answer) == key


def test_long_free_text_keeps_its_articles_and_inner_punctuation() -> None:
    text = "  The answer is: use PostgreSQL,   NOT SQLite — because of concurrency!!  "
    assert normalize_answer(text) == (
        "the answer is: use postgresql, not sqlite — because of concurrency"
    )


@pytest.mark.parametrize("answer", ["", "   ", "...", "**", "“”", "()", "- ", "-", "—", "¿?"])
def test_blank_or_punctuation_only_is_empty(answer: str) -> None:
    assert normalize_answer(answer) == ""


@settings(max_examples=500)
@given(st.text() | answer_like)
def test_normalize_is_idempotent(answer: str) -> None:
    key = normalize_answer(answer)
    assert normalize_answer(key) == key


@given(st.text() | answer_like)
def test_keys_are_single_spaced_and_trimmed(answer: str) -> None:
    key = normalize_answer(answer)
    assert key == " ".join(key.split())


# --- clustering -----------------------------------------------------------------------------


def test_equal_keys_share_a_cluster() -> None:
    answers = ["PostgreSQL", "SQLite", "postgresql.", "**PostgreSQL**", "sqlite"]
    assert cluster_answers(answers) == [[0, 2, 3], [1, 4]]


def test_short_labels_and_numbers_never_merge_by_similarity() -> None:
    def always_alike(a: str, b: str) -> float:
        return 1.0

    answers = ["PostgreSQL", "SQLite", "42", "43", "yes", "no", "Use PostgreSQL"]
    assert cluster_answers(answers, always_alike) == [[i] for i in range(7)]


def test_near_identical_long_answers_merge() -> None:
    assert cluster_answers([LONG_A, LONG_C, LONG_B]) == [[0, 2], [1]]


def test_a_long_answer_never_merges_with_a_short_one() -> None:
    def always_alike(a: str, b: str) -> float:
        return 1.0

    assert cluster_answers(["PostgreSQL", LONG_A], always_alike) == [[0], [1]]
    assert cluster_answers([LONG_A, "Yes, because " + LONG_A], always_alike) == [[0], [1]]


def test_an_answer_joins_the_most_similar_cluster() -> None:
    scores = {frozenset({"a", "c"}): 0.85, frozenset({"b", "c"}): 0.95}

    def scripted(x: str, y: str) -> float:
        return scores.get(frozenset({x[0], y[0]}), 0.0)

    answers = [f"{letter} one two three four five six seven" for letter in "abc"]
    assert cluster_answers(answers, scripted, threshold=0.8) == [[0], [1, 2]]


def test_similarity_is_compared_with_each_clusters_first_answer() -> None:
    calls: list[tuple[str, str]] = []

    def recording(a: str, b: str) -> float:
        calls.append((a, b))
        return 0.0

    cluster_answers([LONG_A, LONG_C, LONG_B], recording)
    assert calls == [(LONG_A, LONG_C), (LONG_A, LONG_B), (LONG_C, LONG_B)]


def test_a_nan_similarity_never_merges() -> None:
    assert cluster_answers([LONG_A, LONG_B], lambda a, b: math.nan) == [[0], [1]]


def test_the_threshold_decides() -> None:
    assert cluster_answers([LONG_A, LONG_C], threshold=0.0) == [[0, 1]]
    reworded = LONG_A.replace("mature", "good")
    assert cluster_answers([LONG_A, reworded], threshold=0.8) == [[0, 1]]
    assert cluster_answers([LONG_A, reworded], threshold=1.0) == [[0], [1]]


def test_each_empty_answer_is_its_own_cluster() -> None:
    assert cluster_answers(["", "x", " ", "...", "x"]) == [[0], [1, 4], [2], [3]]


def test_no_answers_no_clusters() -> None:
    assert cluster_answers([]) == []


@pytest.mark.parametrize("threshold", [-0.1, 1.1, math.nan, math.inf])
def test_a_threshold_outside_0_1_is_refused(threshold: float) -> None:
    with pytest.raises(InvalidInputError):
        cluster_answers(["a"], threshold=threshold)


clusterable = st.lists(
    st.sampled_from(["PostgreSQL", "postgresql.", "SQLite", "42", "42.0", "yes", "Yes.", ""])
    | st.sampled_from([LONG_A, LONG_B, LONG_C])
    | answer_like,
    max_size=12,
)


@given(clusterable)
def test_clusters_partition_the_indices_in_order_of_first_appearance(answers: list[str]) -> None:
    clusters = cluster_answers(answers)
    assert sorted(i for cluster in clusters for i in cluster) == list(range(len(answers)))
    assert all(cluster == sorted(cluster) and cluster for cluster in clusters)
    assert [cluster[0] for cluster in clusters] == sorted(cluster[0] for cluster in clusters)
    assert cluster_answers(list(answers)) == clusters


@given(clusterable)
def test_equal_keys_always_share_and_empties_never_do(answers: list[str]) -> None:
    clusters = cluster_answers(answers)
    cluster_of = {i: n for n, cluster in enumerate(clusters) for i in cluster}
    keys = [normalize_answer(answer) for answer in answers]
    for i, key in enumerate(keys):
        for j in range(i + 1, len(keys)):
            if key and key == keys[j]:
                assert cluster_of[i] == cluster_of[j]
        if not key:
            assert clusters[cluster_of[i]] == [i]


def test_lexical_similarity_is_the_default() -> None:
    assert cluster_answers.__defaults__ == (lexical_similarity, 0.8)
