"""Canonical answer keys, lexical similarity, and grouping answers into positions.

Agents word the same answer differently ("Yes.", "YES — because ...", "Final answer: yes"),
and votes and consensus count *positions*, so every answer is first reduced to a key by
:func:`normalize_answer`; equal keys are the same position. Answers whose keys differ may
still say the same thing in other words; :func:`cluster_answers` merges those by a similarity
function, but only free text, and only when :func:`aragora.debate.positions.difference` finds
no disagreement in polarity, numbers, names or opposites: "17 is not prime" and "17 is prime",
"3 replicas" and "5 replicas", "Use PostgreSQL ..." and "Use SQLite ..." are close in letters
and far in meaning. When unsure the rules keep answers apart: the vote can still gather
support later, while a wrong merge fabricates consensus.

:func:`lexical_similarity` is the default similarity. It lives here, next to the keys it is
defined by, rather than in :mod:`aragora.debate.convergence` (which re-exports it): clustering
needs it and it needs the keys, so putting it in convergence would make the two modules import
each other. The direction is one way: convergence builds on this module.
"""

from __future__ import annotations

import math
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from operator import mul
from typing import TypeVar

from aragora.debate.lexicon import canonical_decimal, lexicon, spelled_number, split_negation
from aragora.debate.positions import difference
from aragora.errors import InvalidInputError

__all__ = [
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

_T = TypeVar("_T")

Similarity = Callable[[str, str], float]
"""How alike two answer texts are, from 0 (nothing in common) to 1 (the same answer)."""

SHORT_LABEL_WORDS = 6
"""Answers of at most this many words are labels: they match by key only, never by similarity."""

OPPOSED_AT_MOST = 0.5
"""The highest :func:`lexical_similarity` of two answers that take different positions
(:func:`~aragora.debate.positions.difference`), however many words they share."""

_ARTICLES = frozenset({"a", "an", "the"})

# Markdown emphasis, quotes and block markers wrap answers without being part of them. "." is
# not stripped at the start, so ".5" stays a number; "-" only goes as a "- " bullet, so "-5" does.
_LEAD_JUNK = " \"'`*_~>#“”‘’«»„"
_TRAIL_JUNK = " \"'`*_~“”‘’«».,;:!?"
_PAIRS = frozenset({("(", ")"), ("[", "]"), ("{", "}")})
_BULLETS = ("- ", "• ", "+ ")

_YES_WORDS = frozenset({"yes", "yeah", "yep", "yup", "yea"})
_NO_WORDS = frozenset({"no", "nope", "nah"})
# Words that are also ordinary words ("True north", "Correct the schema first") count only when
# punctuation or the end of the answer follows them, never a plain space.
_WEAK_YES = frozenset({"y", "true", "correct", "affirmative"})
_WEAK_NO = frozenset({"n", "false", "incorrect", "negative"})
_YES_NO_ENDERS = frozenset(",;:!?)—–\"'”’»")
_FIRST_WORD = re.compile(r"[^\W\d_]+")

_NUMBER = re.compile(
    r"(?P<sign>[+\-−]?)(?P<currency>[$€£¥]?) ?(?P<sign2>[+\-−]?)"
    r"(?P<int>[0-9]{1,3}(?:,[0-9]{3})+|[0-9]*)(?P<frac>\.[0-9]+)?"
    r"(?: ?(?P<percent>%)| ?(?P<unit>[^\W\d_]+(?:/[^\W\d_]+)?))?"
)
# "42 (forty-two)": a number restated in brackets.
_RESTATED = re.compile(r"(?P<outer>[^()]+?) ?\((?P<inner>[^()]+)\)")
_BOXED = re.compile(r"\\boxed\{(?P<inner>.*)\}")
_WORD = re.compile(r"[^\W_]+")
_PLAIN_NUMBER = re.compile(r"(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?")

_PUNCTUATION = string.punctuation + "“”‘’«»„—–…¿¡·•"


@lru_cache(maxsize=8192)
def normalize_answer(text: str) -> str:
    """Return the canonical key of an answer: equal keys are the same position. Pure, total on
    ``str`` and idempotent (``normalize_answer`` of a key is the key).

    - wrapping goes first, repeatedly: whitespace runs, quotes, markdown emphasis, bullets,
      end punctuation, ``\\boxed{}``, and a leading answer frame ("Answer:", "Final answer:",
      "The answer is", "It's", "I think"; the lexicon lists them all).
    - yes/no family → ``"yes"`` / ``"no"``, when the answer *starts* with the word as a
      standalone word ("Yes, definitely", "NO — because ...", "No, it is not prime"; not
      "Nobody", "Yesterday", "No-code"). "Y", "True", "Correct" and their negatives must be
      followed by punctuation or nothing ("True." is yes; "True north" is not). A qualifier
      right after the word keeps the answer whole: "Yes, but only for reads", "No, unless
      ...", "Yes and no" are not plain "yes" / "no".
    - a sole number → canonical decimal: sign, thousands commas, leading and trailing zeros
      dropped ("1,000.00" → "1000", "+42" → "42", "-0.0" → "0", "forty-two" → "42"). Its
      unit stays: a currency symbol, name or code is one unit ("$1,000", "1000 dollars",
      "1,000 USD" → "$1000", which is not "1000"), "%" or "percent" → "50%" (50% is not 0.5),
      one unit word otherwise ("42km" → "42 km", "three replicas" → "3 replicas"). A
      bracketed restatement of the same number goes ("42 (forty-two)" → "42").
    - a short label (≤ :data:`SHORT_LABEL_WORDS` words) → casefolded, whitespace collapsed,
      wrapping and leading articles dropped ("The Eiffel Tower." → "eiffel tower").
    - longer free text → casefolded, whitespace collapsed, wrapping dropped at the ends.

    Text that is blank or nothing but punctuation gives ``""``.
    """
    key = text.casefold()
    while True:
        before = key
        key = _strip_frame(_unbox(_strip_wrapping(key)))
        words = key.split(" ")
        if 1 < len(words) <= SHORT_LABEL_WORDS and words[0] in _ARTICLES:
            key = " ".join(words[1:])
        if key == before:
            break
    if all(unicodedata.category(char).startswith("P") for char in key):
        return ""  # "-", "…", "—": nothing to count as an answer
    verdict = _yes_no(key)
    if verdict is not None:
        return verdict
    if key.count(" ") < SHORT_LABEL_WORDS:
        number = _sole_number(key)
        if number is not None:
            return number
    return key


def _is_free_text(key: str) -> bool:
    # Only free text may merge with a different key by similarity.
    return key.count(" ") >= SHORT_LABEL_WORDS


@lru_cache(maxsize=8192)
def lexical_similarity(a: str, b: str) -> float:
    """Return how alike two texts are in words, in [0, 1]; symmetric and dependency-free.

    1.0 when both have the same non-empty :func:`normalize_answer` key; 0.0 when either is
    empty or they share no content word. Otherwise the cosine of their counts of content-word
    unigrams and bigrams (casefolded, punctuation dropped, n't and "cannot" read as "not",
    common English stopwords ignored unless a text has nothing else; negations are content,
    never stopwords), but at most :data:`OPPOSED_AT_MOST` when the two answers take different
    positions (:func:`~aragora.debate.positions.difference`: polarity, numbers, names or
    opposites), so "17 is not prime" is never nearly "17 is prime". Linear in the texts' length.
    """
    key_a, key_b = normalize_answer(a), normalize_answer(b)
    if not key_a or not key_b:
        return 0.0
    if key_a == key_b:
        return 1.0
    score = _cosine(_features(key_a), _features(key_b))
    if score > OPPOSED_AT_MOST and difference(a, b) is not None:
        return OPPOSED_AT_MOST
    return score


@dataclass(frozen=True, slots=True)
class Comparison:
    """How two answers compare (see :func:`compare_answers`)."""

    same: bool
    """Whether they are the same position."""
    similarity: float
    """How alike their words are, in [0, 1]."""


def compare_answers(
    a: str, b: str, similarity: Similarity = lexical_similarity, threshold: float = 0.8
) -> Comparison:
    """Compare two answers the way :func:`cluster_answers` does.

    ``same`` is true when their non-empty keys are equal, or when both are free text
    (more than :data:`SHORT_LABEL_WORDS` words), :func:`~aragora.debate.positions.difference`
    finds nothing between them and ``similarity(a, b)`` is at least ``threshold`` — exactly
    when ``cluster_answers([a, b], similarity, threshold)`` is one cluster. ``similarity`` is
    1.0 for equal keys, 0.0 when either answer is empty, otherwise ``similarity(a, b)`` (called
    once) clamped to [0, 1] with NaN read as 0. Raises :class:`InvalidInputError` for a
    threshold outside [0, 1].
    """
    _check_threshold(threshold)
    key_a, key_b = normalize_answer(a), normalize_answer(b)
    if not key_a or not key_b:
        return Comparison(same=False, similarity=0.0)
    if key_a == key_b:
        return Comparison(same=True, similarity=1.0)
    score = similarity(a, b)
    # A NaN compares false both ways, so it never merges.
    same = score >= threshold and _mergeable(a, key_a, b, key_b)
    return Comparison(same=same, similarity=0.0 if math.isnan(score) else min(1.0, max(0.0, score)))


def same_position(
    a: str, b: str, similarity: Similarity = lexical_similarity, threshold: float = 0.8
) -> bool:
    """Whether two answers are the same position: ``compare_answers(a, b, similarity,
    threshold).same``. Symmetric when ``similarity`` is; false when either answer is empty."""
    return compare_answers(a, b, similarity, threshold).same


def cluster_answers(
    answers: Sequence[str],
    similarity: Similarity = lexical_similarity,
    threshold: float = 0.8,
) -> list[list[int]]:
    """Partition the indices of ``answers`` into clusters of the same position.

    Answers with equal non-empty keys always share a cluster, whatever ``similarity`` says.
    An answer with a new key joins an earlier cluster only when it and every member of that
    cluster are free text, :func:`~aragora.debate.positions.difference` finds nothing between
    it and any member, and ``similarity`` of the cluster's first answer and it (in that order)
    is at least ``threshold``: the most similar such cluster, the earliest on a tie.
    ``similarity`` is never asked about answers that cannot merge. So no cluster holds two
    answers that differ in polarity, numbers, names or opposites unless their keys are equal
    ("No" and "No, it is not prime"). An empty answer is never like anything: each forms its
    own cluster. Clusters come in order of first appearance, indices ascending, so the result
    depends only on the answers and their order. Raises :class:`InvalidInputError` for a
    threshold outside [0, 1].
    """
    _check_threshold(threshold)
    clusters: list[list[int]] = []
    free: list[int] = []  # the clusters of free text, which other free text may join
    cluster_of_key: dict[str, int] = {}
    for index, answer in enumerate(answers):
        key = normalize_answer(answer)
        if not key:
            clusters.append([index])
            continue
        target = cluster_of_key.get(key)
        if target is None and _is_free_text(key):
            candidates = [
                cluster
                for cluster in free
                if all(difference(answers[m], answer) is None for m in clusters[cluster])
            ]
            target = _most_similar(answers, answer, clusters, candidates, similarity, threshold)
        if target is None:
            target = len(clusters)
            clusters.append([])
            if _is_free_text(key):
                free.append(target)
        clusters[target].append(index)
        cluster_of_key[key] = target
    return clusters


def _mergeable(a: str, key_a: str, b: str, key_b: str) -> bool:
    return _is_free_text(key_a) and _is_free_text(key_b) and difference(a, b) is None


def _most_similar(
    answers: Sequence[str],
    answer: str,
    clusters: list[list[int]],
    candidates: list[int],
    similarity: Similarity,
    threshold: float,
) -> int | None:
    best: int | None = None
    best_score = -1.0
    for cluster in candidates:
        score = similarity(answers[clusters[cluster][0]], answer)
        # A NaN from a custom similarity compares false both ways, so it never merges.
        if score >= threshold and score > best_score:
            best, best_score = cluster, score
    return best


def _check_threshold(threshold: float) -> None:
    if not (isinstance(threshold, int | float) and 0.0 <= threshold <= 1.0):
        raise InvalidInputError(f"similarity threshold must be in [0, 1], got {threshold!r}")


def _strip_wrapping(text: str) -> str:
    """Collapse whitespace and peel quotes, markdown, bullets and end punctuation to a fixpoint."""
    text = " ".join(text.split())
    while True:
        before = text
        text = text.lstrip(_LEAD_JUNK).rstrip(_TRAIL_JUNK)
        if text.startswith(_BULLETS):
            text = text[2:]
        if len(text) >= 2 and (text[0], text[-1]) in _PAIRS:
            text = text[1:-1]
        text = text.strip(" ")
        if text == before:
            return text


def _unbox(text: str) -> str:
    # LaTeX answers: "\boxed{42}", "$\boxed{42}$".
    if len(text) > 2 and text[0] == text[-1] == "$":
        text = text[1:-1].strip(" ")
    match = _BOXED.fullmatch(text)
    return match["inner"].strip(" ") if match else text


def _strip_frame(text: str) -> str:
    match = _frames().match(text)
    if match is None:
        return text
    rest = text[match.end() :]
    # "It is." is an answer, not a frame around nothing.
    return rest if any(char.isalnum() for char in rest) else text


@lru_cache(maxsize=1)
def _frames() -> re.Pattern[str]:
    words = lexicon()
    colon = "|".join(re.escape(frame) for frame in words.colon_frames)
    space = "|".join(re.escape(frame) for frame in words.space_frames)
    return re.compile(rf"(?:{colon})[*_`]*(?:\s*:|\s+[-—–](?=\s))|(?:{space})[*_`]*(?:\s*:|(?=\s))")


def _yes_no(key: str) -> str | None:
    match = _FIRST_WORD.match(key)
    if match is None:
        return None
    word = match.group()
    if word in _YES_WORDS or word in _WEAK_YES:
        verdict = "yes"
    elif word in _NO_WORDS or word in _WEAK_NO:
        verdict = "no"
    else:
        return None
    rest = key[match.end() :]
    if not rest:
        return verdict
    if _qualified(rest):
        return None
    if rest[0] in _YES_NO_ENDERS:
        return verdict
    after = rest[1:2]
    if rest[0] in ".-":
        # "Yes. Because" and "no - it" end the word; "N.Y.C." and "No-code" do not.
        return verdict if not after or after == " " else None
    if rest[0] == " " and (word in _YES_WORDS or word in _NO_WORDS):
        return verdict
    return None


def _qualified(rest: str) -> bool:
    """Whether the words right after a leading yes/no make it conditional."""
    following = _WORD.findall(rest[:80])[:2]
    if not following:
        return False
    first, qualifiers = following[0], lexicon().verdict_qualifiers
    if first in qualifiers or " ".join(following) in qualifiers:
        return True
    # "Yes and no", "yes or no": both verdicts at once are neither.
    verdicts = _YES_WORDS | _NO_WORDS
    return first in ("and", "or") and len(following) > 1 and following[1] in verdicts


def _sole_number(key: str) -> str | None:
    number = _number(key)
    if number is not None:
        return number
    match = _RESTATED.fullmatch(key)
    if match is None:
        return None
    outer = _number(_strip_wrapping(match["outer"]))
    return outer if outer is not None and outer == _number(match["inner"].strip(" ")) else None


def _number(key: str) -> str | None:
    match = _NUMBER.fullmatch(key)
    if match is None or not (match["int"] or match["frac"]):
        return _spelled(key)
    if match["sign"] and match["sign2"]:
        return None
    negative = (match["sign"] or match["sign2"]) in ("-", "−")
    digits = canonical_decimal(match["int"], (match["frac"] or ".")[1:])
    currency = lexicon().currencies.get(match["currency"], match["currency"])
    return _quantity(
        digits, negative and digits != "0", currency, match["percent"] or match["unit"]
    )


def _spelled(key: str) -> str | None:
    # "forty-two" → "42", "three replicas" → "3 replicas", "fifty percent" → "50%".
    words = key.split(" ")
    value = spelled_number(words)
    if value is not None:
        return str(value)
    if len(words) < 2 or not words[-1].isalpha():
        return None
    value = spelled_number(words[:-1])
    if value is None or spelled_number(words[-1:]) is not None:
        return None
    return _quantity(str(abs(value)), value < 0, "", words[-1])


def _quantity(digits: str, negative: bool, currency: str, unit: str | None) -> str | None:
    words = lexicon()
    unit = unit or ""
    if unit in words.currencies:
        if currency and words.currencies[unit] != currency:
            return None  # "$5 euros" is no one amount
        currency, unit = words.currencies[unit], ""
    unit = words.unit_symbols.get(unit, unit)
    text = ("-" if negative else "") + currency + digits
    if unit == "%":
        return text + "%"
    return f"{text} {unit}" if unit else text


def _features(key: str) -> tuple[Counter[str], Counter[tuple[str, str]]]:
    # str.split and strip beat a tokenising regex by 2x on long texts, and keep "node.js" and
    # "well-known" whole, as a reader would.
    words: list[str] = []
    numbers = lexicon().number_words
    for raw in key.split():
        word = raw.strip(_PUNCTUATION)
        if not word:
            continue
        if word[0].isdigit() and _PLAIN_NUMBER.fullmatch(word):
            whole, _, fraction = word.partition(".")
            word = canonical_decimal(whole, fraction)  # "1,000" is "1000"
        elif word in numbers or "-" in word:
            value = spelled_number((word,))  # "three" is "3", "forty-two" is "42"
            word = word if value is None else str(value)
        words.extend(split_negation(word))
    stopwords = lexicon().stopwords
    content = [word for word in words if word not in stopwords] or words
    # Bigrams reward shared phrasing and word order, which unigrams alone ignore.
    return Counter(content), Counter(pairwise(content))


def _cosine(
    a: tuple[Counter[str], Counter[tuple[str, str]]],
    b: tuple[Counter[str], Counter[tuple[str, str]]],
) -> float:
    # Integer arithmetic until the last step makes the result exactly symmetric.
    dot = _dot(a[0], b[0]) + _dot(a[1], b[1])
    if dot == 0:
        return 0.0
    norm_a = sum(map(mul, a[0].values(), a[0].values())) + sum(
        map(mul, a[1].values(), a[1].values())
    )
    norm_b = sum(map(mul, b[0].values(), b[0].values())) + sum(
        map(mul, b[1].values(), b[1].values())
    )
    return min(1.0, dot / math.sqrt(norm_a * norm_b))


def _dot(a: Counter[_T], b: Counter[_T]) -> int:
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    return sum(count * large[item] for item, count in small.items() if item in large)
