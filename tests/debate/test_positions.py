"""Positions that respect meaning: which answers are the same position and which never are.

The table below is the rule in examples: every pair is checked through
:func:`cluster_answers` and :func:`same_position`, in both orders. "Apart" pairs must stay
apart whatever the similarity function says; "same" pairs must merge with the default one.
"""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from aragora.debate.convergence import measure_convergence
from aragora.debate.normalize import (
    OPPOSED_AT_MOST,
    Comparison,
    cluster_answers,
    compare_answers,
    lexical_similarity,
    normalize_answer,
    same_position,
)
from aragora.debate.positions import Difference, difference, stance
from aragora.errors import InvalidInputError

MIGRATE = "We should migrate the billing service to the new database this quarter"
REPLICAS = "We should run {} of the billing database in every region"
LATENCY = "The p99 latency target for the billing API should be {} in every region"

APART: list[tuple[str, str]] = [
    # Polarity: negations, verdicts, conditions.
    ("17 is prime.", "17 is not prime."),
    ("17 is a prime number.", "17 is not a prime number."),
    (MIGRATE, MIGRATE.replace("should", "should not")),
    (MIGRATE, MIGRATE.replace("should", "shouldn't")),
    (MIGRATE, MIGRATE.replace("We should", "We should never")),
    (MIGRATE, "No, " + MIGRATE.replace("We should", "we should not") + " unless it is tested"),
    (
        "The billing service can be migrated this quarter without any downtime at all",
        "The billing service cannot be migrated this quarter without any downtime at all",
    ),
    (
        "None of the proposed options will meet the latency target for the billing API",
        "All of the proposed options will meet the latency target for the billing API",
    ),
    (
        "Nothing in the logs suggests the outage was caused by the new release at all",
        "Something in the logs suggests the outage was caused by the new release at all",
    ),
    (
        "Migrate now, not later, because the old database reaches its end of life soon",
        "Migrate later, not now, because the old database reaches its end of life soon",
    ),
    (
        "It is true that the cache must be invalidated after every write to billing",
        "It is false that the cache must be invalidated after every write to billing",
    ),
    ("Yes", "No"),
    ("Yes.", "No, it is not prime."),
    ("True", "False"),
    ("Yes, but only for read traffic", "Yes."),
    ("Yes and no", "Yes"),
    ("No, unless we add replicas first", "No."),
    # Opposites.
    (
        "The migration is safe because we have backups and a tested rollback plan",
        "The migration is unsafe because we have backups and a tested rollback plan",
    ),
    (
        "We should increase the number of billing workers before the holiday peak",
        "We should decrease the number of billing workers before the holiday peak",
    ),
    # Numbers, with units, currencies, signs, decimals and words.
    ("42", "43"),
    ("The answer is 42.", "The answer is 43."),
    ("3 replicas", "5 replicas"),
    (REPLICAS.format("3 replicas"), REPLICAS.format("5 replicas")),
    (REPLICAS.format("three replicas"), REPLICAS.format("five replicas")),
    (REPLICAS.format("3 replicas"), REPLICAS.format("3 shards")),
    ("50%", "50"),
    ("0.5", "50%"),
    ("$1,000", "1000"),
    ("$1,000", "€1,000"),
    ("-5", "5"),
    ("3.14", "3.15"),
    (LATENCY.format("200 ms"), LATENCY.format("250 ms")),
    (LATENCY.format("200 ms"), LATENCY.format("200 s")),
    (
        "The monthly budget for the billing cluster should be $1,200 at most",
        "The monthly budget for the billing cluster should be $1,500 at most",
    ),
    (
        "Use 3 replicas and 5 shards for the billing database in production",
        "Use 5 replicas and 3 shards for the billing database in production",
    ),
    # Named options: products, option letters, identifiers, code, ordinals.
    (
        "Use PostgreSQL for the billing service this quarter",
        "Use SQLite for the billing service this quarter",
    ),
    ("PostgreSQL", "SQLite"),
    ("Option A", "Option B"),
    ("Option 1", "Option 2"),
    (
        "I recommend Option A because it is cheaper and faster to deploy today",
        "I recommend Option B because it is cheaper and faster to deploy today",
    ),
    (
        "Redis is the right choice for caching because it is fast and simple",
        "Memcached is the right choice for caching because it is fast and simple",
    ),
    (
        "Set `max_connections` back to the default for the billing database now",
        "Set `shared_buffers` back to the default for the billing database now",
    ),
    (
        "Upgrade the billing service to Python 3.12 before the end of this quarter",
        "Upgrade the billing service to Python 3.11 before the end of this quarter",
    ),
    (
        "The second option is best because it is cheaper and easier to operate",
        "The first option is best because it is cheaper and easier to operate",
    ),
    (
        "Deploy the billing service on AWS in the Frankfurt region this quarter",
        "Deploy the billing service on GCP in the Frankfurt region this quarter",
    ),
]

SAME: list[tuple[str, str]] = [
    # Yes/no with reasons, frames and wrappers.
    ("Yes.", "yes, it is prime"),
    ("No", "No, it is not prime."),
    ("Final answer: yes", "Yes"),
    ("Yes — 17 is prime", "yes"),
    ("> Yes", "YES!"),
    ("**Final answer:** No", "no."),
    ("That is correct.", "Yes"),
    ("Yes, definitely", "YES"),
    ("The answer is yes, because 17 has no divisors other than 1 and itself.", "Yes."),
    # Numbers in frames, markdown, words, brackets and LaTeX.
    ("42", "The answer is 42."),
    ("The answer is 42", "42."),
    ("Answer: 42", "42"),
    ("**42**", "42"),
    ("It's 42.", "42"),
    ("42 (forty-two)", "42"),
    ("Forty-two", "42"),
    ("$\\boxed{42}$", "42"),
    ("$1,000", "1000 dollars"),
    ("1,000 USD", "$1,000"),
    ("50 percent", "50%"),
    ("1,000", "1000.00"),
    # Labels in quotes, code and emphasis.
    ('"PostgreSQL"', "PostgreSQL"),
    ("`PostgreSQL`", "**PostgreSQL**"),
    ("The Eiffel Tower.", "eiffel tower"),
    # Free text restated: order, punctuation, hedges, contractions, numbers in words.
    (
        "We should migrate the billing service to PostgreSQL this quarter because it scales",
        "This quarter, we should migrate the billing service to PostgreSQL because it scales",
    ),
    (
        "We shouldn't migrate the billing service this quarter because the risk is too high",
        "We should not migrate the billing service this quarter, because the risk is too high",
    ),
    (
        "Use PostgreSQL for everything because it scales, has mature tooling and supports JSON.",
        "Use PostgreSQL for everything, because it scales, has mature tooling and supports JSON!",
    ),
    (
        "Honestly, we should keep the billing service on PostgreSQL for the rest of this year",
        "We should keep the billing service on PostgreSQL for the rest of this year.",
    ),
    (
        "I think we should run three replicas of the billing database in each region",
        "We should run 3 replicas of the billing database in each region.",
    ),
    (
        "Costs will increase by $1,000 per month after the migration of the billing service",
        "Costs will increase by 1000 dollars per month after the migration of the billing service",
    ),
    (
        "17 is not a prime number, because it has more than two divisors in total",
        "17 isn't a prime number because it has more than two divisors in total",
    ),
]


def always_alike(a: str, b: str) -> float:
    return 1.0


def both_orders(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [pair for a, b in pairs for pair in ((a, b), (b, a))]


def test_the_table_is_big_enough() -> None:
    assert len(APART) + len(SAME) >= 40
    assert len(set(APART)) == len(APART)
    assert len(set(SAME)) == len(SAME)


@pytest.mark.parametrize(("a", "b"), both_orders(APART))
def test_different_positions_never_merge(a: str, b: str) -> None:
    assert normalize_answer(a) != normalize_answer(b)
    assert cluster_answers([a, b]) == [[0], [1]]
    assert not same_position(a, b)
    # Not even a similarity that calls everything alike, at any threshold, merges them.
    assert cluster_answers([a, b], always_alike, threshold=0.0) == [[0], [1]]
    assert not same_position(a, b, always_alike, threshold=0.0)
    assert lexical_similarity(a, b) <= OPPOSED_AT_MOST


@pytest.mark.parametrize(("a", "b"), both_orders(SAME))
def test_the_same_position_merges(a: str, b: str) -> None:
    assert cluster_answers([a, b]) == [[0, 1]]
    assert same_position(a, b)
    assert difference(a, b) is None or normalize_answer(a) == normalize_answer(b)


@pytest.mark.parametrize(
    ("a", "b", "kind"),
    [
        ("17 is prime.", "17 is not prime.", Difference.POLARITY),
        ("Use it now, not later.", "Use it later, not now.", Difference.POLARITY),
        ("It is true.", "It holds.", Difference.POLARITY),
        ("Run 3 replicas.", "Run 5 replicas.", Difference.NUMBERS),
        ("Run 3 replicas.", "Run three replicas.", None),
        ("Pay $1,000 now.", "Pay 1000 dollars now.", None),
        ("Run 3 then 5.", "Run 5 then 3.", Difference.NUMBERS),
        ("Use PostgreSQL.", "Use SQLite.", Difference.NAMES),
        ("Use PostgreSQL.", "use postgresql", None),
        ("PostgreSQL's planner wins.", "The planner of PostgreSQL wins.", None),
        ("Pick option B now.", "Pick option C now.", Difference.NAMES),
        ("A plan is needed.", "Plan is needed.", None),
        ("Tag it v2.", "Tag it v3.", Difference.NAMES),
        ("Call `flush()` first.", "Call flush first.", Difference.NAMES),
        ("Take the second option.", "Take the third option.", Difference.NAMES),
        ("First, back up the data.", "Back up the data.", None),
        ("Honestly, migrate it.", "Migrate it.", None),
        ("The change is safe.", "The change is unsafe.", Difference.OPPOSITES),
        ("Prices will increase.", "Prices will decrease.", Difference.OPPOSITES),
        ("Prices increased.", "Prices are decreasing.", Difference.OPPOSITES),
        ("Migrate it now.", "Migrate it later.", Difference.OPPOSITES),
        ("", "", None),
    ],
)
def test_difference_names_the_disagreement(a: str, b: str, kind: Difference | None) -> None:
    assert difference(a, b) == kind
    assert difference(b, a) == kind


def test_a_stance_reads_negations_numbers_names_and_verdicts() -> None:
    read = stance("Yes: don't use `pg_dump` on Q3 data; keep -5% and $3.50, not forty-two items")
    assert read.negations == (("not", "42 item"), ("not", "use"))
    assert read.numbers == ("-5%", "$3.5", "42 item")
    assert {"pg_dump", "q3"} <= read.names
    assert read.verdicts == frozenset({"yes"})


def test_list_markers_and_line_ends_are_not_content() -> None:
    listed = "1. Use PostgreSQL for billing\n2. Do not migrate the reports"
    plain = "Use PostgreSQL for billing. Do not migrate the reports"
    assert difference(listed, plain) is None
    # A line ends the clause: the "not" of line one governs nothing on line two.
    assert stance("We will not\nmigrate").negations == (("not", ""),)


@pytest.mark.parametrize("threshold", [-0.5, 1.5, math.nan])
def test_compare_answers_refuses_a_threshold_outside_0_1(threshold: float) -> None:
    with pytest.raises(InvalidInputError):
        compare_answers("a", "b", threshold=threshold)


def test_compare_answers_reports_position_and_words() -> None:
    reworded = "Use PostgreSQL for everything since it scales, has good tooling and supports JSON."
    long_a = (
        "Use PostgreSQL for everything because it scales, has mature tooling and supports JSON."
    )
    assert compare_answers("Yes.", "YES, because") == Comparison(same=True, similarity=1.0)
    assert compare_answers("", "x") == Comparison(same=False, similarity=0.0)
    score = lexical_similarity(long_a, reworded)
    assert compare_answers(long_a, reworded) == Comparison(same=score >= 0.8, similarity=score)
    assert compare_answers(long_a, reworded, threshold=0.0).same
    flipped = compare_answers("17 is prime", "17 is not prime", always_alike, threshold=0.0)
    assert flipped == Comparison(same=False, similarity=1.0)


# --- properties -----------------------------------------------------------------------------

SUBJECTS = ["we", "the team", "the billing service", "our database", "the cache", "it"]
MODALS = ["should", "will", "can", "must", "could", "would"]
VERBS = ["migrate", "run", "keep", "scale", "use", "replace", "deploy", "support", "handle"]
OBJECTS = ["the billing service", "the reports", "traffic", "writes", "the old schema", "data"]
TAILS = ["this quarter", "in every region", "after the audit", "for now", "with care", ""]
NEGATIONS = ["not", "never", "n't", "no"]


@st.composite
def sentences(draw: st.DrawFn) -> list[str]:
    """A plain answer as words: subject, modal, verb, object, optional tail and reason."""
    words = [
        *draw(st.sampled_from(SUBJECTS)).split(),
        draw(st.sampled_from(MODALS)),
        draw(st.sampled_from(VERBS)),
        *draw(st.sampled_from(OBJECTS)).split(),
        *draw(st.sampled_from(TAILS)).split(),
    ]
    if draw(st.booleans()):
        words += ["because", *draw(st.sampled_from(OBJECTS)).split(), "matters"]
    return words


def negate(words: list[str], negation: str) -> list[str]:
    modal = next(i for i, word in enumerate(words) if word in MODALS)
    if negation == "n't":
        return [*words[:modal], words[modal] + "n't", *words[modal + 1 :]]
    return [*words[: modal + 1], negation, *words[modal + 1 :]]


@settings(max_examples=300)
@given(sentences(), st.sampled_from(NEGATIONS), st.sampled_from(["", ".", "!"]), st.booleans())
def test_a_negation_never_merges_with_the_original(
    words: list[str], negation: str, end: str, capital: bool
) -> None:
    original = " ".join(words) + end
    negated = " ".join(negate(words, negation)) + end
    if capital:
        original, negated = original.capitalize(), negated.capitalize()
    assert not same_position(original, negated, always_alike, threshold=0.0)
    assert cluster_answers([original, negated], always_alike, 0.0) == [[0], [1]]
    assert lexical_similarity(original, negated) <= OPPOSED_AT_MOST
    assert not measure_convergence({"a": original}, {"a": negated}, 0.0).converged


numbers = st.decimals(min_value=-(10**6), max_value=10**6, places=2, allow_nan=False)
NUMBER_FORMS = ["{}", "${}", "{}%", "{} replicas", "{} ms", "{} dollars"]


def written(value: Decimal, form: str) -> str:
    text = format(value.normalize(), "f")
    return form.format(text if value else "0")


@settings(max_examples=300)
@given(sentences(), numbers, numbers, st.sampled_from(NUMBER_FORMS), st.integers(0, 12))
def test_a_different_number_never_merges(
    words: list[str], first: Decimal, second: Decimal, form: str, at: int
) -> None:
    assume(first != second)
    at = min(at, len(words))
    a = " ".join([*words[:at], written(first, form), *words[at:]])
    b = " ".join([*words[:at], written(second, form), *words[at:]])
    assert not same_position(a, b, always_alike, threshold=0.0)
    assert cluster_answers([a, b], always_alike, 0.0) == [[0], [1]]
    assert lexical_similarity(a, b) <= OPPOSED_AT_MOST
    # The number alone, and in a frame, keeps its value.
    assert not same_position(written(first, form), f"The answer is {written(second, form)}.")


@given(numbers, st.sampled_from(NUMBER_FORMS))
def test_the_same_number_written_another_way_merges(value: Decimal, form: str) -> None:
    plain = written(value, form)
    padded = form.format(format(value, "f") + ("0" if "." in format(value, "f") else ".0"))
    for variant in (f"The answer is {plain}.", f"**{plain}**", f"Answer: {padded}"):
        assert same_position(plain, variant)


WORDS = ["yes", "No", "not", "42", "43", "$1,000", "PostgreSQL", "SQLite", "Option", "A", "B"]
answers = st.lists(
    st.sampled_from(
        [
            "Yes.",
            "No, it is not prime.",
            "42",
            "The answer is 42.",
            "PostgreSQL",
            "",
            "Use PostgreSQL for everything because it scales, has mature tooling and JSON.",
            "Use PostgreSQL for everything, because it scales, has mature tooling and JSON!",
            "Do not use PostgreSQL for everything because it scales, has mature tooling and JSON.",
            "Use SQLite for everything because it scales, has mature tooling and supports JSON.",
        ]
    )
    | sentences().map(" ".join)
    | st.lists(st.sampled_from(WORDS), min_size=1, max_size=9).map(" ".join),
    max_size=10,
)
scores = st.floats(0.0, 1.0) | st.just(math.nan)


@given(answers, st.lists(scores, min_size=1), st.sampled_from([0.0, 0.5, 0.8, 1.0]))
def test_clustering_is_a_partition_that_never_mixes_positions(
    texts: list[str], table: list[float], threshold: float
) -> None:
    def scripted(a: str, b: str) -> float:
        # Any deterministic similarity at all, symmetric or not.
        return table[(len(a) * 7 + len(b)) % len(table)]

    for similarity in (scripted, always_alike, lexical_similarity):
        clusters = cluster_answers(texts, similarity, threshold)
        assert sorted(i for cluster in clusters for i in cluster) == list(range(len(texts)))
        assert cluster_answers(list(texts), similarity, threshold) == clusters
        cluster_of = {i: n for n, cluster in enumerate(clusters) for i in cluster}
        keys = [normalize_answer(text) for text in texts]
        for i, key in enumerate(keys):
            for j in range(i + 1, len(texts)):
                together = cluster_of[i] == cluster_of[j]
                if key and key == keys[j]:
                    assert together  # whatever the similarity says
                elif together:
                    assert difference(texts[i], texts[j]) is None


@given(answers.filter(lambda texts: len(texts) >= 2), st.sampled_from([0.0, 0.8]))
def test_same_position_is_symmetric_and_agrees_with_clustering(
    texts: list[str], threshold: float
) -> None:
    a, b = texts[0], texts[1]
    assert same_position(a, b, threshold=threshold) == same_position(b, a, threshold=threshold)
    assert difference(a, b) == difference(b, a)
    assert lexical_similarity(a, b) == lexical_similarity(b, a)
    together = len(cluster_answers([a, b], threshold=threshold)) == 1
    assert same_position(a, b, threshold=threshold) == together
    if difference(a, b) is not None and normalize_answer(a) != normalize_answer(b):
        assert lexical_similarity(a, b) <= OPPOSED_AT_MOST


@given(
    st.dictionaries(st.sampled_from("abcd"), answers.map(lambda t: t[0] if t else "x")),
    st.dictionaries(st.sampled_from("abcd"), answers.map(lambda t: t[-1] if t else "y")),
    st.sampled_from([0.0, 0.3, 0.85, 1.0]),
)
def test_convergence_never_hides_a_changed_position(
    previous: dict[str, str], current: dict[str, str], threshold: float
) -> None:
    result = measure_convergence(previous, current, threshold)
    changed = [
        a
        for a in result.per_agent
        if not same_position(previous[a], current[a], threshold=threshold)
    ]
    assert result.converged == (bool(result.per_agent) and not changed)
    assert (result.status == "converged") == result.converged
    for agent in changed:
        assert result.per_agent[agent] < threshold or result.per_agent[agent] == 0.0


@pytest.mark.parametrize(
    "negated",
    [
        "We should not migrate the billing service now",
        "We should NOT migrate the billing service now",
        "We should never migrate the billing service now",
        "We shouldn't migrate the billing service now",
        "We shouldn’t migrate the billing service now",
        "We shouldnt migrate the billing service now",
        "We cannot migrate the billing service now",
        "We can not migrate the billing service now",
    ],
)
def test_a_negation_is_found_in_any_case_and_spelling(negated: str) -> None:
    plain = "We should migrate the billing service now"
    assert difference(negated, plain) is Difference.POLARITY
    assert lexical_similarity(negated, plain) <= OPPOSED_AT_MOST
