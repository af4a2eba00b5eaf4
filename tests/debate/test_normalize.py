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
# Says what LONG_A says in fewer of its words: the same names, numbers and polarity.
LONG_D = "Use PostgreSQL for now; it is good enough for JSON workloads and easy to run."

WORDS = ["yes", "No", "the", "a", "True", "42", "1,000", "$", "%", "km", "PostgreSQL", "-", "."]
PUNCT = ["**", '"', "'", "(", ")", "[", "]", "- ", "`", "#", ">", "—", ",", "!", "?", "“", "”"]
answer_like = st.lists(st.sampled_from(WORDS + PUNCT) | st.text(max_size=4), max_size=12).map(
    lambda parts: " ".join(parts) if len(parts) % 2 else "".join(parts)
)


def test_public_api_is_pinned() -> None:
    assert sorted(normalize.__all__) == sorted(
        [
            "OPPOSED_AT_MOST",
            "SHORT_LABEL_WORDS",
            "Comparison",
            "Similarity",
            "cluster_answers",
            "compare_answers",
            "lexical_similarity",
            "normalize_answer",
            "same_position",
        ]
    )


@pytest.mark.parametrize(
    "module",
    ["answers", "normalize", "convergence", "_text", "positions", "lexicon"],
    ids=lambda name: name,
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
        ("No, it is not prime.", "no"),
        ("Yes — 17 is prime", "yes"),
        ("Final answer: yes", "yes"),
        ("**Answer:** No", "no"),
        ("The answer is yes, because 17 has no divisors but 1 and itself.", "yes"),
        ("That is correct.", "yes"),
        ("Yes, definitely and without doubt", "yes"),
        ("No, and it never will be", "no"),
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
    "answer",
    [
        "Yes, but only for reads",
        "Yes if the budget allows",
        "No, unless we add replicas",
        "Yes and no",
        "No or yes",
        "Yes, probably",
        "Yes — it depends on the load",
        "No, except for the billing service",
    ],
)
def test_a_qualified_yes_or_no_keeps_its_own_key(answer: str) -> None:
    key = normalize_answer(answer)
    assert key not in ("yes", "no")
    assert key == " ".join(answer.casefold().split())


@pytest.mark.parametrize(
    ("answer", "key"),
    [
        ("Answer: 42", "42"),
        ("Final answer: **42**", "42"),
        ("**Final Answer**: 42", "42"),
        ("answer - 42", "42"),
        ("The answer is 42.", "42"),
        ("The final answer is: 42", "42"),
        ("It's 42.", "42"),
        ("It’s 42", "42"),
        ("I think 42", "42"),
        ("It is not 42", "not 42"),
        ("It's not prime.", "not prime"),
        ("Recommendation: use PostgreSQL", "use postgresql"),
        ("The answer is the Eiffel Tower", "eiffel tower"),
        (r"\boxed{42}", "42"),
        (r"$\boxed{42}$", "42"),
        ("It is.", "it is"),
        ("Answer:", "answer"),
        ("Answers: 42", "answers: 42"),
        ("It isn't 42", "it isn't 42"),
        ("Answer the question first", "answer the question first"),
    ],
)
def test_answer_frames_and_boxes_are_wrapping(answer: str, key: str) -> None:
    assert normalize_answer(answer) == key


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
        ("$1,000", "$1000"),
        ("1000 dollars", "$1000"),
        ("1,000 USD", "$1000"),
        ("€ 1,000.50", "€1000.5"),
        ("1000.5 euros", "€1000.5"),
        ("-5", "-5"),
        ("−5", "-5"),
        ("-$5", "-$5"),
        ("$-5", "-$5"),
        ("-0.0", "0"),
        (".5", "0.5"),
        ("0.50", "0.5"),
        ("50%", "50%"),
        ("50.0 %", "50%"),
        ("50 percent", "50%"),
        ("42km", "42 km"),
        ("42 KM", "42 km"),
        ("3.50 dollars", "$3.5"),
        ("3 replicas", "3 replicas"),
        ("forty-two", "42"),
        ("Forty two.", "42"),
        ("one hundred and five", "105"),
        ("minus seven", "-7"),
        ("three replicas", "3 replicas"),
        ("fifty percent", "50%"),
        ("42 (forty-two)", "42"),
        ("**42** (forty-two)", "42"),
        ("forty-two (42)", "42"),
        ("$1,000 (one thousand dollars)", "$1000"),
        ("100 km/h", "100 km/h"),
        ("12345678901234567890123456789012345.000", "12345678901234567890123456789012345"),
    ],
)
def test_numbers_get_a_canonical_decimal(answer: str, key: str) -> None:
    assert normalize_answer(answer) == key


@pytest.mark.parametrize(
    "answer",
    ["1,00", "1.2.3", "42 light years away", "$", "1e5", "+-5", "4 2", "$5 euros", "five twenty"],
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
    text = "  The choice: use PostgreSQL,   NOT SQLite — because of the concurrency!!  "
    assert normalize_answer(text) == (
        "the choice: use postgresql, not sqlite — because of the concurrency"
    )
    framed = "The answer is: use PostgreSQL, NOT SQLite — because of the concurrency"
    assert normalize_answer(framed) == ("use postgresql, not sqlite — because of the concurrency")


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

    cluster_answers([LONG_A, LONG_D, LONG_B], recording)
    assert calls == [(LONG_A, LONG_D), (LONG_A, LONG_B), (LONG_D, LONG_B)]


def test_similarity_is_never_asked_about_answers_that_cannot_merge() -> None:
    calls: list[tuple[str, str]] = []

    def recording(a: str, b: str) -> float:
        calls.append((a, b))
        return 1.0

    not_prime = "Seventeen is not a prime number, since it has more than two divisors."
    prime = "Seventeen is a prime number, since it has no more than two divisors."
    answers = [LONG_A, LONG_C, "PostgreSQL", not_prime, prime]
    assert cluster_answers(answers, recording) == [[0], [1], [2], [3], [4]]
    assert calls == []


def test_a_nan_similarity_never_merges() -> None:
    assert cluster_answers([LONG_A, LONG_B], lambda a, b: math.nan) == [[0], [1]]


def test_the_threshold_decides() -> None:
    assert cluster_answers([LONG_A, LONG_D], threshold=0.0) == [[0, 1]]
    assert cluster_answers([LONG_A, LONG_D], threshold=0.8) == [[0], [1]]
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
