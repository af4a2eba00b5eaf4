"""Lexical similarity and whether a panel's answers have stopped moving between rounds."""

from __future__ import annotations

import math
import random
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aragora.debate import convergence, normalize
from aragora.debate.convergence import (
    Convergence,
    lexical_similarity,
    measure_convergence,
)
from aragora.debate.normalize import cluster_answers, normalize_answer, same_position
from aragora.errors import InvalidInputError

LONG_A = "Use PostgreSQL for everything because it scales, has mature tooling and supports JSON."
LONG_B = "Use PostgreSQL for everything, because it scales, has mature tooling and supports JSON!"
texts = st.text() | st.lists(
    st.sampled_from(["the", "PostgreSQL", "scales", "yes", "42", ",", ".", "JSON", "use"]),
    max_size=15,
).map(" ".join)


def test_public_api_is_pinned() -> None:
    assert sorted(convergence.__all__) == sorted(
        ["Convergence", "RoundConvergence", "lexical_similarity", "measure_convergence"]
    )
    assert convergence.lexical_similarity is normalize.lexical_similarity


# --- lexical_similarity ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Yes.", "YES — because it is cheaper"),
        ("$1,000", "1000 dollars"),
        ("1,000", "1000.00"),
        ("PostgreSQL", "postgresql."),
    ],
)
def test_equal_keys_are_fully_similar(a: str, b: str) -> None:
    assert lexical_similarity(a, b) == 1.0


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("PostgreSQL", "SQLite"),
        ("42", "43"),
        ("the cat sat on the mat", "a dog ran in a park"),
        ("", ""),
        ("", "text"),
        ("...", "..."),
    ],
)
def test_nothing_shared_is_zero(a: str, b: str) -> None:
    assert lexical_similarity(a, b) == 0.0


def test_stopwords_alone_do_not_make_texts_similar() -> None:
    assert lexical_similarity("it is what it is", "what it is") > 0.0
    assert lexical_similarity("the database is fast", "the cache is slow") == 0.0


def test_rewording_scores_between_and_order_matters() -> None:
    near = lexical_similarity(LONG_A, LONG_A.replace("mature", "good"))
    reordered = lexical_similarity("postgres scales well today", "today well scales postgres")
    assert 0.6 < near < 1.0
    assert 0.0 < reordered < 1.0
    assert lexical_similarity(LONG_A, LONG_B) == pytest.approx(1.0)


@given(texts, texts)
def test_similarity_is_symmetric_and_in_range(a: str, b: str) -> None:
    score = lexical_similarity(a, b)
    assert score == lexical_similarity(b, a)
    assert 0.0 <= score <= 1.0
    assert not math.isnan(score)


@given(texts)
def test_a_text_is_fully_similar_to_itself_unless_empty(a: str) -> None:
    assert lexical_similarity(a, a) == (1.0 if normalize_answer(a) else 0.0)


def test_two_long_texts_compare_in_well_under_5_ms() -> None:
    rng = random.Random(7)
    vocabulary = [f"word{i}" for i in range(3000)]
    a = " ".join(rng.choice(vocabulary) for _ in range(2000))
    b = " ".join(rng.choice(vocabulary) for _ in range(2000))
    # The best of several runs, so a busy machine does not fail the test.
    best = math.inf
    for _ in range(20):
        start = time.perf_counter()
        lexical_similarity(a, b)
        best = min(best, time.perf_counter() - start)
    assert best < 0.005


# --- measure_convergence --------------------------------------------------------------------

LONG_MOVED = "Do not use PostgreSQL for everything, because it scales, has mature tooling and JSON."


def test_unchanged_answers_converge() -> None:
    answers = {"alice": "PostgreSQL", "bob": LONG_A}
    result = measure_convergence(answers, dict(answers), threshold=0.85)
    assert result == Convergence(1.0, {"alice": 1.0, "bob": 1.0}, True, "converged")


def test_equal_keys_count_as_unchanged_without_asking_the_similarity() -> None:
    def never(a: str, b: str) -> float:
        raise AssertionError("similarity called for equal keys")

    result = measure_convergence({"a": "Yes."}, {"a": "YES — sure"}, 0.9, never)
    assert result.per_agent == {"a": 1.0}
    assert result.converged


def test_reworded_free_text_keeps_its_position_when_similar_enough() -> None:
    previous = {"a": "PostgreSQL", "b": LONG_A}
    current = {"a": "postgresql", "b": LONG_A.replace("mature", "good")}
    result = measure_convergence(previous, current, threshold=0.6)
    assert result.converged
    assert result.similarity == result.per_agent["b"] == lexical_similarity(LONG_A, current["b"])
    assert 0.6 <= result.similarity < 1.0


def test_the_least_settled_agent_decides() -> None:
    previous = {"a": "PostgreSQL", "b": LONG_A}
    current = {"a": "postgresql", "b": LONG_A.replace("mature", "good")}
    result = measure_convergence(previous, current, threshold=0.85)
    assert result.similarity == result.per_agent["b"] < 0.85
    assert (result.converged, result.status) == (False, "refining")


def test_a_flipped_agent_has_moved_however_many_words_it_kept() -> None:
    # With "not" as a stopword this would read as "similarity 1.00 ... converged".
    result = measure_convergence(
        {"a": "17 is a prime number.", "b": LONG_A},
        {"a": "17 is not a prime number.", "b": LONG_MOVED},
        threshold=0.85,
    )
    assert not result.converged
    assert result.status != "converged"
    assert result.per_agent["a"] < 0.85
    assert result.per_agent["b"] < 0.85


def test_a_moved_agent_scores_below_the_threshold_even_if_its_words_are_alike() -> None:
    def alike(a: str, b: str) -> float:
        return 0.99

    result = measure_convergence({"a": "PostgreSQL"}, {"a": "Use PostgreSQL"}, 0.9, alike)
    assert result.per_agent == {"a": pytest.approx(0.89)}
    assert not result.converged
    moved = measure_convergence({"a": LONG_A}, {"a": LONG_MOVED}, 0.9, alike)
    assert moved.per_agent == {"a": pytest.approx(0.89)}
    assert round(moved.similarity, 2) < 0.9
    kept = measure_convergence({"a": LONG_A}, {"a": f"**{LONG_A}**"}, 0.9, alike)
    assert kept.per_agent == {"a": 1.0}  # equal keys
    reworded = measure_convergence({"a": LONG_A}, {"a": LONG_A + " Really."}, 0.9, alike)
    assert (reworded.per_agent, reworded.converged) == ({"a": 0.99}, True)


@pytest.mark.parametrize(
    ("previous", "current", "status"),
    [
        # A third position appears: the panel splits further.
        ({"a": "x", "b": "x", "c": "y"}, {"a": "x", "b": "z", "c": "y"}, "diverging"),
        ({"a": "x", "b": "x"}, {"a": "x", "b": "y"}, "diverging"),
        ({"a": "x", "b": "x", "c": "x"}, {"a": "y", "b": "z", "c": "x"}, "diverging"),
        # Fewer or as many positions as before: the panel is moving, not splitting.
        ({"a": "x", "b": "y"}, {"a": "x", "b": "x"}, "refining"),
        ({"a": "x", "b": "y"}, {"a": "y", "b": "x"}, "refining"),
        ({"a": "PostgreSQL", "b": "x"}, {"a": "SQLite", "b": "x"}, "refining"),
        ({"a": "x", "b": "y"}, {"a": "x", "b": "y"}, "converged"),
    ],
)
def test_status_follows_the_number_of_positions(
    previous: dict[str, str], current: dict[str, str], status: str
) -> None:
    assert measure_convergence(previous, current, 0.85).status == status


def test_only_agents_in_both_rounds_are_compared_in_name_order() -> None:
    previous = {"zed": "x", "amy": "y", "gone": "z"}
    current = {"new": "w", "zed": "x", "amy": "y"}
    result = measure_convergence(previous, current, 0.85)
    assert list(result.per_agent) == ["amy", "zed"]
    assert result.converged


def test_positions_are_counted_among_the_compared_agents_only() -> None:
    previous = {"a": "x", "b": "y", "gone": "z"}
    current = {"a": "x", "b": "x", "new": "w", "other": "v"}
    assert measure_convergence(previous, current, 0.85).status == "refining"


def test_no_comparable_agents_is_not_converged() -> None:
    result = measure_convergence({"a": "x"}, {"b": "x"}, 0.85)
    assert result == Convergence(0.0, {}, False, "diverging")
    assert measure_convergence({}, {}, 0.0) == Convergence(0.0, {}, False, "diverging")


def test_an_empty_answer_is_not_a_settled_answer() -> None:
    result = measure_convergence({"a": "", "b": "x"}, {"a": "", "b": ""}, 0.5)
    assert result.per_agent == {"a": 0.0, "b": 0.0}
    assert not result.converged


@pytest.mark.parametrize(("score", "read"), [(math.nan, 0.0), (-2.0, 0.0), (7.0, 1.0)])
def test_a_misbehaving_similarity_is_clamped(score: float, read: float) -> None:
    previous, current = {"a": LONG_A}, {"a": LONG_A + " Really."}
    result = measure_convergence(previous, current, 0.5, lambda a, b: score)
    assert result.per_agent == {"a": read}
    assert result.converged == (read == 1.0)


def test_threshold_zero_still_does_not_converge_a_changed_position() -> None:
    # It used to: at threshold 0 any two answers were "close enough".
    result = measure_convergence({"a": "PostgreSQL"}, {"a": "SQLite"}, 0.0)
    assert (result.converged, result.per_agent) == (False, {"a": 0.0})
    assert measure_convergence({"a": LONG_A}, {"a": LONG_MOVED}, 0.0).converged is False
    assert measure_convergence({"a": LONG_A}, {"a": "Use PostgreSQL."}, 0.0).converged is False


@pytest.mark.parametrize("threshold", [-0.01, 1.01, math.nan])
def test_a_threshold_outside_0_1_is_refused(threshold: float) -> None:
    with pytest.raises(InvalidInputError):
        measure_convergence({"a": "x"}, {"a": "x"}, threshold)


@given(
    st.dictionaries(st.sampled_from("abcde"), texts),
    st.dictionaries(st.sampled_from("abcde"), texts),
    st.sampled_from([0.01, 0.5, 0.7, 0.85, 1.0]),
)
def test_measurement_is_consistent(
    previous: dict[str, str], current: dict[str, str], threshold: float
) -> None:
    result = measure_convergence(previous, current, threshold)
    agents = sorted(set(previous) & set(current))
    assert list(result.per_agent) == agents
    assert all(0.0 <= score <= 1.0 for score in result.per_agent.values())
    assert result.similarity == min(result.per_agent.values(), default=0.0)
    kept = {a: same_position(previous[a], current[a], threshold=threshold) for a in agents}
    assert result.converged == (bool(agents) and all(kept.values()))
    for agent in agents:
        assert (result.per_agent[agent] >= threshold) == kept[agent]
    assert result.converged == (bool(agents) and result.similarity >= threshold)
    if result.converged:
        expected = "converged"
    else:
        before = cluster_answers([previous[a] for a in agents], threshold=threshold)
        after = cluster_answers([current[a] for a in agents], threshold=threshold)
        expected = "refining" if agents and len(after) <= len(before) else "diverging"
    assert result.status == expected
    reordered = dict(reversed(list(current.items())))
    assert measure_convergence(previous, reordered, threshold) == result
