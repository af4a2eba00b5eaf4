"""What real models showed: opposite answers merged and flips read as convergence.

These call only ``lexical_similarity``, ``cluster_answers`` and ``measure_convergence`` as
first written, so a version that cannot tell opposite answers apart fails each of them on the
answers, not on a missing name.
"""

from __future__ import annotations

from aragora.debate.convergence import lexical_similarity, measure_convergence
from aragora.debate.normalize import cluster_answers

NOT_PRIME = "17 is not a prime number."
PRIME = "17 is a prime number."
DONT_MIGRATE = "We should not migrate the billing service to the new database this quarter"
MIGRATE = "We should migrate the billing service to the new database this quarter"


def test_not_is_content_in_lexical_similarity() -> None:
    # Was 1.0: "not" was a stopword.
    assert lexical_similarity(NOT_PRIME, PRIME) < 0.8


def test_opposite_answers_are_not_one_option() -> None:
    # Was [[0, 1]]: the two answers were counted as one option, hence as consensus.
    assert cluster_answers([DONT_MIGRATE, MIGRATE]) == [[0], [1]]


def test_an_agent_that_flipped_has_not_converged() -> None:
    # Was "similarity 1.00 ... converged".
    result = measure_convergence({"a": PRIME}, {"a": NOT_PRIME}, threshold=0.85)
    assert not result.converged
    assert result.per_agent["a"] < 0.85
    result = measure_convergence({"a": MIGRATE}, {"a": DONT_MIGRATE}, threshold=0.85)
    assert (result.converged, result.status) == (False, "refining")


def test_different_named_options_are_not_one_option() -> None:
    answers = [
        "Use PostgreSQL for the billing service this quarter",
        "Use SQLite for the billing service this quarter",
    ]
    assert cluster_answers(answers, threshold=0.6) == [[0], [1]]
    assert lexical_similarity(*answers) < 0.6


def test_different_numbers_are_not_one_option() -> None:
    answers = [
        "We should run 3 replicas of the billing database in every region to survive outages",
        "We should run 5 replicas of the billing database in every region to survive outages",
    ]
    assert cluster_answers(answers) == [[0], [1]]


def test_a_changed_answer_never_converges_at_threshold_zero() -> None:
    assert not measure_convergence({"a": "PostgreSQL"}, {"a": "SQLite"}, 0.0).converged
