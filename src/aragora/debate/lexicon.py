"""The word lists of ``lexicon.toml`` and the word-level readings built on them.

Answer keys (:mod:`aragora.debate.normalize`) and positions (:mod:`aragora.debate.positions`)
must agree on which words negate, which are opposites, how a number is written canonically
and what a spelled number is worth, so those readings live here, once. The lists are data,
read from the package on first use and kept for the life of the process.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from types import MappingProxyType
from typing import TypeVar

from aragora.errors import SystemFailure

__all__ = [
    "Lexicon",
    "canonical_decimal",
    "lexicon",
    "load_lexicon",
    "negates",
    "spelled_number",
    "split_negation",
    "stem",
]

_V = TypeVar("_V", str, int)

# What is left of a word before its n't ("ca" of "can't").
_CONTRACTED = {"ca": "can", "wo": "will", "sha": "shall", "ai": "is"}

# Suffixes a crude stemmer drops so that inflections compare equal ("migrates", "migrated",
# "migrating" -> "migrat"); at least three letters always remain.
_SUFFIXES = ("ing", "ed", "es", "s", "e")


@dataclass(frozen=True, slots=True)
class Lexicon:
    """The lists of ``lexicon.toml``, checked and indexed (see that file for each one)."""

    stopwords: frozenset[str]
    negators: frozenset[str]
    negating_spellings: frozenset[str]
    polar_words: frozenset[str]
    verdict_qualifiers: frozenset[str]
    colon_frames: tuple[str, ...]
    space_frames: tuple[str, ...]
    plain_capitalised: frozenset[str]
    ordinals: frozenset[str]
    not_units: frozenset[str]
    opposites: Mapping[str, frozenset[str]]
    """Stem -> the stems of its opposites, both ways round."""
    negative_prefixes: tuple[str, ...]
    currencies: Mapping[str, str]
    unit_symbols: Mapping[str, str]
    number_words: Mapping[str, int]
    number_scales: Mapping[str, int]


@lru_cache(maxsize=1)
def lexicon() -> Lexicon:
    """Return the package's lexicon (``lexicon.toml``), read once per process."""
    text = resources.files("aragora.debate").joinpath("lexicon.toml").read_text("utf-8")
    return load_lexicon(text)


def load_lexicon(text: str) -> Lexicon:
    """Read a lexicon from the text of a ``lexicon.toml``; raises :class:`SystemFailure`
    naming the first list that is missing or malformed (a packaging fault, which no caller
    can fix)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SystemFailure(f"lexicon.toml is not valid TOML: {exc}") from exc
    opposites: dict[str, set[str]] = {}
    pairs = data.get("opposites")
    if not isinstance(pairs, list):
        raise SystemFailure("lexicon.toml: 'opposites' must be a list of pairs of words")
    for pair in pairs:
        if not (isinstance(pair, list) and len(pair) == 2 and all(map(_is_word, pair))):
            raise SystemFailure(f"lexicon.toml: an opposite must be a pair of words, got {pair!r}")
        first, second = stem(pair[0]), stem(pair[1])
        opposites.setdefault(first, set()).add(second)
        opposites.setdefault(second, set()).add(first)
    return Lexicon(
        stopwords=frozenset(_words(data, "stopwords")),
        negators=frozenset(_words(data, "negators")),
        negating_spellings=frozenset(_words(data, "negating_spellings")),
        polar_words=frozenset(_words(data, "polar_words")),
        verdict_qualifiers=frozenset(_words(data, "verdict_qualifiers")),
        # Longest first, so "final answer" is tried before "answer".
        colon_frames=tuple(sorted(_words(data, "colon_frames"), key=len, reverse=True)),
        space_frames=tuple(sorted(_words(data, "space_frames"), key=len, reverse=True)),
        plain_capitalised=frozenset(_words(data, "plain_capitalised")),
        ordinals=frozenset(_words(data, "ordinals")),
        not_units=frozenset(_words(data, "not_units")),
        opposites=MappingProxyType({word: frozenset(them) for word, them in opposites.items()}),
        negative_prefixes=tuple(_words(data, "negative_prefixes")),
        currencies=MappingProxyType(_table(data, "currencies", str)),
        unit_symbols=MappingProxyType(_table(data, "unit_symbols", str)),
        number_words=MappingProxyType(_table(data, "number_words", int)),
        number_scales=MappingProxyType(_table(data, "number_scales", int)),
    )


def _is_word(value: object) -> bool:
    return isinstance(value, str) and bool(value) and value == value.casefold()


def _words(data: Mapping[str, object], name: str) -> list[str]:
    value = data.get(name)
    if not (isinstance(value, list) and all(map(_is_word, value))):
        raise SystemFailure(f"lexicon.toml: {name!r} must be a list of lowercase words")
    return value


def _table(data: Mapping[str, object], name: str, kind: type[_V]) -> dict[str, _V]:
    value = data.get(name)
    if not (
        isinstance(value, dict)
        and all(_is_word(key) for key in value)
        and all(isinstance(v, kind) and not isinstance(v, bool) for v in value.values())
    ):
        raise SystemFailure(
            f"lexicon.toml: [{name}] must map lowercase words to {kind.__name__} values"
        )
    return dict(value)


@lru_cache(maxsize=16384)
def stem(word: str) -> str:
    """Return ``word`` without one common inflection ending, leaving at least three letters:
    "migrates", "migrated", "migrating" and "migrate" all give "migrat". Crude on purpose:
    it only ever compares two answers' words with each other."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            if suffix == "s" and word.endswith("ss"):
                return word  # "less", "process": the s is the word's own
            return word[: -len(suffix)]
    return word


def negates(word: str) -> bool:
    """Whether a casefolded word negates what follows it: a negator ("not", "never", "no",
    "without"...), a contraction in n't ("don't", "can’t"), or "cannot"."""
    words = lexicon()
    return (
        word in words.negators or word in words.negating_spellings or word.endswith(("n't", "n’t"))
    )


def split_negation(word: str) -> tuple[str, ...]:
    """Split a casefolded word that negates by contraction into its verb and "not": "don't"
    → ("do", "not"), "can’t" and "cannot" → ("can", "not"), "wont" → ("will", "not").
    Any other word comes back alone, so a negation is the word "not" however it is spelled."""
    if "n" not in word:
        return (word,)
    if word.endswith(("n't", "n’t")):
        base = word[:-3]
    elif word in lexicon().negating_spellings:
        base = word[:-3] if word == "cannot" else word[:-2]
    else:
        return (word,)
    base = _CONTRACTED.get(base, base)
    return (base, "not") if base else ("not",)


def canonical_decimal(integer: str, fraction: str = "", *, negative: bool = False) -> str:
    """Return the canonical decimal of a number given as its digits: no leading or trailing
    zeros, no thousands separators, "-" only for a non-zero negative ("0042", "500" -> "42.5";
    "-0.0" -> "0")."""
    whole = integer.replace(",", "").lstrip("0") or "0"
    part = fraction.rstrip("0")
    text = f"{whole}.{part}" if part else whole
    return "-" + text if negative and text != "0" else text


def spelled_number(words: Sequence[str]) -> int | None:
    """Return the value of a number written in words, or ``None`` unless *all* of ``words``
    (casefolded) make one well-formed number: "forty-two", "one hundred and five",
    "two thousand twenty", "minus seven". "five twenty" and "hundred hundred" are not numbers.
    """
    parts = [piece for word in words for piece in word.split("-") if piece]
    negative = bool(parts) and parts[0] in ("minus", "negative")
    parts = parts[1:] if negative else parts
    if not parts:
        return None
    lexicon_ = lexicon()
    total = 0
    group: int | None = None  # the value below the next scale word, as read so far
    last_scale = None
    stage = 0  # 0: nothing in this group yet, 1: hundreds read, 2: tens read, 3: units read
    for index, part in enumerate(parts):
        value = lexicon_.number_words.get(part)
        scale = lexicon_.number_scales.get(part)
        if part == "and":
            # Only between a hundred/scale word and what follows it: "one hundred and five".
            if (group is None and total == 0) or index == len(parts) - 1 or stage in (2, 3):
                return None
            continue
        if value is not None:
            if value >= 20 and value % 10 == 0:
                if stage >= 2:
                    return None
                group, stage = (group or 0) + value, 2
            else:
                if stage == 3 or (stage == 2 and (value >= 10 or value == 0)):
                    return None
                group, stage = (group or 0) + value, 3
        elif scale == 100:
            if group is None or stage != 3 or group >= 10:
                return None
            group, stage = group * 100, 1
        elif scale is not None:
            if group is None or (last_scale is not None and scale >= last_scale):
                return None
            total += group * scale
            group, stage, last_scale = None, 0, scale
        else:
            return None
    number = total + (group or 0)
    return -number if negative else number
