"""What makes two answers different positions, however many words they share.

Word overlap cannot see that "17 is prime" and "17 is not prime" disagree, or that "Use
PostgreSQL for billing this quarter" and "Use SQLite for billing this quarter" pick different
options: one word apart, they score as near-duplicates. This module reads from an answer the
parts that make it *this* answer and not another (its :class:`Stance`) and
:func:`difference` names the first kind of disagreement found between two answers:

- ``polarity``: the negations differ ("not", "no", "never", "none", "nothing", "nobody",
  "nowhere", "neither", "nor", "without", every n't contraction, "cannot" and apostrophe-less
  spellings such as "dont"), each negation counted with the word it governs (the next word
  in its clause that is not a stopword, or the quantity that follows), so "migrate now, not
  later" differs from "migrate later, not now"; or the verdict words ("yes", "true",
  "false") differ.
- ``numbers``: the quantities differ, compared in order of first appearance, each with its
  unit: digits with signs, decimals, thousands commas, "%" and currencies ("$1,000" = "1000
  dollars" = "1,000 USD"), spelled numbers ("three replicas" = "3 replicas"), and the word
  after a number as its unit ("3 replicas" is not "3 shards"); "3 then 5" is not "5 then 3".
- ``names``: a name one answer uses does not occur in the other (compared by crude stem, so
  "PostgreSQL's" finds "PostgreSQL"). A name is a capitalised word that is not a stopword or
  one of the lexicon's plain words ("Answer", "However", ...), even at the start of a
  sentence ("Redis is ..." vs "Memcached is ..."), except a sentence-opening word ending in
  -ly, -ing or -ed ("Honestly", "Migrating", "Based"); an ALL-CAPS or MixedCase word; a word
  with digits that is no quantity (Q3, v2, gpt-4, 3-5); code (anything in backticks,
  snake_case, node.js, flush(), C++, C#); a single capital letter inside a sentence (Option B;
  a sentence's opening "A" is the article); an ordinal not followed by a comma ("the second
  option", but not "First, ...").
- ``opposites``: a word only one answer has is the opposite of a word only the other has:
  a pair from the lexicon (increase / decrease, now / later, allow / deny ...) or the same
  word with a negative prefix (safe / unsafe, valid / invalid, agree / disagree).

Answers with no difference are not thereby the same position; a similarity still has to
judge their wording (:func:`aragora.debate.normalize.cluster_answers`). The rules err
towards difference on purpose: a missed merge costs a vote, a wrong one fabricates consensus.
Pure and cached: each text is read once (linear in its length) and comparing two readings is
linear in their sizes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from aragora.debate.lexicon import (
    Lexicon,
    canonical_decimal,
    lexicon,
    negates,
    spelled_number,
    split_negation,
    stem,
)

__all__ = ["Difference", "Stance", "difference", "stance"]

_LINE_MARKERS = re.compile(r"^[ \t]*(?:[#>]+[ \t]*|[-*+•][ \t]+|[0-9]{1,2}[.)][ \t]+)*")
_OPENERS = "\"'`*_~([{“‘«<¿¡"
_CLOSERS = "\"'`*_~)]}”’»>"
_CLAUSE_END = ",;:.!?…"
_SENTENCE_END = ".!?:…"
_TRAILERS = _CLOSERS + _CLAUSE_END
_NUMBER_START = frozenset("0123456789+-−$€£¥.")
_CLAUSE_END_SET = frozenset(_CLAUSE_END)
_SENTENCE_END_SET = frozenset(_SENTENCE_END)
_ALNUM = re.compile(r"[^\W_]")
_DASHES = frozenset({"-", "--", "—", "–"})
_NUMBER = re.compile(
    r"(?P<sign>[+\-−]?)(?P<currency>[$€£¥]?)(?P<sign2>[+\-−]?)"
    r"(?P<int>[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)?(?P<frac>\.[0-9]+)?"
    r"(?P<suffix>%|[^\W\d_]+)?"
)
_CODE = re.compile(r"_|::|\(\)|\+\+$|#$|[^\W_]{2,}\.[^\W_]{2,}")


class Difference(StrEnum):
    """The kinds of disagreement :func:`difference` finds (see the module docstring)."""

    POLARITY = "polarity"
    NUMBERS = "numbers"
    NAMES = "names"
    OPPOSITES = "opposites"


@dataclass(frozen=True, slots=True)
class Stance:
    """The parts of an answer that fix its position, as read by :func:`stance`."""

    negations: tuple[tuple[str, str], ...]
    """(negator, stem of the word it governs or ""), sorted; n't and "cannot" read "not"."""
    verdicts: frozenset[str]
    """The verdict words it uses."""
    numbers: tuple[str, ...]
    """Canonical quantities with their units, in order of first appearance, without repeats."""
    names: frozenset[str]
    """Stems of the names, identifiers, code, option letters and ordinals it uses."""
    stems: frozenset[str]
    """Stems of all its words (casefolded, contractions split)."""


@dataclass(slots=True)
class _Token:
    raw: str  # as written, wrapping punctuation removed
    word: str  # casefolded, possessive 's removed
    starts_sentence: bool
    code: bool  # inside `backticks`
    ends_clause: bool = False


def difference(a: str, b: str) -> Difference | None:
    """Return how answers ``a`` and ``b`` differ in position, or ``None`` when they agree in
    polarity, numbers, names and opposites. Symmetric: ``difference(a, b) ==
    difference(b, a)``; ``None`` for any text and itself."""
    first, second = stance(a), stance(b)
    if first.negations != second.negations or first.verdicts != second.verdicts:
        return Difference.POLARITY
    if first.numbers != second.numbers:
        return Difference.NUMBERS
    if not (first.names <= second.stems and second.names <= first.stems):
        return Difference.NAMES
    if _opposed(first.stems - second.stems, second.stems - first.stems, lexicon()):
        return Difference.OPPOSITES
    return None


@lru_cache(maxsize=8192)
def stance(text: str) -> Stance:
    """Read the parts of ``text`` that fix its position (see the module docstring). Total on
    ``str``; linear in its length."""
    words = lexicon()
    tokens = _tokens(text)
    negations: list[tuple[str, str]] = []
    pending: list[str] = []  # negators still looking for the word they govern
    numbers: list[str] = []
    names: set[str] = set()
    stems: set[str] = set()
    verdicts: set[str] = set()
    index = 0
    while index < len(tokens):
        token = tokens[index]
        quantity, used = _quantity(tokens, index, words)
        if quantity is not None:
            numbers.append(quantity)
            stems.update(stem(t.word) for t in tokens[index : index + used])
            negations.extend((negator, quantity) for negator in pending)
            pending.clear()
            index += used
            continue
        for word in split_negation(token.word):
            stems.add(stem(word))
            if word in words.negators:  # contractions and "cannot" are split into "not"
                pending.append(word)
            elif word not in words.stopwords and pending:
                negations.extend((negator, stem(word)) for negator in pending)
                pending.clear()
            if word in words.polar_words:
                verdicts.add(word)
        if _is_name(token, words):
            names.add(stem(token.word))
        if token.ends_clause:
            negations.extend((negator, "") for negator in pending)
            pending.clear()
        index += 1
    negations.extend((negator, "") for negator in pending)
    return Stance(
        negations=tuple(sorted(negations)),
        verdicts=frozenset(verdicts),
        numbers=tuple(dict.fromkeys(numbers)),
        names=frozenset(names),
        stems=frozenset(stems),
    )


def _tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    for line in text.replace("—", " — ").replace("–", " – ").splitlines():
        starts_sentence = True
        for chunk in _LINE_MARKERS.sub("", line).split():
            core = chunk.lstrip(_OPENERS).rstrip(_TRAILERS)
            tail = chunk[len(chunk.rstrip(_TRAILERS)) :] if core else chunk
            ends_clause = ends_sentence = False
            if tail:
                ends_clause = not _CLAUSE_END_SET.isdisjoint(tail)
                ends_sentence = not _SENTENCE_END_SET.isdisjoint(tail)
            if not core.isalnum() and (core in _DASHES or not _ALNUM.search(core)):
                # A dash or stray punctuation is no word, but it may end a clause.
                if tokens and (core in _DASHES or ends_clause):
                    tokens[-1].ends_clause = True
                starts_sentence = starts_sentence or ends_sentence
                continue
            parts = [part for part in core.split("/") if part] if "/" in core else (core,)
            for part in parts:
                word = part.casefold()
                if word.endswith(("'s", "’s")) and len(word) > 2:
                    word = word[:-2]
                tokens.append(_Token(part, word, starts_sentence, "`" in chunk))
                starts_sentence = False
            tokens[-1].ends_clause = ends_clause
            starts_sentence = ends_sentence
        if tokens:
            tokens[-1].ends_clause = True  # a clause never runs on past the end of a line
    return tokens


def _quantity(tokens: list[_Token], index: int, words: Lexicon) -> tuple[str | None, int]:
    """The canonical quantity that starts at ``tokens[index]`` and how many tokens it uses,
    or ``(None, 0)``."""
    token = tokens[index]
    currency = unit = ""
    match = _NUMBER.fullmatch(token.raw) if token.raw[0] in _NUMBER_START else None
    if not (match or _is_number_word(token.word, words)):
        return None, 0
    if (
        match is not None
        and (match["int"] or match["frac"])
        and not (match["sign"] and match["sign2"])
    ):
        negative = (match["sign"] or match["sign2"]) in ("-", "−")
        value = canonical_decimal(match["int"] or "", (match["frac"] or ".")[1:], negative=negative)
        currency = match["currency"]
        suffix = (match["suffix"] or "").casefold()
        currency, unit = _unit(suffix, currency, words) if suffix else (currency, "")
        used = 1
    else:
        run = _number_run(tokens, index, words)
        number = spelled_number([t.word for t in tokens[index : index + run]]) if run else None
        if number is None and run > 1:
            run, number = 1, spelled_number([token.word])
        if number is None or (run == 1 and token.word == "one"):
            return None, 0  # "one" alone is mostly a pronoun ("the one we chose")
        value, used = str(number), run
    last = tokens[index + used - 1]
    if not (currency or unit or last.ends_clause) and index + used < len(tokens):
        following = tokens[index + used].word
        if following.isalpha() and not (
            following in words.stopwords or following in words.not_units or negates(following)
        ):
            currency, unit = _unit(following, currency, words)
            used += 1
    sign, digits = ("-", value[1:]) if value.startswith("-") else ("", value)
    quantity = f"{sign}{currency}{digits}"
    if unit == "%":
        return quantity + unit, used
    return (f"{quantity} {unit}" if unit else quantity), used


def _unit(word: str, currency: str, words: Lexicon) -> tuple[str, str]:
    """(currency, unit) once ``word`` is read as the unit of a number."""
    if word in words.currencies:
        return words.currencies[word], ""
    return currency, words.unit_symbols.get(word) or stem(word)


def _number_run(tokens: list[_Token], index: int, words: Lexicon) -> int:
    """How many tokens from ``index`` are number words (with "and" inside), in one clause."""
    end = index
    while end < len(tokens):
        word = tokens[end].word
        if word == "and" and end > index and end + 1 < len(tokens):
            if not _is_number_word(tokens[end + 1].word, words):
                break
        elif not _is_number_word(word, words):
            break
        end += 1
        if tokens[end - 1].ends_clause:
            break
    return end - index


def _is_number_word(word: str, words: Lexicon) -> bool:
    if word in words.number_words or word in words.number_scales:
        return True
    pieces = word.split("-") if "-" in word else ()
    return bool(pieces) and all(p in words.number_words for p in pieces)


def _is_name(token: _Token, words: Lexicon) -> bool:
    raw, word = token.raw, token.word
    if token.code:
        return True
    if not raw.isalpha() and (any(char.isdigit() for char in raw) or _CODE.search(raw)):
        return True
    if word in words.ordinals:
        return not token.ends_clause  # "First, ..." only orders the argument
    if raw == word or not any(char.isupper() for char in raw):
        return False
    if word in words.stopwords or word in words.plain_capitalised or negates(word):
        return False
    if len(word) == 1:
        return not token.starts_sentence  # "Option B"; a sentence's opening "A" is the article
    # "Honestly, ...", "Migrating ...", "Based on ..." open sentences; names rarely end so.
    plain_opener = raw[1:].islower() and word.endswith(("ly", "ing", "ed"))
    return not (token.starts_sentence and plain_opener)


def _opposed(only_a: frozenset[str], only_b: frozenset[str], words: Lexicon) -> bool:
    """Whether a stem only one side has is the opposite of a stem only the other side has."""
    for stem_a in only_a:
        if words.opposites.get(stem_a, frozenset()) & only_b:
            return True
    return _prefixed(only_a, only_b, words) or _prefixed(only_b, only_a, words)


def _prefixed(these: frozenset[str], those: frozenset[str], words: Lexicon) -> bool:
    return any(
        stem_.startswith(prefix) and len(stem_) - len(prefix) >= 3 and stem_[len(prefix) :] in those
        for stem_ in these
        for prefix in words.negative_prefixes
    )
