"""Canonical answer keys, lexical similarity, and clustering answers into options.

Agents word the same answer differently ("Yes.", "YES — because ...", "True"), and votes and
consensus count *options*, so every answer is first reduced to a key by
:func:`normalize_answer`; equal keys are the same answer. Answers whose keys differ may still
say the same thing in other words; :func:`cluster_answers` groups those by a similarity
function, but only for free text: short labels, numbers and yes/no never merge by similarity,
because "PostgreSQL" and "SQLite", or "42" and "43", are close in letters and far in meaning.

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
from functools import lru_cache
from itertools import pairwise
from operator import mul
from typing import TypeVar

from aragora.errors import InvalidInputError

__all__ = [
    "SHORT_LABEL_WORDS",
    "Similarity",
    "cluster_answers",
    "lexical_similarity",
    "normalize_answer",
]

_T = TypeVar("_T")

Similarity = Callable[[str, str], float]
"""How alike two answer texts are, from 0 (nothing in common) to 1 (the same answer)."""

SHORT_LABEL_WORDS = 6
"""Answers of at most this many words are labels: they match by key only, never by similarity."""

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

_PUNCTUATION = string.punctuation + "“”‘’«»„—–…¿¡·•"
_STOPWORDS = frozenset(
    (
        *("a", "an", "the", "and", "or", "but", "if", "then", "so", "of", "to", "in", "on"),
        *("at", "by", "for", "with", "from", "as", "into", "than", "that", "this", "these"),
        *("those", "it", "its", "is", "are", "was", "were", "be", "been", "being", "do"),
        *("does", "did", "have", "has", "had", "i", "we", "you", "he", "she", "they", "them"),
        *("my", "our", "your", "their", "me", "us", "not", "just", "also", "very", "can"),
        *("could", "would", "should", "will", "shall", "may", "might", "must", "there", "here"),
        *("which", "who", "whom", "what", "when", "where", "why", "how", "all", "any", "some"),
        *("such", "more", "most", "other"),
    )
)


@lru_cache(maxsize=8192)
def normalize_answer(text: str) -> str:
    """Return the canonical key of an answer: two answers are the same option iff their keys
    are equal. Pure, total on ``str`` and idempotent (``normalize_answer`` of a key is the key).

    - yes/no family → ``"yes"`` / ``"no"``, but only when the answer *starts* with the word as a
      standalone word ("Yes, definitely", "NO — because ..."; not "Nobody", "Yesterday",
      "No-code"). "Y", "True", "Correct" and their negatives must be followed by punctuation
      or nothing ("True." is yes; "True north" is not).
    - a sole number → canonical decimal: sign, thousands commas, currency symbols, leading and
      trailing zeros dropped ("$1,000.00" → "1000", "+42" → "42", "-0.0" → "0"). A percentage
      keeps its "%" ("50 %" → "50%"), since whether 50% equals 50 or 0.5 depends on the
      question; one unit word is kept ("42km" → "42 km").
    - a short label (≤ :data:`SHORT_LABEL_WORDS` words) → casefolded, whitespace collapsed,
      wrapping quotes/markdown/punctuation and leading articles dropped ("The Eiffel Tower." →
      "eiffel tower").
    - longer free text → casefolded, whitespace collapsed, punctuation stripped at the ends.

    Text that is blank or nothing but punctuation gives ``""``.
    """
    key = _strip_wrapping(text.casefold())
    words = key.split(" ")
    if len(words) <= SHORT_LABEL_WORDS:
        # Dropping an article can expose more wrapping ('the "x"'), so repeat to a fixpoint.
        while len(words) > 1 and words[0] in _ARTICLES:
            key = _strip_wrapping(" ".join(words[1:]))
            words = key.split(" ")
    if all(unicodedata.category(char).startswith("P") for char in key):
        return ""  # "-", "…", "—": nothing to count as an answer
    verdict = _yes_no(key)
    if verdict is not None:
        return verdict
    if len(words) <= SHORT_LABEL_WORDS:
        number = _number(key)
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
    unigrams and bigrams (casefolded, punctuation dropped, common English stopwords ignored
    unless a text has nothing else). Linear in the texts' length.
    """
    key_a, key_b = normalize_answer(a), normalize_answer(b)
    if not key_a or not key_b:
        return 0.0
    if key_a == key_b:
        return 1.0
    return _cosine(_features(key_a), _features(key_b))


def cluster_answers(
    answers: Sequence[str],
    similarity: Similarity = lexical_similarity,
    threshold: float = 0.8,
) -> list[list[int]]:
    """Partition the indices of ``answers`` into clusters of the same answer.

    Answers with equal non-empty keys always share a cluster. An answer with a new key joins an
    earlier cluster only when both it and that cluster's first answer are free text and
    ``similarity`` of the two raw texts is at least ``threshold`` (the most similar such
    cluster; the earliest on a tie). An empty answer is never like anything: each forms its
    own cluster. Clusters come in order of first appearance, indices ascending, so the result
    depends only on the answers and their order. Raises :class:`InvalidInputError` for a
    threshold outside [0, 1].
    """
    _check_threshold(threshold)
    clusters: list[list[int]] = []
    leaders: list[tuple[int, str]] = []  # (cluster, its first answer) of free-text clusters
    cluster_of_key: dict[str, int] = {}
    for index, answer in enumerate(answers):
        key = normalize_answer(answer)
        if not key:
            clusters.append([index])
            continue
        target = cluster_of_key.get(key)
        if target is None and _is_free_text(key):
            target = _most_similar(answer, leaders, similarity, threshold)
        if target is None:
            target = len(clusters)
            clusters.append([])
            if _is_free_text(key):
                leaders.append((target, answer))
        clusters[target].append(index)
        cluster_of_key[key] = target
    return clusters


def _most_similar(
    answer: str, leaders: list[tuple[int, str]], similarity: Similarity, threshold: float
) -> int | None:
    best: int | None = None
    best_score = -1.0
    for cluster, leader in leaders:
        score = similarity(leader, answer)
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
    if not rest or rest[0] in _YES_NO_ENDERS:
        return verdict
    after = rest[1:2]
    if rest[0] in ".-":
        # "Yes. Because" and "no - it" end the word; "N.Y.C." and "No-code" do not.
        return verdict if not after or after == " " else None
    if rest[0] == " " and (word in _YES_WORDS or word in _NO_WORDS):
        return verdict
    return None


def _number(key: str) -> str | None:
    match = _NUMBER.fullmatch(key)
    if match is None or not (match["int"] or match["frac"]):
        return None
    if match["sign"] and match["sign2"]:
        return None
    integer = match["int"].replace(",", "").lstrip("0") or "0"
    fraction = (match["frac"] or ".")[1:].rstrip("0")
    text = f"{integer}.{fraction}" if fraction else integer
    if (match["sign"] or match["sign2"]) in ("-", "−") and text != "0":
        text = "-" + text
    if match["percent"]:
        return text + "%"
    if match["unit"]:
        return f"{text} {match['unit']}"
    return text


def _features(key: str) -> tuple[Counter[str], Counter[tuple[str, str]]]:
    # str.split and strip beat a tokenising regex by 2x on long texts, and keep "node.js" and
    # "well-known" whole, as a reader would.
    words = [word for word in (raw.strip(_PUNCTUATION) for raw in key.split()) if word]
    content = [word for word in words if word not in _STOPWORDS] or words
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
